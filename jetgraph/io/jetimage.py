"""Jet images in HDF5, read as images or as point clouds of their non-empty pixels.

The layout is that of the end-to-end quark/gluon images of Andrews et al., "End-to-end jet
classification of quarks and gluons with the CMS Open Data", Nucl. Instrum. Meth. A 977 (2020)
164304 (arXiv:1902.08276), in the HDF5 copies of its images, one jet per entry:

- ``X_jets``: shape ``(N, H, W, C)`` = ``(N, 125, 125, 3)``, channels last: ``Tracks`` (summed track
  pT), ``ECAL`` and ``HCAL`` (energy), in GeV; an image is a window of ``H x W`` ECAL crystals
  (``0.0174 x 0.0174`` in eta x phi) centred on the jet axis; rows are read as eta and columns as phi
  (the images are ieta x iphi windows of the ECAL barrel).
- ``y``: the label, 0 = gluon, 1 = quark; ``m0``: the jet mass; ``pt``: the jet pT (GeV).

Two ways to read a file:

- :func:`read_images` / :func:`iterate_images` give :class:`JetImages`: the images as float32
  ``(N, C, H, W)``, **channels first** (the torch convention; the file is channels last), with
  ``label``, ``pt``, ``mass`` and the channel names.
- :func:`iterate` / :func:`count` (what :func:`jetgraph.read` uses) give canonical detector-level
  jets, one item per non-zero pixel and channel, at the pixel centre relative to the jet axis:
  ``eta = (i - (H - 1) / 2) * pixel_size`` for row ``i``, ``phi = (j - (W - 1) / 2) * pixel_size`` for
  column ``j`` (the grid is centred on 0; ``pixel_size`` is the file's own when it records one, see
  below, else the recipe's, by default 0.0174 rad, the CMS ECAL crystal width). With the channels
  ``Tracks, ECAL, HCAL`` they are what jetgraph's detector simulates: ``cells`` (``eta, phi, energy,
  layer``) with layer 0 for ECAL and 1 for HCAL pixels, and ``tracks`` (``pt, eta, phi, charge``) for
  Tracks pixels (the summed track pT; charge 0). So image encoders train on these jets as images
  (their detector view, pixelised on the same grid, is the image again) and graph encoders on their
  cells and tracks. Other channel names give cells only, ``layer`` being the channel's index. Items
  come in pixel order: row, then column, then channel. ``jet.pt`` and ``jet.mass`` come from ``pt`` and ``m0``;
  ``jet.eta = jet.phi = 0`` (the images are centred on the axis); ``jet.nparticles`` counts the
  cells. ``jet.energy`` is the sum of the pixel values of the ``jet_energy_channels``
  (ECAL and HCAL by default): the Tracks channel measures the same charged particles as the
  calorimeters (and in pT), so adding it would count their energy twice. With
  ``jet_energy_channels: null`` the energy is summed over every channel, Tracks included.
  A pixel that is not 0 is a cell whatever its sign, so a negative or NaN pixel makes its jet invalid
  (dropped or raised by validation), never silently changed.

The pixels are found with one ``np.nonzero`` per block of rows (no loop over jets or pixels); a chunk
is read in blocks of at most 64 MiB of image data, so a big ``step_size`` does not hold all its
images in memory at once.

Names come from the recipe (``data_recipes/jetimage.yaml``)::

    fields: {jet.pt: pt, jet.mass: m0}            # (N,) datasets; other jet.* fields are kept
    label: {branch: y, names: [gluon, quark]}
    options:
      images: X_jets                              # the (N, H, W, C) dataset
      channels: [Tracks, ECAL, HCAL]              # names of the C channels, in order
      pixel_size: 0.0174                          # radians, in eta and in phi
      jet_energy_channels: [ECAL, HCAL]           # null: all channels

Energies (pixel values, ``pt``, ``m0``) are multiplied by the recipe's ``units.energy`` scale, in
both ways of reading.

A file may record its own grid and classes as HDF5 attributes (of the image dataset, else of the file
root), as :mod:`jetgraph.images` writes them: ``pixel_size`` (radians) and ``label_names``
(a list of strings, possibly empty). The file knows its grid, so what it records is used:

- with the built-in ``jetimage`` recipe, the file's ``pixel_size`` and ``label_names`` replace the
  recipe's (0.0174 and ``[gluon, quark]``, the values for the CMS files, which record neither);
- with any other recipe (a YAML file or a mapping), ``options.pixel_size`` and ``label.names`` that
  it leaves out are taken from the file, and ones that it gives must agree with the file
  (:class:`RecipeError` naming both values otherwise: the reader cannot tell which is right).

A file that records ``label_names: []`` (no classes, ``y = -1``) reads with no label names, not the
recipe's. Without the attributes, the recipe's values are used as before.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import awkward as ak
import h5py
import numpy as np

from jetgraph.errors import FileFormatError, RecipeError, suggest
from jetgraph.io.files import damage_reported, file_kind, hdf5_dataset, open_hdf5
from jetgraph.io.recipe import Recipe, load_recipe
from jetgraph.schema import build

OPTIONS = ("images", "channels", "pixel_size", "jet_energy_channels")
DEFAULT_IMAGES = "X_jets"
DEFAULT_CHANNELS = ("Tracks", "ECAL", "HCAL")
DEFAULT_PIXEL_SIZE = 0.0174
"""Radians: the CMS ECAL barrel crystal width in eta and phi, the pixel of the end-to-end images."""
DEFAULT_ENERGY_CHANNELS = ("ECAL", "HCAL")
RECIPE = "jetimage"
BUILTIN_SOURCE = f"data_recipes/{RECIPE}.yaml"
"""``Recipe.source`` of the built-in recipe, whose grid and class names yield to the file's attributes."""
BLOCK_BYTES = 64 * 2**20
"""Image data read at once when turning pixels into cells."""
_NOT_FROM_FILE = ("eta", "phi", "nparticles")
"""Jet fields this format sets itself (the axis is at eta = phi = 0; nparticles counts the cells)."""


@dataclass(frozen=True)
class JetImages:
    """Jet images with their labels and jet quantities, as read by :func:`read_images`.

    Shapes:
        images: (N, C, H, W) float32, channels first (the file stores (N, H, W, C)).
        label: (N,) int32, or None when the recipe has no label.
        pt, mass: (N,) float32 in GeV, or None when the recipe does not name them.
    """

    images: np.ndarray
    channels: tuple[str, ...]
    label: np.ndarray | None
    pt: np.ndarray | None
    mass: np.ndarray | None
    label_names: tuple[str, ...] = ()
    jet: dict[str, np.ndarray] = field(default_factory=dict)
    """other ``jet.*`` fields of the recipe, (N,) float32 each."""
    pixel_size: float = DEFAULT_PIXEL_SIZE
    entry_start: int = 0
    """index of ``images[0]`` in the file."""
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class _Plan:
    """The recipe's names, checked against one file's shapes (no data read)."""

    images: str
    channels: tuple[str, ...]
    pixel_size: float
    energy_channels: tuple[int, ...] | None
    jet: dict[str, str]
    label: str | None
    rows: int
    height: int
    width: int
    label_names: tuple[str, ...] = ()
    names_recorded: bool = False
    """the file records its label names (even none), so they are not replaced by a recipe's."""


def _options(recipe: Recipe) -> tuple[str, tuple[str, ...], float, tuple[int, ...] | None]:
    source = recipe.source
    images = recipe.option("images", DEFAULT_IMAGES, OPTIONS)
    channels = recipe.option("channels", list(DEFAULT_CHANNELS), OPTIONS)
    pixel_size = recipe.option("pixel_size", DEFAULT_PIXEL_SIZE, OPTIONS)
    energy = recipe.option("jet_energy_channels", list(DEFAULT_ENERGY_CHANNELS), OPTIONS)
    if not isinstance(images, str) or not images:
        raise RecipeError(f"{source}: options.images must name the (jets, height, width, channels) dataset")
    valid = isinstance(channels, list) and channels and all(isinstance(c, str) for c in channels)
    if not valid or len(set(channels)) != len(channels):
        raise RecipeError(f"{source}: options.channels must list distinct channel names, got {channels!r}")
    number = isinstance(pixel_size, (int, float)) and not isinstance(pixel_size, bool)
    if not number or not math.isfinite(pixel_size) or pixel_size <= 0:
        raise RecipeError(f"{source}: options.pixel_size must be a positive number of radians, got {pixel_size!r}")
    indices = None
    if energy is not None:
        if not isinstance(energy, list) or not energy:
            raise RecipeError(
                f"{source}: options.jet_energy_channels must list channel names (or be null), got {energy!r}"
            )
        for name in energy:
            if name not in channels:
                raise RecipeError(
                    f"{source}: options.jet_energy_channels: {name!r} is not a channel"
                    f"{suggest(str(name), channels)}; channels: {channels}"
                )
        indices = tuple(channels.index(name) for name in energy)
    return images, tuple(channels), float(pixel_size), indices


def _names(recipe: Recipe) -> tuple[dict[str, str], str | None]:
    """The recipe's jet fields and label dataset."""
    other = sorted(k for k in recipe.fields if not k.startswith("jet."))
    if other:
        raise RecipeError(
            f"{recipe.source}: format 'jetimage' makes cells from the image pixels; 'fields' takes only jet.* "
            f"(one value per jet), got {other}"
        )
    jet = recipe.fields_of("jet")
    fixed = [f"jet.{f}" for f in _NOT_FROM_FILE if f in jet]
    if fixed:
        raise RecipeError(
            f"{recipe.source}: format 'jetimage' sets {fixed} itself (images are centred on the jet axis, "
            f"eta = phi = 0, and the multiplicity is the number of non-empty pixels); remove them from 'fields'"
        )
    if recipe.label is not None and recipe.label.one_hot:
        raise RecipeError(f"{recipe.source}: format 'jetimage' reads the label from one dataset (label.branch)")
    return jet, recipe.label.branch if recipe.label is not None else None


def _per_jet(handle: h5py.File, path: str, name: str, rows: int, what: str) -> None:
    dataset = hdf5_dataset(handle, path, name)
    if dataset.shape not in ((rows,), (rows, 1)) or dataset.dtype.kind not in "biuf":
        raise FileFormatError(
            f"{path}: dataset {name!r} ({what}) has shape {dataset.shape} and dtype {dataset.dtype}; "
            f"expected ({rows},) numbers, one per image"
        )


def _plan(handle: h5py.File, path: str, recipe: Recipe) -> _Plan:
    """Check the recipe against the file's datasets and shapes.

    Raises:
        RecipeError: bad options or fields.
        MissingFieldError: a dataset the recipe names is not in the file (with suggestions).
        FileFormatError: the images are not (jets, height, width, channels) numbers, or a per-jet
            dataset does not have one value per image.
    """
    images, channels, pixel_size, energy = _options(recipe)
    jet, label = _names(recipe)
    dataset = hdf5_dataset(handle, path, images)
    shape = dataset.shape
    if len(shape) != 4 or shape[3] != len(channels) or dataset.dtype.kind not in "biuf":
        raise FileFormatError(
            f"{path}: dataset {images!r} has shape {shape} and dtype {dataset.dtype}; expected numbers of shape "
            f"(jets, height, width, {len(channels)}), channels {channels} last"
        )
    rows = shape[0]
    for name, column in jet.items():
        _per_jet(handle, path, column, rows, f"jet.{name}")
    if label is not None:
        _per_jet(handle, path, label, rows, "label")
    pixel_size, names, recorded = _recorded(handle, dataset, path, recipe, pixel_size, label is not None)
    return _Plan(images, channels, pixel_size, energy, jet, label, rows, shape[1], shape[2], names, recorded)


def _attribute(handle: h5py.File, dataset: h5py.Dataset, name: str) -> object | None:
    """An attribute of the image dataset, else of the file root, else None."""
    for obj in (dataset, handle):
        if name in obj.attrs:
            return obj.attrs[name]
    return None


def _recorded(
    handle: h5py.File, dataset: h5py.Dataset, path: str, recipe: Recipe, pixel_size: float, labelled: bool
) -> tuple[float, tuple[str, ...], bool]:
    """The pixel size and label names to use: the file's attributes where it has them (see the module).

    Raises:
        FileFormatError: an attribute that is not a positive number / a list of strings.
        RecipeError: a recipe other than the built-in one gives a value that differs from the file's.
    """
    builtin = recipe.source == BUILTIN_SOURCE
    names = tuple(recipe.label_names)
    raw = _attribute(handle, dataset, "pixel_size")
    if raw is not None:
        value = np.asarray(raw)
        if value.size != 1 or value.dtype.kind not in "iuf" or not np.isfinite(value).all() or value.item() <= 0:
            raise FileFormatError(
                f"{path}: attribute 'pixel_size' is {value.tolist()!r}; expected a positive number of radians"
            )
        recorded = float(value.item())
        given = "pixel_size" in recipe.options and not builtin
        if given and not math.isclose(pixel_size, recorded, rel_tol=1e-6):
            raise RecipeError(
                f"{recipe.source}: options.pixel_size is {pixel_size} but {path} records pixel_size {recorded}; "
                f"remove options.pixel_size (the file knows its grid) or make them agree"
            )
        pixel_size = recorded
    raw = _attribute(handle, dataset, "label_names")
    if raw is None or not labelled:
        return pixel_size, names, False
    values = np.asarray(raw).reshape(-1)
    if values.dtype.kind not in "OSU":
        raise FileFormatError(f"{path}: attribute 'label_names' is {values.tolist()!r}; expected a list of class names")
    recorded_names = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)
    if names and not builtin and names != recorded_names:
        raise RecipeError(
            f"{recipe.source}: label.names is {list(names)} but {path} records label_names {list(recorded_names)}; "
            f"remove label.names or make them agree"
        )
    return pixel_size, recorded_names, True


def _open_checked(path: str) -> None:
    kind = file_kind(path)
    if kind != "hdf5":
        raise FileFormatError(f"{path}: a {kind.upper()} file; jet images are read from HDF5 files")


def _per_jet_values(handle: h5py.File, plan: _Plan, recipe: Recipe, start: int, stop: int) -> dict[str, np.ndarray]:
    """The recipe's jet fields for rows ``[start:stop]``, scaled to GeV where energy-like."""
    return {
        name: recipe.scaled(name, handle[column][start:stop].reshape(-1).astype(np.float64))
        for name, column in plan.jet.items()
    }


def _labels(handle: h5py.File, plan: _Plan, start: int, stop: int) -> np.ndarray | None:
    if plan.label is None:
        return None
    return np.rint(handle[plan.label][start:stop].reshape(-1)).astype(np.int32)


def _cells(
    dataset: h5py.Dataset, plan: _Plan, recipe: Recipe, start: int, stop: int
) -> tuple[dict[str, ak.Array], dict[str, ak.Array] | None, np.ndarray | None]:
    """Cells (and tracks) of the non-zero pixels of images ``[start:stop]``, and the jets' energy from the
    chosen channels.

    Shapes:
        returns ``{eta, phi, energy, layer}`` and ``{pt, eta, phi, charge}`` (or None), each (n * var),
        and energy (n,) or None.
    """
    per_jet = plan.height * plan.width * len(plan.channels) * dataset.dtype.itemsize
    step = max(1, BLOCK_BYTES // max(1, per_jet))
    eta_of_row = (np.arange(plan.height) - (plan.height - 1) / 2) * plan.pixel_size
    phi_of_column = (np.arange(plan.width) - (plan.width - 1) / 2) * plan.pixel_size
    rows, columns, layers, values, counts, energies = [], [], [], [], [], []
    for lo in range(start, stop, step):
        block = dataset[lo : min(lo + step, stop)]
        filled = block != 0
        jet, row, column, layer = np.nonzero(filled)
        rows.append(row)
        columns.append(column)
        layers.append(layer)
        values.append(block[filled])
        counts.append(np.bincount(jet, minlength=len(block)))
        summed = list(plan.energy_channels) if plan.energy_channels is not None else slice(None)  # null: all
        energies.append(block[..., summed].sum(axis=(1, 2, 3), dtype=np.float64))
    counts_all = np.concatenate(counts)
    flat = {
        "eta": eta_of_row[np.concatenate(rows)],
        "phi": phi_of_column[np.concatenate(columns)],
        "energy": recipe.scaled("energy", np.concatenate(values).astype(np.float64)),
        "layer": np.concatenate(layers).astype(np.int32),
    }
    energy = recipe.scaled("energy", np.concatenate(energies)) if energies else None
    if plan.channels != DEFAULT_CHANNELS:  # channels of its own: one layer each, the channel's index
        return {name: ak.unflatten(values, counts_all) for name, values in flat.items()}, None, energy
    # Tracks, ECAL, HCAL: a detector-level jet as jetgraph simulates them (cells of layer 0 ECAL, 1 HCAL; tracks)
    jet = np.repeat(np.arange(len(counts_all)), counts_all)
    track = flat["layer"] == DEFAULT_CHANNELS.index("Tracks")
    flat["layer"] = flat["layer"] - 1  # ECAL 1 -> 0, HCAL 2 -> 1
    cells = {name: ak.unflatten(values[~track], np.bincount(jet[~track], minlength=len(counts_all)))
             for name, values in flat.items()}  # fmt: skip
    in_track = np.bincount(jet[track], minlength=len(counts_all))
    tracks = {"pt": flat["energy"][track], "eta": flat["eta"][track], "phi": flat["phi"][track]}
    tracks = {name: ak.unflatten(values, in_track) for name, values in tracks.items()}
    tracks["charge"] = ak.unflatten(np.zeros(int(track.sum()), np.float32), in_track)  # summed: no charge
    return cells, tracks, energy


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first image, canonical jets)`` with one cell per non-zero pixel, ``step_size`` images at a time."""
    _open_checked(path)
    with open_hdf5(path) as handle:
        plan = _plan(handle, path, recipe)
        dataset = handle[plan.images]
        for start in range(0, plan.rows, step_size):
            stop = min(start + step_size, plan.rows)
            cells, tracks, energy = _cells(dataset, plan, recipe, start, stop)
            jet = _per_jet_values(handle, plan, recipe, start, stop)
            jet.update({"eta": np.zeros(stop - start), "phi": np.zeros(stop - start)})
            if energy is not None and "energy" not in jet:
                jet["energy"] = energy
            jets = build(
                cells=cells,
                tracks=tracks,
                jet=jet,
                label=_labels(handle, plan, start, stop),
                label_names=list(plan.label_names),
                source=path,
            )
            if plan.names_recorded and not plan.label_names:  # the file has no classes: not the recipe's either
                jets = ak.Array(jets, attrs={"label_names": []})
            yield start, jets


def count(path: str, recipe: Recipe) -> int:
    """Number of images: the first dimension of the image dataset (shapes checked, no data read)."""
    _open_checked(path)
    with open_hdf5(path) as handle:
        return _plan(handle, path, recipe).rows


def _image_recipe(recipe: str | os.PathLike | Recipe | dict | None) -> Recipe:
    if isinstance(recipe, os.PathLike):
        recipe = os.fspath(recipe)
    chosen = load_recipe(RECIPE if recipe is None else recipe)
    if chosen.format != "jetimage":
        raise RecipeError(f"{chosen.source}: read_images needs a recipe of format 'jetimage', got {chosen.format!r}")
    return chosen


def _read(handle: h5py.File, path: str, plan: _Plan, recipe: Recipe, start: int, stop: int) -> JetImages:
    raw = handle[plan.images][start:stop]
    images = np.ascontiguousarray(np.moveaxis(raw, -1, 1), dtype=np.float32)
    if recipe.energy_scale != 1.0:
        images *= np.float32(recipe.energy_scale)
    jet = {
        name: values.astype(np.float32) for name, values in _per_jet_values(handle, plan, recipe, start, stop).items()
    }
    return JetImages(
        images=images,
        channels=plan.channels,
        label=_labels(handle, plan, start, stop),
        pt=jet.pop("pt", None),
        mass=jet.pop("mass", None),
        label_names=plan.label_names,
        jet=jet,
        pixel_size=plan.pixel_size,
        entry_start=start,
        source=path,
    )


def read_images(
    path: str | os.PathLike,
    recipe: str | os.PathLike | Recipe | dict | None = None,
    entry_start: int = 0,
    entry_stop: int | None = None,
) -> JetImages:
    """Images ``[entry_start:entry_stop]`` of one file, channels first, with labels and jet pT and mass.

    Args:
        path: an HDF5 file of jet images.
        recipe: a recipe of format ``jetimage`` (name, YAML path, mapping); ``None`` is the built-in
            ``jetimage`` recipe (``X_jets``, ``y``, ``pt``, ``m0``).
        entry_start: first image to read.
        entry_stop: one past the last image to read (``None``: to the end; clipped to the file).

    Returns:
        :class:`JetImages` with ``images`` of shape (N, C, H, W), float32, in GeV.

    Raises:
        MissingFieldError: a dataset the recipe names is not in the file (the message suggests others).
        FileFormatError: the images are not (jets, height, width, channels), a per-jet dataset has the
            wrong length, or the entry range is invalid.
    """
    path = os.fspath(path)
    chosen = _image_recipe(recipe)
    _open_checked(path)
    with open_hdf5(path) as handle, damage_reported(path):
        plan = _plan(handle, path, chosen)
        stop = plan.rows if entry_stop is None else entry_stop
        valid = isinstance(entry_start, int) and isinstance(stop, int) and 0 <= entry_start <= stop
        if not valid:
            raise FileFormatError(
                f"{path}: entry_start={entry_start!r}, entry_stop={entry_stop!r}: expected 0 <= entry_start <= "
                f"entry_stop (the file has {plan.rows} images)"
            )
        stop = min(stop, plan.rows)
        return _read(handle, path, plan, chosen, min(entry_start, stop), stop)


def iterate_images(
    path: str | os.PathLike, step_size: int, recipe: str | os.PathLike | Recipe | dict | None = None
) -> Iterator[JetImages]:
    """Stream a file's images ``step_size`` at a time, as :class:`JetImages` (see :func:`read_images`).

    Shapes:
        each chunk's images: (n, C, H, W) float32 with n <= step_size.
    """
    path = os.fspath(path)
    if not isinstance(step_size, int) or isinstance(step_size, bool) or step_size < 1:
        raise FileFormatError(f"step_size={step_size!r}: expected a positive number of images")
    chosen = _image_recipe(recipe)
    _open_checked(path)
    with open_hdf5(path) as handle, damage_reported(path):
        plan = _plan(handle, path, chosen)
        for start in range(0, plan.rows, step_size):
            yield _read(handle, path, plan, chosen, start, min(start + step_size, plan.rows))
