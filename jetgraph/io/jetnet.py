"""JetNet: HDF5 files of zero-padded particles in coordinates relative to the jet, one jet type per file.

The dataset of Kansal et al., "Particle Cloud Generation with Message Passing Generative Adversarial
Networks", NeurIPS 2021 (arXiv:2106.11535; Zenodo record 6975118 with up to 30 particles per jet,
files ``g.hdf5, q.hdf5, t.hdf5, w.hdf5, z.hdf5``, and record 6975117 with up to 150, ``g150.hdf5``...;
also fetched by ``jetnet.datasets.JetNet``) holds, per file:

- ``particle_features``: shape ``(N, M, 4)`` with ``M = 30`` (or 150), per slot
  ``(etarel, phirel, ptrel, mask)``: ``etarel = eta - jet eta``, ``phirel = phi - jet phi``,
  ``ptrel = pt / jet pt``; a slot with ``mask == 0`` is padding.
- ``jet_features``: shape ``(N, 4)`` = ``(pt [GeV], eta, mass [GeV], num_particles)`` in the Zenodo
  files. The jet type is not stored: it is the file's name (``g`` = gluon, ``q`` = light quark,
  ``t`` = top, ``w`` = W, ``z`` = Z), which ``jetnet.datasets.JetNet.getData`` turns into a first
  column, giving ``(N, 5)`` = ``(type, pt, eta, mass, num_particles)``. Both widths are read: 4 columns
  are taken as the Zenodo layout (type from the file name), 5 as the ``getData`` layout (type from
  column 0); ``options.jet_columns`` names the columns of any other layout.

Particles are massless, from :func:`jetgraph.schema.four_momentum` with ``pt = ptrel * jet pt``,
``eta = etarel + jet eta`` and ``phi = phirel``. **The jet's phi is not stored in JetNet, so the jet
axis is put at phi = 0**: ``jet.phi`` is 0 and the particles' phi is their phi relative to the jet.
``jet.pt``, ``jet.eta`` and ``jet.mass`` come from ``jet_features``; ``jet.energy`` and
``jet.nparticles`` are computed from the particles (the mask). The file's ``num_particles`` is not
read: in the 30-particle files it can count particles beyond the 30 stored slots (``getData`` caps it
at 30 for that reason). ``label`` is the type's position in ``[g, q, t, w, z]``, named
``[gluon, quark, top, W, Z]``.

Names come from the recipe (``data_recipes/jetnet.yaml``)::

    label: {branch: type, names: [gluon, quark, top, W, Z]}   # 'type': a jet column, else the file name
    options:
      particles: particle_features       # the (N, M, 4) dataset
      jets: jet_features                 # the (N, K) dataset
      jet_columns: null                  # null: by width (4: pt, eta, mass, num_particles; 5: type, ...)
      file_types: [g, q, t, w, z]        # file names (without a '150' suffix) -> class index

A ``label.branch`` that is not one of ``jet_columns`` (and not ``type``) is read as a dataset of
shape ``(N,)`` from the file. With ``type`` and no type column, a dataset of shape ``(N,)`` named one of
:data:`TYPE_DATASETS` (``jet_type``, ``jet_class``, ``label``...) holds the type, as files made from
JetNet arrays often store it: integers are the class number, strings (``g``, ``q``...) are looked up in
``file_types``. Only without such a dataset does the type come from the file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import awkward as ak
import h5py
import numpy as np

from jetgraph.errors import FileFormatError, RecipeError
from jetgraph.io.files import hdf5_dataset, open_hdf5
from jetgraph.io.padded import unpad
from jetgraph.io.recipe import Recipe
from jetgraph.schema import build, four_momentum

OPTIONS = ("particles", "jets", "jet_columns", "file_types")
PARTICLE_COLUMNS = ("etarel", "phirel", "ptrel", "mask")
JET_COLUMNS = ("type", "pt", "eta", "mass", "num_particles")
"""The column names ``options.jet_columns`` may use (each at most once)."""
LAYOUTS = {4: ("pt", "eta", "mass", "num_particles"), 5: ("type", "pt", "eta", "mass", "num_particles")}
"""Columns of ``jet_features`` by width: the Zenodo files (4) and ``JetNet.getData`` arrays (5)."""
DEFAULT_PARTICLES = "particle_features"
DEFAULT_JETS = "jet_features"
DEFAULT_FILE_TYPES = ("g", "q", "t", "w", "z")
TYPE = "type"
TYPE_DATASETS = ("type", "jet_type", "jet_class", "jet_label", "label", "labels")
"""Datasets that may hold the jet type when ``jet_features`` has no type column."""


@dataclass(frozen=True)
class _Plan:
    """What to read from one file, checked against its shapes (no data read)."""

    particles: str
    jets: str
    rows: int
    columns: tuple[str, ...]
    """name of each column of the jet dataset."""
    label_column: int | None = None
    """the jet dataset's column holding the label."""
    label_dataset: str | None = None
    """a separate (N,) dataset holding the label."""
    file_label: int | None = None
    """the label of every jet of the file, from its name."""


def _options(recipe: Recipe) -> tuple[str, str, tuple[str, ...] | None, tuple[str, ...]]:
    if recipe.fields:
        raise RecipeError(
            f"{recipe.source}: format 'jetnet' reads fixed columns (particles {PARTICLE_COLUMNS}, jets by "
            f"options.jet_columns); 'fields' is not used (got {sorted(recipe.fields)})"
        )
    particles = recipe.option("particles", DEFAULT_PARTICLES, OPTIONS)
    jets = recipe.option("jets", DEFAULT_JETS, OPTIONS)
    columns = recipe.option("jet_columns", None, OPTIONS)
    types = recipe.option("file_types", list(DEFAULT_FILE_TYPES), OPTIONS)
    for key, value in (("particles", particles), ("jets", jets)):
        if not isinstance(value, str) or not value:
            raise RecipeError(f"{recipe.source}: options.{key} must name a dataset, got {value!r}")
    if columns is not None:
        valid = isinstance(columns, list) and all(c in JET_COLUMNS for c in columns)
        if not valid or len(set(columns)) != len(columns) or not {"pt", "eta"} <= set(columns):
            raise RecipeError(
                f"{recipe.source}: options.jet_columns must list each column of the jet dataset once, by names "
                f"from {list(JET_COLUMNS)}, 'pt' and 'eta' included; got {columns!r}"
            )
        columns = tuple(columns)
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise RecipeError(f"{recipe.source}: options.file_types must be a list of file names, got {types!r}")
    if recipe.label is not None and recipe.label.one_hot:
        raise RecipeError(
            f"{recipe.source}: format 'jetnet' reads the label from one jet column, dataset or the file name "
            f"(label.branch), not one_hot"
        )
    return particles, jets, columns, tuple(types)


def _file_type(path: str, types: tuple[str, ...]) -> int:
    """Class index from the file name: ``g.hdf5`` and ``g150.hdf5`` are ``types.index("g")``."""
    stem = re.sub(r"150$", "", Path(path).stem)
    if stem.lower() not in [t.lower() for t in types]:
        raise FileFormatError(
            f"{path}: cannot tell the jet type: JetNet files store it only in their name "
            f"({', '.join(f'{t}.hdf5' for t in types)}, or with '150'), and this jet dataset has no 'type' "
            f"column; rename the file, or read it with a recipe without 'label'"
        )
    return [t.lower() for t in types].index(stem.lower())


def _plan(handle: h5py.File, path: str, recipe: Recipe) -> _Plan:
    """Check names and shapes against the file.

    Raises:
        MissingFieldError: a dataset the recipe names is not in the file (with suggestions).
        FileFormatError: a dataset has the wrong rank or width, or the datasets disagree in length.
    """
    particles_name, jets_name, columns, types = _options(recipe)
    particles = hdf5_dataset(handle, path, particles_name)
    jets = hdf5_dataset(handle, path, jets_name)
    if particles.ndim != 3 or particles.shape[2] != len(PARTICLE_COLUMNS):
        raise FileFormatError(
            f"{path}: dataset {particles_name!r} has shape {particles.shape}; expected (jets, particles, "
            f"{len(PARTICLE_COLUMNS)}) with columns {PARTICLE_COLUMNS}"
        )
    width = jets.shape[1] if jets.ndim == 2 else None
    if columns is None:
        if width not in LAYOUTS:
            raise FileFormatError(
                f"{path}: dataset {jets_name!r} has shape {jets.shape}; expected (jets, 4) with columns "
                f"{LAYOUTS[4]} or (jets, 5) with columns {LAYOUTS[5]} (set options.jet_columns for another layout)"
            )
        columns = LAYOUTS[width]
    elif width != len(columns):
        raise FileFormatError(
            f"{path}: dataset {jets_name!r} has shape {jets.shape}; expected (jets, {len(columns)}) with the "
            f"columns of options.jet_columns {columns}"
        )
    if jets.shape[0] != particles.shape[0]:
        raise FileFormatError(
            f"{path}: {particles_name!r} has {particles.shape[0]} jets but {jets_name!r} has {jets.shape[0]}; "
            f"expected one row per jet in both"
        )
    plan = _Plan(particles=particles_name, jets=jets_name, rows=particles.shape[0], columns=columns)
    if recipe.label is None:
        return plan
    branch = recipe.label.branch
    if branch in columns:
        return replace(plan, label_column=columns.index(branch))
    if branch == TYPE:
        stored = [n for n in TYPE_DATASETS if isinstance(handle.get(n), h5py.Dataset) and n != plan.jets]
        if not stored:
            return replace(plan, file_label=_file_type(path, types))
        branch = stored[0]
    label = hdf5_dataset(handle, path, branch)
    if label.shape not in ((plan.rows,), (plan.rows, 1)):
        raise FileFormatError(
            f"{path}: label dataset {branch!r} has shape {label.shape}; expected ({plan.rows},), one label per jet"
        )
    return replace(plan, label_dataset=branch)


def _type_numbers(values: np.ndarray, path: str, plan: _Plan, recipe: Recipe) -> np.ndarray:
    """Class numbers from a label dataset: numbers as they are, type names (``g``, ``t``...) by ``file_types``."""
    if values.dtype.kind in "biuf":
        return values
    types = [t.lower() for t in _options(recipe)[3]]
    names = [v.decode() if isinstance(v, bytes) else str(v) for v in values.tolist()]
    unknown = sorted({n for n in names if n.lower() not in types})
    if unknown:
        raise FileFormatError(
            f"{path}: dataset {plan.label_dataset!r} holds jet types {unknown[:5]}; expected numbers or one of {types}"
        )
    return np.array([types.index(n.lower()) for n in names], dtype=np.int32)


def _chunk(
    particles: np.ndarray, jets: np.ndarray, label: np.ndarray | None, plan: _Plan, recipe: Recipe, path: str
) -> ak.Array:
    """Canonical jets from ``(n, M, 4)`` relative particles and ``(n, K)`` jet features.

    Shapes:
        particles: (n, M, 4); jets: (n, K); label: (n,) or None.
    """
    column = {name: jets[:, i].astype(np.float64) for i, name in enumerate(plan.columns)}
    jet_pt = recipe.scaled("pt", column["pt"])
    jet_eta = column["eta"]
    mask = particles[..., 3] != 0
    pt = particles[..., 2].astype(np.float64) * jet_pt[:, None]
    eta = particles[..., 0].astype(np.float64) + jet_eta[:, None]
    phi = particles[..., 1].astype(np.float64)  # the jet axis is at phi = 0
    part = four_momentum(unpad(pt, mask), unpad(eta, mask), unpad(phi, mask))
    jet = {"pt": jet_pt, "eta": jet_eta, "phi": np.zeros(len(jets))}
    if "mass" in column:
        jet["mass"] = recipe.scaled("mass", column["mass"])
    return build(
        part=part,
        jet=jet,
        label=None if label is None else np.rint(label).astype(np.int32),
        label_names=recipe.label_names,
        source=path,
    )


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first jet, canonical jets)``, reading rows ``[start:start + step_size]`` of each dataset."""
    with open_hdf5(path) as handle:
        plan = _plan(handle, path, recipe)
        for start in range(0, plan.rows, step_size):
            stop = min(start + step_size, plan.rows)
            particles = handle[plan.particles][start:stop]
            jets = handle[plan.jets][start:stop]
            if plan.label_column is not None:
                label = jets[:, plan.label_column]
            elif plan.label_dataset is not None:
                label = _type_numbers(handle[plan.label_dataset][start:stop].reshape(-1), path, plan, recipe)
            elif plan.file_label is not None:
                label = np.full(stop - start, plan.file_label)
            else:
                label = None
            yield start, _chunk(particles, jets, label, plan, recipe, path)


def count(path: str, recipe: Recipe) -> int:
    """Number of jets: the first dimension of the particle dataset (shapes checked, no data read)."""
    with open_hdf5(path) as handle:
        return _plan(handle, path, recipe).rows
