"""RandomRotate keeps pT, mass, dR to the axis and (nearly) the jet mass; ScrambleAngles keeps the radial profile."""

from __future__ import annotations

import math

import pytest
import torch

from jetgraph.augment import AugmentError, RandomRotate, ScrambleAngles, build_transforms, relative
from jetgraph.batch import JetBatch
from tests.augment.jets import jet_masses, make_jets, masses_squared


def test_keeps_pt_mass_and_distance_to_axis(batch: JetBatch) -> None:
    out = RandomRotate()(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.pt, batch.pt)
    assert torch.equal(out.pid, batch.pid) and torch.equal(out.charge, batch.charge)
    energy = batch.energy.double()
    assert bool(((masses_squared(out) - masses_squared(batch)).abs() <= 1e-6 * energy**2 + 1e-6).all())
    before, after = torch.hypot(*relative(batch)), torch.hypot(*relative(out))
    torch.testing.assert_close(after, before, rtol=0, atol=2e-6)
    assert float((out.eta - batch.eta).abs().mean()) > 0.01  # it did move them


def test_turns_each_jet_by_one_angle(batch: JetBatch) -> None:
    out = RandomRotate()(batch, torch.Generator().manual_seed(1))
    deta, dphi = relative(batch)
    deta2, dphi2 = relative(out)
    turn = torch.atan2(dphi2, deta2) - torch.atan2(dphi, deta)
    turn = torch.remainder(turn, 2 * torch.pi)
    first = turn[batch.ptr[:-1]][batch.batch]
    diff = torch.remainder(turn - first + torch.pi, 2 * torch.pi) - torch.pi
    far = torch.hypot(deta, dphi) > 1e-3  # the angle of a particle on the axis is meaningless
    assert float(diff[far].abs().max()) < 1e-3
    angles = turn[batch.ptr[:-1]]
    assert angles.std() > 1.0  # spread over the circle (uniform: std ~ 1.8)


def test_phi_wraps_for_jets_at_the_seam(batch: JetBatch) -> None:
    out = RandomRotate()(batch, torch.Generator().manual_seed(2))
    seam = batch.jet_phi.abs() > 2.9
    assert int(seam.sum()) >= 10
    _, dphi = relative(out)
    assert float(dphi[seam[out.batch]].abs().max()) < 0.45  # still around the axis, across the seam
    assert bool((out.phi[seam[out.batch]].abs() > 2.5).all())


def test_jet_mass_kept_within_one_percent() -> None:
    """Massless constituents: the jet mass changes only at O(dR^2) relative (docstring), < 1% for R = 0.4."""
    jets = JetBatch.from_jets(make_jets(100, seed=1, radius=0.4, massless=True))
    mass = jet_masses(jets)
    worst = [
        float(((jet_masses(RandomRotate()(jets, torch.Generator().manual_seed(s))) - mass) / mass).abs().max())
        for s in range(5)
    ]
    assert max(worst) < 0.01
    assert max(worst) > 1e-5  # the O(dR^4) effect is there: the plane is no true rotation


def test_jet_mass_change_shrinks_like_dr_squared() -> None:
    """Halving the jet size divides the relative jet mass change by about four."""
    changes = []
    for radius in (0.4, 0.2):
        jets = JetBatch.from_jets(make_jets(100, seed=2, radius=radius, massless=True))
        out = RandomRotate()(jets, torch.Generator().manual_seed(0))
        changes.append(float(((jet_masses(out) - jet_masses(jets)) / jet_masses(jets)).abs().mean()))
    assert 2.5 < changes[0] / changes[1] < 6


def test_repr() -> None:
    assert repr(RandomRotate()) == "RandomRotate()"


def turns(before: JetBatch, after: JetBatch) -> torch.Tensor:
    """Each particle's turn about its jet's axis, in [-pi, pi)."""
    deta, dphi = relative(before)
    deta2, dphi2 = relative(after)
    return torch.remainder(torch.atan2(dphi2, deta2) - torch.atan2(dphi, deta) + torch.pi, 2 * torch.pi) - torch.pi


def test_scramble_keeps_pt_mass_and_distance_to_axis(batch: JetBatch) -> None:
    out = ScrambleAngles()(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.pt, batch.pt) and torch.equal(out.pid, batch.pid)
    energy = batch.energy.double()
    assert bool(((masses_squared(out) - masses_squared(batch)).abs() <= 1e-6 * energy**2 + 1e-6).all())
    before, after = torch.hypot(*relative(batch)), torch.hypot(*relative(out))
    torch.testing.assert_close(after, before, rtol=0, atol=2e-6)
    torch.testing.assert_close(girth(out), girth(batch), rtol=1e-5, atol=1e-5)


def girth(batch: JetBatch) -> torch.Tensor:
    """Sum over each jet's particles of pT * dR (the jet width, before dividing by the jet pT)."""
    return torch.zeros(batch.num_jets).index_add_(0, batch.batch, batch.pt * torch.hypot(*relative(batch)))


def test_scramble_turns_each_particle_by_its_own_angle(batch: JetBatch) -> None:
    out = ScrambleAngles()(batch, torch.Generator().manual_seed(1))
    far = torch.hypot(*relative(batch)) > 1e-3  # the angle of a particle on the axis is meaningless
    turn = turns(batch, out)
    first = batch.ptr[:-1][batch.batch]  # each particle's jet's hardest particle
    within = torch.remainder(turn - turn[first] + torch.pi, 2 * torch.pi) - torch.pi
    within = within[far & far[first] & (torch.arange(batch.num_nodes) != first)]
    assert float(within.std()) > 1.5  # uniform on the circle: std pi / sqrt(3) ~ 1.81 (RandomRotate: 0)
    change = (jet_masses(out) - jet_masses(batch)) / jet_masses(batch)
    assert -0.1 < float(change.mean()) < -0.002  # the recoil term only grows (docstring): masses fall a little


def test_scramble_turns_no_further_than_max_angle(batch: JetBatch) -> None:
    out = ScrambleAngles(max_angle=0.3)(batch, torch.Generator().manual_seed(2))
    far = torch.hypot(*relative(batch)) > 1e-3
    turn = turns(batch, out)[far].abs()
    assert float(turn.max()) <= 0.3 + 1e-4 and float(turn.max()) > 0.25
    still = ScrambleAngles(max_angle=0.0)(batch, torch.Generator().manual_seed(2))
    torch.testing.assert_close(still.eta, batch.eta, rtol=0, atol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, 3.2, "pi"])
def test_scramble_refuses_angles_outside_zero_to_pi(bad: object) -> None:
    with pytest.raises(AugmentError, match=r"max_angle=.*expected a number"):
        build_transforms([{"scramble_angles": {"max_angle": bad}}])


def test_scramble_repr() -> None:
    assert repr(ScrambleAngles(max_angle=1.0)) == "ScrambleAngles(max_angle=1.0)"
    assert repr(ScrambleAngles()) == f"ScrambleAngles(max_angle={math.pi!r})"
