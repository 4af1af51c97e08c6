"""The promises of docs/reliability.md, each tested with the hostile input or fault built here.

Outputs are all-or-nothing and checked before any work; inputs are distrusted (damaged
archives, forged headers, FIFOs, wrong encodings, wrong types); float options are finite;
signals and closed pipes end a command cleanly; the same seed gives the same bytes.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.core.network import Layer, Network
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import load_toml, outputs, read_npy, write_outputs

TRAIN = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--batch-size", "128",
         "--no-progress"]


def _one_line_error(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neurodecorr: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old"))
                  or p.name.startswith(".nd-probe"))


@pytest.fixture
def samples(tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(0).standard_normal((64, 4)))
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A checkpoint made by its real producer, ``train``."""
    path = tmp_path_factory.mktemp("ck") / "net.npz"
    assert main([*TRAIN, "--checkpoint", str(path)]) == 0
    return path


def _decorrelate(samples, out, *extra):
    return main(["decorrelate", "--input", str(samples), "--epochs", "1",
                 "--out-matrix", str(out), *extra])


# --- outputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "link-to-devnull", "devnull", "folder", "dangling"])
def test_special_files_are_never_replaced(tmp_path, samples, capsys, kind):
    target = tmp_path / "out.npy"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "link-to-devnull":
        target.symlink_to("/dev/null")
    elif kind == "devnull":
        target = Path("/dev/null")
    elif kind == "folder":
        target.mkdir()
    else:
        target.symlink_to(tmp_path / "nowhere")
    before = os.lstat(target)
    assert _decorrelate(samples, target) == 2
    _one_line_error(capsys, "--out-matrix", str(target))
    after = os.lstat(target)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_link_to_a_regular_file_is_written_through(tmp_path, samples):
    real = tmp_path / "real.npy"
    real.write_bytes(b"old")
    link = tmp_path / "link.npy"
    link.symlink_to(real)
    assert _decorrelate(samples, link) == 0
    assert link.is_symlink() and np.load(real).shape == (4, 4)


def test_two_outputs_on_one_file_or_an_output_on_an_input_are_refused(tmp_path, samples,
                                                                      capsys):
    out = tmp_path / "m.npy"
    assert _decorrelate(samples, out, "--json", str(out)) == 2
    _one_line_error(capsys, "--json", "also the output of --out-matrix")
    (tmp_path / "j.json").write_text("{}")
    os.link(tmp_path / "j.json", tmp_path / "hard.json")  # the same file under two names
    assert _decorrelate(samples, tmp_path / "j.json", "--json", str(tmp_path / "hard.json")) == 2
    _one_line_error(capsys, "also the output")
    before = samples.read_bytes()
    assert _decorrelate(samples, samples) == 2
    _one_line_error(capsys, "would overwrite the input --input")
    assert samples.read_bytes() == before
    assert main([*TRAIN, "--checkpoint", str(out), "--json", str(out)]) == 2
    _one_line_error(capsys, "also the output of --checkpoint")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_export_into_its_own_checkpoint_is_refused(tmp_path, checkpoint, capsys):
    folder = tmp_path / "exp"
    folder.mkdir()
    own = folder / "network.npz"
    own.write_bytes(checkpoint.read_bytes())
    assert main(["export-lava", str(own), "--out", str(folder)]) == 2
    _one_line_error(capsys, "would overwrite the input CHECKPOINT")
    assert own.read_bytes() == checkpoint.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["network.npz"]


def test_unwritable_places_and_impossible_names_are_refused_before_work(tmp_path, samples,
                                                                        capsys):
    if os.geteuid() == 0:  # root ignores permission bits; /sys is a read-only mount
        folder = Path("/sys")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    assert _decorrelate(samples, folder / "m.npy") == 2
    _one_line_error(capsys, "--out-matrix: cannot write in", str(folder))
    assert _decorrelate(samples, tmp_path / ("a" * 300 + ".npy")) == 2
    _one_line_error(capsys, "file name too long")
    assert _decorrelate(samples, tmp_path / "missing" / "m.npy") == 2
    _one_line_error(capsys, "output folder does not exist")
    assert main(["export-lava", str(samples), "--out", str(tmp_path / "a" / "b")]) == 2
    _one_line_error(capsys, "--out: parent folder does not exist")


def _fail_on_call(monkeypatch, module, name, n, exc):
    real = getattr(module, name)
    calls = []

    def fake(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, fake)


def test_a_failed_rename_rolls_every_output_back(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(b"old a")
    b.write_bytes(b"old b")
    _fail_on_call(monkeypatch, outputs.os, "replace", 2, OSError(errno.EIO, "I/O error"))
    with pytest.raises(NeurodecorrError, match=r"/b: cannot write \(i/o error\)"):
        write_outputs({a: b"new a", b: b"new b", c: b"new c"})
    assert a.read_bytes() == b"old a" and b.read_bytes() == b"old b" and not c.exists()
    assert _leftovers(tmp_path) == []


def test_ctrl_c_or_a_full_disk_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    a = tmp_path / "a"
    a.write_bytes(b"old")
    with monkeypatch.context() as m:
        _fail_on_call(m, outputs.os, "fsync", 1, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            write_outputs({a: b"x" * 10**6, tmp_path / "b": b"y"})
    with monkeypatch.context() as m:
        _fail_on_call(m, outputs.os, "fsync", 2, OSError(errno.ENOSPC, "No space left on device"))
        with pytest.raises(NeurodecorrError, match="no space left on device"):
            write_outputs({a: b"x", tmp_path / "b": b"y"})
    with monkeypatch.context() as m:
        _fail_on_call(m, outputs.os, "replace", 2, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            write_outputs({a: b"x", tmp_path / "b": b"y"})
    assert a.read_bytes() == b"old" and not (tmp_path / "b").exists()
    assert _leftovers(tmp_path) == []
    with monkeypatch.context() as m:  # a new folder is removed again with its files
        _fail_on_call(m, outputs.os, "fsync", 1, OSError(errno.ENOSPC, "No space left"))
        with pytest.raises(NeurodecorrError):
            write_outputs({tmp_path / "new" / "f": b"z"}, make_folders=[tmp_path / "new"])
    assert not (tmp_path / "new").exists()


def test_a_signal_another_thread_takes_waits_until_every_file_is_renamed(tmp_path,
                                                                         monkeypatch):
    """The mask holds SIGTERM back from the writing thread only; the kernel hands a
    process-directed signal to a thread without it (here a waiting worker, as a BLAS thread
    would be), and Python still runs the handler in the main thread. It must run after the
    renames, so that it sees both new files, not one (the race that once lost a checkpoint)."""
    seen: list[list[str]] = []

    def handler(signum, frame):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))

    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)  # started before the mask: the signal's taker
    worker.start()
    real_replace = os.replace

    def replace_then_signal(src, dst):
        real_replace(src, dst)
        if not seen and Path(dst).name == "a":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # the handler, were it not held, would run here

    old = signal.signal(signal.SIGTERM, handler)
    try:
        monkeypatch.setattr(outputs.os, "replace", replace_then_signal)
        write_outputs({tmp_path / "a": b"1", tmp_path / "b": b"2"})
    finally:
        signal.signal(signal.SIGTERM, old)
        stop.set()
        worker.join()
    assert seen == [["a", "b"]]


def test_modes_follow_the_umask_or_the_replaced_file(tmp_path):
    old = os.umask(0o022)
    try:
        write_outputs({tmp_path / "shared": b"1"})
        os.umask(0o077)
        write_outputs({tmp_path / "private": b"2"})
        kept = tmp_path / "kept"
        kept.write_bytes(b"")
        kept.chmod(0o640)
        write_outputs({kept: b"3"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "shared").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "private").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640


def test_sigterm_during_training_unwinds_and_leaves_a_whole_checkpoint(tmp_path):
    ck = tmp_path / "ck.npz"
    proc = subprocess.Popen([sys.executable, "-m", "neurodecorr", *TRAIN, "--epochs", "100000",
                             "--checkpoint", str(ck)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300  # a guard against a hang only
    while not ck.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "neurodecorr: terminated" in err, err
    assert _leftovers(tmp_path) == []
    assert Network.load(ck).sizes == [64, 8, 10]


# --- inputs ----------------------------------------------------------------------------------

def _damaged(data: bytes, how: str) -> bytes:
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "bit-flipped":  # one bit of the first weight matrix, which every reader needs
        flipped = bytearray(data)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            weights = np.load(zf.open("layer0_weight.npy")).tobytes()
        flipped[data.index(weights) + len(weights) // 2] ^= 0x10
        return bytes(flipped)
    if how == "empty":
        return b""
    return np.random.default_rng(3).bytes(len(data))


@pytest.mark.parametrize("how", ["truncated", "bit-flipped", "empty", "random"])
def test_damaged_archives_are_one_line(tmp_path, checkpoint, capsys, how):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(_damaged(checkpoint.read_bytes(), how))
    assert main(["export-lava", str(bad), "--out", str(tmp_path / "exp")]) == 2
    _one_line_error(capsys, str(bad))
    assert main([*TRAIN, "--checkpoint", str(bad), "--resume"]) == 2
    _one_line_error(capsys, str(bad))
    assert not (tmp_path / "exp").exists()


def _npy(descr: str, shape: tuple, data: bytes, header_pad: int = 0) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}) + " " * header_pad
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x02\x00" + len(header).to_bytes(4, "little") + header.encode() + data


@pytest.mark.parametrize("content, message", [
    (_npy("<f8", (10**6, 10**6), b"\x00" * 64), r"declares shape \(1000000, 1000000\)"),
    (_npy("<f8", (4, 4), b"\x00" * 64, header_pad=10**6), "header of"),
    (_npy("|O", (2,), b"\x00" * 16), "object data"),
    (_npy("<c16", (2, 2), b"\x00" * 64), "complex data"),
    (_npy("<f8", (2, 2), np.array([[1, np.nan], [0, 1]]).tobytes()), "NaN"),
    (b"\x80\x04K\x01.", "not an .npy array"),
])
def test_forged_npy_headers_are_refused_before_allocation(tmp_path, samples, capsys, content,
                                                          message):
    bad = tmp_path / "A.npy"
    bad.write_bytes(content)
    tracemalloc.start()
    with pytest.raises(NeurodecorrError, match=message):
        read_npy(bad, "--matrix")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20
    assert main(["settle", "--matrix", str(bad), "--input", str(samples),
                 "--out", str(tmp_path / "o.npy")]) == 2
    _one_line_error(capsys, "--matrix")


def _network_arrays(weight0) -> dict:
    net = Network([Layer(np.ones((3, 2)), np.zeros(3), None, "relu"),
                   Layer(np.ones((2, 3)), np.zeros(2), None, "identity")])
    arrays = net.to_arrays()
    arrays["layer0_weight"] = weight0
    return arrays


@pytest.mark.parametrize("weight, message", [
    (np.ones((3, 2), complex), "complex data"),
    (np.full((3, 2), "1.5"), "text data"),
    (np.ones((3, 2), bool), "boolean data"),
    (np.ones((0, 0)), "non-empty"),
])
def test_networks_with_foreign_weight_types_are_refused(tmp_path, weight, message):
    path = tmp_path / "net.npz"
    np.savez(path, **_network_arrays(weight))
    with pytest.raises(NeurodecorrError, match=message):
        Network.load(path)


def test_members_that_are_not_needed_are_never_read(tmp_path):
    path = tmp_path / "net.npz"
    np.savez(path, **_network_arrays(np.ones((3, 2))))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:  # 400 MB of zeros, ~400 kB
        with zf.open("unused.npy", "w", force_zip64=True) as fh:
            fh.write(_npy("<f8", (50_000_000,), b""))
            block = bytes(2**22)
            for _ in range(400_000_000 // len(block)):
                fh.write(block)
    assert path.stat().st_size < 2 * 2**20
    tracemalloc.start()
    net = Network.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert net.sizes == [2, 3, 2] and peak < 10 * 2**20


def test_a_fifo_as_input_is_refused_at_once(tmp_path, samples):
    fifo = tmp_path / "A.npy"
    os.mkfifo(fifo)
    # in a child process: were the FIFO opened, the read would block; the timeout is a guard
    res = subprocess.run([sys.executable, "-m", "neurodecorr", "settle", "--matrix", str(fifo),
                          "--input", str(samples), "--out", str(tmp_path / "o.npy")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr == f"neurodecorr: error: --matrix: {fifo} is a FIFO, not a regular file\n"


@pytest.mark.parametrize("encoding, message", [
    ("latin-1", r"not UTF-8 \(byte 0xe9 at offset \d+; probably Latin-1"),
    ("utf-16", "is UTF-16 text; save it as UTF-8"),
])
def test_toml_in_another_encoding_names_it(tmp_path, capsys, encoding, message):
    path = tmp_path / "mine.toml"
    path.write_bytes('name = "mine"\ndescription = "mémoire"\n'.encode(encoding))
    with pytest.raises(NeurodecorrError, match=message):
        load_toml(path, "device")
    assert main(["devices", "show", str(path)]) == 2
    _one_line_error(capsys, "save it as UTF-8")
    path.write_bytes('description = "mémoire"\n'.encode("utf-8-sig"))
    assert load_toml(path) == {"description": "mémoire"}


def _rewrite(src: Path, dst: Path, **changes) -> None:
    """The checkpoint ``src`` with some members replaced: a hostile producer."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for name, change in changes.items():
        arrays[name] = change(arrays[name])
    np.savez(dst, **arrays)


def _json_edit(**fields):
    def change(member):
        doc = json.loads(str(member))
        doc.update(fields)
        return np.array(json.dumps(doc))
    return change


@pytest.mark.parametrize("changes, message", [
    ({"train_state": _json_edit(epoch="1")}, "'epoch' must be a non-negative integer"),
    ({"train_state": _json_edit(adam_step=-4)}, "'adam_step' must be a non-negative integer"),
    ({"train_state": _json_edit(rng_state={"bit_generator": "MT19937"})}, "'rng_state'"),
    ({"train_state": _json_edit(history="all good")}, "'history' must be a list"),
    ({"train_state": _json_edit(kind="something")}, "not a neurodecorr training checkpoint"),
    ({"checkpoint": _json_edit(format_version=99)}, "format_version 99 is not supported"),
    ({"checkpoint": _json_edit(dataset="mnist1d")}, "differs from its train_config"),
    ({"checkpoint": _json_edit(train_config={"lr": "fast"})}, "train_config"),
    ({"checkpoint": _json_edit(architecture={"sizes": [64, 9, 10],
                                             "activations": ["leaky_relu", "identity"],
                                             "decorrelated": [False, False]})},
     "header describes layers"),
    ({"adam_m0": lambda a: a[:3]}, "state array 'adam_m0' has shape"),
    ({"adam_v1": lambda a: a.astype(complex)}, "complex data"),
])
def test_a_tampered_checkpoint_is_refused_before_any_training(tmp_path, checkpoint, capsys,
                                                              changes, message):
    bad = tmp_path / "ck.npz"
    _rewrite(checkpoint, bad, **changes)
    before = bad.read_bytes()
    assert main([*TRAIN, "--epochs", "2", "--checkpoint", str(bad), "--resume"]) == 2
    _one_line_error(capsys, message)
    assert bad.read_bytes() == before


def test_a_checkpoint_from_train_exports_fixed_point_with_its_data_set(tmp_path, checkpoint,
                                                                       capsys):
    out = tmp_path / "exp"
    assert main(["export-lava", str(checkpoint), "--out", str(out), "--precision", "fixed"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "digits" and manifest["precision"] == "fixed"
    plain = tmp_path / "plain.npz"
    Network.load(checkpoint).save(plain)  # a network without a checkpoint header
    assert main(["export-lava", str(plain), "--out", str(tmp_path / "e2"),
                 "--precision", "fixed"]) == 2
    _one_line_error(capsys, "--dataset: fixed-point export needs a data set")


# --- options, warnings, signals, pipes -------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["export-lava", "x.npz", "--out", "o", "--tol", "nan"], "--tol"),
    ([*TRAIN, "--feedback-scale", "inf"], "--feedback-scale"),
    ([*TRAIN, "--lr", "-inf"], "--lr"),
    (["decorrelate", "--input", "x.npy", "--out-matrix", "m.npy", "--eta", "nan"], "--eta"),
    (["settle", "--matrix", "a.npy", "--input", "x.npy", "--out", "o.npy", "--tau", "NaN"],
     "--tau"),
])
def test_float_options_refuse_nan_and_infinity(capsys, argv, option):
    assert main(argv) == 2
    _one_line_error(capsys, option, "is not a finite number")


def test_warnings_wait_until_the_command_succeeds(tmp_path, monkeypatch, capsys):
    (tmp_path / "warn_cmd.py").write_text(textwrap.dedent("""
        import warnings
        import click
        from neurodecorr.errors import NeurodecorrError

        @click.command()
        @click.option("--fail/--no-fail")
        def command(fail):
            warnings.warn("overflow in matmul", RuntimeWarning)
            if fail:
                raise NeurodecorrError("--x: bad")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(main.__globals__["COMMANDS"], "warn", ("warn_cmd", "test"))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        assert main(["warn", "--fail"]) == 2
        assert capsys.readouterr().err == "neurodecorr: error: --x: bad\n"
        assert shown == []
        assert main(["warn", "--no-fail"]) == 0
    assert [str(w.message) for w in shown] == ["overflow in matmul"]


@pytest.mark.parametrize("listing", [["devices", "list"], ["circuits", "show", "rc-opamp"],
                                     ["devices", "show", "pcm"]])
def test_a_closed_stdout_ends_listing_quietly(listing):
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "neurodecorr", *listing],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline()
        proc.stdout.close()  # what `| head -1` does after its line
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and err == b""


# --- determinism -----------------------------------------------------------------------------

def test_the_same_seed_gives_the_same_bytes_in_every_output(tmp_path, samples):
    def run(tag):
        folder = tmp_path / tag
        folder.mkdir()
        assert main([*TRAIN, "--seed", "4", "--checkpoint", str(folder / "ck.npz"),
                     "--json", str(folder / "train.json"), "--plot", str(folder / "h.png")]) == 0
        assert main(["decorrelate", "--input", str(samples), "--epochs", "2",
                     "--out-matrix", str(folder / "m.npy"), "--json",
                     str(folder / "d.json")]) == 0
        np.save(tmp_path / "A.npy", np.eye(4) + 0.1)
        assert main(["settle", "--matrix", str(tmp_path / "A.npy"), "--input", str(samples),
                     "--out", str(folder / "s.npy"), "--json", str(folder / "s.json")]) == 0
        # exported from one checkpoint path, since the manifest records the path
        assert main(["export-lava", str(tmp_path / "a" / "ck.npz"), "--out",
                     str(folder / "exp"), "--precision", "fixed"]) == 0
        return {str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    first, second = run("a"), run("b")
    assert sorted(first) == ["ck.npz", "d.json", "exp/manifest.json", "exp/network.h5",
                             "exp/network.npz", "h.png", "m.npy", "s.json", "s.npy",
                             "train.json"]
    for name in first:
        assert first[name] == second[name], name


def test_out_of_range_data_and_mistyped_tables_name_the_real_cause(tmp_path, capsys):
    huge = tmp_path / "x.npy"
    np.save(huge, np.full((50, 4), 1e200))  # <|x|^2> overflows: no eta can help
    assert _decorrelate(huge, tmp_path / "m.npy") == 2
    _one_line_error(capsys, "overflows float64; rescale the inputs")
    for body, message in (("scenario = 3\n", "[scenario] must be a table"),
                          ("[case]\nkind = 'settle'\n", "'case' must be an array of tables"),
                          ("[[case]]\nname = 4\n", "name must be text")):
        scenario = tmp_path / "s.toml"
        scenario.write_text(body)
        assert main(["bench", "--scenario", str(scenario)]) == 2
        _one_line_error(capsys, message)


@pytest.mark.parametrize("value,kind", [(np.ones((2, 2), complex), "complex data"),
                                        (np.array([["a", "b"]]), "<U1"),
                                        (np.ones((2, 2), bool), "bool")])
def test_a_member_of_the_wrong_kind_is_named_not_called_damaged(tmp_path, value, kind):
    from neurodecorr.io.arrays import NpzArchive

    path = tmp_path / "w.npz"
    np.savez(path, w=value)
    with pytest.raises(NeurodecorrError) as info:
        NpzArchive(path).array("w")
    message = str(info.value)
    assert "damaged" not in message and kind in message and message.count(str(path)) == 1
