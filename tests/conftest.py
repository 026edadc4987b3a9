"""Shared fixtures: small files written by the real writers in pytest's tmp_path."""

from __future__ import annotations

import faulthandler
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from jetgraph.generate import generate
from jetgraph.io.examples import jetclass_branches, write_jetclass

# One intra-op thread: the tests' tensors are small, and two OpenMP threads on a 2-core machine that
# is also running a spawned DDP process (or anything else) slow small ops down by 10x or more.
torch.set_num_threads(1)

# A rank still running after this long is hung (each DDP test takes seconds): it prints its stack and exits.
RANK_DEADLINE_S = 180


@pytest.fixture
def jetclass_file(tmp_path: Path) -> Path:
    """A 300-jet JetClass-layout ROOT file (uproot mktree, LZ4), in two baskets."""
    return write_jetclass(tmp_path / "jetclass.root", n_jets=300, seed=1, chunk_size=150)


@pytest.fixture
def jetclass_raw() -> dict:
    """The branches :func:`jetclass_file` holds, for comparing what is read with what was written."""
    first = jetclass_branches(150, seed=1)
    second = jetclass_branches(150, seed=151)
    return {"first": first, "second": second}


@pytest.fixture(scope="session")
def qg_file(tmp_path_factory):
    """200 quark/gluon jets (100 of each) written by ``generate`` (about 20 s on one core)."""
    path = tmp_path_factory.mktemp("qg") / "qg.root"
    return generate("qg", 200, path, seed=11, chunk_size=100, progress=False).path


@pytest.fixture(scope="session")
def showers_file(tmp_path_factory):
    """40 quark/gluon jets: 20 hard events showered twice each (``--showers 2``; a few seconds)."""
    path = tmp_path_factory.mktemp("showers") / "showers.h5"
    return generate("qg", 40, path, seed=5, chunk_size=20, showers=2, progress=False).path


def _watched_rank(rank: int, target: Callable, port: int, args: tuple) -> None:
    """One rank under a watchdog: past the deadline it prints every thread's stack and exits with 1.

    A hung collective (or a hang in a rank's teardown) then fails its test with the stack in the
    log, and ``mp.spawn`` ends the other ranks, instead of CI waiting out its whole time limit.
    """
    faulthandler.dump_traceback_later(RANK_DEADLINE_S, exit=True)
    target(rank, port, *args)


@pytest.fixture(scope="session")
def spawn_ranks() -> Callable[..., None]:
    """``spawn_ranks(target, *args, nprocs=2)`` runs ``target(rank, port, *args)`` in ``nprocs`` real processes.

    ``port`` is a free localhost port for the gloo group's rendezvous; every rank runs under
    :func:`_watched_rank`'s watchdog.
    """

    def spawn(target: Callable, *args: object, nprocs: int = 2) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        mp.spawn(_watched_rank, args=(target, port, args), nprocs=nprocs, join=True)

    return spawn
