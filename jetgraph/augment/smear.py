"""``Smear``: soft, pT-dependent smearing of particle directions."""

from __future__ import annotations

import torch

from jetgraph.augment.base import Transform, check, moved, normal
from jetgraph.batch import JetBatch


class Smear(Transform):
    """Move each particle in eta and phi by Gaussian noise of sigma ``strength / pt``.

    Soft particles move a lot and hard ones hardly at all (``strength=0.1`` GeV rad moves a 1 GeV
    particle by ~0.1 rad and a 100 GeV one by ~0.001), so ``pt * sigma`` is the same for every
    particle: infrared- and collinear-safe observables, which weight directions by pT, change by
    O(``strength`` / jet pT), while the soft, poorly measured part of the jet is scrambled (JetCLR's
    "soft smearing"). Each particle keeps its pT and mass; the energy follows the new eta.

    Args:
        strength: GeV * rad, >= 0 (0 leaves the jets alone).
        max_sigma: cap on sigma (rad) for the softest particles, > 0, or None for no cap.

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, strength: float = 0.1, max_sigma: float | None = 0.5) -> None:
        self.strength = check.number("Smear", "strength", strength, low=0.0)
        if max_sigma is not None:
            max_sigma = check.number("Smear", "max_sigma", max_sigma, low=0.0, strict=True)
        self.max_sigma = max_sigma

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        pt = batch.pt
        sigma = torch.where(pt > 0, self.strength / pt, torch.zeros_like(pt))  # no direction, no move
        if self.max_sigma is not None:
            sigma = torch.clamp(sigma, max=self.max_sigma)
        noise = normal((2, pt.numel()), generator, pt.device)
        return moved(batch, batch.eta + sigma * noise[0], batch.phi + sigma * noise[1])
