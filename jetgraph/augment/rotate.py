"""``RandomRotate``: turn each jet about its axis in the (deta, dphi) plane."""

from __future__ import annotations

import math

import torch

from jetgraph.augment.base import Transform, moved, relative, uniform
from jetgraph.batch import JetBatch


class RandomRotate(Transform):
    """Rotate every jet's particles about the jet axis (``jet_eta``, ``jet_phi``) by a random angle.

    Each jet gets one angle, uniform in [0, 2 pi); its particles' (deta, dphi) turn by it, keeping
    their pT and mass (the energy follows the new eta). A jet has no preferred orientation in the
    eta-phi plane, so the representation should not depend on it.

    The (deta, dphi) plane is not the sphere of directions: a massless pair adds
    ``2 pt_i pt_j (cosh deta_ij - cos dphi_ij) = pt_i pt_j (dR_ij^2 + O(dR_ij^4))`` to the jet mass
    squared, which a rotation keeps only at order dR^2. So the jet mass is kept up to relative
    corrections of order dR^2 (dR^4 in the mass squared): a few per mille for R = 0.4 jets. Massive
    constituents add corrections of order (m / pT)^2 of their share (pseudorapidity is not rapidity).
    Each particle's distance dR to the axis is kept (to float precision).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self) -> None:
        pass

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        angle = 2 * math.pi * uniform((batch.num_jets,), generator, batch.pt.device)
        cos, sin = torch.cos(angle)[batch.batch], torch.sin(angle)[batch.batch]
        deta, dphi = relative(batch)
        eta = batch.jet_eta[batch.batch] + cos * deta - sin * dphi
        phi = batch.jet_phi[batch.batch] + sin * deta + cos * dphi
        return moved(batch, eta, phi)
