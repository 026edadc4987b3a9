"""``EnergyScale``: rescale the energies of whole jets, as a jet energy scale uncertainty would."""

from __future__ import annotations

import torch

from jetgraph.augment.base import Transform, normal, number
from jetgraph.batch import JetBatch

MIN_FACTOR = 1e-3
"""Factors are clipped from below here, so a very wide Gaussian never makes energies negative."""


class EnergyScale(Transform):
    """Multiply the pT and energy of every particle of a jet by one factor ``1 + Gaussian(width)``.

    Directions (eta, phi) do not change, so each particle's four-momentum, and the jet's, is scaled
    by the factor (masses too). The reference fields ``jet_pt, jet_energy, jet_mass`` are *not*
    scaled: the point is that the absolute energies change relative to the jet as read, so the
    features (normalised by the reference) see a different scale. The factor is clipped below at
    :data:`MIN_FACTOR`.

    Args:
        width: sigma of the relative change, per jet, >= 0 (0 leaves the jets alone).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, width: float = 0.05) -> None:
        self.width = number("EnergyScale", "width", width, low=0.0)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        factor = 1 + self.width * normal((batch.num_jets,), generator, batch.pt.device)
        factor = factor.clamp(min=MIN_FACTOR)[batch.batch]
        return batch.replace(pt=batch.pt * factor, energy=batch.energy * factor)
