"""``CollinearSplit``: split particles into collinear pairs that carry the same four-momentum."""

from __future__ import annotations

import torch

from jetgraph.augment.base import Transform, check, uniform
from jetgraph.batch import JetBatch

Z_MIN = 1e-6
"""The momentum share ``z`` is kept in [Z_MIN, 1 - Z_MIN], so no piece has zero pT (a log(pT) feature stays finite)."""


class CollinearSplit(Transform):
    """Split a random subset of particles, each into two collinear ones sharing its four-momentum.

    Every particle is picked with probability ``fraction``; a picked particle keeps its (eta, phi)
    and a share ``z`` of its pT and energy (its four-momentum times z), and a new particle at the
    same (eta, phi) gets the rest (``1 - z``), with ``z`` uniform in (0, 1). The jet's summed
    (px, py, pz, E) is unchanged up to float rounding and its multiplicity rises by the number of
    picked particles. An IRC-safe representation should not see the difference (JetCLR).

    The new particle copies ``pid``, ``charge`` and ``layer`` of the one it splits from: it is a
    collinear splitting of the particle *as the features see it*, so the summed charge of the jet is
    not conserved. ``splits=2`` repeats the step on the result ("2x collinear split"), the new
    particles included.

    Args:
        fraction: probability that a particle is split, in [0, 1].
        splits: how many times to repeat the step, >= 1.

    Shapes:
        batch: N jets, M particles; returns N jets, M + (particles split) particles, each jet's new
        particles after its old ones.
    """

    def __init__(self, fraction: float = 0.5, splits: int = 1) -> None:
        self.fraction = check.probability("CollinearSplit", "fraction", fraction)
        self.splits = check.integer("CollinearSplit", "splits", splits, low=1)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        for _ in range(self.splits):
            batch = self._split(batch, generator)
        return batch

    def _split(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        draws = uniform((2, batch.pt.numel()), generator, batch.pt.device)
        chosen = (draws[0] < self.fraction).nonzero().squeeze(1)
        z = draws[1][chosen].clamp(Z_MIN, 1 - Z_MIN)
        pt, energy = batch.pt[chosen], batch.energy[chosen]
        kept_pt, kept_energy = pt * z, energy * z
        rest = {name: batch[name][chosen] for name in batch.node_fields}
        rest["pt"], rest["energy"] = pt - kept_pt, energy - kept_energy  # subtracting keeps the sum exact
        shared = batch.replace(
            pt=batch.pt.index_copy(0, chosen, kept_pt), energy=batch.energy.index_copy(0, chosen, kept_energy)
        )
        return shared.add_particles(batch.batch[chosen], **rest)
