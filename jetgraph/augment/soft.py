"""``SoftEmission``: add soft massless particles around the jet axis."""

from __future__ import annotations

import math

import torch

from jetgraph.augment.base import Transform, check, uniform, wrap_phi
from jetgraph.batch import JetBatch

PID = 22
"""``pid`` of an added particle: a photon (neutral, massless)."""
LAYER = 0
"""``layer`` of an added particle in detector-level views: the first calorimeter layer (ECAL)."""


class SoftEmission(Transform):
    """Add ``count`` soft, massless particles to every jet, as soft radiation or pile-up would.

    Positions are uniform in the disc of ``radius`` around the jet axis (``jet_eta``, ``jet_phi``),
    pT is uniform in (0, ``max_pt``], and ``energy = pt cosh eta``. Where the batch has the fields,
    the new particles get ``pid`` 22, ``charge`` 0 and ``layer`` 0 (the ECAL). An IR-safe
    representation should barely change.

    Args:
        count: particles added per jet, >= 0.
        max_pt: largest pT of an added particle (GeV), > 0.
        radius: radius of the disc in (eta, phi) around the axis, > 0.

    Shapes:
        batch: N jets, M particles; returns N jets, M + N * count particles, each jet's new particles
        after its old ones.
    """

    def __init__(self, count: int = 5, max_pt: float = 1.0, radius: float = 0.4) -> None:
        self.count = check.integer("SoftEmission", "count", count, low=0)
        self.max_pt = check.number("SoftEmission", "max_pt", max_pt, low=0.0, strict=True)
        self.radius = check.number("SoftEmission", "radius", radius, low=0.0, strict=True)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        device = batch.pt.device
        jet = torch.arange(batch.num_jets, device=device).repeat_interleave(self.count)
        u = uniform((3, jet.numel()), generator, device)
        r, angle = self.radius * torch.sqrt(u[0]), 2 * math.pi * u[1]
        pt = self.max_pt * (1 - u[2])  # (0, max_pt]: never a zero-pT particle
        eta = batch.jet_eta[jet] + r * torch.cos(angle)
        phi = wrap_phi(batch.jet_phi[jet] + r * torch.sin(angle))
        fields = {"pt": pt, "eta": eta, "phi": phi, "energy": pt * torch.cosh(eta)}
        constants = {"pid": PID, "charge": 0, "layer": LAYER}
        for name in batch.node_fields:
            if name in constants:
                fields[name] = torch.full_like(jet, constants[name], dtype=batch[name].dtype)
        return batch.add_particles(jet, **fields)
