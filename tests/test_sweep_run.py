"""``neurodecorr sweep`` on real Dask clusters of 2 workers: failures, resume, existing
clusters, timeouts and the figure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import matplotlib.image
import numpy as np
import pytest
from distributed import LocalCluster

from neurodecorr.cli import main, register_sweep_targets
from neurodecorr.core import offdiag_corr_rms
from neurodecorr.sweep import correlated_inputs, load_spec, read_rows

ETA_OK = (0.01, 0.05)
ETA_UNSTABLE = 5.0  # eta·<|x|^2> = 5·n >> 1: decorrelate refuses it


@pytest.fixture(autouse=True)
def _sweep_knows_the_commands():
    """The CLI registers the commands the sweep runs when it loads ``sweep``; these tests call
    the library directly, so they register them the same way."""
    register_sweep_targets()


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as c:
        yield c


def _spec(tmp_path, body: str, name: str = "spec.toml"):
    path = tmp_path / name
    path.write_text(body)
    return path


def test_local_cluster_sweep_records_failures_and_real_metrics(tmp_path, capsys):
    spec = _spec(tmp_path, f"""
[sweep]
command = "decorrelate"
n = 6
batch = 300
epochs = 2
seed = [1, 2]
eta = [{ETA_OK[0]}, {ETA_OK[1]}, {ETA_UNSTABLE}]
""")
    out, png = tmp_path / "r.csv", tmp_path / "p.png"
    rc = main(["sweep", str(spec), "--workers", "2", "--out", str(out), "--plot", str(png),
               "--plot-y", "metrics.offdiag_corr_rms_after", "--plot-x", "eta"])
    assert rc == 1  # some points failed
    err = capsys.readouterr().err
    assert "6 of 6 points recorded, 4 ok, 2 failed" in err
    header, rows = read_rows(out)
    assert header[:7] == ["key", "status", "command", "n", "batch", "epochs", "seed"]
    assert sorted(r["key"] for r in rows) == sorted(p.key for p in load_spec(spec).points())
    for row in rows:
        if float(row["eta"]) == ETA_UNSTABLE:
            assert row["status"].startswith("error: eta: ") and "unstable" in row["status"]
            assert row["metrics.offdiag_corr_rms_after"] == ""
            continue
        assert row["status"] == "ok"
        # The worker drew the inputs of this seed, and the command ran on exactly them.
        X = correlated_inputs(6, 300, int(row["seed"]))
        assert float(row["metrics.offdiag_corr_rms_before"]) == pytest.approx(
            offdiag_corr_rms(X), rel=1e-12)
        np.save(tmp_path / "x.npy", X)
        js = tmp_path / "m.json"
        assert main(["decorrelate", "--input", str(tmp_path / "x.npy"), "--epochs", "2",
                     "--eta", row["eta"], "--seed", row["seed"],
                     "--out-matrix", str(tmp_path / "m.npy"), "--json", str(js)]) == 0
        direct = json.loads(js.read_text())["metrics"]["offdiag_corr_rms_after"]
        assert float(row["metrics.offdiag_corr_rms_after"]) == direct
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100


_GATE = """
import os, sys, time
# Test hook (tests/test_sweep_run.py): the first two decorrelate points run, every later one
# waits until the test opens the gate, so the sweep is stopped with exactly two rows done
# however loaded the machine is. The hook fires on
# the audit event of running the CLI module's code, which both ways of starting a point raise:
# `python -m neurodecorr ...` and the warm fork server's runpy.run_module in a forked child.
gate = os.environ.get("ND_TEST_GATE")


def _hold(event, args):
    if event != "exec" or sys.argv[1:2] != ["decorrelate"] or getattr(sys, "_nd_gated", False):
        return
    sys._nd_gated = True
    for slot in ("slot0", "slot1"):
        try:
            os.close(os.open(os.path.join(gate, slot), os.O_CREAT | os.O_EXCL))
            return
        except FileExistsError:
            pass
    # the point's parent (a Dask worker, or the fork server) and that one's parent: when the
    # sweep stops, one of them is gone or re-parented, and the held point leaves too
    chain = [os.getppid()]
    chain.append(_parent_of(chain[0]))
    while not os.path.exists(os.path.join(gate, "open")):
        if os.getppid() != chain[0] or _parent_of(chain[0]) != chain[1]:
            os._exit(1)
        time.sleep(0.05)


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


if gate:
    sys.addaudithook(_hold)
"""


def _sigint_at_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_stopped_sweep_resumes_without_losing_or_repeating_points(tmp_path):
    spec = _spec(tmp_path, """
[sweep]
command = "decorrelate"
n = 6
batch = 200
epochs = 1
seed = [1, 2, 3, 4, 5, 6, 7, 8]
""")
    total = len(load_spec(spec).points())
    out = tmp_path / "r.csv"
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "sitecustomize.py").write_text(_GATE)
    env = {**os.environ, "ND_TEST_GATE": str(gate),
           "PYTHONPATH": os.pathsep.join([str(gate), *sys.path])}
    argv = [sys.executable, "-m", "neurodecorr", "sweep", str(spec), "--workers", "2",
            "--out", str(out)]
    # Ctrl-C as a terminal delivers it: SIGINT at its default in the sweep even when this run
    # inherited it ignored (a job started in the background by a non-interactive shell, or
    # under nohup, ignores SIGINT, and Python then installs no KeyboardInterrupt for it); its
    # own session, so that the clean-up below can end every process it started
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, preexec_fn=_sigint_at_default)
    try:
        deadline = time.monotonic() + 600  # only a guard against a hang: never reached normally
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(read_rows(out)[1]) >= 2:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:  # a sweep that did not stop must not outlive the test
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "stopped" in err
    header, first = read_rows(out)
    assert len(first) == 2, "exactly the two ungated points ran"
    assert all(r["status"] == "ok" for r in first)
    # A machine dying mid-append would leave half a row; the resumed run must redo that point.
    text = out.read_text()
    cut = first[-1]["key"]
    out.write_text(text[: text.rindex(cut) + 5])
    kept = {r["key"]: r for r in first[:-1]}

    (gate / "open").touch()
    rerun = subprocess.run(argv, stderr=subprocess.PIPE, text=True, timeout=300, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert f"ran {total - len(kept)}, skipped {len(kept)}" in rerun.stderr
    _, final = read_rows(out)
    keys = [r["key"] for r in final]
    assert len(keys) == len(set(keys)) == total
    assert set(keys) == {p.key for p in load_spec(spec).points()}
    by_key = {r["key"]: r for r in final}
    for key, row in kept.items():
        assert by_key[key] == row  # untouched, elapsed_s included: not run again
    assert all(r["status"] == "ok" for r in final)


def test_existing_cluster_via_scheduler_address_and_timeouts(tmp_path, cluster, capsys):
    spec = _spec(tmp_path, """
[sweep]
command = "decorrelate"
n = 4
batch = 64
epochs = 1
form = ["linear", "recurrent"]
""")
    out = tmp_path / "r.csv"
    assert main(["sweep", str(spec), "--scheduler", cluster.scheduler_address,
                 "--out", str(out)]) == 0
    _, rows = read_rows(out)
    assert sorted(r["form"] for r in rows) == ["linear", "recurrent"]
    assert [r["matrix"] for r in sorted(rows, key=lambda r: r["form"])] == ["M", "A"]
    capsys.readouterr()
    # Everything done: a second run submits nothing and leaves the file as it was.
    before = out.read_bytes()
    assert main(["sweep", str(spec), "--scheduler", cluster.scheduler_address,
                 "--out", str(out)]) == 0
    assert "ran 0, skipped 2" in capsys.readouterr().err
    assert out.read_bytes() == before
    # points forked from the warm server can finish in milliseconds: a timeout needs a point
    # that cannot (a thousand epochs), not a tiny timeout
    long_spec = _spec(tmp_path, """
[sweep]
command = "train"
dataset = "digits"
hidden = "64"
epochs = 1000
seed = [1, 2]
""", name="long.toml")
    slow = tmp_path / "t.csv"
    assert main(["sweep", str(long_spec), "--scheduler", cluster.scheduler_address,
                 "--out", str(slow), "--timeout-s", "1"]) == 1
    _, rows = read_rows(slow)
    assert [r["status"] for r in rows] == ["error: timed out after 1 s"] * 2


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    import neurodecorr.sweep.runner as runner

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT_S", 1)
    spec = _spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8\n')
    assert main(["sweep", str(spec), "--scheduler", "tcp://127.0.0.1:9", "--out",
                 str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurodecorr: error: --scheduler: cannot connect") and \
        err.count("\n") == 1
    assert not (tmp_path / "r.csv").exists()
