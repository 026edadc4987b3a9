"""``EnergyScale``: rescale the energies of whole jets (a jet energy scale) or of each particle (a resolution)."""

from __future__ import annotations

import torch

from jetgraph.augment.base import AugmentError, Transform, check, normal
from jetgraph.batch import JetBatch

MIN_FACTOR = 1e-3
"""Factors are clipped from below here, so a very wide Gaussian never makes energies negative."""


class EnergyScale(Transform):
    """Multiply the pT and energy of every particle of a jet by one factor ``1 + Gaussian(width)``.

    With ``per_particle`` every particle draws its own factor instead, as a detector's energy
    resolution would: the jet's multiplicity and directions stay, but no two views share the
    exact particle pTs, which otherwise identify a jet among thousands.

    Directions (eta, phi) do not change, so each particle's four-momentum, and the jet's, is scaled
    by the factor (masses too). The reference fields ``jet_pt, jet_energy, jet_mass`` are *not*
    scaled: the point is that the absolute energies change relative to the jet as read, so the
    features (normalised by the reference) see a different scale. The factor is clipped below at
    :data:`MIN_FACTOR`.

    Args:
        width: sigma of the relative change, >= 0 (0 leaves the jets alone).
        per_particle: one factor per particle (True) or per jet (False).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, width: float = 0.05, per_particle: bool = False) -> None:
        self.width = check.number("EnergyScale", "width", width, low=0.0)
        if not isinstance(per_particle, bool):
            raise AugmentError(f"EnergyScale: per_particle={per_particle!r}; expected true or false")
        self.per_particle = per_particle

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        if self.per_particle:
            factor = 1 + self.width * normal((batch.num_nodes,), generator, batch.pt.device)
        else:
            factor = (1 + self.width * normal((batch.num_jets,), generator, batch.pt.device))[batch.batch]
        factor = factor.clamp(min=MIN_FACTOR)
        return batch.replace(pt=batch.pt * factor, energy=batch.energy * factor)
