"""``torchrun --nproc-per-node 2 -m codesign search``: two CPU processes (gloo) train the
supernet with DistributedDataParallel and give what one process gives, up to numerical noise."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["search", "--dataset", "mnist", "--data-dir", str(data), "--epochs", "2",
            "--trials", "4", "--population", "4", "--batch-size", "64", "--val-size", "100",
            "--screen-pool", "0", "--no-progress", "--out", str(out), *extra]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory, idx_writer):
    root = tmp_path_factory.mktemp("ddp")
    data = idx_writer(root / "toy", n_train=1100, n_test=100)
    one = subprocess.run([sys.executable, "-m", "codesign", *_args(data, root / "one")],
                         capture_output=True, text=True, env=_env(), timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--master-port", str(_port()), "-m", "codesign",
                          *_args(data, root / "two")],
                         capture_output=True, text=True, env=_env(), timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    return root, data, one, two


def test_a_ddp_step_equals_a_single_process_step(tmp_path):
    """Same data order and subnets, gradients averaged over the two halves, BN statistics and
    activation-range statistics over the whole batch, unused parameters left without a
    gradient: one step of two processes is one step of one process, to float precision.
    (Over many steps quantization amplifies float noise: a 1e-7 change of the initial weights
    moves a 12-step run as far as a second process does, so that is what we compare.)"""
    worker = str(Path(__file__).with_name("ddp_worker.py"))
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    r = subprocess.run([sys.executable, worker, "1", str(one)], env=_env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                        "--master-port", str(_port()), worker, "1", str(two)], env=_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = torch.load(one, weights_only=True), torch.load(two, weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        if a[key].is_floating_point():
            assert torch.allclose(a[key], b[key], atol=1e-5), key


def test_torchrun_search_trains_together_and_rank_0_searches(runs):
    root, _, _, two = runs
    a = torch.load(root / "one" / "supernet.pt", weights_only=True)
    b = torch.load(root / "two" / "supernet.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    la = [h["loss_largest"] for h in a["history"]]
    lb = [h["loss_largest"] for h in b["history"]]
    assert abs(la[-1] - lb[-1]) < 0.1 * la[-1] + 0.05, (la, lb)
    # rank 0 alone wrote the run directory and searched
    assert (root / "two" / "pareto.json").is_file()
    assert two.stdout.count("designs priced") == 1


def test_ranks_with_different_arguments_are_refused(runs, tmp_path):
    _, data, _, _ = runs
    port = str(_port())
    procs = []
    for rank, epochs in ((0, "2"), (1, "3")):
        env = dict(_env(), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        args = _args(data, tmp_path / "run")
        args[args.index("--epochs") + 1] = epochs
        procs.append(subprocess.Popen([sys.executable, "-m", "codesign", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 2, err[-2000:]
        lines = [l for l in err.splitlines() if "error" in l]
        assert len(lines) == 1 and "epochs" in lines[0] and "rank 1" in lines[0], err[-2000:]
    assert not (tmp_path / "run").exists()
