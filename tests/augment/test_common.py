"""Properties every particle transform shares: reproducible, pure, float32, carries the other fields."""

from __future__ import annotations

import math

import pytest
import torch

from jetgraph.augment import (
    CollinearSplit,
    Compose,
    DropParticles,
    EnergyScale,
    RandomBoost,
    RandomRotate,
    RandomTranslate,
    ScrambleAngles,
    Smear,
    SoftEmission,
    Transform,
)
from jetgraph.batch import JetBatch, detector_view

TRANSFORMS = [
    RandomRotate(),
    ScrambleAngles(),
    RandomTranslate(width=0.1),
    RandomBoost(shift=1.0),
    Smear(strength=0.5),
    CollinearSplit(fraction=0.5, splits=2),
    SoftEmission(count=5),
    DropParticles(probability=0.3, max_pt=5.0),
    EnergyScale(width=0.1),
    EnergyScale(width=0.1, per_particle=True),
    Compose([RandomRotate(), Smear(), CollinearSplit(), DropParticles(), SoftEmission(), EnergyScale()]),
]
IDS = [type(t).__name__ for t in TRANSFORMS]
NODE = ("batch", "pt", "eta", "phi", "energy", "pid", "charge", "layer")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def snapshot(batch: JetBatch) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in batch.to_dict().items() if isinstance(value, torch.Tensor)}


def same(a: JetBatch, b: JetBatch) -> bool:
    names = [n for n in (*NODE, "ptr") if n in a]
    return all(n in b and torch.equal(a[n], b[n]) for n in names)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_same_seed_same_batch_different_seed_different(batch: JetBatch, transform: Transform) -> None:
    first, again, other = transform(batch, seeded(1)), transform(batch, seeded(1)), transform(batch, seeded(2))
    assert same(first, again)
    assert not same(first, other)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_input_is_left_alone(batch: JetBatch, transform: Transform) -> None:
    before = snapshot(batch)
    out = transform(batch, seeded(3))
    after = snapshot(batch)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert out is not batch and not same(out, batch)


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_output_is_a_valid_batch(batch: JetBatch, transform: Transform) -> None:
    out = transform(batch, seeded(4))
    assert isinstance(out, JetBatch)
    for name in ("pt", "eta", "phi", "energy", "charge"):
        assert out[name].dtype == torch.float32, name
        assert out[name].shape == (out.num_nodes,), name
        assert bool(torch.isfinite(out[name]).all()), name
    assert out.pid.dtype == torch.int64 and out.pid.shape == (out.num_nodes,)
    assert bool((out.pt > 0).all()) and bool((out.energy >= out.pt * 0.999).all())  # E >= pT
    assert bool((out.phi.abs() <= math.pi).all())
    assert torch.equal(out.ptr, torch.cat([torch.zeros(1, dtype=torch.long), out.batch.bincount().cumsum(0)]))
    assert bool((out.batch.diff() >= 0).all())  # still sorted by jet
    moves_the_axis = ("jet_eta", "jet_energy") if isinstance(transform, RandomBoost) else ()  # the jet moves whole
    for name in ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_mass", "label"):
        if name not in moves_the_axis:
            assert torch.equal(out[name], batch[name]), name  # otherwise the reference is never changed


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_detector_views_keep_their_layers(detector_batch: JetBatch, transform: Transform) -> None:
    view = detector_view(detector_batch, torch.zeros(detector_batch.num_jets, dtype=torch.long))
    out = transform(view, seeded(5))
    assert "pid" not in out and out.layer.dtype == torch.int64 and out.layer.shape == (out.num_nodes,)
    assert set(out.layer.unique().tolist()) <= set(view.layer.unique().tolist())


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_no_generator_draws_from_torch_default(batch: JetBatch, transform: Transform) -> None:
    torch.manual_seed(7)
    first, second = transform(batch), transform(batch)
    torch.manual_seed(7)
    assert same(transform(batch), first)
    assert not same(first, second)


@pytest.mark.parametrize("transform", TRANSFORMS[:-1], ids=IDS[:-1])
def test_refuses_what_is_not_a_batch(transform: Transform) -> None:
    from jetgraph.augment import AugmentError

    with pytest.raises(AugmentError, match="acts on a JetBatch; got Tensor"):
        transform(torch.zeros(3))


@pytest.mark.parametrize("transform", TRANSFORMS, ids=IDS)
def test_jets_without_particles_pass_through(batch: JetBatch, transform: Transform) -> None:
    """A detector replica can be empty; such a jet stays a jet (SoftEmission alone fills it)."""
    keep = (batch.batch >= 3).nonzero().squeeze(1)  # the first three jets lose all their particles
    holed = batch.select(keep)
    out = transform(holed, seeded(6))
    assert out.num_jets == batch.num_jets
    assert bool(torch.isfinite(out.energy).all())
    assert torch.equal(out.ptr.diff()[3:] > 0, torch.ones(batch.num_jets - 3, dtype=torch.bool))
