"""Shared fixtures: small files written by the real writers in pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jetgraph.generate import generate
from jetgraph.io.examples import jetclass_branches, write_jetclass

# One intra-op thread: the tests' tensors are small, and two OpenMP threads on a 2-core machine that
# is also running a spawned DDP process (or anything else) slow small ops down by 10x or more.
torch.set_num_threads(1)


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
