"""TwoViews, ReplicaViews and ShowerViews: positive pairs from augmentations, detector replicas or showers."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import torch

from jetgraph.augment import AugmentError, EnergyScale, RandomFlip, ReplicaViews, ShowerViews, Smear, TwoViews
from jetgraph.batch import JetBatch, detector_view
from jetgraph.generate.detector import load_detector, simulate
from tests.augment.jets import counts


def per_jet_energy(view: JetBatch) -> torch.Tensor:
    return torch.zeros(view.num_jets, dtype=torch.float64).index_add_(0, view.batch, view.energy.double())


def test_two_views_differ_and_are_seeded(batch: JetBatch) -> None:
    views = TwoViews(Smear(strength=0.5))
    first, second = views(batch, torch.Generator().manual_seed(0))
    again = views(batch, torch.Generator().manual_seed(0))
    assert not torch.equal(first.eta, second.eta)
    assert torch.equal(first.eta, again[0].eta) and torch.equal(second.eta, again[1].eta)
    assert repr(views) == "TwoViews(transform=Smear(strength=0.5, max_sigma=0.5))"


def test_two_views_of_images() -> None:
    images = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    first, second = TwoViews(RandomFlip(p=0.5))(images, torch.Generator().manual_seed(1))
    assert first.shape == second.shape == images.shape and not torch.equal(first, second)


def replica_of(view: JetBatch, batch: JetBatch) -> torch.Tensor:
    """Which replica each jet of ``view`` shows, found by comparing with every direct detector_view."""
    energies = torch.stack(
        [per_jet_energy(detector_view(batch, torch.full((batch.num_jets,), r))) for r in range(3)], 1
    )
    match = torch.isclose(energies, per_jet_energy(view)[:, None], rtol=1e-6, atol=0)  # replicas differ by far more
    assert bool((match.sum(1) == 1).all())  # each jet matches exactly one replica
    return match.long().argmax(1)


def test_replica_views_show_two_different_replicas(detector_batch: JetBatch) -> None:
    assert bool((detector_batch.replicas == 3).all())
    first, second = ReplicaViews()(detector_batch, torch.Generator().manual_seed(0))
    r1, r2 = replica_of(first, detector_batch), replica_of(second, detector_batch)
    assert bool((r1 != r2).all())
    for view, r in ((first, r1), (second, r2)):
        direct = detector_view(detector_batch, r)
        assert torch.equal(counts(view), counts(direct)) and torch.equal(view.energy, direct.energy)
        assert torch.equal(view.layer, direct.layer)
    assert set(r1.tolist()) == {0, 1, 2}


def test_replica_pairs_are_uniform(detector_batch: JetBatch) -> None:
    views = ReplicaViews()
    g = torch.Generator().manual_seed(1)
    pairs = torch.cat([torch.stack(views.replicas(detector_batch, g), 1) for _ in range(20)])  # 2000 jets
    assert bool((pairs[:, 0] != pairs[:, 1]).all())
    _, seen = torch.unique(pairs, dim=0, return_counts=True)
    assert len(seen) == 6 and int(seen.min()) > 250  # 6 ordered pairs, ~333 each


def test_one_replica_is_used_twice(jets: ak.Array) -> None:
    single = JetBatch.from_jets(simulate(jets[:20], load_detector("default"), replicas=1, rng=np.random.default_rng(1)))
    first, second = ReplicaViews()(single, torch.Generator().manual_seed(2))
    assert torch.equal(first.energy, second.energy) and first.num_jets == 20


def test_replica_views_then_transform(detector_batch: JetBatch) -> None:
    g = torch.Generator().manual_seed(3)
    plain = ReplicaViews()(detector_batch, torch.Generator().manual_seed(3))
    scaled = ReplicaViews(EnergyScale(width=0.1))(detector_batch, g)
    for a, b in zip(plain, scaled, strict=True):
        ratio = per_jet_energy(b) / per_jet_energy(a)
        assert ratio.std() > 0.05  # the transform ran on each view, after the replica was picked
    assert repr(ReplicaViews(EnergyScale())) == "ReplicaViews(transform=EnergyScale(width=0.05, per_particle=False))"


def test_replica_views_need_detector_level_jets(batch: JetBatch) -> None:
    with pytest.raises(AugmentError, match="ReplicaViews needs detector-level jets .* particles only"):
        ReplicaViews()(batch)
    with pytest.raises(AugmentError, match="expected a particle Transform"):
        ReplicaViews(RandomFlip())


def test_shower_views_pair_the_two_showers_of_each_event(showers_file) -> None:
    import jetgraph

    batch = JetBatch.from_jets(jetgraph.read(showers_file)[:12])
    first, second = ShowerViews()(batch)
    assert first.num_jets == second.num_jets == 6
    assert torch.equal(first.jet_event, second.jet_event) and torch.equal(first.jet_event, batch.jet_event[0::2])
    assert torch.equal(first.jet_pt, batch.jet_pt[0::2]) and torch.equal(second.jet_pt, batch.jet_pt[1::2])
    assert torch.equal(per_jet_energy(second), per_jet_energy(batch)[1::2])
    scaled = ShowerViews(EnergyScale(width=0.1))(batch, torch.Generator().manual_seed(0))
    assert not torch.equal(scaled[0].energy, first.energy) and torch.equal(scaled[0].eta, first.eta)


def test_shower_views_refuse_jets_that_are_not_shower_pairs(batch: JetBatch, showers_file) -> None:
    import jetgraph

    with pytest.raises(AugmentError, match=r"ShowerViews needs jets showered twice .*--showers 2"):
        ShowerViews()(batch)
    paired = JetBatch.from_jets(jetgraph.read(showers_file)[:8])
    with pytest.raises(AugmentError, match="not in consecutive pairs of one event"):
        ShowerViews()(paired.take(torch.tensor([0, 2, 1, 3])))
    with pytest.raises(AugmentError, match="not in consecutive pairs of one event"):
        ShowerViews()(paired.take(slice(0, 5)))
    with pytest.raises(AugmentError, match="expected a particle Transform"):
        ShowerViews(RandomFlip())
