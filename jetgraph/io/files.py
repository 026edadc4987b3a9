"""Opening files: path expansion, format sniffing, and a flat listing of what a file contains.

Every way a file can fail to open (missing, not ROOT/HDF5/NPZ, truncated, corrupt) becomes one
:class:`~jetgraph.errors.FileFormatError` naming the file and what was expected.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import uproot

from jetgraph.errors import FileFormatError, missing
from jetgraph.paths import is_remote

Kind = Literal["root", "hdf5", "npz"]
_MAGIC: dict[bytes, Kind] = {b"root": "root", b"\x89HDF\r\n\x1a\n": "hdf5", b"PK\x03\x04": "npz"}
_SUFFIX: dict[str, Kind] = {".root": "root", ".h5": "hdf5", ".hdf5": "hdf5", ".npz": "npz"}


def file_kind(path: str) -> Kind:
    """``"root"``, ``"hdf5"`` or ``"npz"`` from the file's first bytes (its suffix for URLs)."""
    if is_remote(path):
        kind = _SUFFIX.get(Path(path.split("?")[0]).suffix.lower())
        if kind is None:
            raise FileFormatError(
                f"{path}: cannot tell the format of a remote file from its name; expected .root, .h5 or .npz"
            )
        return kind
    if not os.path.exists(path):
        raise FileFormatError(f"{path}: no such file")
    if os.path.isdir(path):
        raise FileFormatError(
            f"{path}: is a directory, expected a ROOT, HDF5 or NPZ file (use a glob like '{path}/*.root')"
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as err:
        raise FileFormatError(f"{path}: cannot read the file ({err.strerror or err})") from None
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    what = "an empty file" if not head else f"starts with {head[:4]!r}"
    raise FileFormatError(f"{path}: not a ROOT, HDF5 or NPZ file ({what}); expected one of {sorted(_SUFFIX)}")


_DAMAGED = (
    OSError,
    EOFError,
    zlib.error,
    struct.error,
    zipfile.BadZipFile,
    uproot.deserialization.DeserializationError,
)
"""What the libraries raise when bytes are missing or wrong half-way through a file."""


@contextmanager
def damage_reported(path: str) -> Iterator[None]:
    """Turn a read failure half-way through ``path`` into a :class:`FileFormatError` naming it."""
    try:
        yield
    except _DAMAGED as err:
        raise _corrupt(path, err) from err


def _corrupt(path: str, err: Exception) -> FileFormatError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return FileFormatError(f"{path}: truncated or corrupt file ({first[:200]})")


def _local_only(path: str, what: str) -> None:
    if is_remote(path):
        raise FileFormatError(
            f"{path}: {what} files are read from local disk only (uproot reads ROOT files by URL); copy it first"
        )


@contextmanager
def open_root(path: str) -> Iterator[Any]:
    """``uproot.open`` with failures turned into :class:`FileFormatError`."""
    try:
        handle = uproot.open(path)
    except FileNotFoundError as err:
        raise FileFormatError(f"{path}: no such file") from err
    except Exception as err:  # uproot raises many types for damaged files
        raise _corrupt(path, err) from err
    with handle:
        yield handle


@contextmanager
def open_hdf5(path: str) -> Iterator[h5py.File]:
    """``h5py.File(path, "r")`` with failures turned into :class:`FileFormatError`."""
    _local_only(path, "HDF5")
    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError as err:
        raise FileFormatError(f"{path}: no such file") from err
    except OSError as err:
        raise _corrupt(path, err) from err
    with handle:
        yield handle


def open_npz(path: str) -> np.lib.npyio.NpzFile:
    """``np.load`` of an ``.npz`` (no pickles: files are data, never code)."""
    _local_only(path, "NPZ")
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise FileFormatError(f"{path}: no such file") from err
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise _corrupt(path, err) from err


def npz_shape(archive: np.lib.npyio.NpzFile, name: str, path: str) -> tuple[int, ...]:
    """Shape of one array of an ``.npz`` from its ``.npy`` header, without inflating the data.

    Raises :class:`MissingFieldError` (with suggestions) when the archive has no such array, and
    :class:`FileFormatError` when it is damaged or does not hold numbers.
    """
    if name not in archive.files:
        raise missing("array", name, path, archive.files)
    with damage_reported(path), archive.zip.open(f"{name}.npy") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:  # a newer header: read the array itself
            array = archive[name]
            shape, dtype = array.shape, array.dtype
    if dtype.kind not in "biuf":
        raise FileFormatError(f"{path}: array {name!r} has dtype {dtype}; expected numbers")
    return tuple(shape)


def root_tree(handle: Any, path: str, name: str) -> Any:
    """The TTree ``name`` of an open ROOT file, or a :class:`MissingFieldError` suggesting others."""
    trees = [k.split(";")[0] for k, c in handle.classnames().items() if c == "TTree"]
    if name not in trees:
        raise missing("TTree", name, path, trees)
    try:
        return handle[name]
    except Exception as err:
        raise _corrupt(path, err) from err


def hdf5_dataset(handle: h5py.File, path: str, name: str) -> h5py.Dataset:
    """The dataset ``name`` of an open HDF5 file, or a :class:`MissingFieldError` suggesting others."""
    obj = handle.get(name)
    if not isinstance(obj, h5py.Dataset):
        raise missing("dataset", name, path, hdf5_contents(handle))
    return obj


def hdf5_contents(handle: h5py.File) -> list[str]:
    names: list[str] = []
    handle.visit(names.append)
    return names


def contents(path: str) -> dict[str, Any]:
    """What a file holds, as ``{object path: description}``.

    ROOT: each TTree (``"tree"``, with its entry count), each branch (``"tree/branch"``, with its
    type) and each string (``TObjString``); HDF5: each group and dataset (with shape and dtype);
    NPZ: each array. Recipes' ``detect`` lists are matched against these keys. Keys are full paths:
    a member branch of a split collection, as Delphes writes them, is ``"Delphes/Jet/Jet.PT"``.
    """
    kind = file_kind(path)
    listing: dict[str, Any] = {}
    if kind == "root":
        with open_root(path) as handle:
            for key, classname in handle.classnames().items():
                name = key.split(";")[0]
                if classname == "TTree":
                    tree = handle[key]
                    listing[name] = f"TTree, {tree.num_entries} entries"
                    for branch, typename in tree.typenames().items():
                        listing[f"{name}/{branch}"] = typename
                else:
                    listing[name] = classname
    elif kind == "hdf5":
        with open_hdf5(path) as handle:

            def visit(name: str, obj: Any) -> None:
                listing[name] = f"{obj.shape} {obj.dtype}" if isinstance(obj, h5py.Dataset) else "group"

            handle.visititems(visit)
    else:
        with open_npz(path) as archive:
            for name in archive.files:
                listing[name] = f"{npz_shape(archive, name, path)}"
    return listing
