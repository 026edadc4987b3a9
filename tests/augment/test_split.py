"""CollinearSplit: the jet four-momentum is kept exactly, multiplicity rises by the particles split."""

from __future__ import annotations

import pytest
import torch

from jetgraph.augment import CollinearSplit
from jetgraph.batch import JetBatch
from tests.augment.jets import counts, jet_sums


def groups(batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Particles grouped by (jet, eta, phi): the distinct keys, their size, summed pT and summed energy."""
    key = torch.stack([batch.batch.double(), batch.eta.double(), batch.phi.double()], 1)
    keys, inverse, size = torch.unique(key, dim=0, return_inverse=True, return_counts=True)
    pt = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, inverse, batch.pt.double())
    energy = torch.zeros(len(keys), dtype=torch.float64).index_add_(0, inverse, batch.energy.double())
    return keys, size, pt, energy


@pytest.mark.parametrize("splits", [1, 2])
def test_keeps_each_jet_four_momentum(batch: JetBatch, splits: int) -> None:
    out = CollinearSplit(fraction=0.5, splits=splits)(batch, torch.Generator().manual_seed(0))
    before, after = jet_sums(batch), jet_sums(out)
    scale = before[:, 3:].expand_as(before)  # the jet energy sets the scale, also for px, py ~ 0
    assert bool(((after - before).abs() <= 1e-5 * scale).all())


def test_splits_particles_into_collinear_pairs(batch: JetBatch) -> None:
    out = CollinearSplit(fraction=0.5)(batch, torch.Generator().manual_seed(1))
    keys, size, pt, energy = groups(batch)
    keys_out, size_out, pt_out, energy_out = groups(out)
    assert torch.equal(keys_out, keys) and bool((size == 1).all())  # same directions, nothing moved
    assert set(size_out.tolist()) == {1, 2}
    split = int((size_out == 2).sum())
    assert out.num_nodes - batch.num_nodes == split
    assert 0.4 < split / batch.num_nodes < 0.6  # fraction=0.5
    torch.testing.assert_close(pt_out, pt, rtol=1e-6, atol=0)
    torch.testing.assert_close(energy_out, energy, rtol=1e-6, atol=0)
    assert torch.equal(
        counts(out) - counts(batch), torch.zeros_like(counts(batch)).index_add_(0, keys[:, 0].long(), (size_out - 1))
    )
    assert bool((out.pt > 0).all())


def test_pieces_copy_pid_and_charge(batch: JetBatch) -> None:
    out = CollinearSplit(fraction=1.0)(batch, torch.Generator().manual_seed(2))
    assert out.num_nodes == 2 * batch.num_nodes
    key = torch.stack([out.batch.double(), out.eta.double(), out.phi.double()], 1)
    _, inverse = torch.unique(key, dim=0, return_inverse=True)
    order = torch.argsort(inverse, stable=True)
    pid, charge = out.pid[order].view(-1, 2), out.charge[order].view(-1, 2)
    assert torch.equal(pid[:, 0], pid[:, 1]) and torch.equal(charge[:, 0], charge[:, 1])
    assert sorted(pid[:, 0].tolist()) == sorted(batch.pid.tolist())


def test_two_splits_raise_multiplicity_more(batch: JetBatch) -> None:
    once = CollinearSplit(fraction=0.5, splits=1)(batch, torch.Generator().manual_seed(3))
    twice = CollinearSplit(fraction=0.5, splits=2)(batch, torch.Generator().manual_seed(3))
    assert batch.num_nodes < once.num_nodes < twice.num_nodes
    assert 2.0 < twice.num_nodes / batch.num_nodes < 2.5  # (1 + 0.5)^2 on average
    _, size, _, _ = groups(twice)
    assert int(size.max()) <= 4


def test_fraction_zero_is_the_identity(batch: JetBatch) -> None:
    out = CollinearSplit(fraction=0.0)(batch, torch.Generator().manual_seed(4))
    assert torch.equal(out.pt, batch.pt) and torch.equal(out.batch, batch.batch)


def test_repr() -> None:
    assert repr(CollinearSplit(splits=2)) == "CollinearSplit(fraction=0.5, splits=2)"
