"""User errors across the commands: one line on stderr, exit status 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.cli import main


@pytest.fixture
def files(tmp_path):
    A = np.eye(4) + 0.1 * np.random.default_rng(0).standard_normal((4, 4))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", np.random.default_rng(1).standard_normal((6, 4)))
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    np.save(tmp_path / "notnet.npy", np.ones(3))
    np.savez(tmp_path / "badheader.npz", header=np.array(json.dumps([1, 2])))
    np.savez(tmp_path / "nolayers.npz",
             header=np.array(json.dumps({"kind": "neurodecorr.network", "schema_version": 1})))
    export = tmp_path / "export"
    export.mkdir()
    (export / "manifest.json").write_text("[]")
    (tmp_path / "neg.toml").write_text("[[case]]\nkind = 'settle'\nn = -4\n")
    return tmp_path


CASES = {
    "negative seed (decorrelate)": lambda p: ["decorrelate", "--input", f"{p}/X.npy",
                                              "--out-matrix", f"{p}/o.npy", "--seed", "-1"],
    "negative seed (settle)": lambda p: ["settle", "--matrix", f"{p}/A.npy", "--input",
                                         f"{p}/X.npy", "--out", f"{p}/o.npy", "--seed", "-3"],
    "empty input (settle)": lambda p: ["settle", "--matrix", f"{p}/A.npy", "--input",
                                       f"{p}/empty.npy", "--out", f"{p}/o.npy"],
    "age without a device": lambda p: ["settle", "--matrix", f"{p}/A.npy", "--input",
                                       f"{p}/X.npy", "--out", f"{p}/o.npy", "--time", "5"],
    "missing output folder": lambda p: ["settle", "--matrix", f"{p}/A.npy", "--input",
                                        f"{p}/X.npy", "--out", f"{p}/nowhere/o.npy"],
    "an .npy for a network": lambda p: ["export-lava", f"{p}/notnet.npy", "--out", f"{p}/o"],
    "header not an object": lambda p: ["export-lava", f"{p}/badheader.npz", "--out", f"{p}/o"],
    "header without layers": lambda p: ["export-lava", f"{p}/nolayers.npz", "--out", f"{p}/o"],
    "tolerance 0": lambda p: ["export-lava", f"{p}/nolayers.npz", "--out", f"{p}/o",
                              "--tol", "0"],
    "manifest not an object": lambda p: ["lava-run", f"{p}/export", "--dataset", "mnist1d"],
    "negative size in a scenario": lambda p: ["bench", "--scenario", f"{p}/neg.toml"],
    "bench json folder missing": lambda p: ["bench", "--scenario", "quick", "--json",
                                            f"{p}/nowhere/r.json"],
    "zero-depth hidden layers": lambda p: ["train", "--dataset", "digits", "--algorithm", "bp",
                                           "--decorrelation", "none", "--hidden", "0x5",
                                           "--json", f"{p}/o.json"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_user_error_is_one_line_exit_2_no_output(files, capsys, case):
    before = set(files.rglob("*"))
    assert main(CASES[case](files)) == 2, case
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("neurodecorr: error:"), err
    assert set(files.rglob("*")) == before, "a failed command left output behind"
