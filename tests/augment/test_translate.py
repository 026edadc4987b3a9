"""RandomTranslate: one Gaussian shift per jet, pT and mass kept, the reference axis left in place."""

from __future__ import annotations

import torch

from jetgraph.augment import RandomTranslate, relative
from jetgraph.batch import JetBatch
from tests.augment.jets import masses_squared, wrap


def shifts(batch: JetBatch, out: JetBatch) -> tuple[torch.Tensor, torch.Tensor]:
    return (out.eta - batch.eta).double(), wrap((out.phi - batch.phi).double())


def test_one_shift_per_jet_keeping_pt_and_mass(batch: JetBatch) -> None:
    out = RandomTranslate(width=0.1)(batch, torch.Generator().manual_seed(0))
    assert torch.equal(out.pt, batch.pt) and torch.equal(out.pid, batch.pid)
    energy = batch.energy.double()
    assert bool(((masses_squared(out) - masses_squared(batch)).abs() <= 1e-6 * energy**2 + 1e-6).all())
    for shift in shifts(batch, out):
        per_jet = shift[batch.ptr[:-1]]
        torch.testing.assert_close(shift, per_jet[batch.batch], rtol=0, atol=1e-5)


def test_moves_the_pt_weighted_centroid_by_the_shift(batch: JetBatch) -> None:
    out = RandomTranslate(width=0.1)(batch, torch.Generator().manual_seed(1))
    weight = batch.pt.double()
    total = torch.zeros(batch.num_jets, dtype=torch.float64).index_add_(0, batch.batch, weight)

    def centroid(values: torch.Tensor) -> torch.Tensor:
        summed = torch.zeros(batch.num_jets, dtype=torch.float64).index_add_(0, batch.batch, weight * values.double())
        return summed / total

    for before, after, shift in zip(relative(batch), relative(out), shifts(batch, out), strict=True):
        torch.testing.assert_close(centroid(after) - centroid(before), shift[batch.ptr[:-1]], rtol=0, atol=1e-5)
    assert torch.equal(out.jet_eta, batch.jet_eta) and torch.equal(out.jet_phi, batch.jet_phi)


def test_shifts_are_gaussian_of_the_width(batch: JetBatch) -> None:
    out = RandomTranslate(width=0.2)(batch, torch.Generator().manual_seed(2))
    drawn = torch.cat([s[batch.ptr[:-1]] for s in shifts(batch, out)])  # 200 draws
    assert 0.16 < float(drawn.std()) < 0.24
    assert abs(float(drawn.mean())) < 0.05


def test_zero_width_is_the_identity(batch: JetBatch) -> None:
    out = RandomTranslate(width=0.0)(batch, torch.Generator().manual_seed(3))
    torch.testing.assert_close(out.eta, batch.eta)
    torch.testing.assert_close(out.energy, batch.energy)


def test_repr() -> None:
    assert repr(RandomTranslate(width=0.2)) == "RandomTranslate(width=0.2)"
