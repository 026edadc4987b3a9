"""``JetBatch``: many jets as one torch_geometric ``Batch`` of flat tensors, built from awkward buffers.

A batch holds *raw kinematics* (GeV, radians), never model inputs: augmentations
(:mod:`jetgraph.augment`) act on them and :mod:`jetgraph.features` turns them into inputs last.

Particles (nodes), all of length ``num_nodes`` and sorted by jet:

- ``pt, eta, phi, energy``: float32, absolute (``phi`` in ``[-pi, pi]``);
- ``pid`` (int64) and ``charge`` (float32) when the jets have them;
- ``layer`` (int64) in detector-level views only: 0 ECAL cell, 1 HCAL cell, 2 track (see
  :func:`detector_view`);
- ``batch`` (int64, the jet of each particle) and ``ptr`` (int64, ``num_jets + 1`` offsets).

Jets, all of length ``num_jets``:

- ``jet_pt, jet_eta, jet_phi, jet_energy, jet_mass``: float32, the jet as read. It is the
  reference frame of the features (axis and normalisation); augmentations leave it alone unless
  they say otherwise (a translation moves the particles *off* the axis on purpose);
- ``label``: int64, ``-1`` where unknown;
- ``truth_pt, truth_eta, truth_phi, truth_energy, truth_mass``: float32, when the jets have ``truth``;
- ``jet_event``: int64, the hard event of each jet, when the jets have ``jet.event`` (re-simulated
  showers: :func:`jetgraph.generate.generate` with ``showers``).

Detector replicas (jets with ``cells``/``tracks``), flat over (jet, replica, item), in that order:

- ``cells_eta, cells_phi, cells_energy`` (float32), ``cells_layer`` (int64), ``cells_jet`` and
  ``cells_replica`` (int64);
- ``tracks_pt, tracks_eta, tracks_phi, tracks_charge`` (float32), ``tracks_jet``, ``tracks_replica``;
- ``replicas``: int64 (num_jets,), detector replicas of each jet (1 when the file has no replica axis).

Every tensor is built from awkward's flat content and offsets: no per-jet Python object, no padding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch_geometric.data import Batch

from jetgraph.errors import SchemaError
from jetgraph.schema import wrap_phi

NODE_FIELDS = ("pt", "eta", "phi", "energy", "pid", "charge", "layer")
"""Per-particle tensors, in this order, those a batch has; ``batch`` goes with them."""
JET_FIELDS = ("pt", "eta", "phi", "energy", "mass")
TRUTH_FIELDS = ("pt", "eta", "phi", "energy", "mass")
CELL_FIELDS = ("eta", "phi", "energy", "layer")
TRACK_FIELDS = ("pt", "eta", "phi", "charge")
JET_PREFIXES = ("jet_", "truth_")
JET_KEYS = ("label", "replicas")
"""Per-jet tensors: those whose names start with :data:`JET_PREFIXES`, and these."""
TRACK_LAYER = 2
"""``layer`` of tracks in a detector-level view (cells keep their own: 0 ECAL, 1 HCAL)."""


def relative(batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Each particle's ``deta = eta - jet_eta`` and ``dphi = wrap(phi - jet_phi)`` to its jet's axis.

    Shapes:
        returns two (num_nodes,) tensors in the dtype of ``batch.eta``.
    """
    deta = batch.eta - batch.jet_eta[batch.batch]
    dphi = wrap_phi(batch.phi - batch.jet_phi[batch.batch])
    return deta, dphi


def _tensor(values: ak.Array | np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    array = values if isinstance(values, np.ndarray) else ak.to_numpy(values)
    return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)


def offsets(batch: torch.Tensor, num_jets: int) -> torch.Tensor:
    """``ptr``: where each jet's items start in a flat, jet-sorted tensor (``num_jets + 1`` entries)."""
    ptr = torch.zeros(num_jets + 1, dtype=torch.long, device=batch.device)
    torch.cumsum(torch.bincount(batch, minlength=num_jets), 0, out=ptr[1:])
    return ptr


def _assemble(ptr: torch.Tensor, tensors: dict[str, torch.Tensor]) -> JetBatch:
    """A new :class:`JetBatch` holding ``ptr`` and ``tensors`` (``batch`` among them).

    Copies an empty template instead of calling the class: torch_geometric's ``Batch`` metaclass
    derives a class and inspects a signature on every call (~170 us, as much as cutting the batch).
    Built from ``JetBatch``, never ``cls``: a class derived from a derived class no longer pickles,
    and DataLoader workers send batches by pickle.
    """
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = JetBatch()
    out = copy.copy(_TEMPLATE)
    # straight into the store's dict: its __setitem__ clears attribute caches (none on a fresh
    # batch) through a failing getattr that costs more than the slicing
    out._store._mapping.update(tensors, ptr=ptr, num_nodes=int(tensors["batch"].numel()))
    return out


_TEMPLATE: JetBatch | None = None


def _as_bytes(value: torch.Tensor) -> torch.Tensor:
    """``value``'s elements as a flat uint8 tensor (a copy where it is strided or expanded, even when empty)."""
    if value.numel() == 0:
        return torch.empty(0, dtype=torch.uint8, device=value.device)
    return value.reshape(-1).contiguous().view(torch.uint8)


def _unpack(raw: torch.Tensor, layout: list[tuple[str, torch.dtype, tuple[int, ...]]], extras: dict) -> JetBatch:
    """The batch :meth:`JetBatch.__reduce__` packed: each tensor a view into the byte buffer ``raw``."""
    tensors, offset = {}, 0
    for name, dtype, shape in layout:
        size = math.prod(shape) * dtype.itemsize
        tensors[name] = raw[offset : offset + size].view(dtype).view(shape)
        offset += size
    out = _assemble(tensors.pop("ptr"), tensors)
    out._store._mapping.update(extras)
    return out


class JetBatch(Batch):
    """A batch of jets (see the module for its tensors); build one with :meth:`from_jets`.

    Transforms never modify a batch: they return :meth:`replace` or :meth:`select` copies, which
    share the tensors they do not change.
    """

    @classmethod
    def from_jets(cls, jets: ak.Array) -> JetBatch:
        """Flatten canonical awkward jets (:mod:`jetgraph.schema`) into one batch.

        Raises:
            SchemaError: the jets have no ``part`` and no ``cells``, or no ``jet`` record.
        """
        fields = ak.fields(jets)
        if "jet" not in fields or not ({"part", "cells"} & set(fields)):
            raise SchemaError(f"JetBatch.from_jets needs canonical jets with 'jet' and 'part' or 'cells'; got {fields}")
        num_jets = len(jets)
        tensors: dict[str, torch.Tensor] = {}
        if "part" in fields:
            part = jets.part
            counts = ak.to_numpy(ak.num(part, axis=1))
            flat_part = ak.flatten(part)  # one flatten for the record, then each field's buffer
            flat = {name: ak.to_numpy(flat_part[name]) for name in ak.fields(part)}
            tensors.update(
                _pt_eta_phi(*(np.ascontiguousarray(flat[k], np.float32) for k in ("px", "py", "pz", "energy")))
            )
            if "pid" in flat:
                tensors["pid"] = _tensor(flat["pid"], torch.long)
            if "charge" in flat:
                tensors["charge"] = _tensor(flat["charge"], torch.float32)
        else:  # detector-level only: nodes come from a replica through detector_view
            counts = np.zeros(num_jets, dtype=np.int64)
            for name in ("pt", "eta", "phi", "energy"):
                tensors[name] = torch.zeros(0)
        batch = _tensor(np.repeat(np.arange(num_jets), counts), torch.long)  # np.repeat: 5x repeat_interleave
        counts = _tensor(counts, torch.long)
        ptr = torch.zeros(num_jets + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=ptr[1:])
        for name in JET_FIELDS:
            tensors[f"jet_{name}"] = _tensor(jets.jet[name], torch.float32)
        if "event" in ak.fields(jets.jet):
            tensors["jet_event"] = _tensor(jets.jet.event, torch.long)
        if "label" in fields:
            tensors["label"] = _tensor(jets.label, torch.long)
        else:
            tensors["label"] = torch.full((num_jets,), -1, dtype=torch.long)
        if "truth" in fields:
            for name in TRUTH_FIELDS:
                tensors[f"truth_{name}"] = _tensor(jets.truth[name], torch.float32)
        for record, names in (("cells", CELL_FIELDS), ("tracks", TRACK_FIELDS)):
            if record in fields:
                tensors.update(_detector_items(jets[record], record, names))
        if "cells" in fields:
            items = jets.cells
            replicas = ak.num(items, axis=1) if items.ndim == 3 else np.ones(num_jets, dtype=np.int64)
            tensors["replicas"] = _tensor(replicas, torch.long)
        return _assemble(ptr, {"batch": batch, **tensors})

    @property
    def num_jets(self) -> int:
        """Jets in the batch."""
        return int(self.ptr.numel()) - 1

    @property
    def node_fields(self) -> list[str]:
        """The per-particle tensors this batch has (a subset of :data:`NODE_FIELDS`, in that order)."""
        return [name for name in NODE_FIELDS if name in self]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as one byte buffer: how DataLoader workers hand batches to the training process.

        torch moves every tensor of a pickled object into its own shared-memory segment, passed by file
        descriptor, at about a millisecond apiece: with its 14 tensors a batch of 256 jets took 15 ms, and
        two workers delivered fewer jets per second than none (benchmarks/pipeline.py). Packed, a batch is
        one segment; the unpickled tensors are views into it (widest dtypes first, so each stays aligned).
        """
        store = self._store._mapping
        named = sorted(
            ((name, value) for name, value in store.items() if isinstance(value, torch.Tensor)),
            key=lambda item: -item[1].element_size(),
        )
        raw = torch.cat([_as_bytes(value) for _, value in named])
        layout = [(name, value.dtype, tuple(value.shape)) for name, value in named]
        extras = {name: value for name, value in store.items() if not isinstance(value, torch.Tensor)}
        extras.pop("num_nodes", None)
        return _unpack, (raw, layout, extras)

    def replace(self, **tensors: torch.Tensor) -> JetBatch:
        """A shallow copy with some tensors replaced (the others are shared, not copied)."""
        out = copy.copy(self)
        for name, value in tensors.items():
            setattr(out, name, value)
        return out

    def select(self, index: torch.Tensor) -> JetBatch:
        """Keep the particles at ``index`` (ascending, so that jets stay sorted), with their jet.

        Shapes:
            index: (M,) int64 into the particles; the result has M particles.
        """
        batch = self.batch[index]
        fields = {name: self[name][index] for name in self.node_fields}
        out = self.replace(batch=batch, ptr=offsets(batch, self.num_jets), **fields)
        out.num_nodes = int(batch.numel())
        return out

    def level(self, key: str) -> str:
        """Which axis a tensor runs along: ``"particles"``, ``"jets"``, ``"cells"`` or ``"tracks"``.

        Raises:
            SchemaError: a tensor this class does not know (it could not be sliced or joined safely).
        """
        if key in NODE_FIELDS or key == "batch":
            return "particles"
        if key.startswith(JET_PREFIXES) or key in JET_KEYS:
            return "jets"
        for record in ("cells", "tracks"):
            if key.startswith(f"{record}_"):
                return record
        raise SchemaError(f"JetBatch: cannot tell whether '{key}' belongs to particles, jets, cells or tracks")

    def _tensor_keys(self) -> list[str]:
        return [key for key in self.keys() if key not in ("ptr", "num_nodes")]

    def _tensors_by_level(self) -> dict[str, dict[str, torch.Tensor]]:
        """The tensors (``ptr`` and ``num_nodes`` aside) grouped by :meth:`level`."""
        groups: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in self._store.items():
            if key not in ("ptr", "num_nodes"):
                groups.setdefault(self.level(key), {})[key] = value
        return groups

    def take(self, jets: torch.Tensor | slice) -> JetBatch:
        """The jets at ``jets`` (an index tensor, in its order, or a slice) with their particles, cells, tracks.

        This is how a dataset cuts its buffer into batches: one gather (or one view, for a slice) per tensor.
        """
        groups = self._tensors_by_level()
        tensors: dict[str, torch.Tensor] = {}
        if isinstance(jets, slice):
            first, stop, _ = jets.indices(self.num_jets)
            stop = max(first, stop)
            low, high = self.ptr[[first, stop]].tolist()
            bounds = {"particles": (low, high), "jets": (first, stop)}
            for record in ("cells", "tracks"):
                if record in groups:
                    edges = torch.searchsorted(groups[record][f"{record}_jet"], torch.tensor([first, stop]))
                    bounds[record] = tuple(edges.tolist())
            for level, group in groups.items():
                low, high = bounds[level]
                tensors.update({key: value[low:high] for key, value in group.items()})
            for key in ("batch", "cells_jet", "tracks_jet"):
                if key in tensors and first:
                    tensors[key] = tensors[key] - first
            ptr = self.ptr[first : stop + 1] - self.ptr[first]
        else:
            jets = jets.to(torch.long)
            gathers = {"jets": jets}
            gathers["particles"], tensors["batch"] = _segments(self.ptr, jets)
            for record in ("cells", "tracks"):
                if record in groups:
                    gathers[record], tensors[f"{record}_jet"] = _segments(
                        offsets(groups[record][f"{record}_jet"], self.num_jets), jets
                    )
            for level, group in groups.items():
                tensors.update({key: value[gathers[level]] for key, value in group.items() if key not in tensors})
            ptr = offsets(tensors["batch"], len(jets))
        return _assemble(ptr, tensors)

    def split(self, size: int) -> list[JetBatch]:
        """Consecutive batches of ``size`` jets (the last one may be smaller), sharing this batch's memory.

        One ``tensor_split`` per tensor for all the batches at once: cutting a buffer one slice at a
        time costs ~0.1 ms of tensor overhead per batch, as much as reading its 256 jets from disk.
        """
        n = self.num_jets
        starts = torch.arange(0, n, size)
        if len(starts) <= 1:
            return [self]
        groups = self._tensors_by_level()
        cuts = {"jets": starts[1:], "particles": self.ptr[starts[1:]]}
        for record in ("cells", "tracks"):
            if record in groups:
                cuts[record] = torch.searchsorted(groups[record][f"{record}_jet"], starts[1:])
        pieces: list[dict[str, torch.Tensor]] = [{} for _ in starts]
        for level, group in groups.items():
            for key, value in group.items():
                for piece, part in zip(pieces, torch.tensor_split(value, cuts[level]), strict=True):
                    piece[key] = part
        for first, piece in zip(starts.tolist()[1:], pieces[1:], strict=True):
            for key in ("batch", "cells_jet", "tracks_jet"):  # jet numbers start at 0 in each batch
                if key in piece:
                    piece[key] = piece[key] - first
        # each batch's ptr: its jets' offsets and the end offset, minus its first offset
        stops = torch.clamp(starts + size, max=n)
        lengths = stops - starts + 1
        segment = torch.repeat_interleave(torch.arange(len(starts)), lengths)
        position = torch.arange(int(lengths.sum())) - (torch.cumsum(lengths, 0) - lengths)[segment]
        ptrs = self.ptr[starts[segment] + position] - self.ptr[starts][segment]
        return [_assemble(ptr, piece) for ptr, piece in zip(torch.split(ptrs, lengths.tolist()), pieces, strict=True)]

    @staticmethod
    def cat(batches: list[JetBatch]) -> JetBatch:
        """The jets of several batches, in order, as one batch (they must hold the same tensors)."""
        first = batches[0]
        keys = first._tensor_keys()
        for other in batches[1:]:
            if sorted(other._tensor_keys()) != sorted(keys):
                raise SchemaError(
                    f"JetBatch.cat: batches hold different tensors: {sorted(keys)} and {sorted(other._tensor_keys())}"
                )
        shifts = torch.tensor([0] + [b.num_jets for b in batches[:-1]]).cumsum(0).tolist()
        tensors = {}
        for key in keys:
            shifted = key in ("batch", "cells_jet", "tracks_jet")
            tensors[key] = torch.cat(
                [b[key] + shift if shifted else b[key] for b, shift in zip(batches, shifts, strict=True)]
            )
        n = sum(b.num_jets for b in batches)
        return _assemble(offsets(tensors["batch"], n), tensors)

    def add_particles(self, batch: torch.Tensor, **fields: torch.Tensor) -> JetBatch:
        """Append particles to their jets; every node field of the batch must be given.

        The new particles go after the old ones of the same jet (a stable sort by jet).

        Raises:
            SchemaError: a node field of the batch is missing from ``fields``, or one is extra.
        """
        if set(fields) != set(self.node_fields):
            raise SchemaError(f"add_particles needs exactly the node fields {self.node_fields}; got {sorted(fields)}")
        joined = torch.cat([self.batch, batch])
        order = torch.sort(joined, stable=True).indices
        merged = {name: torch.cat([self[name], fields[name].to(self[name].dtype)])[order] for name in self.node_fields}
        out = self.replace(batch=joined[order], ptr=offsets(joined, self.num_jets), **merged)
        out.num_nodes = int(joined.numel())
        return out


def _pt_eta_phi(px: np.ndarray, py: np.ndarray, pz: np.ndarray, energy: np.ndarray) -> dict[str, torch.Tensor]:
    """``pt, eta, phi, energy`` as float32 tensors from flat float32 arrays (as :func:`jetgraph.schema.kinematics`:
    ``eta = 0`` at ``pt = 0``).

    Each quantity uses the faster float32 CPU kernel: torch's ``hypot``, numpy's vectorised ``arcsinh`` and
    ``arctan2`` (torch's ``asinh`` is scalar code, about 10x slower on 2M particles).
    """
    pt = torch.hypot(torch.from_numpy(px), torch.from_numpy(py))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # fixed just below
        ratio = pz / pt.numpy()
    ratio[pt.numpy() == 0] = 0.0
    np.clip(ratio, -1e18, 1e18, out=ratio)  # |eta| <= 42.1: a tiny pt under a large pz gives no inf
    eta, phi = np.arcsinh(ratio), np.arctan2(py, px)
    return {"pt": pt, "eta": torch.from_numpy(eta), "phi": torch.from_numpy(phi), "energy": torch.from_numpy(energy)}


def _segments(ptr: torch.Tensor, jets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of the items of ``jets`` (a jet's items at ``ptr[j]:ptr[j + 1]``), and their new jet."""
    starts = ptr[jets]
    counts = ptr[jets + 1] - starts
    device = ptr.device
    new_jet = torch.repeat_interleave(torch.arange(len(jets), device=device), counts)
    first = torch.zeros(len(jets), dtype=torch.long, device=device)
    torch.cumsum(counts[:-1], 0, out=first[1:])
    index = torch.arange(int(counts.sum()), device=device) + (starts - first)[new_jet]
    return index, new_jet


def _detector_items(items: ak.Array, record: str, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """Cells or tracks as flat tensors over (jet, replica, item), with the jet and replica of each."""
    if items.ndim == 2:  # no replica axis: one replica
        items = ak.unflatten(items, np.ones(len(items), dtype=np.int64), axis=0)
    per_replica = ak.num(items, axis=2)  # jets * replica
    replicas = ak.to_numpy(ak.num(items, axis=1))
    flat_counts = ak.to_numpy(ak.flatten(per_replica))
    jet_of_replica = np.repeat(np.arange(len(items)), replicas)
    replica_index = np.arange(len(flat_counts)) - np.repeat(np.cumsum(replicas) - replicas, replicas)
    flat = ak.flatten(items, axis=2)
    out = {}
    for name in names:
        values = ak.to_numpy(ak.flatten(flat[name]))
        integer = name == "layer"
        out[f"{record}_{name}"] = _tensor(values, torch.long if integer else torch.float32)
    out[f"{record}_jet"] = _tensor(np.repeat(jet_of_replica, flat_counts), torch.long)
    out[f"{record}_replica"] = _tensor(np.repeat(replica_index, flat_counts), torch.long)
    return out


def detector_view(batch: JetBatch, replica: torch.Tensor) -> JetBatch:
    """The jets as seen by the detector in one replica each: cells and tracks become the particles.

    Cells are massless (``pt = energy / cosh(eta)``) and keep their ``layer`` (0 ECAL, 1 HCAL);
    tracks are massless too and get ``layer`` :data:`TRACK_LAYER`, and their ``charge``. Cells get
    ``charge = 0``. Particle-level ``pid`` is dropped (a detector does not measure it).

    Args:
        batch: a batch whose jets have ``cells`` (and possibly ``tracks``).
        replica: (num_jets,) int64, the replica of each jet to take.

    Raises:
        SchemaError: the batch has no cells, or a jet has no such replica.
    """
    if "cells_energy" not in batch:
        raise SchemaError("detector_view needs detector-level jets (cells); these jets have particles only")
    replica = replica.to(torch.long)
    if replica.shape != (batch.num_jets,) or bool(((replica < 0) | (replica >= batch.replicas)).any()):
        raise SchemaError(
            f"detector_view: replica indices must be one per jet in [0, replicas); got {replica.tolist()[:8]}..."
        )
    parts = []
    cells = (batch.cells_replica == replica[batch.cells_jet]).nonzero().squeeze(1)
    eta, energy = batch.cells_eta[cells], batch.cells_energy[cells]
    parts.append(
        {
            "batch": batch.cells_jet[cells],
            "pt": energy / torch.cosh(eta),
            "eta": eta,
            "phi": batch.cells_phi[cells],
            "energy": energy,
            "charge": torch.zeros_like(energy),
            "layer": batch.cells_layer[cells],
        }
    )
    if "tracks_pt" in batch:
        tracks = (batch.tracks_replica == replica[batch.tracks_jet]).nonzero().squeeze(1)
        pt, eta = batch.tracks_pt[tracks], batch.tracks_eta[tracks]
        parts.append(
            {
                "batch": batch.tracks_jet[tracks],
                "pt": pt,
                "eta": eta,
                "phi": batch.tracks_phi[tracks],
                "energy": pt * torch.cosh(eta),
                "charge": batch.tracks_charge[tracks],
                "layer": torch.full_like(tracks, TRACK_LAYER),
            }
        )
    joined = {name: torch.cat([p[name] for p in parts]) for name in parts[0]}
    order = torch.sort(joined["batch"], stable=True).indices
    nodes = {name: values[order] for name, values in joined.items()}
    out = batch.replace(ptr=offsets(nodes["batch"], batch.num_jets), **nodes)
    if "pid" in out:
        del out.pid
    out.num_nodes = int(nodes["batch"].numel())
    return out


__all__ = ["JetBatch", "NODE_FIELDS", "TRACK_LAYER", "detector_view", "offsets", "relative", "wrap_phi"]
