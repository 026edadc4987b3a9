"""EnergyScale: one factor per jet on every particle's pT and energy; the reference stays."""

from __future__ import annotations

import torch

from jetgraph.augment import EnergyScale
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


def test_repr() -> None:
    assert repr(EnergyScale()) == "EnergyScale(width=0.05)"
