"""Generated samples shared by the generation tests: real Pythia 8 + FastJet jets, made once per session."""

from __future__ import annotations

import pytest

import jetgraph
from jetgraph.generate import generate


@pytest.fixture(scope="session")
def qg_file(tmp_path_factory):
    """200 quark/gluon jets (100 of each) written by ``generate`` (about 20 s on one core)."""
    path = tmp_path_factory.mktemp("qg") / "qg.root"
    return generate("qg", 200, path, seed=11, chunk_size=100, progress=False).path


@pytest.fixture(scope="session")
def qg_jets(qg_file):
    return jetgraph.read(qg_file)
