"""The sweep's point server: each point a fresh fork of a warm interpreter, with the exit
status, stderr and timeouts a separate ``python -m neurodecorr`` process would give."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.sweep.forkserver import ForkServer


@pytest.fixture
def server():
    s = ForkServer()
    yield s
    s.close()


def test_points_run_the_real_command_in_fresh_processes(server, tmp_path):
    rng = np.random.default_rng(4)
    A = 2 * np.eye(5) + 0.1 * rng.standard_normal((5, 5))
    X = rng.standard_normal((3, 5))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    argv = ["settle", "--matrix", "A.npy", "--input", "X.npy", "--out", "Y.npy",
            "--method", "exact", "--tol", "1e-12", "--json", "r.json"]
    # relative paths resolve in the point's folder, not the server's
    assert server.run(argv, str(tmp_path), str(tmp_path / "err.txt")) == 0
    np.testing.assert_allclose(np.load(tmp_path / "Y.npy"), np.linalg.solve(A, X.T).T,
                               rtol=1e-9)
    assert json.loads((tmp_path / "r.json").read_text())["command"] == "settle"
    # a user error: exit status 2 and the one-line message on the point's stderr
    assert server.run(["settle", "--matrix", "nope.npy", "--input", "X.npy", "--out", "Z.npy"],
                      str(tmp_path), str(tmp_path / "err2.txt")) == 2
    assert (tmp_path / "err2.txt").read_text().startswith("neurodecorr: error: --matrix")
    assert not (tmp_path / "Z.npy").exists()


def test_a_timed_out_point_is_killed_and_the_server_goes_on(server, tmp_path):
    long_run = ["train", "--dataset", "digits", "--hidden", "64", "--epochs", "1000",
                "--no-progress"]
    with pytest.raises(TimeoutError):
        server.run(long_run, str(tmp_path), str(tmp_path / "err.txt"), timeout_s=1.0)
    assert server.proc.poll() is None
    assert server.run(["devices", "show", "pcm", "--json"], str(tmp_path),
                      str(tmp_path / "err2.txt")) == 0


def test_a_lost_server_is_reported(tmp_path):
    from neurodecorr.sweep.forkserver import ServerLost

    s = ForkServer()
    s.proc.kill()
    s.proc.wait()
    with pytest.raises(ServerLost):
        s.run(["devices", "list"], str(tmp_path), str(tmp_path / "err.txt"))
