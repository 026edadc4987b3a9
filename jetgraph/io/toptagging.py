"""The top-tagging reference dataset: pandas DataFrames in HDF5 ("fixed" format), read with h5py.

The dataset of Kasieczka, Plehn et al., "The Machine Learning Landscape of Top Taggers", SciPost
Phys. 7 (2019) 014 (arXiv:1902.09914; files ``train.h5``, ``val.h5``, ``test.h5`` on Zenodo,
record 2603256) is one DataFrame per file, written with ``DataFrame.to_hdf(key="table",
format="fixed")``, one jet per row:

- ``E_0 .. E_199``, ``PX_*``, ``PY_*``, ``PZ_*``: the four-momenta of up to 200 constituents in GeV,
  leading first, zero-padded. A slot is a particle when its energy is ``> 0``.
- ``truthE, truthPX, truthPY, truthPZ``: the four-momentum of the top quark the jet was matched to
  (zeros for QCD jets, which have none). Read into ``truth`` as ``pt, eta, phi, energy, mass``;
  a zero four-momentum gives ``truth`` all zeros (``eta = 0`` by convention, not NaN).
- ``ttv`` (0/1/2: which of train/test/validation the row belongs to; constant per file) and
  ``is_signal_new`` (the label: 0 = QCD, 1 = top).

pandas' fixed format stores, under the group ``/<key>``: ``axis0`` (column names), ``axis1``
(the row index), and per block of columns of one dtype ``blockK_items`` (the block's column names)
and ``blockK_values`` (rows x columns). This reader finds the block and position of every column
it needs and reads row slices ``[start:stop]`` of those blocks only, so a file streams in chunks
and pandas is not needed to read it. The number of constituent slots is whatever the column names
say (``E_0 .. E_<M-1>``).

What is read is set by the recipe (the built-in one is ``data_recipes/toptagging.yaml``)::

    tree: table                       # the pandas key
    fields:
      part.energy: E_                 # part.* are column *prefixes*, followed by the slot number
      part.px: PX_                    # (px, py, pz, energy required; pid, charge, d0, dz optional)
      part.py: PY_
      part.pz: PZ_
      jet.ttv: ttv                    # jet.* and truth.* are plain column names (optional)
    label: {branch: is_signal_new, names: [qcd, top]}   # or one_hot: {qcd: col_a, top: col_b}
    options:
      truth_p4: {px: truthPX, py: truthPY, pz: truthPZ, energy: truthE}   # null: no truth

``truth_p4`` is read when its columns are in the file and skipped when none of them is. With only
some of them, each truth quantity whose inputs are all there is read (``energy`` from E; ``pt`` and
``phi`` from PX, PY; ``eta`` from PX, PY, PZ; ``mass`` needs all four) and the rest is skipped with a
warning that names the missing columns.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import awkward as ak
import h5py
import numpy as np

from jetgraph.errors import FileFormatError, RecipeError, missing
from jetgraph.io.files import open_hdf5
from jetgraph.io.padded import unpad
from jetgraph.io.recipe import Recipe, class_labels
from jetgraph.schema import PART_OPTIONAL, PART_REQUIRED, build, kinematics

OPTIONS = ("truth_p4",)
P4 = ("px", "py", "pz", "energy")
TRUTH = ("pt", "eta", "phi", "energy", "mass")
DEFAULT_KEY = "table"
_BLOCK = re.compile(r"^block(\d+)_items$")


@dataclass(frozen=True)
class _Frame:
    """Where the columns of one pandas fixed-format DataFrame live in the HDF5 file."""

    source: str
    """``path:key``, for messages."""
    rows: int
    columns: dict[str, tuple[str, int]]
    """column name -> (HDF5 path of its block's values, position of the column in that block)."""

    def candidates(self) -> list[str]:
        """Column names for suggestions, numbered families collapsed to ``PREFIX<n>``."""
        names = {re.sub(r"\d+$", "<n>", c) if re.search(r"\D\d+$", c) else c for c in self.columns}
        return sorted(names)

    def require(self, column: str) -> None:
        if column not in self.columns:
            raise missing("column", column, self.source, self.candidates())


def _decode(names: np.ndarray) -> list[str]:
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names.tolist()]


def _pandas_keys(handle: h5py.File) -> list[str]:
    keys: list[str] = []
    handle.visititems(lambda name, obj: keys.append(name) if "pandas_type" in obj.attrs else None)
    return keys


def _frame(handle: h5py.File, path: str, key: str) -> _Frame:
    """Map every column of the DataFrame stored under ``key`` to its block (reads names only).

    Raises:
        MissingFieldError: ``key`` is not in the file (the message suggests the pandas keys it has).
        FileFormatError: ``key`` is not a DataFrame in pandas' fixed format.
    """
    group = handle.get(key)
    if not isinstance(group, h5py.Group):
        raise missing("pandas key", key, path, _pandas_keys(handle) or [k for k in handle])
    source = f"{path}:{key}"
    kind = group.attrs.get("pandas_type", b"")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind != "frame":
        what = {"frame_table": "a DataFrame in pandas' 'table' format", "series": "a pandas Series"}.get(
            kind, f"pandas_type {kind!r}" if kind else "not written by pandas"
        )
        raise FileFormatError(
            f"{source}: {what}; expected a DataFrame written with to_hdf(..., format='fixed') "
            f"(pandas_type 'frame', datasets axis0, axis1, blockK_items, blockK_values)"
        )
    columns: dict[str, tuple[str, int]] = {}
    blocks = sorted(int(m.group(1)) for m in map(_BLOCK.match, group) if m)
    for k in blocks:
        values = group.get(f"block{k}_values")
        if not isinstance(values, h5py.Dataset):
            raise FileFormatError(f"{source}: 'block{k}_items' without 'block{k}_values'; the DataFrame is damaged")
        for position, name in enumerate(_decode(group[f"block{k}_items"][()])):
            columns[name] = (values.name, position)
    if "axis1" in group:
        rows = int(group["axis1"].shape[0])
    elif blocks:
        rows = int(group[f"block{blocks[0]}_values"].shape[0])
    else:
        rows = 0
    return _Frame(source=source, rows=rows, columns=columns)


def _slots(frame: _Frame, prefix: str, field: str) -> dict[int, str]:
    """``{slot number: column}`` of the columns named ``<prefix><n>``, in slot order."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    found = {int(m.group(1)): c for c in frame.columns if (m := pattern.match(c))}
    if not found:
        raise missing(f"part.{field} columns", f"{prefix}<n>", frame.source, frame.candidates())
    return dict(sorted(found.items()))


def _read_columns(
    handle: h5py.File, frame: _Frame, groups: dict[str, list[str]], start: int, stop: int
) -> dict[str, np.ndarray]:
    """Rows ``[start:stop]`` of each group of columns, as ``(rows, len(group))`` arrays.

    Each block is read once, as the hyperslab of rows ``[start:stop]`` and of the block's columns
    between the first and last one needed.

    Shapes:
        returns ``{group: (stop - start, len(columns))}``.
    """
    wanted: dict[str, list[int]] = {}
    for columns in groups.values():
        for column in columns:
            block, position = frame.columns[column]
            wanted.setdefault(block, []).append(position)
    slabs: dict[str, tuple[int, np.ndarray]] = {}
    for block, positions in wanted.items():
        dataset = handle[block]
        if dataset.ndim != 2 or dataset.dtype.kind not in "biuf":
            names = [c for c, (b, _) in frame.columns.items() if b == block][:3]
            raise FileFormatError(
                f"{frame.source}: columns {names} are stored as {dataset.dtype} (Python objects or strings); "
                f"expected numeric columns"
            )
        lo, hi = min(positions), max(positions) + 1
        slabs[block] = (lo, dataset[start:stop, lo:hi])
    out = {}
    for name, columns in groups.items():
        where = [frame.columns[c] for c in columns]
        dtype = np.result_type(*(slabs[b][1].dtype for b, _ in where))
        array = np.empty((stop - start, len(columns)), dtype=dtype)
        for block in dict.fromkeys(b for b, _ in where):
            lo, slab = slabs[block]
            index = [i for i, (b, _) in enumerate(where) if b == block]
            array[:, index] = slab[:, [where[i][1] - lo for i in index]]
        out[name] = array
    return out


@dataclass(frozen=True)
class _Plan:
    """Which columns make which canonical field, checked against one file."""

    part: dict[str, list[str]]
    """canonical particle field -> its columns, one per slot (the same slots for every field)."""
    jet: dict[str, str]
    truth: dict[str, str]
    truth_p4: dict[str, str]
    label: list[str]


def _plan(recipe: Recipe, frame: _Frame) -> _Plan:
    """Check that the recipe's columns exist in the file and list them (no data is read).

    Raises:
        RecipeError: the recipe lacks the particle prefixes or gives fields this format cannot read.
        MissingFieldError: a column the recipe names is not in the file (with suggestions).
        FileFormatError: the particle fields do not have the same slots.
    """
    spec = recipe.fields_of("part")
    absent = [f for f in PART_REQUIRED if f not in spec]
    unusable = [f for f in spec if f not in (*PART_REQUIRED, *PART_OPTIONAL)]
    if absent or unusable:
        raise RecipeError(
            f"{recipe.source}: format 'toptagging' reads particles from column prefixes part.px/py/pz/energy "
            f"(+ optional {list(PART_OPTIONAL)}), e.g. part.energy: E_; "
            + (
                f"missing {['part.' + f for f in absent]}"
                if absent
                else f"cannot use {['part.' + f for f in unusable]}"
            )
        )
    slots = {field: _slots(frame, prefix, field) for field, prefix in spec.items()}
    reference = slots["energy"]
    for field, found in slots.items():
        if found.keys() != reference.keys():
            odd = sorted(set(found) ^ set(reference))[:5]
            raise FileFormatError(
                f"{frame.source}: the columns {spec[field]}<n> and {spec['energy']}<n> have different slots "
                f"({len(found)} and {len(reference)}; e.g. slot {odd}); expected one column of each per slot"
            )
    jet = recipe.fields_of("jet")
    truth = recipe.fields_of("truth")
    truth_p4 = recipe.option("truth_p4", None, OPTIONS) or {}
    valid = isinstance(truth_p4, dict) and sorted(truth_p4) == sorted(P4)
    valid = valid and all(isinstance(v, str) for v in truth_p4.values())
    if truth_p4 and not valid:
        raise RecipeError(f"{recipe.source}: options.truth_p4 must map {list(P4)} to column names, got {truth_p4!r}")
    if truth and truth_p4:
        raise RecipeError(f"{recipe.source}: give truth.* fields or options.truth_p4, not both")
    absent = [column for column in truth_p4.values() if column not in frame.columns]
    truth_p4 = {f: c for f, c in truth_p4.items() if c in frame.columns}  # none: this file has no truth
    if truth_p4 and absent:
        readable = sorted(_truth_from(dict.fromkeys(truth_p4, np.zeros(1))))
        warnings.warn(
            f"{frame.source}: no column {', '.join(map(repr, absent))} of options.truth_p4; reading truth "
            f"{', '.join(readable) or 'nothing'} from the others, skipping {sorted(set(TRUTH) - set(readable))}",
            stacklevel=4,
        )
        truth_p4 = truth_p4 if readable else {}
    label = []
    if recipe.label is not None:
        label = [recipe.label.branch] if recipe.label.branch else list(recipe.label.one_hot)
    for column in [*jet.values(), *truth.values(), *truth_p4.values(), *label]:
        frame.require(column)
    return _Plan(
        part={field: list(found.values()) for field, found in slots.items()},
        jet=jet,
        truth=truth,
        truth_p4=truth_p4,
        label=label,
    )


def _truth_from(p4: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The truth quantities the given components of a four-momentum determine (all five from all four)."""
    if set(p4) == set(P4):
        return kinematics(p4["px"], p4["py"], p4["pz"], p4["energy"])
    truth = {}
    if "energy" in p4:
        truth["energy"] = np.asarray(p4["energy"], dtype=np.float64)
    if {"px", "py"} <= set(p4):
        complete = kinematics(p4["px"], p4["py"], p4.get("pz", np.zeros_like(p4["px"])), np.zeros_like(p4["px"]))
        truth["pt"], truth["phi"] = complete["pt"], complete["phi"]
        if "pz" in p4:
            truth["eta"] = complete["eta"]
    return truth


def _chunk(plan: _Plan, recipe: Recipe, data: dict[str, np.ndarray], source: str, first: int) -> ak.Array:
    mask = data["part.energy"] > 0
    order = [f for f in (*PART_REQUIRED, *PART_OPTIONAL) if f in plan.part]
    part = {f: unpad(recipe.scaled(f, data[f"part.{f}"]), mask) for f in order}
    jet = {f: recipe.scaled(f, data[f"jet.{f}"][:, 0]) for f in plan.jet}
    truth = {f: recipe.scaled(f, data[f"truth.{f}"][:, 0]) for f in plan.truth}
    if plan.truth_p4:
        p4 = dict(zip(plan.truth_p4, data["truth_p4"].T, strict=True))
        truth = {f: recipe.scaled(f, v) for f, v in _truth_from(p4).items()}
    return build(
        part=part,
        jet=jet or None,
        truth=truth or None,
        label=class_labels(data["label"], not recipe.label.branch, source, first, plan.label) if plan.label else None,
        label_names=recipe.label_names,
        source=source,
    )


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(first row, canonical jets)`` for ``step_size`` rows at a time.

    Only rows ``[start:start + step_size]`` of the blocks holding the recipe's columns are read
    per chunk.
    """
    with open_hdf5(path) as handle:
        frame = _frame(handle, path, recipe.tree or DEFAULT_KEY)
        plan = _plan(recipe, frame)
        groups = {f"part.{f}": c for f, c in plan.part.items()}
        groups.update({f"jet.{f}": [c] for f, c in plan.jet.items()})
        groups.update({f"truth.{f}": [c] for f, c in plan.truth.items()})
        if plan.truth_p4:
            groups["truth_p4"] = list(plan.truth_p4.values())
        if plan.label:
            groups["label"] = plan.label
        for start in range(0, frame.rows, step_size):
            stop = min(start + step_size, frame.rows)
            data = _read_columns(handle, frame, groups, start, stop)
            yield start, _chunk(plan, recipe, data, frame.source, start)


def count(path: str, recipe: Recipe) -> int:
    """Rows of the DataFrame (one jet each), from the length of its index."""
    with open_hdf5(path) as handle:
        return _frame(handle, path, recipe.tree or DEFAULT_KEY).rows
