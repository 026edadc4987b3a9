"""Beyond one machine: two "nodes" of two processes each, launched by torchrun with c10d rendezvous on
localhost (gloo), train one run: the ranks share the data, stay in step, rank 0 alone writes, and the
run resumes after one node is killed."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from jetgraph import runs
from jetgraph.data import JetDataset
from jetgraph.io.examples import write_jetclass

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="gloo over localhost, as CI runs it")

JETS, BATCH, STEP = 640, 16, 40
SETTINGS = [
    "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 32}",
    "model.head={hidden: 32, out_dim: 16}",
    "augment.transforms=[rotate]",
    "train.progress=false",
    "train.threads=1",
    f"train.batch_size={BATCH}",
    f"data.step_size={STEP}",
    "data.shuffle_buffer=80",
    "data.val=[]",
    "train.log_every=1",
    "train.checkpoint_every=2",
]


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node(endpoint: str, out: Path, data: Path, *extra: str) -> subprocess.Popen:
    """One "node": torchrun starting two ranks, meeting the other node at ``endpoint``."""
    sets = [arg for item in [*SETTINGS, f"data.train={data}"] for arg in ("--set", item)]
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "2",
               "--rdzv-backend", "c10d", "--rdzv-endpoint", endpoint, "--rdzv-id", "jetgraph-two-nodes",
               "--max-restarts", "0", "-m", "jetgraph", "pretrain", "--out", str(out), *sets, *extra]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCHELASTIC_ERROR_FILE": ""}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)  # fmt: skip


def _kill_node(node: subprocess.Popen) -> None:
    """SIGKILL a "node": its torchrun agent and every process below it.

    Killing the agent's process group is not enough: the ranks can outlive it (seen: they trained on to
    the last step while the test waited for them to fail).
    """
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grown = {node.pid}, True
    while grown:
        below = {pid for pid, parent in parents.items() if parent in family} - family
        family |= below
        grown = bool(below)
    for pid in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    node.wait()


def _finish(nodes: list[subprocess.Popen], seconds: float = 240) -> list[str]:
    outputs = []
    for node in nodes:
        out, _ = node.communicate(timeout=seconds)
        outputs.append(out)
        assert node.returncode == 0, out[-3000:]
    return outputs


def _train_rows(out: Path) -> list[dict]:
    with (out / runs.METRICS).open() as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == "train"]


@pytest.fixture(scope="module")
def jets(tmp_path_factory) -> Path:
    return write_jetclass(tmp_path_factory.mktemp("nodes") / "jets.root", n_jets=JETS, seed=4)


def test_four_ranks_on_two_nodes_share_the_data_and_rank_0_alone_writes(jets, tmp_path):
    out = tmp_path / "run"
    endpoint = f"127.0.0.1:{_port()}"
    outputs = _finish([_node(endpoint, out, jets, "--set", "train.epochs=1"), _node(endpoint, out, jets,
                       "--set", "train.epochs=1")])  # fmt: skip
    steps = JETS // (BATCH * 4)  # each rank: every fourth chunk of 40 jets, in batches of 16
    assert steps == 10
    rows = _train_rows(out)
    assert [int(r["step"]) for r in rows] == list(range(1, steps + 1))  # one row per step: one writer
    assert sum("steps" in o for o in outputs) == 1  # rank 0 alone reports
    assert runs.load_checkpoint(runs.latest_checkpoint(out))["step"] == steps
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith("events.out")) == [
        ".lock",
        "checkpoints",
        "config.yaml",
        "metrics.csv",
    ]
    # what each rank read: its own chunks, none twice, all of them once (the same assignment as in the run)
    seen = [
        (pt, eta)
        for rank in range(4)
        for batch in JetDataset([str(jets)], BATCH, step_size=STEP, rank=rank, world_size=4, shuffle_buffer=80,
                                seed=0, drop_last=True)
        for pt, eta in zip(batch.jet_pt.tolist(), batch.jet_eta.tolist(), strict=True)
    ]  # fmt: skip
    assert len(seen) == len(set(seen)) == JETS  # every jet read once, by one rank


def test_a_run_on_two_nodes_resumes_after_one_node_is_killed(jets, tmp_path):
    out = tmp_path / "run"
    endpoint = f"127.0.0.1:{_port()}"
    epochs = ["--set", "train.epochs=20"]  # long enough that the kill lands mid-run (a step takes milliseconds)
    first, second = _node(endpoint, out, jets, *epochs), _node(endpoint, out, jets, *epochs)
    deadline = time.monotonic() + 240
    while runs.latest_checkpoint(out) is None or runs.load_checkpoint(runs.latest_checkpoint(out))["step"] < 4:
        assert first.poll() is None and second.poll() is None, "the run ended before a node was killed"
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.2)
    _kill_node(second)  # one node gone: the other cannot go on alone
    try:  # it stops at its next collective, or waits on the rendezvous store the dead node held: stop it then
        first.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _kill_node(first)
    assert first.returncode != 0
    stopped = runs.load_checkpoint(runs.latest_checkpoint(out))["step"]
    endpoint = f"127.0.0.1:{_port()}"
    _finish([_node(endpoint, out, jets, *epochs, "--resume"), _node(endpoint, out, jets, *epochs, "--resume")])
    total = 20 * JETS // (BATCH * 4)
    assert stopped < total and runs.load_checkpoint(runs.latest_checkpoint(out))["step"] == total
    steps = [int(r["step"]) for r in _train_rows(out)]
    assert steps == list(range(1, total + 1))  # the rows after the checkpoint were logged again, not twice
    assert torch.isfinite(torch.tensor([float(r["loss"]) for r in _train_rows(out)])).all()
