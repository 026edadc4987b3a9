"""Jet images: particles, or detector cells and tracks, summed into (Tracks, ECAL, HCAL) pixels, and the
jet-image HDF5 files that image encoders and ``jetgraph images`` use.

Grid (:class:`ImageGrid`):
    ``pixels x pixels`` square pixels of ``pixel_size = width / pixels`` radians, centred on the jet
    axis: ``deta = eta - jet.eta`` and ``dphi = phi - jet.phi`` wrapped into ``(-pi, pi]`` (so a jet
    near ``phi = pi`` is contiguous across the seam). Row ``i`` is eta and column ``j`` is phi; pixel
    ``(i, j)`` is centred at ``((i - (H - 1) / 2) * pixel_size, (j - (W - 1) / 2) * pixel_size)`` and
    covers half-open intervals of ``pixel_size`` around it. What falls outside the window is dropped.

Channels (:data:`CHANNELS`), summed per pixel, in GeV:

- particles (which need ``pid`` and ``charge``): ``Tracks`` = pT of every particle with
  ``charge != 0`` (muons included: they leave tracks); ``ECAL`` = energy of ``|pid|`` 11, 22;
  ``HCAL`` = energy of every other particle except neutrinos and muons (``|pid|`` 12, 13, 14, 16),
  the split of :mod:`jetgraph.generate.detector` without its smearing;
- detector cells and tracks (a :func:`~jetgraph.batch.detector_view`): ``ECAL`` / ``HCAL`` = cell
  energy of ``layer`` 0 / 1, ``Tracks`` = track pT.

:func:`pixelise` is the one pixeliser: a batched, vectorised ``index_add`` on a
:class:`~jetgraph.batch.JetBatch` (what image encoders see in training); :func:`jet_images` applies it
to awkward jets, picking particles or one detector replica (``source``, ``replica``).

File (HDF5, written to ``<path>.partial`` and renamed when complete; read by :mod:`jetgraph.io.jetimage`):

- ``X_jets``: (N, H, W, 3) float32, **channels last** in :data:`CHANNELS` order, chunked, gzip;
- ``y``: (N,) int32 label, ``-1`` for jets without a ``label`` field;
- ``m0``, ``pt``: (N,) float32 jet mass and pT (GeV), from ``jet.mass`` and ``jet.pt``;
- root attributes: ``pixel_size`` (float, rad), ``pixels`` (int), ``width`` (float, rad),
  ``channels`` (list of names), ``label_names`` (list, possibly empty), ``source`` (``particles``
  or ``cells``), ``replica`` (int, only for ``cells``) and ``jetgraph`` (the package version).
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
import torch
from tqdm.auto import tqdm

from jetgraph.batch import TRACK_LAYER, JetBatch, detector_view
from jetgraph.errors import FileFormatError, JetGraphError, SchemaError, suggest
from jetgraph.outputs import check_writable, written_atomically
from jetgraph.paths import expand_paths
from jetgraph.schema import EM_PIDS, INVISIBLE_PIDS, wrap_phi
from jetgraph.version import __version__

CHANNELS = ("Tracks", "ECAL", "HCAL")
"""Image channels, in order."""
SOURCES = ("auto", "particles", "cells")
DEFAULT_STEP_SIZE = 10_000
"""Jets read and pixelised at once by :func:`make_images`."""
_SUFFIXES = (".h5", ".hdf5", ".hdf")
_CHUNK_BYTES = 2**19
"""Target size of one HDF5 chunk of ``X_jets`` (512 KiB)."""


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


def _channel_weights(batch: JetBatch) -> torch.Tensor:
    """(3, N) what each particle puts into Tracks, ECAL, HCAL (zeros where it puts nothing)."""
    if "layer" in batch:  # detector view: cells by layer, tracks
        layer = batch.layer
        masks = (layer == TRACK_LAYER, layer == 0, layer == 1)
    else:
        missing = [name for name in ("pid", "charge") if name not in batch]
        if missing:
            raise SchemaError(
                f"pixelise needs 'pid' and 'charge' to sort particles into {list(CHANNELS)} (or a detector "
                f"view with 'layer'); the batch lacks {missing}"
            )
        apid = batch.pid.abs()
        em = torch.isin(apid, torch.tensor(EM_PIDS, device=apid.device))
        invisible = torch.isin(apid, torch.tensor(INVISIBLE_PIDS, device=apid.device))
        masks = (batch.charge != 0, em, ~em & ~invisible)
    values = (batch.pt, batch.energy, batch.energy)
    return torch.stack([torch.where(m, v, torch.zeros_like(v)) for m, v in zip(masks, values, strict=True)])


def pixelise(batch: JetBatch, grid: ImageGrid = ImageGrid()) -> torch.Tensor:
    """Jet images (Tracks, ECAL, HCAL) centred on each jet's axis (see the module for the grid and channels).

    Pixel i covers [i, i + 1) in ``u = deta / pixel_size + pixels / 2`` (the same for phi); positions are
    computed in float64, so a deposit on a pixel edge lands where the grid says.

    Shapes:
        returns (num_jets, 3, pixels, pixels) float32, in GeV.

    Raises:
        SchemaError: a particle-level batch without ``pid`` or ``charge``.
    """
    pixels, size = grid.pixels, grid.pixel_size
    weights = _channel_weights(batch).float()  # (3, N)
    jet = batch.batch
    u = (batch.eta.double() - batch.jet_eta.double()[jet]) / size + pixels / 2
    v = wrap_phi(batch.phi.double() - batch.jet_phi.double()[jet]) / size + pixels / 2
    inside = (u >= 0) & (u < pixels) & (v >= 0) & (v < pixels)
    pixel = u.clamp(0, pixels - 1).long() * pixels + v.clamp(0, pixels - 1).long()  # outside: weight 0
    channel = torch.arange(len(CHANNELS), device=jet.device).view(-1, 1)
    index = (jet * len(CHANNELS) + channel) * pixels**2 + pixel  # (3, N)
    images = torch.zeros(batch.num_jets * len(CHANNELS) * pixels**2, dtype=torch.float32, device=jet.device)
    images.index_add_(0, index.reshape(-1), (weights * inside).reshape(-1))
    return images.view(batch.num_jets, len(CHANNELS), pixels, pixels)


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


def _replicas(jets: ak.Array, replica: int, where: str) -> None:
    """Check that every jet has detector ``replica`` (cells with layers 0 and 1)."""
    if "cells" not in ak.fields(jets):
        raise SchemaError(
            f"{where}: source='cells' needs detector-level jets with 'cells'; they have {ak.fields(jets)}"
        )
    cells = jets.cells
    if cells.ndim < 3 and replica != 0:
        raise ImageError(
            f"{where}: replica={replica}: the jets' 'cells' have no replica axis (one detector replica); use replica=0"
        )
    available = int(ak.min(ak.num(cells, axis=1))) if cells.ndim == 3 and len(jets) else replica + 1
    if replica >= available:
        raise ImageError(
            f"{where}: replica={replica} is out of range: the jets have {available} detector replica(s) of 'cells' "
            f"(0..{available - 1})"
        )
    layers = np.unique(ak.to_numpy(ak.ravel(cells.layer)))
    if len(np.setdiff1d(layers, [0, 1])):
        raise SchemaError(
            f"{where}: a cell has layer {int(np.setdiff1d(layers, [0, 1])[0])}; expected 0 (ECAL) or 1 (HCAL)"
        )


def jet_images(jets: ak.Array, grid: ImageGrid = ImageGrid(), source: str = "auto", replica: int = 0) -> np.ndarray:
    """:func:`pixelise` of canonical awkward jets: their particles, or one detector replica of their cells and tracks.

    Args:
        jets: canonical jets (:mod:`jetgraph.schema`).
        grid: the pixel grid.
        source: ``"particles"``, ``"cells"`` or ``"auto"`` (cells when the jets have them).
        replica: which detector replica to draw (``source="cells"``); tracks without a replica axis
            serve every replica.

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
    if resolve_source(jets, source) == "particles":
        if "part" not in ak.fields(jets) or not {"pid", "charge"} <= set(ak.fields(jets.part)):
            has = ak.fields(jets.part) if "part" in ak.fields(jets) else ak.fields(jets)
            raise SchemaError(
                f"{where}: source='particles' needs 'part.pid' and 'part.charge' to sort particles into "
                f"Tracks/ECAL/HCAL; the jets have {has}"
            )
        batch = JetBatch.from_jets(ak.without_field(jets, "cells") if "cells" in ak.fields(jets) else jets)
    else:
        _replicas(jets, int(replica), where)
        batch = JetBatch.from_jets(jets)
        if "tracks" in ak.fields(jets) and jets.tracks.ndim == 2:  # one set of tracks for every replica
            batch = batch.replace(tracks_replica=torch.full_like(batch.tracks_replica, replica))
        batch = detector_view(batch, torch.full((len(jets),), int(replica)))
    return pixelise(batch, grid).numpy()


class ImageWriter:
    """Append jet images chunk by chunk to an HDF5 file in the jet-image layout, made visible only when complete.

    Example::

        grid = ImageGrid(32, 1.6)
        with ImageWriter("images.h5", grid, source="particles") as out:
            for jets in chunks:
                out.write(jet_images(jets, grid, "particles"), jets)

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
        """Append one chunk: images from :func:`jet_images` and the jets they come from (for label, mass, pT).

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
                attrs["jetgraph"] = __version__
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
        images: from :func:`jet_images` with the same ``grid``.
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
            writer.write(jet_images(jets, grid, source, replica), jets)
            bar.update(len(jets))
    return writer.path


__all__ = [
    "CHANNELS",
    "ImageError",
    "ImageGrid",
    "ImageWriter",
    "jet_images",
    "make_images",
    "pixelise",
    "resolve_source",
    "write_images",
]
