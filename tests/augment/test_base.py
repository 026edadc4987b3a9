"""Kinematic helpers and parameter checks shared by the transforms."""

from __future__ import annotations

import math

import pytest
import torch

from jetgraph.augment import (
    AugmentError,
    Brightness,
    CollinearSplit,
    DropParticles,
    EnergyScale,
    RandomFlip,
    RandomResizedCrop,
    RandomTranslate,
    Smear,
    SoftEmission,
    energy,
    mass,
    relative,
    wrap_phi,
)
from jetgraph.batch import JetBatch
from tests.augment.jets import masses_squared


def test_wrap_phi() -> None:
    phi = torch.tensor([0.0, 3.0, 3.5, -3.5, 7.0, -10.0, math.pi])
    wrapped = wrap_phi(phi)
    assert bool((wrapped.abs() <= math.pi).all())
    torch.testing.assert_close(torch.cos(wrapped), torch.cos(phi))
    torch.testing.assert_close(torch.sin(wrapped), torch.sin(phi), atol=1e-5, rtol=0)
    torch.testing.assert_close(wrapped[:2], phi[:2])


def test_mass_and_energy_invert_each_other(batch: JetBatch) -> None:
    m = mass(batch.pt, batch.eta, batch.energy)
    assert m.dtype == torch.float32 and bool((m >= 0).all())
    torch.testing.assert_close(m.double() ** 2, masses_squared(batch).clamp(min=0), rtol=0, atol=2e-3)
    assert 0.4 < float(m.max()) < 0.6  # K_L
    torch.testing.assert_close(energy(batch.pt, batch.eta, m), batch.energy, rtol=1e-6, atol=0)


def test_relative_coordinates_across_the_seam(batch: JetBatch) -> None:
    deta, dphi = relative(batch)
    assert float(torch.hypot(deta, dphi).max()) < 0.45  # no 2 pi jumps for the jets at phi ~ +-pi
    seam = batch.jet_phi.abs()[batch.batch] > 2.9
    assert bool(((batch.phi[seam] > 0) != (batch.jet_phi[batch.batch][seam] > 0)).any())  # straddling


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (RandomTranslate, {"width": -1}, "RandomTranslate: width=-1; expected a number >= 0"),
        (Smear, {"strength": "0.1"}, "Smear: strength='0.1'; expected a number >= 0"),
        (Smear, {"max_sigma": 0}, "Smear: max_sigma=0; expected a number > 0"),
        (CollinearSplit, {"fraction": 1.5}, "CollinearSplit: fraction=1.5; expected a probability between 0 and 1"),
        (CollinearSplit, {"splits": 0}, "CollinearSplit: splits=0; expected an integer >= 1"),
        (CollinearSplit, {"splits": 1.5}, "CollinearSplit: splits=1.5; expected an integer >= 1"),
        (SoftEmission, {"count": -1}, "SoftEmission: count=-1; expected an integer >= 0"),
        (SoftEmission, {"max_pt": 0}, "SoftEmission: max_pt=0; expected a number > 0"),
        (SoftEmission, {"radius": math.nan}, "SoftEmission: radius=nan; expected a number > 0"),
        (DropParticles, {"probability": True}, "DropParticles: probability=True; expected a probability"),
        (EnergyScale, {"width": None}, "EnergyScale: width=None; expected a number >= 0"),
        (RandomFlip, {"p": 2}, "RandomFlip: p=2; expected a probability between 0 and 1"),
        (RandomResizedCrop, {"scale": (0.8, 0.5)}, "RandomResizedCrop: scale=(0.8, 0.5); expected (low, high)"),
        (RandomResizedCrop, {"scale": 0.5}, "RandomResizedCrop: scale=0.5; expected (low, high)"),
        (Brightness, {"width": 1.0}, "Brightness: width=1.0; expected a number with 0 <= width < 1"),
    ],
)  # fmt: skip
def test_bad_parameters(cls: type, params: dict, message: str) -> None:
    with pytest.raises(AugmentError) as info:
        cls(**params)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
