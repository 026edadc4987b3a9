"""Raw kinematics → model inputs: node features, edges in the (η, φ) plane, dense padding.

Everything here runs on a :class:`~jetgraph.batch.JetBatch` *after* augmentation, so a
rotated or smeared jet gets its features from its new kinematics; nothing here knows an augmentation
happened. The reference frame of every feature is the jet as read (``jet_pt, jet_eta, jet_phi,
jet_energy`` of the batch), not a jet recomputed from the particles.

All functions are vectorised over the whole batch (no Python loop over jets or particles), follow the
batch's device and return float32 features and int64 indices.

- :func:`node_features` / :func:`feature_names` / :func:`num_node_features`: per-particle inputs;
- :func:`knn_edges`, :func:`radius_edges`: ``edge_index`` within each jet, built in torch (``cdist`` +
  ``topk`` on a padded batch) because ``torch_geometric.nn.knn_graph`` needs pyg-lib/torch-cluster,
  which are not installable here;
- :func:`to_dense`: padding and mask at the door of a dense encoder (transformer), hardest first.

Jet images for image encoders are :func:`jetgraph.images.pixelise`.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch_geometric.utils import to_dense_batch

from jetgraph.batch import TRACK_LAYER, JetBatch, relative, wrap_phi
from jetgraph.checks import Checks
from jetgraph.errors import JetGraphError
from jetgraph.schema import CHARGED_HADRON_PIDS

KINEMATIC_FEATURES = ("log_pt", "log_energy", "log_pt_rel", "log_energy_rel", "deta", "dphi", "delta_r")
"""Columns every batch gets, in this order (``*_rel``: divided by the jet's pT / energy; d*: to the jet axis)."""
CHARGE_FEATURES = ("charge",)
"""Column added when the batch has ``charge``."""
PID_FEATURES = ("is_charged_hadron", "is_neutral_hadron", "is_photon", "is_electron", "is_muon")
"""One-hot particle type (JetClass convention) added when the batch has ``pid`` and ``pid_classes=True``."""
LAYER_FEATURES = ("is_ecal", "is_hcal", "is_track")
"""One-hot detector layer (0 ECAL cell, 1 HCAL cell, 2 track) added when the batch has ``layer``."""
MIN_MOMENTUM = 1e-8
"""GeV: pT and energies are clamped here before a log, so a zero-pT particle gets a finite feature."""
MAX_PAIRS = 2**25
"""Padded (jet, particle, particle) distances built at once by the edge builders (128 MiB of float32);
larger batches are split into groups of whole jets."""


class FeatureError(JetGraphError, ValueError):
    """A bad argument to a feature or edge builder (``k``, ``r``, coordinates that do not fit the batch)."""


def delta_eta_phi(batch: JetBatch) -> torch.Tensor:
    """(Δη, Δφ) of every particle relative to its jet's axis (``jet_eta``, ``jet_phi``), Δφ wrapped.

    These are the default coordinates of :func:`knn_edges` and :func:`radius_edges`: relative to the axis,
    particles of a jet straddling φ = ±π are close to each other, as they should be.

    Shapes:
        returns (num_nodes, 2) in the dtype of ``batch.eta``.
    """
    return torch.stack(relative(batch), dim=1)


def _pid_one_hot(batch: JetBatch) -> torch.Tensor:
    """(N, 5) one-hot of :data:`PID_FEATURES`; hadrons are charged by ``charge != 0`` (or by pid without charge)."""
    apid = batch.pid.abs()
    photon, electron, muon = apid == 22, apid == 11, apid == 13
    hadron = ~(photon | electron | muon)
    if "charge" in batch:
        charged = batch.charge != 0
    else:
        charged = torch.isin(apid, torch.tensor(CHARGED_HADRON_PIDS, device=apid.device))
    return torch.stack([hadron & charged, hadron & ~charged, photon, electron, muon], dim=1)


def feature_names(batch: JetBatch, pid_classes: bool = True) -> list[str]:
    """The name of each column of :func:`node_features` for this batch (they depend only on its fields).

    Columns: :data:`KINEMATIC_FEATURES`, then :data:`CHARGE_FEATURES` with ``charge``, then
    :data:`PID_FEATURES` with ``pid`` (and ``pid_classes``), then :data:`LAYER_FEATURES` with ``layer``.
    """
    names = list(KINEMATIC_FEATURES)
    if "charge" in batch:
        names += CHARGE_FEATURES
    if "pid" in batch and pid_classes:
        names += PID_FEATURES
    if "layer" in batch:
        names += LAYER_FEATURES
    return names


def num_node_features(batch: JetBatch, pid_classes: bool = True) -> int:
    """Columns of :func:`node_features` for this batch (what an encoder's input layer needs)."""
    return len(feature_names(batch, pid_classes))


def node_features(batch: JetBatch, pid_classes: bool = True) -> torch.Tensor:
    """Per-particle model inputs, one column per name of :func:`feature_names`.

    - ``log_pt``, ``log_energy``: log of pT and energy (GeV), clamped at :data:`MIN_MOMENTUM`;
    - ``log_pt_rel``, ``log_energy_rel``: log(pT / jet_pt), log(E / jet_energy), with the batch's jet;
    - ``deta``, ``dphi``, ``delta_r``: to the batch's jet axis, Δφ wrapped into ``(-pi, pi]``;
    - ``charge`` when the batch has it;
    - with ``pid`` (and ``pid_classes``): one-hot charged hadron, neutral hadron, photon (|pid| 22),
      electron (11), muon (13); any other pid is a charged hadron when ``charge != 0`` and a neutral
      hadron otherwise (without ``charge``: charged when |pid| is in :data:`CHARGED_HADRON_PIDS`);
    - with ``layer`` (detector views): one-hot ECAL (0), HCAL (1), track (2); another layer gives zeros.

    Args:
        batch: raw kinematics (after augmentation).
        pid_classes: add the particle-type one-hot when the batch has ``pid``.

    Shapes:
        returns (num_nodes, num_node_features(batch, pid_classes)) float32.
    """
    jet = batch.batch
    log_pt = torch.log(batch.pt.float().clamp(min=MIN_MOMENTUM))
    log_energy = torch.log(batch.energy.float().clamp(min=MIN_MOMENTUM))
    log_jet_pt = torch.log(batch.jet_pt.float().clamp(min=MIN_MOMENTUM))[jet]
    log_jet_energy = torch.log(batch.jet_energy.float().clamp(min=MIN_MOMENTUM))[jet]
    deta, dphi = delta_eta_phi(batch).float().unbind(1)
    columns = [
        log_pt,
        log_energy,
        log_pt - log_jet_pt,
        log_energy - log_jet_energy,
        deta,
        dphi,
        torch.hypot(deta, dphi),
    ]
    if "charge" in batch:
        columns.append(batch.charge.float())
    out = [torch.stack(columns, dim=1)]
    if "pid" in batch and pid_classes:
        out.append(_pid_one_hot(batch).float())
    if "layer" in batch:
        layer = batch.layer
        out.append(torch.stack([layer == 0, layer == 1, layer == TRACK_LAYER], dim=1).float())
    return torch.cat(out, dim=1)


check = Checks(FeatureError)


def _coordinates(batch: JetBatch, coordinates: torch.Tensor | None) -> torch.Tensor:
    if coordinates is None:
        return delta_eta_phi(batch)
    if coordinates.dim() != 2 or coordinates.size(0) != batch.num_nodes:
        raise FeatureError(
            f"coordinates of shape {tuple(coordinates.shape)}: expected (num_nodes, D) = ({batch.num_nodes}, D)"
        )
    return coordinates


def _neighbours(
    batch: JetBatch, coordinates: torch.Tensor, k: int, loop: bool, radius: float | None = None
) -> torch.Tensor:
    """The (at most) ``k`` nearest neighbours within each jet (closer than ``radius`` if given), as edge_index.

    Jets are padded with ``to_dense_batch``, their pairwise distances computed with ``cdist``, padding
    (and the diagonal unless ``loop``) set to +inf, and ``topk`` picks the nearest; a finite distance is
    an edge. Groups of whole jets are done at once so that at most :data:`MAX_PAIRS` distances exist.
    No gradient flows through the choice (``coordinates`` may require grad; the edges are indices).
    """
    device = coordinates.device
    if batch.num_nodes == 0 or k == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=device)
    counts = batch.ptr[1:] - batch.ptr[:-1]
    widest = int(counts.max())
    per_group = max(1, MAX_PAIRS // widest**2)  # whole jets per group; one group for usual batches
    with torch.no_grad():  # indices only: no autograd graph of the padded distances
        edges = [
            _group_neighbours(
                coordinates, batch, counts, first, min(first + per_group, batch.num_jets), k, loop, radius
            )
            for first in range(0, batch.num_jets, per_group)
        ]
    return torch.cat(edges, dim=1)


def _group_neighbours(
    coordinates: torch.Tensor,
    batch: JetBatch,
    counts: torch.Tensor,
    first: int,
    last: int,
    k: int,
    loop: bool,
    radius: float | None,
) -> torch.Tensor:
    """Edges of jets ``first..last-1`` (node indices of the whole batch)."""
    device = coordinates.device
    lo, hi = int(batch.ptr[first]), int(batch.ptr[last])
    widest = int(counts[first:last].max())
    if widest == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=device)
    dense, mask = to_dense_batch(
        coordinates[lo:hi], batch.batch[lo:hi] - first, batch_size=last - first, max_num_nodes=widest
    )
    # exact differences (no |x|^2 + |y|^2 - 2xy rounding), so ties and self-distances stay exact
    distance = torch.cdist(dense, dense, compute_mode="donot_use_mm_for_euclid_dist")
    invalid = ~mask.unsqueeze(1)  # padded neighbours
    if not loop:
        invalid = invalid | torch.eye(widest, dtype=torch.bool, device=device)
    if radius is not None:
        invalid = invalid | (distance >= radius)
    # rows of real particles only, in node order (to_dense_batch keeps it): padded centres cost nothing more
    distance = distance.masked_fill(invalid, math.inf)[mask]
    if radius is not None:  # no wider topk than the most crowded particle needs
        k = min(k, int(torch.isfinite(distance).sum(-1).max()))
    value, neighbour = distance.topk(min(k, widest), dim=-1, largest=False, sorted=True)
    keep = torch.isfinite(value)
    centre = torch.arange(lo, hi, device=device).unsqueeze(1)
    start = batch.ptr.to(device)[batch.batch[lo:hi]].unsqueeze(1)
    return torch.stack([(start + neighbour)[keep], centre.expand_as(neighbour)[keep]])


def knn_edges(
    batch: JetBatch, k: int = 16, loop: bool = False, coordinates: torch.Tensor | None = None
) -> torch.Tensor:
    """Directed edges from each particle's ``k`` nearest neighbours within its jet to the particle.

    Distances are Euclidean in ``coordinates``, by default (Δη, Δφ) to the jet axis
    (:func:`delta_eta_phi`), i.e. ΔR with φ wrapped. A jet with ``k`` particles or fewer connects each
    particle to all the others. Same convention as ``torch_geometric.nn.knn_graph(flow="source_to_target")``:
    ``edge_index[0]`` is the neighbour j, ``edge_index[1]`` the centre i; with ``loop=True`` a particle
    counts among its own ``k`` neighbours. Edges are grouped by centre, nearest neighbour first.

    Args:
        batch: the jets (particles sorted by jet, as every :class:`JetBatch` is).
        k: neighbours per particle (an integer >= 0).
        loop: include self-loops.
        coordinates: another space to search in (e.g. hidden features of a dynamic EdgeConv layer).

    Shapes:
        coordinates: (num_nodes, D); returns edge_index (2, E) int64, E <= num_nodes * k.

    Raises:
        FeatureError: bad ``k`` or ``coordinates`` not of shape (num_nodes, D).
    """
    k = check.integer("features", "k", k, low=0)
    return _neighbours(batch, _coordinates(batch, coordinates), k, loop)


def radius_edges(
    batch: JetBatch,
    r: float = 0.2,
    loop: bool = False,
    max_neighbours: int = 64,
    coordinates: torch.Tensor | None = None,
) -> torch.Tensor:
    """Directed edges between particles of the same jet closer than ``r`` (ΔR < r by default).

    Keeps the ``max_neighbours`` nearest of each particle (``radius_graph`` in torch_cluster keeps an
    arbitrary subset instead). Convention and order as :func:`knn_edges`.

    Shapes:
        coordinates: (num_nodes, D); returns edge_index (2, E) int64, E <= num_nodes * max_neighbours.

    Raises:
        FeatureError: ``r`` not a positive finite number, bad ``max_neighbours`` or ``coordinates``.
    """
    if isinstance(r, bool) or not isinstance(r, numbers.Real) or not math.isfinite(r) or r <= 0:
        raise FeatureError(f"r={r!r}: expected a positive radius (e.g. 0.2 in ΔR)")
    max_neighbours = check.integer("features", "max_neighbours", max_neighbours, low=1)
    return _neighbours(batch, _coordinates(batch, coordinates), max_neighbours, loop, float(r))


def hardest_first(batch: JetBatch) -> torch.Tensor:
    """Node order that keeps jets together and sorts each jet's particles by decreasing pT.

    A stable two-key sort (by -pT, then by jet), so equal pT keeps the original order.

    Shapes:
        returns (num_nodes,) int64, a permutation of the particles.
    """
    by_pt = torch.sort(-batch.pt, stable=True).indices
    return by_pt[torch.sort(batch.batch[by_pt], stable=True).indices]


def to_dense(x: torch.Tensor, batch: JetBatch, max_particles: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-particle values padded to one row per jet, with the mask of real particles.

    Without ``max_particles`` the rows keep the batch's order (row i of jet b is particle
    ``batch.ptr[b] + i``) and are as long as the largest jet. With it, every jet is sorted by decreasing
    pT and cut to its ``max_particles`` hardest particles (after augmentation particles need not be
    sorted), and the output always has ``max_particles`` rows (a fixed shape for the encoder).

    Shapes:
        x: (num_nodes, *F); returns (num_jets, M, *F) padded with zeros and mask (num_jets, M) bool.

    Raises:
        FeatureError: ``max_particles`` < 1 or ``x`` without one row per particle.
    """
    if x.size(0) != batch.num_nodes:
        raise FeatureError(f"x has {x.size(0)} rows: expected one per particle ({batch.num_nodes})")
    if max_particles is None:
        return to_dense_batch(x, batch.batch, batch_size=batch.num_jets)
    max_particles = check.integer("features", "max_particles", max_particles, low=1)
    order = hardest_first(batch)
    return to_dense_batch(x[order], batch.batch[order], batch_size=batch.num_jets, max_num_nodes=max_particles)


__all__ = [
    "CHARGE_FEATURES",
    "FeatureError",
    "KINEMATIC_FEATURES",
    "LAYER_FEATURES",
    "PID_FEATURES",
    "delta_eta_phi",
    "feature_names",
    "hardest_first",
    "knn_edges",
    "node_features",
    "num_node_features",
    "radius_edges",
    "to_dense",
    "wrap_phi",
]
