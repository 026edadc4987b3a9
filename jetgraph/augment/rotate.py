"""Turns about the jet axis: of a whole jet (``RandomRotate``) or of each particle (``ScrambleAngles``)."""

from __future__ import annotations

import math

import torch

from jetgraph.augment.base import AugmentError, Transform, check, moved, relative, uniform
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
        return turned(batch, angle[batch.batch])


class ScrambleAngles(Transform):
    """Turn every particle about its jet's axis by its own random angle, uniform in [-max_angle, max_angle).

    Each particle keeps its pT, its mass and its distance dR to the axis, so the jet's radial
    profile is untouched: multiplicity, width (girth), pT_D and any sum over particles of f(pT, dR).
    What goes is the angular arrangement around the axis (prongs, pairwise distances), which is what
    tells one jet from another in a contrastive task. Use it where the radial profile carries the
    signal, as in quark/gluon tagging; not for top or W tagging, whose prongs it erases. The jet mass
    moves little: to order dR^2, m^2 = pT sum_i pT_i dR_i^2 - |sum_i pT_i r_i|^2 (r_i a particle's
    offset from the axis); the first term is kept and the second, near zero about the jet's own axis,
    can only grow, so scrambled jets come out slightly lighter. With ``max_angle = pi`` the angles
    are uniform on the circle.

    Args:
        max_angle: the largest turn, in radians (0 to pi; 0 leaves the jets alone).

    Shapes:
        batch: N jets, M particles; returns N jets, M particles.
    """

    def __init__(self, max_angle: float = math.pi) -> None:
        self.max_angle = check.number("ScrambleAngles", "max_angle", max_angle, low=0.0)
        if self.max_angle > math.pi:
            raise AugmentError(f"ScrambleAngles: max_angle={max_angle!r}; expected a number between 0 and pi")

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        angle = self.max_angle * (2 * uniform((batch.num_nodes,), generator, batch.pt.device) - 1)
        return turned(batch, angle)


def turned(batch: JetBatch, angle: torch.Tensor) -> JetBatch:
    """``batch`` with each particle's (deta, dphi) to its jet's axis turned by its entry of ``angle`` (radians).

    Shapes:
        angle: (num_nodes,).
    """
    cos, sin = torch.cos(angle), torch.sin(angle)
    deta, dphi = relative(batch)
    eta = batch.jet_eta[batch.batch] + cos * deta - sin * dphi
    phi = batch.jet_phi[batch.batch] + sin * deta + cos * dphi
    return moved(batch, eta, phi)
