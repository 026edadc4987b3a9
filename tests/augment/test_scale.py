"""EnergyScale: one factor per jet (or per particle) on the pT and energy; the reference stays."""

from __future__ import annotations

import pytest
import torch

from jetgraph.augment import AugmentError, EnergyScale, build_transforms
from jetgraph.batch import JetBatch


def test_scales_a_jet_by_one_factor(batch: JetBatch) -> None:
    out = EnergyScale(width=0.1)(batch, torch.Generator().manual_seed(0))
    ratio = out.pt / batch.pt
    factor = ratio[batch.ptr[:-1]]
    torch.testing.assert_close(ratio, factor[batch.batch], rtol=1e-6, atol=0)
    torch.testing.assert_close(out.energy / batch.energy, factor[batch.batch], rtol=1e-6, atol=0)
    assert torch.equal(out.eta, batch.eta) and torch.equal(out.phi, batch.phi)
    assert 0.07 < float(factor.std()) < 0.13 and abs(float(factor.mean()) - 1) < 0.03
    assert torch.equal(out.jet_pt, batch.jet_pt) and torch.equal(out.jet_energy, batch.jet_energy)


def test_wide_scales_stay_positive(batch: JetBatch) -> None:
    out = EnergyScale(width=3.0)(batch, torch.Generator().manual_seed(1))
    assert bool((out.pt > 0).all()) and bool((out.energy > 0).all())


def test_per_particle_draws_a_factor_for_each_particle(batch: JetBatch) -> None:
    out = EnergyScale(width=0.2, per_particle=True)(batch, torch.Generator().manual_seed(2))
    ratio = out.pt / batch.pt
    torch.testing.assert_close(out.energy / batch.energy, ratio, rtol=1e-6, atol=0)
    assert torch.equal(out.eta, batch.eta) and torch.equal(out.phi, batch.phi)
    assert torch.equal(out.ptr, batch.ptr)  # the multiplicity stays
    within = ratio - ratio[batch.ptr[:-1]][batch.batch]  # minus the first particle's factor of its jet
    assert 0.2 < float(within.std()) < 0.36  # two independent factors of sigma 0.2: sqrt(2) * 0.2
    assert 0.17 < float(ratio.std()) < 0.23 and abs(float(ratio.mean()) - 1) < 0.02


def test_per_particle_must_be_a_boolean() -> None:
    with pytest.raises(AugmentError, match=r"per_particle='yes'; expected true or false"):
        build_transforms([{"energy_scale": {"per_particle": "yes"}}])


def test_repr() -> None:
    assert repr(EnergyScale()) == "EnergyScale(width=0.05, per_particle=False)"
