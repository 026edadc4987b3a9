"""EnergyFlow quark/gluon jets: NPZ archives of zero-padded (pt, rapidity, phi, pid) particles.

The dataset of Komiske, Metodiev, Thaler, "Energy Flow Networks: Deep Sets for Particle Jets",
JHEP 01 (2019) 121 (arXiv:1810.05165; files ``QG_jets.npz``, ``QG_jets_1.npz``... on Zenodo,
record 3164691, also fetched by ``energyflow.qg_jets.load``) holds, per file:

- ``X``: shape ``(N, M, 4)``, per jet ``M`` particle slots of ``(pt [GeV], rapidity y, phi, pid)``,
  zero-padded (a slot with ``pt == 0`` is padding); ``M`` is the largest multiplicity in the file.
- ``y``: shape ``(N,)``, the label: 1 = quark, 0 = gluon (so ``label_names`` are ``[gluon, quark]``).

Four-momenta come from :func:`jetgraph.schema.four_momentum` with ``rapidity=True``
(``E = mT cosh y``, ``pz = mT sinh y``, ``mT = sqrt(pt^2 + m^2)``), the mass ``m`` looked up from
the PDG id in :data:`PDG` (PDG 2024 values): photons, electrons, muons, charged and neutral pions,
charged kaons, K0L and K0S, protons and neutrons, the stable final state of Pythia jets without
neutrinos. An id not in the table (and the sign of a known one) gives a massless, neutral particle;
nothing else is guessed. ``part.pid`` keeps the id; ``part.charge`` is the table's charge with the
sign of the id (``-211`` is a pi-, ``11`` an electron with charge -1).

NPZ cannot stream: ``np.load`` inflates a compressed array entirely when it is accessed, so this
reader reads ``X`` once per file (about ``N * M * 32`` bytes, 0.5 GB for a 100k-jet file) and
slices it per chunk. :func:`count` reads only the array headers.

Array names come from the recipe (``data_recipes/energyflow.yaml``)::

    options: {particles: X}                         # the (N, M, 4) array
    label: {branch: y, names: [gluon, quark]}       # the (N,) label array
"""

from __future__ import annotations

from collections.abc import Iterator

import awkward as ak
import numpy as np

from jetgraph.errors import FileFormatError, RecipeError
from jetgraph.io.files import damage_reported, npz_shape, open_npz
from jetgraph.io.padded import unpad
from jetgraph.io.recipe import Recipe
from jetgraph.schema import build, four_momentum

OPTIONS = ("particles",)
DEFAULT_PARTICLES = "X"
COLUMNS = ("pt", "rapidity", "phi", "pid")

PDG: dict[int, tuple[float, int]] = {
    22: (0.0, 0),  # photon
    11: (0.51099895e-3, -1),  # e-
    13: (0.1056583755, -1),  # mu-
    111: (0.1349768, 0),  # pi0
    211: (0.13957039, 1),  # pi+
    130: (0.497611, 0),  # K0L
    310: (0.497611, 0),  # K0S
    321: (0.493677, 1),  # K+
    2112: (0.93956542052, 0),  # n
    2212: (0.93827208816, 1),  # p
}
"""``|pid| -> (mass in GeV, charge of the particle with the positive id)``."""

_CODES = np.array(sorted(PDG), dtype=np.int64)
_MASSES = np.array([PDG[c][0] for c in _CODES], dtype=np.float64)
_CHARGES = np.array([PDG[c][1] for c in _CODES], dtype=np.int64)


def mass_and_charge(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PDG mass (GeV) and electric charge of each id, vectorised; unknown ids are massless and neutral.

    Shapes:
        pid: any shape of integers; returns two arrays of the same shape (float64, int32).
    """
    pid = np.asarray(pid, dtype=np.int64)
    absolute = np.abs(pid)
    index = np.clip(np.searchsorted(_CODES, absolute), 0, len(_CODES) - 1)
    known = _CODES[index] == absolute
    mass = np.where(known, _MASSES[index], 0.0)
    charge = np.where(known, _CHARGES[index] * np.sign(pid), 0).astype(np.int32)
    return mass, charge


def _names(recipe: Recipe) -> tuple[str, str | None]:
    if recipe.fields:
        raise RecipeError(
            f"{recipe.source}: format 'energyflow' reads particles from one (N, M, 4) array named by "
            f"options.particles; 'fields' is not used (got {sorted(recipe.fields)})"
        )
    particles = recipe.option("particles", DEFAULT_PARTICLES, OPTIONS)
    if recipe.label is not None and recipe.label.one_hot:
        raise RecipeError(
            f"{recipe.source}: format 'energyflow' reads the label from one array (label.branch), not one_hot"
        )
    return str(particles), (recipe.label.branch if recipe.label is not None else None)


def _check(archive: np.lib.npyio.NpzFile, recipe: Recipe, path: str) -> int:
    """Check the arrays' shapes from their headers; return the number of jets."""
    particles, label = _names(recipe)
    shape = npz_shape(archive, particles, path)
    if len(shape) != 3 or shape[2] != len(COLUMNS):
        raise FileFormatError(
            f"{path}: array {particles!r} has shape {shape}; expected (jets, particles, {len(COLUMNS)}) "
            f"with columns {COLUMNS}"
        )
    if label is not None:
        found = npz_shape(archive, label, path)
        if found not in ((shape[0],), (shape[0], 1)):
            raise FileFormatError(
                f"{path}: label array {label!r} has shape {found}; expected ({shape[0]},), "
                f"one label per jet of {particles!r}"
            )
    return shape[0]


def _chunk(x: np.ndarray, label: np.ndarray | None, recipe: Recipe, path: str) -> ak.Array:
    """Canonical jets from padded ``(n, M, 4)`` particles."""
    scale = recipe.energy_scale
    pt = x[..., 0].astype(np.float64)
    mask = pt > 0
    pid = np.rint(x[..., 3]).astype(np.int32)
    mass, charge = mass_and_charge(pid)
    part = four_momentum(
        unpad(pt * scale, mask),
        unpad(x[..., 1].astype(np.float64), mask),
        unpad(x[..., 2].astype(np.float64), mask),
        mass=unpad(mass, mask),  # the table is in GeV whatever the file's unit
        rapidity=True,
    )
    part["pid"] = unpad(pid, mask)
    part["charge"] = unpad(charge, mask)
    return build(
        part=part,
        label=None if label is None else np.rint(label.reshape(-1)).astype(np.int32),
        label_names=recipe.label_names,
        source=path,
    )


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first jet, canonical jets)`` for ``step_size`` jets at a time.

    The particle array is inflated once (NPZ cannot stream) and sliced per chunk.
    """
    with open_npz(path) as archive:
        n_jets = _check(archive, recipe, path)
        particles, label_name = _names(recipe)
        with damage_reported(path):
            x = archive[particles]
            labels = archive[label_name] if label_name is not None else None
    for start in range(0, n_jets, step_size):
        stop = start + step_size
        yield start, _chunk(x[start:stop], None if labels is None else labels[start:stop], recipe, path)


def count(path: str, recipe: Recipe) -> int:
    """Number of jets: the first dimension of the particle array, from its header."""
    with open_npz(path) as archive:
        return _check(archive, recipe, path)
