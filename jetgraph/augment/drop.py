"""``DropParticles``: remove some soft particles, never a jet's hardest."""

from __future__ import annotations

import torch
from torch_geometric.utils import scatter

from jetgraph.augment.base import Transform, check, uniform
from jetgraph.batch import JetBatch


class DropParticles(Transform):
    """Drop each particle with pT below ``max_pt`` with probability ``probability``.

    The hardest particle of each jet (all of them, on a tie) is never dropped, so no jet becomes
    empty. Soft particles are what a detector loses (thresholds, inefficiency), and an IR-safe
    representation should not depend on them.

    Args:
        probability: chance that an eligible particle is dropped, in [0, 1].
        max_pt: only particles with pT < max_pt (GeV) may be dropped, > 0 (``math.inf``: any pT).

    Shapes:
        batch: N jets, M particles; returns N jets, M - (dropped) particles, in their order.
    """

    def __init__(self, probability: float = 0.1, max_pt: float = 2.0) -> None:
        self.probability = check.probability("DropParticles", "probability", probability)
        self.max_pt = check.number("DropParticles", "max_pt", max_pt, low=0.0, strict=True)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        pt = batch.pt
        hardest = scatter(pt, batch.batch, dim=0, dim_size=batch.num_jets, reduce="max")
        drop = uniform((pt.numel(),), generator, pt.device) < self.probability
        drop &= (pt < self.max_pt) & (pt < hardest[batch.batch])
        return batch.select((~drop).nonzero().squeeze(1))
