"""Reading jet files into canonical awkward arrays (see :mod:`jetgraph.schema`).

``read`` and ``iterate`` take one path, a glob or a list, pick a recipe (detected from the file's
contents when none is given) and hand the work to the reader module the recipe names:

==============  ==============================================================================
format          module
==============  ==============================================================================
``ntuple``      :mod:`jetgraph.io.ntuple`: flat ROOT ntuples (JetClass, and any user recipe)
``delphes``     :mod:`jetgraph.io.delphes`: Delphes ROOT output
``toptagging``  :mod:`jetgraph.io.toptagging`: top-tagging reference HDF5 (pandas fixed format)
``energyflow``  :mod:`jetgraph.io.energyflow`: EnergyFlow quark/gluon NPZ
``jetnet``      :mod:`jetgraph.io.jetnet`: JetNet HDF5
``jetimage``    :mod:`jetgraph.io.jetimage`: jet-image HDF5 (as images or as pixel point clouds)
``jetgraph``    :mod:`jetgraph.io.native`: jetgraph's own ROOT and HDF5 files (read and write)
==============  ==============================================================================

Every reader module provides ``iterate(path, recipe, step_size)`` yielding ``(first_entry, jets)``
and ``count(path, recipe)``; this module validates each chunk against the schema.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from jetgraph.errors import FileFormatError, UnknownFormatError
from jetgraph.io.files import contents, damage_reported, file_kind
from jetgraph.io.recipe import READERS, Recipe, builtin_recipes, load_recipe
from jetgraph.paths import expand_paths
from jetgraph.schema import OnBad, validate, with_behaviour

__all__ = ["Recipe", "UnitsWarning", "count", "detect", "iterate", "load_recipe", "read", "write", "JetWriter"]

log = logging.getLogger("jetgraph")

PathLike = str | os.PathLike
Paths = PathLike | Iterable[PathLike]
RecipeLike = str | Path | Recipe | dict | None
DEFAULT_STEP_SIZE = 100_000


def reader(recipe: Recipe) -> Any:
    """The reader module for ``recipe.format`` (:data:`jetgraph.io.recipe.READERS`)."""
    return READERS[recipe.format]


def detect(path: PathLike) -> Recipe:
    """The built-in recipe whose ``detect`` entries all occur in the file (the most specific wins).

    Raises:
        FileFormatError: when no built-in recipe matches; the message lists what the file holds.
    """
    path = os.fspath(path)
    kind = file_kind(path)
    listing = contents(path)
    matches = [r for r in builtin_recipes().values() if r.detect and all(d in listing for d in r.detect)]
    if not matches:
        shown = ", ".join(sorted(k for k in listing if "/" not in k)[:10]) or "nothing"
        raise UnknownFormatError(
            f"{path}: no built-in recipe recognises this {kind} file (it holds {shown}); "
            f"describe it in a recipe and give it with --recipe my_recipe.yaml (pretrain: --set "
            f"data.recipe=my_recipe.yaml; Python: recipe='my_recipe.yaml'); jetgraph inspect {path} lists what "
            f"it holds and --recipe-template writes a first recipe"
        )
    best = max(matches, key=lambda r: len(r.detect))
    log.info("%s: detected format %r (recipe %s)", path, best.format, best.name)
    return best


PLAUSIBLE_PT = (1.0, 20_000.0)
"""GeV: a file whose jets have a median pT outside this range was probably read in the wrong unit."""


class UnitsWarning(UserWarning):
    """The jets' pT is implausible for the energy unit the recipe gives (``units.energy``)."""


def _check_units(jets: ak.Array, recipe: Recipe, path: str) -> None:
    """Warn once per file when the median jet pT is outside :data:`PLAUSIBLE_PT` (a MeV file read as GeV...)."""
    median = float(np.median(ak.to_numpy(jets.jet.pt)))
    if not PLAUSIBLE_PT[0] <= median <= PLAUSIBLE_PT[1]:
        unit = {1.0: "GeV", 1e-3: "MeV", 1e3: "TeV"}.get(recipe.energy_scale, f"x{recipe.energy_scale:g}")
        warnings.warn(
            UnitsWarning(
                f"{path}: the jets' median pT is {median:.3g} GeV with units.energy={unit} (recipe {recipe.name}); "
                f"jets are rarely outside {PLAUSIBLE_PT[0]:g} to {PLAUSIBLE_PT[1]:g} GeV: is the file in another "
                f"unit? (recipe key units: {{energy: GeV | MeV | TeV}})"
            ),
            stacklevel=3,
        )


def _recipe_for(path: str, recipe: RecipeLike) -> Recipe:
    return detect(path) if recipe is None else load_recipe(recipe)


def iterate(
    paths: Paths,
    recipe: RecipeLike = None,
    step_size: int = DEFAULT_STEP_SIZE,
    *,
    on_bad: OnBad = "drop",
) -> Iterator[ak.Array]:
    """Stream canonical jets from one or more files, ``step_size`` jets at a time.

    Args:
        paths: a path, a glob (``"data/*.root"``), a URL uproot can open, or a list of these.
        recipe: a built-in recipe name, a recipe YAML path, or ``None`` to detect it per file.
        step_size: jets per chunk (at most; bad jets are dropped from their chunk).
        on_bad: ``"drop"`` (warn and drop jets with NaN/Inf, negative energy or no particles) or
            ``"raise"``.

    Yields:
        Awkward arrays of canonical jets (``attrs["label_names"]`` and ``attrs["source"]`` set).
    """
    if not isinstance(step_size, int) or step_size < 1:
        raise FileFormatError(f"step_size={step_size!r}: expected a positive number of jets")
    for path in expand_paths(paths):
        chosen = _recipe_for(path, recipe)
        module = reader(chosen)
        source = f"{path}:{chosen.tree}" if chosen.tree else path
        with damage_reported(path):
            checked = False
            for first, chunk in module.iterate(path, chosen, step_size):
                chunk = with_behaviour(validate(chunk, source=source, on_bad=on_bad, offset=first))
                if len(chunk) and not checked:
                    _check_units(chunk, chosen, path)
                    checked = True
                if len(chunk):
                    chunk.attrs["source"] = path
                    chunk.attrs["recipe"] = chosen.name
                    if chosen.label_names and "label_names" not in chunk.attrs:
                        chunk.attrs["label_names"] = chosen.label_names
                    yield chunk


def read(paths: Paths, recipe: RecipeLike = None, *, on_bad: OnBad = "drop", entry_stop: int | None = None) -> ak.Array:
    """Read whole files into one array of canonical jets (see :func:`iterate` for the arguments).

    ``entry_stop`` stops after that many jets in all, reading no further than needed. The result's
    ``attrs`` keep ``source`` and ``recipe`` only when every jet shares them.
    """
    chunks = []
    total = 0
    step = DEFAULT_STEP_SIZE if entry_stop is None else max(1, min(entry_stop, DEFAULT_STEP_SIZE))
    for chunk in iterate(paths, recipe, step, on_bad=on_bad):
        if entry_stop is not None and total + len(chunk) > entry_stop:
            chunk = chunk[: entry_stop - total]
        chunks.append(chunk)
        total += len(chunk)
        if entry_stop is not None and total >= entry_stop:
            break
    if not chunks:
        raise FileFormatError(f"{paths}: no valid jets in the input")
    attrs = dict(chunks[0].attrs)
    for key in ("source", "recipe"):  # kept only where every chunk agrees (one file, one recipe)
        if len({c.attrs.get(key) for c in chunks}) > 1:
            attrs.pop(key)
    return ak.Array(ak.concatenate(chunks), attrs=attrs) if len(chunks) > 1 else chunks[0]


def count(path: PathLike, recipe: RecipeLike = None) -> int:
    """Number of jets stored in one file (before validation), read from metadata where possible."""
    path = os.fspath(path)
    chosen = _recipe_for(path, recipe)
    return int(reader(chosen).count(path, chosen))


def write(jets: ak.Array, path: PathLike, **kwargs: Any) -> Path:
    """Write canonical jets to jetgraph's own format (``.root`` or ``.h5``), atomically."""
    from jetgraph.io.native import write as _write

    return _write(jets, path, **kwargs)


def __getattr__(name: str) -> Any:  # lazy: the writer is not needed to read
    if name == "JetWriter":
        from jetgraph.io.native import JetWriter

        return JetWriter
    raise AttributeError(name)
