"""Classic jet observables: the hand-made baselines a learned representation has to beat.

- :func:`qg_observables`: the quark/gluon discriminants of :data:`OBSERVABLES`, computed from a batch's
  particles (or a detector view's cells and tracks);
- :func:`top_observables`: the top-tagging ones of :data:`TOP_OBSERVABLES` (soft-drop mass,
  N-subjettiness ratios with exclusive-kT axes, the energy-correlation ratios C2 and D2), with FastJet;
- :func:`observable_matrix`: either set, as one matrix for scikit-learn;
- :func:`cell_energy_sum`, :func:`track_pt_sum`: the raw detector-level sums, the baseline of
  jet-energy regression (the uncalibrated jet energy).

Conventions, for every observable: ``z_i = pT_i / sum_j pT_j`` over the jet's particles (not the
jet's ``jet_pt``), and ``dR`` is measured in the (Δη, Δφ) plane with Δφ wrapped, ``dR_i`` to the
batch's jet axis (``jet_eta``, ``jet_phi``, as :func:`jetgraph.batch.relative` but in float64). No
radius ``R0`` normalises the angles (it would cancel in ``tau21`` and only rescale the others).
Everything is computed in float64 and returned as float32, vectorised over the batch (no loop over
jets or particles; the pairwise sums go by groups of whole jets, see :data:`MAX_PAIRS`).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import awkward as ak
import numpy as np
import torch
import vector
from torch_geometric.utils import scatter, to_dense_batch

from jetgraph.batch import JetBatch, wrap_phi
from jetgraph.errors import SchemaError

OBSERVABLES = ("multiplicity", "girth", "pt_d", "mass_over_pt", "e2_b1", "e2_b2", "tau21")
"""Names of :func:`qg_observables`, in the column order of :func:`observable_matrix`."""
MAX_PAIRS = 2**23
"""Padded (jet, particle, particle) pairs of the energy correlators built at once: 64 MiB per float64
(B, M, M) tensor, a few hundred MiB at the peak; larger batches are done in groups of whole jets."""


def qg_observables(batch: JetBatch) -> dict[str, torch.Tensor]:
    """The classic quark/gluon observables of every jet, one tensor per name of :data:`OBSERVABLES`.

    - ``multiplicity``: number of particles (IRC-unsafe);
    - ``girth``: ``sum_i z_i dR_i``, the jet width (IRC-safe);
    - ``pt_d``: ``sqrt(sum_i pT_i^2) / sum_i pT_i``, the pT dispersion (IRC-unsafe);
    - ``mass_over_pt``: ``jet_mass / jet_pt`` of the jet record (not recomputed from the particles);
    - ``e2_b1``, ``e2_b2``: ``sum_{i<j} z_i z_j dR_ij^beta`` for beta = 1, 2, the two-point energy
      correlation function (IRC-safe), from padded pairwise distances (see :func:`_pair_sums`);
    - ``tau21``: N-subjettiness ratio ``tau2 / tau1`` with ``tau_N = sum_i z_i min_k dR_{i,k}``; see
      :func:`_tau2` for the approximate axes.

    Gluon jets radiate more (colour factor C_A = 3 against C_F = 4/3): more particles, wider, lower
    ``pt_d``, larger ``e2``. A jet with one particle gets ``e2 = tau21 = 0``, ``pt_d = 1`` and
    ``girth = dR`` of that particle (0 when it is the jet axis); a jet with no particle gets zeros
    everywhere but ``mass_over_pt``; nothing is NaN.

    Shapes:
        returns a dict of (num_jets,) float32 tensors on the batch's device.
    """
    n = batch.num_jets
    jet = batch.batch
    tiny = torch.finfo(torch.float64).tiny  # denominators of empty jets: 0 / tiny = 0, no NaN
    pt = batch.pt.double()
    # float64 before the differences: no float32 rounding of eta - jet_eta (|eta| up to ~5)
    deta = batch.eta.double() - batch.jet_eta.double()[jet]
    dphi = wrap_phi(batch.phi.double() - batch.jet_phi.double()[jet])
    pt_sum = scatter(pt, jet, dim=0, dim_size=n, reduce="sum").clamp_min(tiny)
    z = pt / pt_sum[jet]
    delta_r = torch.hypot(deta, dphi)
    girth = scatter(z * delta_r, jet, dim=0, dim_size=n, reduce="sum")
    pt_d = torch.sqrt(scatter(pt * pt, jet, dim=0, dim_size=n, reduce="sum")) / pt_sum
    e2_b1, e2_b2 = _pair_sums(batch, z, deta, dphi)
    tau1 = girth  # tau_1 about the jet axis is the girth
    tau2 = _tau2(batch, z, deta, dphi)
    tau21 = torch.where(tau1 > 0, tau2 / tau1.clamp_min(tiny), 0.0)
    values = {
        "multiplicity": (batch.ptr[1:] - batch.ptr[:-1]).double(),
        "girth": girth,
        "pt_d": pt_d,
        "mass_over_pt": batch.jet_mass.double() / batch.jet_pt.double().clamp_min(tiny),
        "e2_b1": e2_b1,
        "e2_b2": e2_b2,
        "tau21": tau21,
    }
    return {name: values[name].float() for name in OBSERVABLES}


TOP_OBSERVABLES = ("multiplicity", "mass", "sd_mass", "tau21", "tau32", "c2", "d2")
"""Names of :func:`top_observables`, in the column order of :func:`observable_matrix` for ``task="top"``."""
JET_RADIUS = 0.8
"""R of the top-tagging jets (anti-kT 0.8): the reclustering radius and the soft-drop R0."""


def names_of(task: str) -> tuple[str, ...]:
    """The observables a task compares with: :data:`TOP_OBSERVABLES` for ``top``, else :data:`OBSERVABLES`."""
    return TOP_OBSERVABLES if task == "top" else OBSERVABLES


def observable_matrix(batch: JetBatch, task: str = "qg") -> np.ndarray:
    """The observables of ``task`` (:func:`names_of`) as one float64 matrix for scikit-learn, in their order.

    Shapes:
        returns (num_jets, len(names_of(task))) float64 numpy array.
    """
    if task == "top":
        values = top_observables(batch)
        return np.stack([values[name] for name in TOP_OBSERVABLES], axis=1)
    values = qg_observables(batch)
    return torch.stack([values[name] for name in OBSERVABLES], dim=1).cpu().double().numpy()


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (FastJet prints its banner there the first time it clusters)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _n_subjettiness(particles: ak.Array, axes: ak.Array) -> np.ndarray:
    """``tau_N = sum_i pT_i min_k dR(i, axis_k) / sum_i pT_i`` (R0 = 1: it cancels in the ratios).

    Shapes:
        particles: jets * var Momentum4D; axes: jets * N Momentum4D; returns (jets,) float64.
    """
    distance = particles[:, :, None].deltaR(axes[:, None, :])  # jets * particles * N
    nearest = ak.min(distance, axis=2)
    return ak.to_numpy(ak.sum(particles.pt * nearest, axis=1) / ak.sum(particles.pt, axis=1))


def top_observables(batch: JetBatch) -> dict[str, np.ndarray]:
    """The top-tagging observables of every jet, one float64 array per name of :data:`TOP_OBSERVABLES`.

    - ``multiplicity``: number of particles; ``mass``: the jet mass of the jet record;
    - ``sd_mass``: the soft-drop mass (Cambridge/Aachen reclustering of the particles, beta = 0,
      z_cut = 0.1, R0 = 0.8), the groomed mass that peaks at the top (and W) mass;
    - ``tau21``, ``tau32``: N-subjettiness ratios with the axes of exclusive kT reclustering to N
      subjets (Thaler, Van Tilburg, arXiv:1011.2268); a jet with fewer than N particles gets 0;
    - ``c2``, ``d2``: the energy-correlation ratios C2 and D2 at beta = 1 (Larkoski, Salam, Thaler,
      arXiv:1305.0007; Larkoski, Moult, Neill, arXiv:1409.6298), from FastJet's EnergyCorrelator.

    FastJet does the clustering (one vectorised call per batch); jets with no particle get zeros.

    Shapes:
        returns a dict of (num_jets,) float64 arrays.
    """
    import fastjet

    n = batch.num_jets
    counts = (batch.ptr[1:] - batch.ptr[:-1]).numpy()
    p4 = {"pt": batch.pt, "eta": batch.eta, "phi": batch.phi, "energy": batch.energy}
    flat = {k: v.double().numpy() for k, v in p4.items()}
    particles = vector.zip({k: ak.unflatten(v, counts) for k, v in flat.items()})
    out = {name: np.zeros(n) for name in TOP_OBSERVABLES}
    out["multiplicity"] = counts.astype(np.float64)
    out["mass"] = batch.jet_mass.double().numpy()
    has = np.flatnonzero(counts > 0)
    if not len(has):
        return out
    momenta = ak.zip({"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E})[has]
    with _quiet_stdout(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastJet's note on exclusive jets of other algorithms than kT
        ca = fastjet.ClusterSequence(momenta, fastjet.JetDefinition(fastjet.cambridge_algorithm, JET_RADIUS))
        groomed = ca.exclusive_jets_softdrop_grooming(njets=1, beta=0, symmetry_cut=0.1, R0=JET_RADIUS)
        out["sd_mass"][has] = np.nan_to_num(ak.to_numpy(groomed.msoftdrop))
        out["c2"][has] = np.nan_to_num(ak.to_numpy(ca.exclusive_jets_energy_correlator(njets=1, beta=1, func="c2")))
        out["d2"][has] = np.nan_to_num(ak.to_numpy(ca.exclusive_jets_energy_correlator(njets=1, beta=1, func="d2")))
        tau = {}
        for n_axes in (1, 2, 3):
            enough = has[counts[has] >= n_axes]
            tau[n_axes] = np.zeros(n)
            if len(enough):
                kt = fastjet.ClusterSequence(
                    momenta[np.isin(has, enough)], fastjet.JetDefinition(fastjet.kt_algorithm, JET_RADIUS)
                )
                subjets = kt.exclusive_jets(n_jets=n_axes)
                axes = vector.zip({k: subjets[k] for k in ("px", "py", "pz", "E")})
                tau[n_axes][enough] = _n_subjettiness(particles[enough], axes)
    out["tau21"] = np.divide(tau[2], tau[1], out=np.zeros(n), where=tau[1] > 0)
    out["tau32"] = np.divide(tau[3], tau[2], out=np.zeros(n), where=tau[2] > 0)
    return out


def _pair_sums(
    batch: JetBatch, z: torch.Tensor, deta: torch.Tensor, dphi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum_{i<j} z_i z_j dR_ij`` and ``sum_{i<j} z_i z_j dR_ij^2`` of every jet.

    Each group of whole jets is padded with ``to_dense_batch`` to (B, M) (M its largest jet) and the
    pairwise differences of the axis-relative (Δη, Δφ) are taken directly (exact zeros for coincident
    particles, unlike ``|x|^2 + |y|^2 - 2xy``); padding has ``z = 0``. Memory: a few (B, M, M) float64
    tensors (8 B * M^2 bytes each), so jets are grouped to keep B * M^2 under :data:`MAX_PAIRS` (256 jets
    of 50 particles make 6.4e5 pairs, one group; 256 jets of 200 particles, 1e7 pairs, make two groups).

    Shapes:
        z, deta, dphi: (num_nodes,) float64; returns two (num_jets,) float64.
    """
    n = batch.num_jets
    device = z.device
    counts = batch.ptr[1:] - batch.ptr[:-1]
    widest = int(counts.max()) if n else 0
    if widest == 0:
        zeros = torch.zeros(n, dtype=torch.float64, device=device)
        return zeros, zeros.clone()
    per_group = max(1, MAX_PAIRS // widest**2)
    coordinates = torch.stack([deta, dphi], dim=1)
    sums = [
        _group_pair_sums(batch, z, coordinates, first, min(first + per_group, n)) for first in range(0, n, per_group)
    ]
    return torch.cat([s[0] for s in sums]), torch.cat([s[1] for s in sums])


def _group_pair_sums(
    batch: JetBatch, z: torch.Tensor, coordinates: torch.Tensor, first: int, last: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_pair_sums` of jets ``first..last-1``."""
    lo, hi = int(batch.ptr[first]), int(batch.ptr[last])
    index = batch.batch[lo:hi] - first
    size = last - first
    dense_z, _ = to_dense_batch(z[lo:hi], index, batch_size=size)  # padding: z = 0
    dense_x, _ = to_dense_batch(coordinates[lo:hi], index, batch_size=size)
    deta, dphi = dense_x.unbind(-1)  # (B, M) each
    # dR_ij^2 (B, M, M), exactly 0 on the diagonal and for coincident particles
    squared = (deta.unsqueeze(2) - deta.unsqueeze(1)).square() + (dphi.unsqueeze(2) - dphi.unsqueeze(1)).square()
    weight = dense_z.unsqueeze(2) * dense_z.unsqueeze(1)  # (B, M, M)
    # each unordered pair appears twice in the full (i, j) sum; the diagonal adds 0
    return 0.5 * (weight * torch.sqrt(squared)).sum((1, 2)), 0.5 * (weight * squared).sum((1, 2))


def _tau2(batch: JetBatch, z: torch.Tensor, deta: torch.Tensor, dphi: torch.Tensor) -> torch.Tensor:
    """``tau_2 = sum_i z_i min(dR_{i,a}, dR_{i,b})`` with axes a, b the two hardest *merged* particles.

    Approximation: real analyses take the axes of exclusive-kT clustering to two subjets (and may
    minimise tau_2 over the axes); here the axes are the directions of the two hardest particles after
    particles at exactly the same (Δη, Δφ) in a jet are merged (their pT summed). The merge makes the
    axes, hence tau_2 and ``tau21``, blind to *exactly* collinear splittings
    (:class:`jetgraph.augment.CollinearSplit`), and a soft particle never becomes an axis, so
    ``tau21`` is infrared safe; a *nearly* collinear splitting of the hardest particle can still move
    the second axis onto its partner (not collinear safe in that limit, unlike exclusive kT). A jet
    with one distinct direction uses it for both axes (``tau_2 = 0``).

    Shapes:
        z, deta, dphi: (num_nodes,) float64; returns (num_jets,) float64.
    """
    n = batch.num_jets
    device = z.device
    if z.numel() == 0:
        return torch.zeros(n, dtype=torch.float64, device=device)
    jet = batch.batch
    # distinct (jet, deta, dphi): float64 holds the jet index and the float32-born coordinates exactly
    keys = torch.stack([jet.double(), deta, dphi], dim=1)
    distinct, inverse = torch.unique(keys, dim=0, return_inverse=True)
    merged_z = torch.zeros(len(distinct), dtype=torch.float64, device=device).index_add_(0, inverse, z)
    merged_jet = distinct[:, 0].long()
    # hardest first within each jet (stable two-key sort), then each merged particle's rank in its jet
    order = torch.sort(-merged_z, stable=True).indices
    order = order[torch.sort(merged_jet[order], stable=True).indices]
    sorted_jet = merged_jet[order]
    starts = torch.searchsorted(sorted_jet, torch.arange(n, device=device))
    ends = torch.searchsorted(sorted_jet, torch.arange(n, device=device), right=True)
    has_second = (ends - starts) > 1
    first = order[starts.clamp_max(len(order) - 1)]
    second = order[torch.where(has_second, starts + 1, starts).clamp_max(len(order) - 1)]
    axes = distinct[:, 1:]  # (distinct, 2) deta, dphi
    position = torch.stack([deta, dphi], dim=1)
    to_first = torch.linalg.vector_norm(position - axes[first][jet], dim=1)
    to_second = torch.linalg.vector_norm(position - axes[second][jet], dim=1)
    return scatter(z * torch.minimum(to_first, to_second), jet, dim=0, dim_size=n, reduce="sum")


def _replica_sum(batch: JetBatch, record: str, field: str, replica: int, caller: str) -> torch.Tensor:
    """Sum of ``{record}_{field}`` over one replica's items of each jet (0 for a jet with none)."""
    name = f"{record}_{field}"
    if name not in batch:
        raise SchemaError(f"{caller} needs detector-level jets with {record}; these jets have none (particles only?)")
    replicas = batch.replicas if "replicas" in batch else torch.ones(batch.num_jets, dtype=torch.long)
    if replica < 0 or bool((replicas <= replica).any()):
        fewest = int(replicas.min()) if batch.num_jets else 0
        raise SchemaError(f"{caller}: replica={replica}, but some jets have only {fewest} replicas (0 to {fewest - 1})")
    values = batch[name].double()
    mine = batch[f"{record}_replica"] == replica
    summed = scatter(values[mine], batch[f"{record}_jet"][mine], dim=0, dim_size=batch.num_jets, reduce="sum")
    return summed.float()


def cell_energy_sum(batch: JetBatch, replica: int = 0) -> torch.Tensor:
    """Each jet's summed calorimeter cell energy in one detector replica: the uncalibrated jet energy.

    The baseline of jet-energy regression: a probe on a representation should beat a linear fit of
    this sum to the truth energy.

    Args:
        batch: detector-level jets (with ``cells_*`` tensors).
        replica: which replica of each jet to sum (0 is the first).

    Shapes:
        returns (num_jets,) float32, GeV.

    Raises:
        SchemaError: the batch has no cells, or some jet lacks that replica.
    """
    return _replica_sum(batch, "cells", "energy", replica, "cell_energy_sum")


def track_pt_sum(batch: JetBatch, replica: int = 0) -> torch.Tensor:
    """Each jet's summed track pT in one detector replica (the charged part of the jet's momentum).

    Shapes:
        returns (num_jets,) float32, GeV.

    Raises:
        SchemaError: the batch has no tracks, or some jet lacks that replica.
    """
    return _replica_sum(batch, "tracks", "pt", replica, "track_pt_sum")


__all__ = [
    "OBSERVABLES",
    "TOP_OBSERVABLES",
    "cell_energy_sum",
    "names_of",
    "observable_matrix",
    "qg_observables",
    "top_observables",
    "track_pt_sum",
]
