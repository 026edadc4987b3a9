"""Realistic random jets for the augmentation tests, and float64 physics to check the transforms with."""

from __future__ import annotations

import awkward as ak
import numpy as np
import torch

from jetgraph.batch import JetBatch
from jetgraph.schema import build

PIDS = np.array([211, -211, 22, 130])
CHARGES = np.array([1.0, -1.0, 0.0, 0.0])
MASSES = np.array([0.13957, 0.13957, 0.0, 0.49761])


def make_jets(n_jets: int = 100, seed: int = 0, radius: float = 0.4, massless: bool = False) -> ak.Array:
    """Canonical jets of 10-60 pions, photons and K_L within ``radius`` of an axis, pT falling exponentially.

    Axes are at eta in (-1.5, 1.5) and any phi; the first ten jets sit within 0.2 of phi = +-pi, so
    their particles straddle the seam. Harder particles lie nearer the axis (a pT-weighted mean dR of
    about 0.07 for ``radius=0.4``, as in real jets). ``massless`` gives every particle mass 0.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(10, 61, n_jets)
    axis_eta = rng.uniform(-1.5, 1.5, n_jets)
    axis_phi = rng.uniform(-np.pi, np.pi, n_jets)
    axis_phi[:10] = np.where(np.arange(10) % 2 == 0, 1.0, -1.0) * (np.pi - rng.uniform(0.0, 0.2, 10))
    jet = np.repeat(np.arange(n_jets), counts)
    n = len(jet)
    pt = 0.5 + rng.exponential(6.0, n)
    r = radius * rng.uniform(size=n) ** 2 / (1 + pt / 10)  # harder particles nearer the axis, as in real jets
    angle = rng.uniform(0, 2 * np.pi, n)
    eta = axis_eta[jet] + r * np.cos(angle)
    phi = np.angle(np.exp(1j * (axis_phi[jet] + r * np.sin(angle))))
    kind = rng.choice(len(PIDS), n, p=[0.3, 0.3, 0.3, 0.1])
    mass = np.zeros(n) if massless else MASSES[kind]
    part = {
        "px": pt * np.cos(phi),
        "py": pt * np.sin(phi),
        "pz": pt * np.sinh(eta),
        "energy": np.hypot(mass, pt * np.cosh(eta)),
        "pid": PIDS[kind],
        "charge": CHARGES[kind],
    }
    part = {name: ak.unflatten(values, counts) for name, values in part.items()}
    return build(part=part, label=rng.integers(0, 2, n_jets))


def make_batch(counts: list[int] | np.ndarray, pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> JetBatch:
    """A batch of massless particles with the given flat kinematics, ``counts`` per jet."""
    counts = np.asarray(counts)
    pt, eta, phi = (np.asarray(x, dtype=np.float64) for x in (pt, eta, phi))
    part = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "energy": pt * np.cosh(eta)}
    return JetBatch.from_jets(build(part={k: ak.unflatten(v, counts) for k, v in part.items()}))


def four_momenta(batch: JetBatch) -> torch.Tensor:
    """Each particle's (px, py, pz, E), in float64. Shapes: returns (num_nodes, 4)."""
    pt, eta, phi, energy = (batch[name].double() for name in ("pt", "eta", "phi", "energy"))
    return torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta), energy], 1)


def jet_sums(batch: JetBatch) -> torch.Tensor:
    """Each jet's summed (px, py, pz, E), in float64. Shapes: returns (num_jets, 4)."""
    out = torch.zeros(batch.num_jets, 4, dtype=torch.float64)
    return out.index_add_(0, batch.batch, four_momenta(batch))


def masses_squared(batch: JetBatch) -> torch.Tensor:
    """Each particle's mass squared ``E^2 - (pt cosh eta)^2``, in float64."""
    p = batch.pt.double() * torch.cosh(batch.eta.double())
    return batch.energy.double() ** 2 - p**2


def jet_masses(batch: JetBatch) -> torch.Tensor:
    """Each jet's invariant mass from its summed four-momentum, in float64."""
    p4 = jet_sums(batch)
    return torch.sqrt(torch.clamp(p4[:, 3] ** 2 - (p4[:, :3] ** 2).sum(1), min=0))


def wrap(phi: torch.Tensor) -> torch.Tensor:
    """Angles into [-pi, pi), in the dtype given."""
    return torch.remainder(phi + np.pi, 2 * np.pi) - np.pi


def counts(batch: JetBatch) -> torch.Tensor:
    """Particles per jet."""
    return batch.ptr.diff()
