"""Inputs: which jets a pair is made of (augmentations, replica pairing, one detector) and what probes see."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jetgraph
from jetgraph.batch import JetBatch, detector_view
from jetgraph.config import AugmentConfig, ConfigError, from_dict
from jetgraph.generate.detector import load_detector, simulate
from jetgraph.inputs import Inputs
from jetgraph.io.examples import write_jetclass


@pytest.fixture(scope="module")
def detector_jets(tmp_path_factory):
    """32 jets with three detector replicas each, simulated by jetgraph's detector."""
    path = write_jetclass(tmp_path_factory.mktemp("inputs") / "jets.root", n_jets=32, seed=3)
    jets = simulate(jetgraph.read(path), load_detector("default"), 3, np.random.default_rng(1))
    return JetBatch.from_jets(jets)


def _cell_pts(view: JetBatch) -> torch.Tensor:
    return torch.sort(view.pt).values


def _replica(batch: JetBatch, index: int) -> JetBatch:
    return detector_view(batch, torch.full((batch.num_jets,), index, dtype=torch.long))


def test_detector_views_augment_replica_zero_only(detector_jets):
    inputs = Inputs(AugmentConfig(views="detector", transforms=["rotate"]), "graph")
    first, second = inputs.pair(detector_jets, torch.Generator().manual_seed(0))
    zero = _replica(detector_jets, 0)
    # a rotation keeps every cell's pT: both views hold exactly replica 0's cells, placed differently
    assert torch.allclose(_cell_pts(first), _cell_pts(zero))
    assert torch.allclose(_cell_pts(second), _cell_pts(zero))
    assert not torch.allclose(first.phi, second.phi)
    assert torch.equal(inputs.plain(detector_jets).energy, zero.energy)


def test_replica_views_pair_different_replicas(detector_jets):
    inputs = Inputs(AugmentConfig(views="replicas"), "graph")
    first, second = inputs.pair(detector_jets, torch.Generator().manual_seed(0))
    assert first.num_nodes != second.num_nodes or not torch.allclose(_cell_pts(first), _cell_pts(second))
    assert torch.equal(inputs.plain(detector_jets).energy, _replica(detector_jets, 0).energy)


def test_two_views_keep_the_particles(detector_jets):
    inputs = Inputs(AugmentConfig(views="two", transforms=["rotate"]), "graph")
    first, _ = inputs.pair(detector_jets, torch.Generator().manual_seed(0))
    assert torch.allclose(_cell_pts(first), torch.sort(detector_jets.pt).values)


def test_unknown_views_are_refused_by_the_config():
    with pytest.raises(ConfigError, match="augment.views.*'detector'"):
        from_dict({"data": {"train": ["x.root"]}, "augment": {"views": "pairs"}})
