"""Fixtures of the generation tests (the generated qg sample itself is in tests/conftest.py, shared)."""

from __future__ import annotations

import pytest

import jetgraph


@pytest.fixture(scope="session")
def qg_jets(qg_file):
    return jetgraph.read(qg_file)
