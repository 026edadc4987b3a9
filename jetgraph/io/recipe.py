"""Data recipes: YAML files that say how to read one file layout into the canonical schema.

A recipe is data, never code: it is loaded with ``yaml.safe_load`` (:mod:`jetgraph.settings`), every key
is checked, and labels are defined by branch names, not expressions. A minimal recipe for a flat
ROOT ntuple::

    format: ntuple            # which reader: ntuple, delphes, toptagging, energyflow, jetnet,
                              # jetimage, jetgraph
    tree: Events              # TTree (ROOT) or key/dataset (HDF5) to read
    units: {energy: MeV}      # GeV (default), MeV or TeV; converted to GeV on reading
    fields:                   # canonical field <- branch
      part.pt: PFCand_pt      # particles from (pt, eta, phi [, mass | energy]) or (px, py, pz, energy)
      part.eta: PFCand_eta
      part.phi: PFCand_phi
      part.charge: PFCand_charge
      jet.pt: Jet_pt          # jet fields not given are computed from the particles
    label:
      branch: isSignal        # an integer/bool branch ...
      names: [background, signal]
      # ... or one-hot branches, class i = the i-th branch that is true:
      # one_hot: {QCD: label_QCD, Hbb: label_Hbb}

The built-in recipes live in ``jetgraph/data_recipes/`` and are found by name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from jetgraph.errors import RecipeError, SchemaError, suggest
from jetgraph.registry import Registry
from jetgraph.schema import CELL_FIELDS, PART_OPTIONAL, PART_REQUIRED, TRACK_FIELDS, TRUTH_FIELDS
from jetgraph.settings import from_mapping, read_yaml

READERS = Registry(
    "format",
    RecipeError,
    {
        "ntuple": "jetgraph.io.ntuple",
        "delphes": "jetgraph.io.delphes",
        "toptagging": "jetgraph.io.toptagging",
        "energyflow": "jetgraph.io.energyflow",
        "jetnet": "jetgraph.io.jetnet",
        "jetimage": "jetgraph.io.jetimage",
        "jetgraph": "jetgraph.io.native",
    },
)
"""The reader module of each recipe ``format`` (imported when first used): ``iterate`` and ``count``."""
FORMATS = tuple(READERS)
ENERGY_UNITS = {"GeV": 1.0, "MeV": 1e-3, "TeV": 1e3}
PART_INPUTS = (*PART_REQUIRED, *PART_OPTIONAL, "pt", "eta", "rapidity", "phi", "mass")
TARGETS = {
    "part": PART_INPUTS,
    "truth": TRUTH_FIELDS,
    "cells": CELL_FIELDS,
    "tracks": TRACK_FIELDS,
    "jet": None,  # any identifier: extra jet observables are kept
}
ENERGY_LIKE = {"px", "py", "pz", "pt", "energy", "mass", "sdmass"}
"""Fields scaled by ``units.energy`` (only these; angles and counts are never scaled)."""
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Label:
    """How to read the integer class: one branch, or the index of the true one-hot branch.

    With ``classes``, the branch holds codes (a flavour, a process id): class ``i`` is every jet whose
    code is in ``classes[i]``, and a jet with another code gets ``-1`` (no class). An ``optional`` label
    is read when its branch is in the file (simulation) and left out when it is not (data).
    """

    branch: str | None = None
    one_hot: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    classes: tuple[tuple[int, ...], ...] = ()
    optional: bool = False


@dataclass(frozen=True)
class Constituents:
    """Per-event files with particles stored flat per event: which jet of the collection each belongs to.

    Either ``counts``, a branch with the number of particles of each jet, the particles stored jet after
    jet; or ``jet_index``, for each link the jet's position in the collection (``-1``: none), with
    ``particle_index``, for each link the particle's position in the ``part.*`` branches (CMS PFNano:
    ``JetPFCands_jetIdx``, ``JetPFCands_pFCandsIdx``), or without it a jet index per particle.
    """

    jet_index: str | None = None
    particle_index: str | None = None
    counts: str | None = None


@dataclass(frozen=True)
class Selection:
    """Which jets of a per-event collection are kept, in the collection's order (data, not code)."""

    max_jets_per_event: int | None = None
    min_pt: float = 0.0
    """GeV, in the recipe's energy unit converted."""
    max_abs_eta: float | None = None


@dataclass(frozen=True)
class Recipe:
    """A validated data recipe. Build with :func:`load_recipe` or :func:`parse_recipe`."""

    name: str
    format: str
    tree: str | None = None
    description: str = ""
    detect: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)
    label: Label | None = None
    energy_scale: float = 1.0
    options: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    jets: str = "per_entry"
    """``per_entry`` (one jet per entry) or ``per_event`` (a jet collection per entry)."""
    constituents: Constituents | None = None
    select: Selection = field(default_factory=Selection)

    def fields_of(self, record: str) -> dict[str, str]:
        """``{canonical field: source name}`` for one record (``part``, ``jet``...)."""
        prefix = record + "."
        return {k[len(prefix) :]: v for k, v in self.fields.items() if k.startswith(prefix)}

    def option(self, key: str, default: Any, accepted: tuple[str, ...]) -> Any:
        """An entry of ``options`` (checked against the reader's ``accepted`` keys)."""
        unknown = [k for k in self.options if k not in accepted]
        if unknown:
            raise RecipeError(
                f"{self.source}: unknown option {unknown[0]!r} for format {self.format!r}; accepted: {list(accepted)}"
            )
        return self.options.get(key, default)

    def scaled(self, name: str, values: Any) -> Any:
        """``values`` in GeV: energy-like fields (momenta, energies, masses) times ``energy_scale``."""
        energy_like = name in ENERGY_LIKE or name.endswith(("mass", "pt", "energy"))
        return values * self.energy_scale if energy_like and self.energy_scale != 1.0 else values

    @property
    def label_names(self) -> list[str]:
        if self.label is None:
            return []
        return list(self.label.names or self.label.one_hot)

    def label_codes(self, codes: np.ndarray) -> np.ndarray:
        """The classes of ``codes`` read from the label branch (the codes themselves without ``classes``)."""
        if self.label is None or not self.label.classes:
            return codes.astype(np.int32)
        classes = np.full(len(codes), -1, dtype=np.int32)
        for i, values in enumerate(self.label.classes):
            classes[np.isin(codes, values)] = i
        return classes


def class_labels(columns: np.ndarray, one_hot: bool, source: str, first: int, names: Sequence[str]) -> np.ndarray:
    """Integer classes from a label branch (one column) or from one-hot branches (one column each).

    One-hot columns may be float, bool or int (JetClass mixes them); exactly one must be non-zero per
    jet, else :class:`SchemaError` names the entry and the branches.

    Shapes:
        columns: (N, K) (K = 1 for a label branch); returns (N,) int32.
    """
    if not one_hot:
        return columns[:, 0].astype(np.int32)
    hot = columns != 0
    per_jet = hot.sum(axis=1)
    if (per_jet != 1).any():
        i = int(np.argmax(per_jet != 1))
        raise SchemaError(
            f"{source}: entry {first + i}: {int(per_jet[i])} of the one-hot labels {list(names)} "
            f"are true; expected exactly one"
        )
    return np.argmax(hot, axis=1).astype(np.int32)


@dataclass
class _Units:
    energy: str = "GeV"


@dataclass
class _LabelSpec:
    branch: str | None = None
    one_hot: dict[str, str] | None = None
    names: list[str] = field(default_factory=list)
    classes: dict[str, list[int]] | None = None
    optional: bool = False


@dataclass
class _SelectionSpec:
    max_jets_per_event: int | None = None
    min_pt: float = 0.0
    max_abs_eta: float | None = None


@dataclass
class _RecipeFile:
    """A recipe file as written (the keys of the module's example); :func:`parse_recipe` checks the rest."""

    format: str
    name: str | None = None
    description: str = ""
    tree: str | None = None
    detect: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    label: _LabelSpec | None = None
    units: _Units = field(default_factory=_Units)
    options: dict[str, Any] = field(default_factory=dict)
    jets: str = "per_entry"
    constituents: dict[str, str] | None = None
    select: _SelectionSpec = field(default_factory=_SelectionSpec)


def _check_fields(source: str, fields: dict[str, str]) -> None:
    for target, branch in fields.items():
        record, _, name = target.partition(".")
        if record not in TARGETS or not name:
            raise RecipeError(f"{source}: fields: {target!r} is not 'record.field' with record one of {list(TARGETS)}")
        allowed = TARGETS[record]
        if allowed is not None and name not in allowed:
            hint = suggest(name, allowed)
            raise RecipeError(f"{source}: fields: unknown field {target!r}{hint}; '{record}' accepts {list(allowed)}")
        if allowed is None and not _IDENTIFIER.match(name):
            raise RecipeError(f"{source}: fields: {target!r} is not a valid jet field name")
        if not branch:
            raise RecipeError(f"{source}: fields: {target!r} must name a branch/column, got {branch!r}")


def _label(source: str, spec: _LabelSpec | None) -> Label | None:
    if spec is None:
        return None
    if (spec.branch is None) == (spec.one_hot is None):
        raise RecipeError(
            f"{source}: label needs exactly one of 'branch' (an integer branch) or 'one_hot' (class: branch)"
        )
    if spec.branch is not None:
        if spec.classes is None:
            return Label(branch=spec.branch, names=tuple(spec.names), optional=spec.optional)
        if spec.names or not spec.classes:
            raise RecipeError(f"{source}: label.classes maps class names to codes (the names are its keys); "
                              f"expected a non-empty mapping and no label.names, got {spec.classes!r}")  # fmt: skip
        codes = tuple(tuple(v) for v in spec.classes.values())
        return Label(branch=spec.branch, names=tuple(spec.classes), classes=codes, optional=spec.optional)
    if spec.classes is not None:
        raise RecipeError(f"{source}: label.classes goes with label.branch (codes), not with one_hot")
    if not spec.one_hot:
        raise RecipeError(f"{source}: label.one_hot must map class names to branches, got {spec.one_hot!r}")
    return Label(one_hot=tuple(spec.one_hot.values()), names=tuple(spec.names or spec.one_hot))


def parse_recipe(data: Any, source: str = "<memory>", name: str | None = None) -> Recipe:
    """Validate a recipe given as a mapping (the content of a YAML file)."""
    spec = from_mapping(_RecipeFile, data, source, RecipeError)
    if spec.format not in READERS:
        hint = suggest(spec.format, READERS)
        raise RecipeError(f"{source}: format: {spec.format!r} is not a known reader{hint}; accepted: {list(READERS)}")
    if spec.units.energy not in ENERGY_UNITS:
        raise RecipeError(f"{source}: units.energy: {spec.units.energy!r} is not one of {list(ENERGY_UNITS)}")
    _check_fields(source, spec.fields)
    constituents = _per_event(source, spec)
    return Recipe(
        name=str(spec.name or name or Path(source).stem),
        format=spec.format,
        tree=spec.tree,
        description=spec.description.strip(),
        detect=tuple(spec.detect),
        fields=spec.fields,
        label=_label(source, spec.label),
        energy_scale=ENERGY_UNITS[spec.units.energy],
        options=spec.options,
        source=source,
        jets=spec.jets,
        constituents=constituents,
        select=Selection(**vars(spec.select)),
    )


def _per_event(source: str, spec: _RecipeFile) -> Constituents | None:
    """Check the per-event keys (``jets``, ``constituents``, ``select``); the constituent links, if any."""
    if spec.jets not in ("per_entry", "per_event"):
        raise RecipeError(f"{source}: jets: {spec.jets!r}; expected per_entry (one jet per entry) or per_event")
    select = spec.select
    if spec.jets == "per_entry":
        if spec.constituents is not None or select != _SelectionSpec():
            raise RecipeError(f"{source}: constituents and select describe per-event files; add jets: per_event")
        return None
    if spec.format != "ntuple":
        raise RecipeError(f"{source}: jets: per_event is read by format 'ntuple'; got format {spec.format!r}")
    if "jet.pt" not in spec.fields:
        raise RecipeError(f"{source}: jets: per_event needs fields jet.pt (the jet collection's pT branch)")
    if select.max_abs_eta is not None and "jet.eta" not in spec.fields:
        raise RecipeError(f"{source}: select.max_abs_eta needs fields jet.eta")
    if select.max_jets_per_event is not None and select.max_jets_per_event < 1:
        raise RecipeError(f"{source}: select.max_jets_per_event: {select.max_jets_per_event}; expected at least 1")
    if spec.constituents is None:
        return None
    given = spec.constituents
    if set(given) - {"jet_index", "particle_index", "counts"} or ("jet_index" in given) == ("counts" in given):
        raise RecipeError(
            f"{source}: constituents: {given!r}; expected counts (particles per jet), or jet_index (and "
            f"particle_index) branches"
        )
    if "counts" in given and "particle_index" in given:
        raise RecipeError(f"{source}: constituents: particle_index goes with jet_index, not with counts")
    return Constituents(**given)


@functools.cache
def _parsed_builtins() -> tuple[Recipe, ...]:
    """The shipped recipe files, parsed once per process (detection asks for them per input file)."""
    recipes = []
    for entry in sorted(resources.files("jetgraph.data_recipes").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text())
            if isinstance(data, dict) and data.get("format") in FORMATS:  # sample recipes are not formats
                recipes.append(parse_recipe(data, source=f"data_recipes/{entry.name}", name=entry.name[:-5]))
    return tuple(recipes)


def builtin_recipes() -> dict[str, Recipe]:
    """The recipes shipped in ``jetgraph/data_recipes``, by name, for formats jetgraph reads."""
    return {recipe.name: recipe for recipe in _parsed_builtins()}


def load_recipe(recipe: str | Path | Recipe | dict) -> Recipe:
    """A recipe from a built-in name, a YAML path, a mapping, or a :class:`Recipe` (returned as is)."""
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, dict):
        return parse_recipe(recipe)
    text = str(recipe)
    if not text.endswith((".yaml", ".yml")):
        known = builtin_recipes()
        if text not in known:
            hint = suggest(text, known) or f"; built-in: {sorted(known)}"
            raise RecipeError(f"recipe {text!r} is not a built-in recipe or a .yaml file{hint}")
        return known[text]
    if not Path(text).is_file():
        raise RecipeError(f"{text}: recipe file not found")
    return parse_recipe(read_yaml(text, "recipe", RecipeError), source=text)
