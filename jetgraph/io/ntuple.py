"""Flat ROOT ntuples, one jet per entry: JetClass, and any ntuple a user describes in a recipe.

Each canonical field is read from the branch the recipe names (``fields: {part.px: part_px}``).
Particles come from ``px, py, pz, energy`` or from ``pt, eta|rapidity, phi`` (+ ``mass`` or
``energy``; massless otherwise). Labels come from one integer branch or from one-hot branches of
any numeric or boolean type (JetClass mixes float, bool and int32). One-hot branches absent from a
file are classes absent from it (a skim, a three-class sample): the labels keep the recipe's class
numbering, and at least one of the branches must be there. The option ``pid_flags`` maps
particle-type flag branches to PDG ids, signed by the particle's charge, as JetClass stores types::

    options:
      pid_flags: {part_isChargedHadron: 211, part_isNeutralHadron: 130, part_isPhoton: 22,
                  part_isElectron: 11, part_isMuon: 13}
"""

from __future__ import annotations

from collections.abc import Iterator

import awkward as ak
import numpy as np

from jetgraph.errors import MissingFieldError, RecipeError, missing
from jetgraph.io.files import open_root, root_tree
from jetgraph.io.recipe import Recipe, class_labels
from jetgraph.schema import PART_REQUIRED, build, four_momentum

OPTIONS = ("pid_flags",)
DEFAULT_TREE = "tree"
_LEPTONS = (11, 13)


def _tree_name(recipe: Recipe) -> str:
    return recipe.tree or DEFAULT_TREE


def _label_branches(recipe: Recipe, available: list[str], source: str) -> list[str]:
    """The label branch, or the one-hot branches this file has (a class without its branch is absent)."""
    label = recipe.label
    if label is None:
        return []
    if label.branch:
        return [label.branch]
    present = [branch for branch in label.one_hot if branch in available]
    if not present:
        labelled = [b for b in available if b.lower().startswith(("label", "is", "truth"))][:8]
        raise MissingFieldError(
            f"{source}: none of the one-hot label branches {list(label.one_hot)} is in the file"
            + (f"; it has {labelled}" if labelled else "")
            + " (read it with a recipe without 'label' for unlabelled jets)"
        )
    return present


def _branches(recipe: Recipe, labels: list[str]) -> list[str]:
    names = [*recipe.fields.values(), *labels, *recipe.option("pid_flags", {}, OPTIONS)]
    return list(dict.fromkeys(names))


def _particles(recipe: Recipe, data: ak.Array) -> dict[str, ak.Array] | None:
    spec = recipe.fields_of("part")
    if not spec:
        return None
    got = {k: recipe.scaled(k, data[b]) for k, b in spec.items()}
    if all(f in got for f in PART_REQUIRED):
        part = {f: got.pop(f) for f in PART_REQUIRED}
    elif "pt" in got and "phi" in got and ("eta" in got or "rapidity" in got):
        rapidity = "rapidity" in got
        part = four_momentum(
            got.pop("pt"),
            got.pop("rapidity" if rapidity else "eta"),
            got.pop("phi"),
            mass=got.pop("mass", None),
            energy=got.pop("energy", None),
            rapidity=rapidity,
        )
    else:
        raise RecipeError(
            f"{recipe.source}: particles need fields part.px/py/pz/energy or part.pt/eta/phi "
            f"(+ part.mass or part.energy); got {sorted(spec)}"
        )
    for kinematic in ("eta", "rapidity", "phi", "mass", "pt", "px", "py", "pz", "energy"):
        got.pop(kinematic, None)  # inputs already used for the four-momentum
    part.update(got)
    flags = recipe.option("pid_flags", {}, OPTIONS)
    if flags and "pid" not in part:
        part["pid"] = _pid_from_flags(data, flags, part.get("charge"))
    return part


def _pid_from_flags(data: ak.Array, flags: dict[str, int], charge: ak.Array | None) -> ak.Array:
    """PDG id from one-hot particle-type flags; sign from charge (e-/mu- are +11/+13 by convention).

    Works on the flat buffers and rebuilds the lists once: jagged arithmetic costs several times more.
    """
    branches = list(flags)
    counts = ak.num(data[branches[0]], axis=1)
    pid = np.zeros(int(ak.sum(counts)), dtype=np.int32)
    for branch, code in flags.items():
        pid += (ak.to_numpy(ak.flatten(data[branch])) != 0) * np.int32(code)
    if charge is not None:  # hadrons take the sign of their charge, leptons the opposite one
        negative = ak.to_numpy(ak.flatten(charge)) < 0
        lepton = (pid == _LEPTONS[0]) | (pid == _LEPTONS[1])
        pid *= 1 - 2 * (negative ^ lepton).view(np.int8)  # -1 where flipped: 3x faster than np.where
    return ak.unflatten(pid, counts)


def _labels(recipe: Recipe, data: ak.Array, branches: list[str], source: str, first: int) -> np.ndarray | None:
    """Integer classes in the recipe's numbering, from the label branch or the one-hot ``branches`` present."""
    label = recipe.label
    if label is None:
        return None
    columns = np.stack([ak.to_numpy(data[b]) for b in branches], axis=1)
    classes = class_labels(columns, not label.branch, source, first, branches)
    if label.branch:
        return classes
    return np.array([label.one_hot.index(b) for b in branches], dtype=np.int32)[classes]


def _record(recipe: Recipe, data: ak.Array, name: str) -> dict[str, ak.Array] | None:
    spec = recipe.fields_of(name)
    return {k: recipe.scaled(k, data[b]) for k, b in spec.items()} or None


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first entry, canonical jets)`` for ``step_size`` entries at a time."""
    with open_root(path) as handle:
        tree = root_tree(handle, path, _tree_name(recipe))
        source = f"{path}:{tree.name}"
        available = tree.keys()
        labels = _label_branches(recipe, available, source)
        names = _branches(recipe, labels)
        for name in names:
            if name not in available:
                raise missing("branch", name, source, available)
        for data, report in tree.iterate(filter_name=names, step_size=step_size, library="ak", report=True):
            yield (
                report.tree_entry_start,
                build(
                    part=_particles(recipe, data),
                    jet=_record(recipe, data, "jet"),
                    truth=_record(recipe, data, "truth"),
                    cells=_record(recipe, data, "cells"),
                    tracks=_record(recipe, data, "tracks"),
                    label=_labels(recipe, data, labels, source, report.tree_entry_start),
                    label_names=recipe.label_names,
                    source=source,
                ),
            )


def count(path: str, recipe: Recipe) -> int:
    """Entries in the recipe's tree (one jet each)."""
    with open_root(path) as handle:
        return int(root_tree(handle, path, _tree_name(recipe)).num_entries)
