"""Shared fixtures: small files written by the real writers in pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetgraph.io.examples import jetclass_branches, write_jetclass


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
