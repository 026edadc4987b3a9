"""jetgraph's own files: every field of the canonical schema, round-tripped exactly.

Two containers, chosen by the suffix:

- ``.root``: a TTree ``tree`` written with ``uproot``'s ``mktree`` (a TTree, not an RNTuple, so
  ROOT-based tools read it), in the JetClass naming: jagged records as ``part_px``... with counter
  ``npart``, flat records as ``jet_pt``..., ``label``. A replica axis (``cells``: jets * replica *
  cell) is stored flat, with ``cells_replica_size`` giving the cells of each replica.
- ``.h5``: awkward's own buffers (``ak.to_buffers``), one group per written chunk, so a file
  streams chunk by chunk and any nesting round-trips.

Both hold a string ``jetgraph_format`` (JSON: format version, label names, package version), which
is how :func:`jetgraph.io.detect` recognises them. :class:`JetWriter` writes to ``<name>.partial``
and renames when the last chunk is in, so a killed job never leaves a file that looks complete.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import awkward as ak
import h5py
import numpy as np
import uproot
import uproot.writing._cascade
import uproot.writing._cascadetree

from jetgraph.errors import FileFormatError, SchemaError
from jetgraph.io.files import file_kind, hdf5_contents, open_hdf5, open_root, root_tree
from jetgraph.io.recipe import Recipe
from jetgraph.outputs import written_atomically
from jetgraph.schema import RECORDS, conform
from jetgraph.version import __version__

FORMAT_KEY = "jetgraph_format"
FORMAT_VERSION = 1
TREE = "tree"
_REPLICA_SUFFIX = "_replica_size"
_CHUNK_GROUP = "chunk_{:06d}"
PINNED_TIME = datetime.datetime(1995, 1, 1)
"""The TDatime written into reproducible ROOT files: the origin of ROOT's date encoding."""
_UUID_NAMESPACE = uuid.UUID("7c1f1f47-2a0e-4d5c-9b8e-6a3f4e2d1c00")


def _metadata(label_names: list[str] | None) -> str:
    return json.dumps({"version": FORMAT_VERSION, "label_names": list(label_names or []), "jetgraph": __version__})


def _read_metadata(text: str, path: str) -> dict[str, Any]:
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as err:
        raise FileFormatError(f"{path}: '{FORMAT_KEY}' is not valid JSON ({err.msg})") from err
    if meta.get("version") != FORMAT_VERSION:
        raise FileFormatError(
            f"{path}: '{FORMAT_KEY}' version {meta.get('version')!r}; this jetgraph reads version {FORMAT_VERSION}"
        )
    return meta


# --- ROOT ------------------------------------------------------------------------------------


def _root_branches(jets: ak.Array) -> dict[str, Any]:
    """Canonical jets as ``mktree`` branches: jagged records zipped (shared counter), flat ones split."""
    branches: dict[str, Any] = {}
    for name in ak.fields(jets):
        value = jets[name]
        if not ak.fields(value):  # label
            branches[name] = ak.to_numpy(value)
        elif value.ndim == 1:  # jet, truth
            for field in ak.fields(value):
                branches[f"{name}_{field}"] = ak.to_numpy(value[field])
        elif value.ndim == 2:  # part, cells, tracks
            branches[name] = value
        elif value.ndim == 3:  # replica axis
            branches[name] = ak.flatten(value, axis=2)
            branches[name + _REPLICA_SUFFIX] = ak.num(value, axis=2)
        else:
            raise SchemaError(f"cannot write '{name}' of type {value.type}: nested deeper than jets * replica * items")
    return branches


def ttree_types(branches: dict[str, Any]) -> dict[str, Any]:
    """The ``mktree`` type of each branch: the awkward type of a jagged/record array, else the dtype."""
    return {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in branches.items()}


def write_ttree(path: str | os.PathLike, name: str, branches: dict[str, Any], **mktree_options: Any) -> Path:
    """Write ``branches`` as one TTree (``mktree``, not an RNTuple) in a new ROOT file; returns the path."""
    with uproot.recreate(path) as handle:
        handle.mktree(name, ttree_types(branches), **mktree_options)
        handle[name].extend(branches)
    return Path(path)


def _from_root(data: ak.Array) -> dict[str, ak.Array]:
    """Regroup ``part_px``-style branches into canonical records (the inverse of ``_root_branches``)."""
    records: dict[str, dict[str, ak.Array]] = {}
    out: dict[str, ak.Array] = {}  # records in canonical order, then label
    replica: dict[str, ak.Array] = {}
    label = None
    for branch in ak.fields(data):
        if branch.endswith(_REPLICA_SUFFIX):
            replica[branch[: -len(_REPLICA_SUFFIX)]] = data[branch]
            continue
        record, _, field = branch.partition("_")
        if record in RECORDS and field:
            records.setdefault(record, {})[field] = data[branch]
        elif branch.startswith("n") and branch[1:] in RECORDS:
            continue  # uproot's counter branches
        elif branch == "label":
            label = data[branch]
    for record, fields in sorted(records.items(), key=lambda item: RECORDS.index(item[0])):
        zipped = ak.zip(fields)
        if record in replica:  # jets * items -> jets * replica * items; empty replicas stay with their jet
            sizes = replica[record]
            by_replica = ak.unflatten(ak.flatten(zipped), ak.flatten(sizes))
            zipped = ak.unflatten(by_replica, ak.num(sizes))
        out[record] = zipped
    if label is not None:
        out["label"] = label
    return out


def _iterate_root(path: str, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    with open_root(path) as handle:
        meta = _read_metadata(str(handle[FORMAT_KEY]), path)
        tree = root_tree(handle, path, TREE)
        for data, report in tree.iterate(step_size=step_size, library="ak", report=True):
            jets = ak.zip(_from_root(data), depth_limit=1)
            yield report.tree_entry_start, _with_names(jets, meta)


# --- HDF5 ------------------------------------------------------------------------------------


def _iterate_hdf5(path: str, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    with open_hdf5(path) as handle:
        if FORMAT_KEY not in handle:
            raise FileFormatError(f"{path}: no '{FORMAT_KEY}' dataset; not a jetgraph HDF5 file")
        meta = _read_metadata(handle[FORMAT_KEY][()].decode(), path)
        first = 0
        for name in sorted(k for k in handle if k.startswith("chunk_")):
            group = handle[name]
            try:
                jets = ak.from_buffers(
                    json.loads(group.attrs["form"]), int(group.attrs["length"]), {k: group[k][()] for k in group}
                )
            except (KeyError, ValueError, TypeError) as err:
                raise FileFormatError(f"{path}: group '{name}' is damaged ({err}); expected awkward buffers") from err
            for start in range(0, len(jets), step_size):
                yield first + start, _with_names(jets[start : start + step_size], meta)
            first += len(jets)


def _with_names(jets: ak.Array, meta: dict[str, Any]) -> ak.Array:
    return ak.Array(jets, attrs={"label_names": meta["label_names"]}) if meta["label_names"] else jets


# --- reader contract -------------------------------------------------------------------------


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first entry, canonical jets)`` from a jetgraph ``.root`` or ``.h5`` file."""
    if file_kind(path) == "root":
        yield from _iterate_root(path, step_size)
    else:
        yield from _iterate_hdf5(path, step_size)


def count(path: str, recipe: Recipe) -> int:
    """Number of jets in a jetgraph file, from the tree's entry count or the chunks' lengths."""
    if file_kind(path) == "root":
        with open_root(path) as handle:
            return int(root_tree(handle, path, TREE).num_entries)
    with open_hdf5(path) as handle:
        return sum(int(handle[k].attrs["length"]) for k in handle if k.startswith("chunk_"))


# --- writing ---------------------------------------------------------------------------------


class _PinnedClock(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
        return PINNED_TIME


@contextmanager
def _pinned_root_clock() -> Iterator[None]:
    """Make uproot stamp every TKey with :data:`PINNED_TIME` instead of the wall clock.

    uproot calls ``datetime.datetime.now()`` in its writing modules and offers no option for it;
    swapping the ``datetime`` they see (and restoring it) is the one way to write the same bytes twice.
    """
    modules = (uproot.writing._cascade, uproot.writing._cascadetree)
    saved = [module.datetime for module in modules]
    shim = type("datetime_module", (), {"datetime": _PinnedClock})
    try:
        for module in modules:
            module.datetime = shim
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.datetime = original


class JetWriter:
    """Append canonical jets chunk by chunk to a jetgraph file, made visible only when complete.

    Example::

        with JetWriter("jets.root", label_names=["gluon", "quark"]) as out:
            for chunk in chunks:
                out.write(chunk)

    The file is written as ``jets.root.partial`` and renamed on a clean exit; on an exception the
    partial file is removed.

    With ``reproducible="some key"`` the same chunks give a byte-identical file: a ROOT file gets a
    UUID derived from the key and the timestamp :data:`PINNED_TIME` (HDF5 files hold no timestamps).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        label_names: list[str] | None = None,
        compression: str = "lz4",
        reproducible: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = {".root": "root", ".h5": "hdf5", ".hdf5": "hdf5"}.get(self.path.suffix.lower())
        if self.kind is None:
            raise FileFormatError(f"{self.path}: cannot write this suffix; expected .root or .h5")
        self.label_names = label_names
        self.compression = compression
        self._atomic = written_atomically(self.path)
        self.jets_written = 0
        self._handle: Any = None
        self._form: str | None = None
        self.reproducible = reproducible

    @contextmanager
    def _clock(self) -> Iterator[None]:
        if self.reproducible is not None and self.kind == "root":
            with _pinned_root_clock():
                yield
        else:
            yield

    def __enter__(self) -> JetWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self._atomic.__enter__()
        if self.kind == "root":
            codec = {"lz4": uproot.LZ4(1), "zlib": uproot.ZLIB(1), "none": None}[self.compression]
            options: dict[str, Any] = {"compression": codec}
            if self.reproducible is not None:
                file_uuid = uuid.uuid5(_UUID_NAMESPACE, self.reproducible)
                options["uuid_function"] = lambda: file_uuid
            with self._clock():
                self._handle = uproot.recreate(self.partial, **options)
        else:
            self._handle = h5py.File(self.partial, "w")
        return self

    def write(self, jets: ak.Array) -> None:
        """Append one chunk; every chunk must have the same fields and types as the first."""
        if self.label_names is None:
            self.label_names = jets.attrs.get("label_names")
        jets = conform(jets, source=str(self.path))
        if self.kind == "root":
            branches = _root_branches(jets)
            with self._clock():
                if self.jets_written == 0:
                    self._handle.mktree(TREE, ttree_types(branches))
                self._handle[TREE].extend(branches)
        else:
            form, length, buffers = ak.to_buffers(ak.to_packed(jets))
            form_json = form.to_json()
            if self._form is not None and form_json != self._form:
                raise SchemaError(f"{self.path}: chunk has type {jets.type}, unlike the first chunk written")
            self._form = form_json
            group = self._handle.create_group(
                _CHUNK_GROUP.format(len([k for k in self._handle if k.startswith("chunk_")]))
            )
            group.attrs["form"] = form_json
            group.attrs["length"] = length
            for key, buffer in buffers.items():
                group.create_dataset(
                    key, data=np.asarray(buffer), compression="gzip" if self.compression != "none" else None
                )
        self.jets_written += len(jets)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                if self.kind == "root":
                    with self._clock():
                        self._handle[FORMAT_KEY] = _metadata(self.label_names)
                else:
                    self._handle.create_dataset(FORMAT_KEY, data=_metadata(self.label_names))
        finally:
            with self._clock():
                self._handle.close()
        self._atomic.__exit__(kind, error, tb)  # rename when complete, else delete


def write(
    jets: ak.Array, path: str | os.PathLike, label_names: list[str] | None = None, compression: str = "lz4"
) -> Path:
    """Write canonical jets to ``path`` (``.root`` or ``.h5``) in one go; returns the path."""
    with JetWriter(path, label_names=label_names, compression=compression) as out:
        out.write(jets)
    return out.path


__all__ = ["JetWriter", "count", "iterate", "write", "hdf5_contents"]
