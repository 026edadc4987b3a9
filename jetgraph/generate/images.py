"""Jet images: particles, or detector cells and tracks, summed into (Tracks, ECAL, HCAL) pixels; written to HDF5.

The images follow the layout :mod:`jetgraph.io.jetimage` reads (that of the end-to-end quark/gluon
images), so ``jetgraph.read`` and :func:`jetgraph.io.jetimage.read_images` open the files directly.

Grid:
    ``pixels x pixels`` square pixels of ``pixel_size = width / pixels`` radians, centred on the jet
    axis: ``deta = eta - jet.eta`` and ``dphi = phi - jet.phi`` wrapped into ``(-pi, pi]`` (so a jet
    near ``phi = pi`` is contiguous across the seam). Row ``i`` is eta and column ``j`` is phi; pixel
    ``(i, j)`` is centred at ``((i - (H - 1) / 2) * pixel_size, (j - (W - 1) / 2) * pixel_size)`` and
    covers half-open intervals of ``pixel_size`` around it. What falls outside the window is dropped.

Channels (:data:`CHANNELS`), summed per pixel, in GeV:

- ``source="particles"`` (truth particles, which need ``part.pid`` and ``part.charge``):
  ``Tracks`` = pT of every particle with ``charge != 0`` (muons included: they leave tracks);
  ``ECAL`` = energy of ``|pid|`` 11, 22 (electrons, photons); ``HCAL`` = energy of every other
  particle, except ``|pid|`` 12, 13, 14, 16 (neutrinos and muons deposit nothing), the same split as
  :mod:`jetgraph.generate.detector` without its smearing and ECAL fraction of hadrons.
- ``source="cells"`` (detector-level jets): ``ECAL`` / ``HCAL`` = cell energy of ``layer`` 0 / 1;
  ``Tracks`` = track pT (0 without ``tracks``). With a replica axis (jets * replica * items),
  ``replica`` picks one; tracks without a replica axis serve every replica. Other layers are an error.
- ``source="auto"``: ``cells`` when the jets have ``cells``, else ``particles``.

File (HDF5, written to ``<path>.partial`` and renamed when complete, as
:class:`jetgraph.io.native.JetWriter` does):

- ``X_jets``: (N, H, W, 3) float32, **channels last** in :data:`CHANNELS` order, chunked, gzip;
- ``y``: (N,) int32 label, ``-1`` for jets without a ``label`` field;
- ``m0``, ``pt``: (N,) float32 jet mass and pT (GeV), from ``jet.mass`` and ``jet.pt``;
- root attributes: ``pixel_size`` (float, rad), ``pixels`` (int), ``width`` (float, rad),
  ``channels`` (list of names), ``label_names`` (list, possibly empty), ``source`` (``particles``
  or ``cells``), ``replica`` (int, only for ``cells``) and ``jetgraph`` (the package version).
  The reader takes ``pixel_size`` and ``label_names`` from these attributes.

Everything is vectorised: one flat index ``(jet, channel, i, j)`` per deposit, ``np.unique`` of the
indices and one ``np.bincount`` (float64 sums) per chunk, written into the float32 images (no loop
over jets or particles; no float64 buffer the size of the images).
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import awkward as ak
import h5py
import numpy as np
from tqdm.auto import tqdm

from jetgraph.errors import FileFormatError, JetGraphError, SchemaError, suggest
from jetgraph.generate.detector import showers
from jetgraph.outputs import check_writable, written_atomically
from jetgraph.schema import kinematics

CHANNELS = ("Tracks", "ECAL", "HCAL")
"""Image channels, in order (the last axis in the file, the second in :func:`pixelise`'s output)."""
SOURCES = ("auto", "particles", "cells")
DEFAULT_STEP_SIZE = 10_000
"""Jets pixelised at once by :func:`make_images` (120 MB of float32 images at 32 x 32 pixels)."""
_TRACKS, _ECAL, _HCAL = range(3)
_SUFFIXES = (".h5", ".hdf5", ".hdf")
_CHUNK_BYTES = 2**19
"""Target size of one compressed chunk of ``X_jets`` (within h5py's default 1 MiB chunk cache)."""


class ImageError(JetGraphError, ValueError):
    """A bad image argument: grid, source, replica, or images that do not match their jets."""


@dataclass(frozen=True)
class ImageGrid:
    """A square grid of ``pixels x pixels`` pixels spanning ``width`` in eta and in phi, centred on the jet axis.

    Raises:
        ImageError: ``pixels`` is not a positive integer or ``width`` not a positive finite number.
    """

    pixels: int = 32
    width: float = 1.6
    """full width in eta and in phi (radians)."""

    def __post_init__(self) -> None:
        pixels, width = self.pixels, self.width
        if not isinstance(pixels, numbers.Integral) or isinstance(pixels, bool) or pixels <= 0:
            raise ImageError(f"--pixels {pixels!r}: expected a positive whole number of pixels per side")
        if not isinstance(width, numbers.Real) or isinstance(width, bool) or not math.isfinite(width) or width <= 0:
            raise ImageError(f"--width {width!r}: expected a positive image width in radians (e.g. 1.6)")
        object.__setattr__(self, "pixels", int(pixels))
        object.__setattr__(self, "width", float(width))

    @property
    def pixel_size(self) -> float:
        """Pixel width in eta and in phi (radians)."""
        return self.width / self.pixels

    @property
    def centres(self) -> np.ndarray:
        """Pixel centres relative to the jet axis, the same for rows (eta) and columns (phi).

        Shapes:
            (pixels,) float64.
        """
        return (np.arange(self.pixels) - (self.pixels - 1) / 2) * self.pixel_size


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ImageError(f"--source {source!r}: expected one of {list(SOURCES)}{suggest(str(source), SOURCES)}")


def _check_replica(replica: int) -> None:
    if not isinstance(replica, numbers.Integral) or isinstance(replica, bool) or replica < 0:
        raise ImageError(f"--replica {replica!r}: expected a replica index >= 0")


def resolve_source(jets: ak.Array, source: str = "auto") -> str:
    """``"particles"`` or ``"cells"``: ``source`` itself, or for ``"auto"`` what the jets hold (cells first)."""
    _check_source(source)
    if source != "auto":
        return source
    return "cells" if "cells" in ak.fields(jets) else "particles"


def _wrap(dphi: np.ndarray) -> np.ndarray:
    """Angles wrapped into ``(-pi, pi]``."""
    return np.pi - np.mod(np.pi - dphi, 2 * np.pi)


def _flat(values: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.ravel(values)), dtype=np.float64)


def _deposits_from_particles(jets: ak.Array, source: str) -> list[tuple[np.ndarray, ...]]:
    """``(jet index, eta, phi, weight)`` per channel, from the truth particles."""
    if "part" not in ak.fields(jets):
        raise SchemaError(f"{source}: source='particles' needs jets with 'part'; they have {ak.fields(jets)}")
    part = jets.part
    for name in ("pid", "charge"):
        if name not in ak.fields(part):
            raise SchemaError(
                f"{source}: source='particles' needs 'part.{name}' to sort particles into Tracks/ECAL/HCAL; "
                f"the particles have {ak.fields(part)}"
            )
    counts = ak.to_numpy(ak.num(part, axis=1))
    jet = np.repeat(np.arange(len(jets)), counts)
    kin = kinematics(*(_flat(part[f]) for f in ("px", "py", "pz", "energy")))
    charged = _flat(part.charge) != 0
    em, hadron = showers(ak.to_numpy(ak.ravel(part.pid)))
    eta, phi = kin["eta"], kin["phi"]
    return [
        (jet[charged], eta[charged], phi[charged], kin["pt"][charged]),
        (jet[em], eta[em], phi[em], kin["energy"][em]),
        (jet[hadron], eta[hadron], phi[hadron], kin["energy"][hadron]),
    ]


def _replica(items: ak.Array, replica: int, name: str, source: str) -> ak.Array:
    """One detector replica of ``cells`` or ``tracks`` (jets * items), or the items when there is no replica axis."""
    if items.ndim < 3:
        if replica != 0:
            raise ImageError(
                f"{source}: replica={replica}: the jets' '{name}' have no replica axis (one detector replica); "
                f"use replica=0"
            )
        return items
    if len(items) == 0:
        return items[:, 0]  # no jets: nothing to check
    available = int(ak.min(ak.num(items, axis=1)))
    if replica >= available:
        raise ImageError(
            f"{source}: replica={replica} is out of range: the jets have {available} detector replica(s) "
            f"of '{name}' (0..{available - 1})"
        )
    return items[:, replica]


def _deposits_from_cells(jets: ak.Array, replica: int, source: str) -> list[tuple[np.ndarray, ...]]:
    """``(jet index, eta, phi, weight)`` per channel, from the cells (by layer) and tracks of one replica."""
    if "cells" not in ak.fields(jets):
        raise SchemaError(
            f"{source}: source='cells' needs detector-level jets with 'cells'; they have {ak.fields(jets)}"
        )
    cells = _replica(jets.cells, replica, "cells", source)
    out: list[tuple[np.ndarray, ...]] = []
    if "tracks" in ak.fields(jets):
        tracks = jets.tracks
        if tracks.ndim >= 3:  # tracks without a replica axis are the same for every replica
            tracks = _replica(tracks, replica, "tracks", source)
        jet = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(tracks, axis=1)))
        out.append((jet, _flat(tracks.eta), _flat(tracks.phi), _flat(tracks.pt)))
    else:
        out.append((np.zeros(0, np.int64), *(np.zeros(0) for _ in range(3))))
    jet = np.repeat(np.arange(len(jets)), ak.to_numpy(ak.num(cells, axis=1)))
    layer = ak.to_numpy(ak.ravel(cells.layer))
    bad = (layer != 0) & (layer != 1)
    if bad.any():
        raise SchemaError(
            f"{source}: jet {int(jet[np.argmax(bad)])}: a cell has layer {int(layer[np.argmax(bad)])}; "
            f"expected 0 (ECAL) or 1 (HCAL)"
        )
    eta, phi, energy = _flat(cells.eta), _flat(cells.phi), _flat(cells.energy)
    for value in (0, 1):
        mask = layer == value
        out.append((jet[mask], eta[mask], phi[mask], energy[mask]))
    return out


def pixelise(jets: ak.Array, grid: ImageGrid = ImageGrid(), source: str = "auto", replica: int = 0) -> np.ndarray:
    """Sum each jet's particles (or cells and tracks) into a (Tracks, ECAL, HCAL) image centred on its axis.

    Args:
        jets: canonical jets (:mod:`jetgraph.schema`).
        grid: the pixel grid.
        source: ``"particles"``, ``"cells"`` or ``"auto"`` (cells when the jets have them); see the module.
        replica: which detector replica of ``cells``/``tracks`` to use (``source="cells"`` only).

    Returns:
        The images, in GeV (pT for Tracks, energy for ECAL and HCAL).

    Shapes:
        jets: N jets; returns (N, 3, pixels, pixels) float32, channels first, rows eta, columns phi.

    Raises:
        ImageError: unknown ``source``, or a ``replica`` the jets do not have.
        SchemaError: the jets lack what the source needs (``part.pid``, ``part.charge``, ``cells``), or a
            cell layer is not 0 or 1.
    """
    _check_source(source)
    _check_replica(replica)
    where = str(jets.attrs.get("source", "<memory>")) if jets.attrs else "<memory>"
    chosen = resolve_source(jets, source)
    if chosen == "particles":
        deposits = _deposits_from_particles(jets, where)
    else:
        deposits = _deposits_from_cells(jets, int(replica), where)
    n, size, pixels = len(jets), grid.pixel_size, grid.pixels
    axis_eta = ak.to_numpy(jets.jet.eta).astype(np.float64)
    axis_phi = ak.to_numpy(jets.jet.phi).astype(np.float64)
    indices, weights = [], []
    for channel, (jet, eta, phi, weight) in enumerate(deposits):
        u = (eta - axis_eta[jet]) / size + pixels / 2  # pixel i covers [i, i + 1) in u
        v = _wrap(phi - axis_phi[jet]) / size + pixels / 2
        inside = (u >= 0) & (u < pixels) & (v >= 0) & (v < pixels)
        row = u[inside].astype(np.int64)
        column = v[inside].astype(np.int64)
        indices.append(((jet[inside] * len(CHANNELS) + channel) * pixels + row) * pixels + column)
        weights.append(weight[inside])
    images = np.zeros((n, len(CHANNELS), pixels, pixels), np.float32)
    filled, slot = np.unique(np.concatenate(indices), return_inverse=True)  # sum in float64 over filled pixels only
    images.reshape(-1)[filled] = np.bincount(slot, weights=np.concatenate(weights), minlength=len(filled))
    return images


def _version() -> str:
    from jetgraph import __version__

    return __version__


class ImageWriter:
    """Append jet images chunk by chunk to an HDF5 file in the jet-image layout, made visible only when complete.

    Example::

        grid = ImageGrid(32, 1.6)
        with ImageWriter("images.h5", grid, source="particles") as out:
            for jets in chunks:
                out.write(pixelise(jets, grid, "particles"), jets)

    The file is written as ``images.h5.partial`` and renamed on a clean exit; on an exception the
    partial file is removed. Label names come from ``label_names`` or else from the first chunk's
    ``jets.attrs["label_names"]``; a later chunk with other names raises :class:`SchemaError`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        grid: ImageGrid = ImageGrid(),
        label_names: list[str] | None = None,
        source: str = "particles",
        replica: int | None = None,
        compression: int | None = 4,
    ) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in _SUFFIXES:
            raise FileFormatError(f"{self.path}: jet images are written to HDF5; expected a name ending in .h5")
        if source not in ("particles", "cells"):
            raise ImageError(f"source={source!r}: expected 'particles' or 'cells' (resolve 'auto' first)")
        self._atomic = written_atomically(self.path)
        self.grid = grid
        self.label_names = list(label_names) if label_names is not None else None
        self.source = source
        self.replica = replica
        self.compression = compression
        self.jets_written = 0
        self._handle: h5py.File | None = None

    def __enter__(self) -> ImageWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self._atomic.__enter__()
        self._handle = h5py.File(self.partial, "w")
        p, c = self.grid.pixels, len(CHANNELS)
        rows = max(1, _CHUNK_BYTES // (p * p * c * 4))
        gzip = {"compression": "gzip", "compression_opts": self.compression} if self.compression is not None else {}
        self._handle.create_dataset(
            "X_jets", (0, p, p, c), np.float32, maxshape=(None, p, p, c), chunks=(rows, p, p, c), **gzip
        )
        for name, dtype in (("y", np.int32), ("m0", np.float32), ("pt", np.float32)):
            self._handle.create_dataset(name, (0,), dtype, maxshape=(None,), chunks=(4096,), **gzip)
        return self

    def _names(self, jets: ak.Array) -> None:
        names = (jets.attrs or {}).get("label_names")
        if not names:
            return
        if not self.label_names:
            self.label_names = list(names)
        elif list(names) != self.label_names:
            raise SchemaError(
                f"{self.path}: a chunk has label names {list(names)}, unlike {self.label_names} written before"
            )

    def write(self, images: np.ndarray, jets: ak.Array) -> None:
        """Append one chunk: images from :func:`pixelise` and the jets they come from (for label, mass, pT).

        Shapes:
            images: (N, 3, pixels, pixels), channels first; jets: N jets.
        """
        if self._handle is None:
            raise ImageError(f"{self.path}: use ImageWriter in a 'with' block")
        p = self.grid.pixels
        images = np.asarray(images)
        expected = (len(jets), len(CHANNELS), p, p)
        if images.shape != expected:
            raise ImageError(
                f"{self.path}: images of shape {images.shape} for {len(jets)} jets; expected {expected} "
                f"(jets, channels {CHANNELS}, eta, phi)"
            )
        self._names(jets)
        n, start = len(jets), self.jets_written
        label = ak.to_numpy(jets.label).astype(np.int32) if "label" in ak.fields(jets) else np.full(n, -1, np.int32)
        columns = {
            "X_jets": np.moveaxis(images, 1, -1),
            "y": label,
            "m0": ak.to_numpy(jets.jet.mass),
            "pt": ak.to_numpy(jets.jet.pt),
        }
        for name, values in columns.items():
            dataset = self._handle[name]
            dataset.resize(start + n, axis=0)
            dataset[start : start + n] = values
        self.jets_written += n

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._handle is None:
            return
        try:
            if kind is None:
                attrs = self._handle.attrs
                attrs["pixel_size"] = self.grid.pixel_size
                attrs["pixels"] = self.grid.pixels
                attrs["width"] = self.grid.width
                attrs["channels"] = list(CHANNELS)
                attrs["label_names"] = np.array(self.label_names or [], dtype=h5py.string_dtype())
                attrs["source"] = self.source
                if self.source == "cells":
                    attrs["replica"] = int(self.replica or 0)
                attrs["jetgraph"] = _version()
        finally:
            self._handle.close()
            self._handle = None
        self._atomic.__exit__(kind, error, tb)  # rename when complete, else delete


def write_images(
    path: str | os.PathLike,
    images: np.ndarray,
    jets: ak.Array,
    grid: ImageGrid,
    label_names: list[str] | None = None,
    *,
    source: str | None = None,
    replica: int = 0,
) -> Path:
    """Write images and their jets to ``path`` in one go (see :class:`ImageWriter`); returns the path.

    Args:
        path: the HDF5 file to write (``.h5``).
        images: from :func:`pixelise` with the same ``grid``.
        jets: the jets the images were made from (label, mass and pT are stored).
        grid: the grid of the images (stored as attributes, read back by :mod:`jetgraph.io.jetimage`).
        label_names: class names; by default ``jets.attrs["label_names"]``.
        source: ``"particles"`` or ``"cells"``, recorded in the file; ``None``: what ``"auto"`` picks.
        replica: the detector replica, recorded for ``source="cells"``.

    Shapes:
        images: (N, 3, pixels, pixels) float32, channels first; jets: N jets.
    """
    chosen = resolve_source(jets, source or "auto")
    with ImageWriter(path, grid, label_names=label_names, source=chosen, replica=replica) as out:
        out.write(images, jets)
    return out.path


def make_images(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    out: str | os.PathLike,
    grid: ImageGrid = ImageGrid(),
    source: str = "auto",
    replica: int = 0,
    step_size: int = DEFAULT_STEP_SIZE,
    progress: bool = True,
    recipe: Any = None,
) -> Path:
    """Stream jets from files, pixelise them chunk by chunk and write one jet-image HDF5 file.

    Args:
        paths: a path, a glob or a list (anything :func:`jetgraph.io.iterate` reads).
        out: the HDF5 file to write; it appears only when complete.
        grid: the pixel grid.
        source: ``"auto"``, ``"particles"`` or ``"cells"``; ``"auto"`` is resolved on the first chunk
            and then holds for every file.
        replica: the detector replica for ``source="cells"``.
        step_size: jets read and pixelised at once.
        progress: show a tqdm bar (unit ``jet``).
        recipe: passed to :func:`jetgraph.io.iterate` (``None``: detected per file).

    Returns:
        ``out``, as a :class:`~pathlib.Path`.

    Raises:
        ImageError: bad ``source``, ``replica`` or ``step_size``.
        FileFormatError: unreadable inputs, or no valid jets in them (no file is written).
        SchemaError: jets without what the source needs.
    """
    from jetgraph.io import count, iterate
    from jetgraph.io.files import expand_paths

    _check_source(source)
    _check_replica(replica)
    if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
        raise ImageError(f"step_size={step_size!r}: expected a positive number of jets")
    check_writable(out, "--out")
    files = expand_paths(paths)
    if not files:
        raise FileFormatError(f"{paths}: no input files")
    total = sum(count(f, recipe) for f in files)
    chunks = iterate(files, recipe, step_size)
    first = next(chunks, None)
    if first is None:
        raise FileFormatError(f"{', '.join(files)}: no valid jets in the input; no images written")
    source = resolve_source(first, source)
    kept = replica if source == "cells" else None
    bar = tqdm(total=total, unit="jet", desc=f"images {Path(out).name}", disable=not progress)
    with bar, ImageWriter(out, grid, source=source, replica=kept) as writer:
        for jets in itertools.chain([first], chunks):
            writer.write(pixelise(jets, grid, source, replica), jets)
            bar.update(len(jets))
    return writer.path


__all__ = [
    "CHANNELS",
    "ImageError",
    "ImageGrid",
    "ImageWriter",
    "make_images",
    "pixelise",
    "resolve_source",
    "write_images",
]
