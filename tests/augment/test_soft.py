"""SoftEmission: exactly ``count`` soft massless photons per jet, uniform in the disc around the axis."""

from __future__ import annotations

import torch

from jetgraph.augment import SoftEmission, relative
from jetgraph.batch import JetBatch, detector_view
from tests.augment.jets import counts, masses_squared


def added(batch: JetBatch, out: JetBatch, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into ``out`` of the old particles and of the added ones (each jet's last ``count``)."""
    position = torch.arange(out.num_nodes) - out.ptr[out.batch]
    new = position >= counts(batch)[out.batch]
    return (~new).nonzero().squeeze(1), new.nonzero().squeeze(1)


def test_adds_count_particles_per_jet(batch: JetBatch) -> None:
    out = SoftEmission(count=7, max_pt=1.0, radius=0.4)(batch, torch.Generator().manual_seed(0))
    assert torch.equal(counts(out), counts(batch) + 7)
    old, new = added(batch, out, 7)
    for name in ("pt", "eta", "phi", "energy", "pid", "charge"):
        assert torch.equal(out[name][old], batch[name]), name  # the old particles, untouched, first
    deta, dphi = relative(out)
    assert bool((torch.hypot(deta, dphi)[new] <= 0.4 + 1e-5).all())
    assert bool((out.pt[new] > 0).all()) and bool((out.pt[new] <= 1.0).all())
    assert bool((out.pid[new] == 22).all()) and bool((out.charge[new] == 0).all())
    energy = out.energy[new].double()
    assert bool((masses_squared(out)[new].abs() <= 1e-6 * energy**2).all())  # massless


def test_positions_fill_the_disc_uniformly(batch: JetBatch) -> None:
    out = SoftEmission(count=20, radius=0.4)(batch, torch.Generator().manual_seed(1))
    _, new = added(batch, out, 20)
    deta, dphi = relative(out)
    r = torch.hypot(deta, dphi)[new]
    inner = float((r < 0.2).float().mean())  # uniform in area: 1/4 inside half the radius
    assert 0.2 < inner < 0.3
    assert abs(float(deta[new].mean())) < 0.02 and abs(float(dphi[new].mean())) < 0.02
    assert 0.4 < float(out.pt[new].mean()) < 0.6  # uniform in (0, 1]


def test_detector_views_get_ecal_layer(detector_batch: JetBatch) -> None:
    view = detector_view(detector_batch, torch.zeros(detector_batch.num_jets, dtype=torch.long))
    out = SoftEmission(count=3)(view, torch.Generator().manual_seed(2))
    _, new = added(view, out, 3)
    assert bool((out.layer[new] == 0).all()) and bool((out.charge[new] == 0).all())


def test_repr() -> None:
    assert repr(SoftEmission(count=3)) == "SoftEmission(count=3, max_pt=1.0, radius=0.4)"
