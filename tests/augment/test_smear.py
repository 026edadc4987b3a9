"""Smear: soft particles move much more than hard ones (sigma = strength / pT)."""

from __future__ import annotations

import numpy as np
import torch

from jetgraph.augment import Smear
from jetgraph.batch import JetBatch
from tests.augment.jets import make_batch, masses_squared


def soft_and_hard(n_jets: int = 200, per_jet: int = 20) -> JetBatch:
    """Jets of alternating 1 GeV and 100 GeV particles around eta = 0.5, phi = 0."""
    rng = np.random.default_rng(0)
    n = n_jets * per_jet
    pt = np.where(np.arange(n) % 2 == 0, 1.0, 100.0)
    return make_batch([per_jet] * n_jets, pt, 0.5 + rng.normal(0, 0.1, n), rng.normal(0, 0.1, n))


def test_moves_soft_particles_much_more() -> None:
    jets = soft_and_hard()
    out = Smear(strength=0.1)(jets, torch.Generator().manual_seed(0))
    moved = (out.eta - jets.eta).abs()
    soft, hard = jets.pt < 2, jets.pt > 50
    ratio = float(moved[soft].mean() / moved[hard].mean())
    assert ratio > 20
    expected = 0.1 * (2 / torch.pi) ** 0.5  # mean |N(0, 0.1)|
    assert abs(float(moved[soft].mean()) / expected - 1) < 0.1


def test_keeps_pt_and_mass(batch: JetBatch) -> None:
    out = Smear(strength=0.5)(batch, torch.Generator().manual_seed(1))
    assert torch.equal(out.pt, batch.pt) and torch.equal(out.charge, batch.charge)
    # float32 rounding of E^2 - p^2: relative to the larger energy (a particle smeared forward gains energy)
    energy = torch.maximum(batch.energy, out.energy).double()
    assert bool(((masses_squared(out) - masses_squared(batch)).abs() <= 1e-6 * energy**2 + 1e-6).all())
    assert float((out.phi - batch.phi).abs().max()) > 0.01


def test_sigma_is_capped_by_max_sigma() -> None:
    jets = soft_and_hard()
    soft = jets.pt < 2
    capped = Smear(strength=10.0, max_sigma=0.05)(jets, torch.Generator().manual_seed(2))
    assert abs(float((capped.eta - jets.eta)[soft].std()) / 0.05 - 1) < 0.1
    free = Smear(strength=1.0, max_sigma=None)(jets, torch.Generator().manual_seed(2))
    assert abs(float((free.eta - jets.eta)[soft].std()) / 1.0 - 1) < 0.1


def test_repr() -> None:
    assert repr(Smear(strength=0.2)) == "Smear(strength=0.2, max_sigma=0.5)"
    assert repr(Smear(max_sigma=None)) == "Smear(strength=0.1, max_sigma=None)"
