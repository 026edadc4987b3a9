"""Jets shared by the augmentation tests, made once per session (a second or so)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetgraph.batch import JetBatch
from jetgraph.generate.detector import load_detector, simulate
from tests.augment.jets import make_jets


@pytest.fixture(scope="session")
def jets() -> ak.Array:
    """100 particle-level jets (see :func:`make_jets`)."""
    return make_jets(100, seed=0)


@pytest.fixture(scope="session")
def batch(jets: ak.Array) -> JetBatch:
    return JetBatch.from_jets(jets)


@pytest.fixture(scope="session")
def detector_batch(jets: ak.Array) -> JetBatch:
    """The same jets through the default detector, three replicas each (cells and tracks)."""
    return JetBatch.from_jets(simulate(jets, load_detector("default"), replicas=3, rng=np.random.default_rng(0)))
