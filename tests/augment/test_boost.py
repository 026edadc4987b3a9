"""RandomBoost: one eta shift per jet, for the particles and the jet alike; pT, mass and (deta, dphi) kept."""

from __future__ import annotations

import pytest
import torch

from jetgraph.augment import AugmentError, RandomBoost, build_transforms, relative
from jetgraph.batch import JetBatch
from jetgraph.features import node_features
from tests.augment.jets import masses_squared


def test_one_shift_per_jet_for_particles_and_axis(batch: JetBatch) -> None:
    out = RandomBoost(shift=1.0)(batch, torch.Generator().manual_seed(0))
    shift = (out.jet_eta - batch.jet_eta).double()
    assert bool((shift.abs() <= 1.0).all()) and float(shift.std()) > 0.2
    torch.testing.assert_close((out.eta - batch.eta).double(), shift[batch.batch], rtol=0, atol=1e-5)
    assert (
        torch.equal(out.pt, batch.pt)
        and torch.equal(out.jet_pt, batch.jet_pt)
        and torch.equal(out.jet_phi, batch.jet_phi)
    )
    torch.testing.assert_close(out.phi, batch.phi, rtol=0, atol=1e-6)
    energy = batch.energy.double()
    assert bool(((masses_squared(out) - masses_squared(batch)).abs() <= 1e-5 * energy**2 + 1e-5).all())
    for before, after in zip(relative(batch), relative(out), strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=1e-5)
    jet_mass = lambda b: b.jet_energy.double() ** 2 - (b.jet_pt.double() * torch.cosh(b.jet_eta.double())) ** 2  # noqa: E731
    torch.testing.assert_close(jet_mass(out), jet_mass(batch), rtol=1e-4, atol=1.0)


def test_only_the_energy_features_change(batch: JetBatch) -> None:
    """The jet moves as a whole: pTs and positions relative to the axis stay; energies follow cosh(eta)."""
    before = node_features(batch)
    after = node_features(RandomBoost(shift=1.0)(batch, torch.Generator().manual_seed(1)))
    changed = ((after - before).abs().amax(0) > 1e-3).tolist()
    # log_pt, log_energy, log_pt_rel, log_energy_rel, deta, dphi, delta_r, then charge and particle types
    assert changed[:7] == [False, True, False, True, False, False, False] and not any(changed[7:]), changed


def test_built_by_name_and_checked() -> None:
    assert repr(build_transforms(["boost"]).transforms[0]) == "RandomBoost(shift=1.0)"
    with pytest.raises(AugmentError, match="shift"):
        RandomBoost(shift=-1)
