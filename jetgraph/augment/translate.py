"""``RandomTranslate``: shift each jet's particles off the jet axis."""

from __future__ import annotations

import torch

from jetgraph.augment.base import Transform, check, moved, normal
from jetgraph.batch import JetBatch


class RandomTranslate(Transform):
    """Shift all particles of a jet by one Gaussian (d_eta, d_phi) of sigma ``width`` (radians).

    Each particle keeps its pT and mass (the energy follows the new eta). The reference fields
    ``jet_*`` stay as they were, so to the features the jet looks off-centre, as in JetCLR: the
    representation should not hinge on where exactly the axis is.

    Args:
        width: sigma of the shift in eta and in phi, per jet (>= 0; 0 leaves the jets alone).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, width: float = 0.1) -> None:
        self.width = check.number("RandomTranslate", "width", width, low=0.0)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        shift = self.width * normal((batch.num_jets, 2), generator, batch.pt.device)
        per_particle = shift[batch.batch]
        return moved(batch, batch.eta + per_particle[:, 0], batch.phi + per_particle[:, 1])
