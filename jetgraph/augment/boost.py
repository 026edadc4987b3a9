"""``RandomBoost``: move whole jets along the beam, so a jet's absolute pseudorapidity is no clue."""

from __future__ import annotations

import torch

from jetgraph.augment.base import Transform, check, energy, mass, moved, uniform
from jetgraph.batch import JetBatch


class RandomBoost(Transform):
    """Shift the pseudorapidity of every particle of a jet, and of the jet, by one ``Uniform(-shift, shift)``.

    For massless particles this is a boost along the beam axis: every (deta, dphi) to the axis, every
    pT and the jet's pT and mass stay; only the energies follow the new eta. Features built from
    absolute energies (``log_energy``) then no longer tell where in eta the jet was. Two showers
    of one parton (:class:`~jetgraph.augment.ShowerViews`) share that direction, so without this
    the pair could be matched on it, which says nothing about the parton's flavour.

    Args:
        shift: the largest shift in eta (>= 0; 0 leaves the jets alone).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, shift: float = 1.0) -> None:
        self.shift = check.number("RandomBoost", "shift", shift, low=0.0)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        delta = self.shift * (2 * uniform((batch.num_jets,), generator, batch.pt.device) - 1)
        out = moved(batch, batch.eta + delta[batch.batch], batch.phi)
        jet_eta = batch.jet_eta + delta
        jet_energy = energy(batch.jet_pt, jet_eta, mass(batch.jet_pt, batch.jet_eta, batch.jet_energy))
        return out.replace(jet_eta=jet_eta, jet_energy=jet_energy)
