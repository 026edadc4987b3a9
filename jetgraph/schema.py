"""The canonical jet: one awkward record per jet, GeV and radians, float32.

Fields of a jet record:

- ``part``: list of particles with ``px, py, pz, energy`` and, where known, ``pid, charge, d0, dz``;
  the records are ``vector`` Momentum4D, so ``jets.part.pt``, ``.eta``, ``.mass`` and
  ``jets.part.deltaR(jet_axis(jets))`` work as awkward users expect.
- ``jet``: ``pt, eta, phi, energy, mass, nparticles``; whatever the file does not give is computed
  from the constituents. Extra jet observables from the file (``sdmass``, ``tau1``...) are kept;
  ``event`` (int32) numbers the hard event of re-simulated showers (``jetgraph generate --showers``)
  or the entry of a per-event file.
- ``truth``: particle-level jet quantities (``pt, eta, phi, energy, mass``) for regression targets.
- ``label``: integer class; the class names travel in ``array.attrs["label_names"]``.
- ``cells`` (``eta, phi, energy, layer``) and ``tracks`` (``pt, eta, phi, charge``) for
  detector-level jets; with a leading replica axis (``jets * replica * cell``) when several
  detector replicas of the same truth jet exist.

Readers build with :func:`build` and finish with :func:`validate`, which reports bad jets (with the
file and the first offending entry) and drops them or raises. Nothing is silently changed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import awkward as ak
import numpy as np
import vector

from jetgraph.errors import SchemaError

vector.register_awkward()

PART_REQUIRED = ("px", "py", "pz", "energy")
PART_OPTIONAL = ("pid", "charge", "d0", "dz")
JET_FIELDS = ("pt", "eta", "phi", "energy", "mass", "nparticles")
TRUTH_FIELDS = ("pt", "eta", "phi", "energy", "mass")
CELL_FIELDS = ("eta", "phi", "energy", "layer")
TRACK_FIELDS = ("pt", "eta", "phi", "charge")
RECORDS = ("part", "jet", "truth", "cells", "tracks")

EM_PIDS = (11, 22)
"""``|pid|`` that shower electromagnetically (electrons, photons): all their energy goes to the ECAL."""
INVISIBLE_PIDS = (12, 13, 14, 16)
"""``|pid|`` that leave nothing in the calorimeters (neutrinos, muons)."""
CHARGED_HADRON_PIDS = (211, 321, 2212, 3112, 3222, 3312, 3334)
"""``|pid|`` of long-lived charged hadrons (pi, K, p, Sigma, Xi, Omega), for files with a pid but no charge."""

INTEGER_FIELDS = {"pid": np.int32, "layer": np.int32, "nparticles": np.int32, "label": np.int32, "event": np.int32}
"""Fields stored as integers; every other number is float32."""

OnBad = Literal["drop", "raise"]


def wrap_phi(phi: Any) -> Any:
    """Angles wrapped into ``(-pi, pi]``: numpy arrays, torch tensors or numbers (``%`` is a floor modulo in all).

    Shapes:
        phi: any shape; returns the same shape and dtype.
    """
    return math.pi - (math.pi - phi) % (2 * math.pi)


class BadJetsWarning(UserWarning):
    """Jets were dropped because they broke the schema (``on_bad="drop"``); ``dropped`` counts them."""

    def __init__(self, message: str, dropped: int = 0) -> None:
        super().__init__(message)
        self.dropped = dropped


def _cast(name: str, values: Any) -> ak.Array:
    """Schema dtype, and variable-length lists throughout (a regular replica axis becomes ``var``)."""
    dtype = INTEGER_FIELDS.get(name, np.float32)
    array = values if isinstance(values, ak.Array) else ak.Array(values)
    return ak.from_regular(ak.values_astype(array, dtype), axis=None)


_RECORD_NAMES = {"part": "Momentum4D"}
"""Records with ``vector`` behaviour: ``jets.part.pt``, ``.eta``, ``.deltaR(...)``."""


def with_behaviour(jets: ak.Array) -> ak.Array:
    """``jets`` whose records carry the names of :data:`_RECORD_NAMES` (a file written without them, or read
    as plain buffers, gets them back)."""
    for record, name in _RECORD_NAMES.items():
        if record in ak.fields(jets) and jets[record].layout.purelist_parameter("__record__") != name:
            jets = ak.with_field(jets, ak.with_name(jets[record], name), record)
    return jets


def _zip(name: str, fields: Mapping[str, Any], source: str) -> ak.Array:
    try:
        return ak.zip({k: _cast(k, v) for k, v in fields.items()}, depth_limit=None, with_name=_RECORD_NAMES.get(name))
    except ValueError as err:
        counts = {k: ak.num(v, axis=1).tolist()[:3] for k, v in fields.items() if ak.Array(v).ndim > 1}
        raise SchemaError(
            f"{source}: the '{name}' fields {sorted(fields)} have jagged lengths that disagree "
            f"(first jets: {counts}); expected one entry per {name[:-1] if name.endswith('s') else name}"
        ) from err


def four_momentum(
    pt: Any, eta: Any, phi: Any, *, mass: Any = None, energy: Any = None, rapidity: bool = False
) -> dict[str, ak.Array]:
    """``px, py, pz, energy`` from ``pt``, ``eta`` (or rapidity ``y``) and ``phi``; massless if no mass/energy.

    Pseudorapidity goes through ``vector``; rapidity (which ``vector`` does not take as a coordinate)
    uses ``E = mT cosh y``, ``pz = mT sinh y`` with ``mT = sqrt(pt^2 + m^2)``.
    """
    if rapidity:
        if energy is not None:
            raise SchemaError("four_momentum: give a mass with rapidity, not an energy")
        mt = np.sqrt(pt**2 + mass**2) if mass is not None else pt
        return {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": mt * np.sinh(eta), "energy": mt * np.cosh(eta)}
    coords: dict[str, Any] = {"pt": pt, "phi": phi, "eta": eta}
    if energy is not None:
        coords["energy"] = energy
    else:
        coords["mass"] = mass if mass is not None else ak.zeros_like(pt)
    p4 = vector.zip(coords)
    return {"px": p4.px, "py": p4.py, "pz": p4.pz, "energy": p4.energy}


def kinematics(px: Any, py: Any, pz: Any, energy: Any) -> dict[str, np.ndarray]:
    """``pt, eta, phi, energy, mass`` of flat four-momenta, in float64.

    A four-momentum with no transverse momentum gets ``eta = 0`` (not NaN/Inf), and a mass-squared
    below zero from rounding gets ``mass = 0``, so a zero vector (e.g. an unmatched truth jet) stays valid.
    """
    px, py, pz, energy = (np.asarray(x, dtype=np.float64) for x in (px, py, pz, energy))
    pt = np.hypot(px, py)
    eta = np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0))
    mass = np.sqrt(np.clip(energy**2 - px**2 - py**2 - pz**2, 0.0, None))
    return {"pt": pt, "eta": eta, "phi": np.arctan2(py, px), "energy": energy, "mass": mass}


def _sum_p4(px: ak.Array, py: ak.Array, pz: ak.Array, energy: ak.Array) -> dict[str, np.ndarray]:
    """Jet kinematics from constituent four-momenta summed in float64."""
    return kinematics(*(ak.to_numpy(ak.sum(ak.values_astype(x, np.float64), axis=-1)) for x in (px, py, pz, energy)))


def _constituent_p4(part: ak.Array | None, cells: ak.Array | None) -> dict[str, ak.Array] | None:
    if part is not None:
        return {k: part[k] for k in PART_REQUIRED}
    if cells is not None:  # massless deposits at the cell centres
        flat = cells if cells.ndim == 2 else ak.flatten(cells[:, :1], axis=2)  # first replica
        return four_momentum(flat.energy / np.cosh(flat.eta), flat.eta, flat.phi, energy=flat.energy)
    return None


def build(
    *,
    part: Mapping[str, Any] | None = None,
    jet: Mapping[str, Any] | None = None,
    truth: Mapping[str, Any] | None = None,
    label: Any = None,
    cells: Mapping[str, Any] | None = None,
    tracks: Mapping[str, Any] | None = None,
    label_names: list[str] | None = None,
    source: str = "<memory>",
) -> ak.Array:
    """Assemble canonical jets from per-field arrays (flat per jet or jagged per particle).

    Jet-level fields the caller does not give are computed from ``part`` (or, for detector-level
    jets, from the first replica's ``cells``). Raises :class:`SchemaError` when the jagged lengths of
    one record's fields disagree.
    """
    out: dict[str, ak.Array] = {}
    if part is not None:
        missing = [f for f in PART_REQUIRED if f not in part]
        if missing:
            raise SchemaError(f"{source}: particles need {list(PART_REQUIRED)}; missing {missing}")
        out["part"] = _zip("part", part, source)
    for name, fields in (("cells", cells), ("tracks", tracks)):
        if fields is not None:
            out[name] = _zip(name, fields, source)
    if truth:
        out["truth"] = _zip("truth", truth, source)

    jet_fields = dict(jet or {})
    missing_jet = [f for f in JET_FIELDS if f not in jet_fields]
    if missing_jet:
        p4 = _constituent_p4(out.get("part"), out.get("cells"))
        if p4 is None:
            raise SchemaError(f"{source}: jets need particles or cells to compute {missing_jet}")
        computed = _sum_p4(*(p4[k] for k in PART_REQUIRED))
        counts = ak.num(out["part"], axis=1) if "part" in out else ak.num(p4["energy"], axis=1)
        computed["nparticles"] = counts
        for f in missing_jet:
            jet_fields[f] = computed[f]
    order = list(JET_FIELDS) + [f for f in jet_fields if f not in JET_FIELDS]
    out["jet"] = ak.zip({f: _cast(f, jet_fields[f]) for f in order})
    if label is not None:
        out["label"] = _cast("label", label)
    out = {k: out[k] for k in (*RECORDS, "label") if k in out}
    attrs = {"label_names": list(label_names)} if label_names else None
    return ak.Array(ak.zip(out, depth_limit=1), attrs=attrs)


def conform(jets: ak.Array, source: str = "<memory>") -> ak.Array:
    """``jets`` with every leaf cast to its schema dtype (int32 for ids, layers, counts, labels; else float32).

    Raises :class:`SchemaError` for a top-level field that is not part of the schema.
    """
    out = {}
    for name in ak.fields(jets):
        if name not in (*RECORDS, "label"):
            raise SchemaError(f"{source}: '{name}' is not a field of the canonical jet; expected {[*RECORDS, 'label']}")
        value = jets[name]
        if ak.fields(value):
            out[name] = ak.zip(
                {f: _cast(f, value[f]) for f in ak.fields(value)},
                depth_limit=None if value.ndim > 1 else 1,
                with_name=_RECORD_NAMES.get(name),
            )
        else:
            out[name] = _cast(name, value)
    out = {k: out[k] for k in (*RECORDS, "label") if k in out}
    return ak.Array(ak.zip(out, depth_limit=1), attrs=jets.attrs)


def _float_leaves(jets: ak.Array, prefix: str = "") -> list[tuple[str, ak.Array, np.ndarray]]:
    """Every floating-point leaf as (dotted name, array, its flat buffer)."""
    leaves = []
    for name in ak.fields(jets):
        value = jets[name]
        dotted = f"{prefix}{name}"
        if ak.fields(value):
            leaves.extend(_float_leaves(value, dotted + "."))
        else:
            flat = ak.to_numpy(ak.ravel(value))
            if np.issubdtype(flat.dtype, np.floating):
                leaves.append((dotted, value, flat))
    return leaves


def _any_per_jet(mask: ak.Array) -> np.ndarray:
    """Reduce a per-jet, per-particle (or per-replica, per-cell) boolean to one flag per jet."""
    while mask.ndim > 1:
        mask = ak.any(mask, axis=-1)
    return ak.to_numpy(mask)


def _constituents_per_jet(jets: ak.Array) -> np.ndarray:
    """Particles plus cells (over all replicas) of each jet."""
    total = np.zeros(len(jets), dtype=np.int64)
    for record in ("part", "cells"):
        if record in ak.fields(jets):
            counts = ak.num(jets[record], axis=-1)
            while counts.ndim > 1:
                counts = ak.sum(counts, axis=-1)
            total += ak.to_numpy(counts)
    return total


def problems(jets: ak.Array) -> list[tuple[str, np.ndarray]]:
    """Per-jet masks of schema violations, as ``(description, bad_mask)`` pairs, only those that occur.

    Each check looks at the flat buffer first and builds a per-jet mask only when something is wrong.
    """
    found: list[tuple[str, np.ndarray]] = []
    for name, value, flat in _float_leaves(jets):
        if not np.isfinite(flat).all():
            found.append((f"NaN/Inf in '{name}' (expected finite numbers)", _any_per_jet(~np.isfinite(value))))
    for record in ("part", "cells"):
        if record in ak.fields(jets) and (ak.to_numpy(ak.ravel(jets[record].energy)) < 0).any():
            found.append((f"negative '{record}.energy' (expected >= 0 GeV)", _any_per_jet(jets[record].energy < 0)))
    empty = _constituents_per_jet(jets) == 0
    if empty.any():
        found.append(("no particles (expected at least one constituent)", empty))
    return found


def validate(jets: ak.Array, *, source: str = "<memory>", on_bad: OnBad = "drop", offset: int = 0) -> ak.Array:
    """Check ``jets`` against the schema; drop bad jets with one warning, or raise.

    Args:
        jets: canonical jets, as made by :func:`build`.
        source: the file (and tree) the jets came from, for the messages.
        on_bad: ``"drop"`` removes every jet with NaN/Inf, a negative energy or no constituents and
            warns with the count and the first offender; ``"raise"`` raises :class:`SchemaError`.
        offset: index of ``jets[0]`` in its file, so messages give file entry numbers.

    Returns:
        The jets that passed, in their original order.
    """
    if on_bad not in ("drop", "raise"):
        raise SchemaError(f"on_bad={on_bad!r}: expected 'drop' or 'raise'")
    _check_declared_counts(jets, source, offset)
    found = problems(jets)
    if not found:
        return jets
    if on_bad == "raise":
        what, bad = found[0]
        raise SchemaError(f"{source}: entry {offset + int(np.argmax(bad))}: {what}; {int(bad.sum())} jet(s) affected")
    keep = np.ones(len(jets), dtype=bool)
    for _, bad in found:
        keep &= ~bad
    details = "; ".join(
        f"{int(bad.sum())} with {what}, first at entry {offset + int(np.argmax(bad))}" for what, bad in found
    )
    dropped = int((~keep).sum())
    warnings.warn(BadJetsWarning(f"{source}: dropped {dropped} of {len(jets)} jets: {details}", dropped), stacklevel=2)
    return jets[keep]


def _check_declared_counts(jets: ak.Array, source: str, offset: int) -> None:
    """A multiplicity stored in the file must match the particles actually there."""
    if "part" not in ak.fields(jets):
        return
    declared = ak.to_numpy(jets.jet.nparticles)
    actual = ak.to_numpy(ak.num(jets.part, axis=1))
    bad = declared != actual
    if bad.any():
        i = int(np.argmax(bad))
        raise SchemaError(
            f"{source}: entry {offset + i}: 'jet.nparticles' is {declared[i]} but the jet has {actual[i]} "
            f"particles (expected the jagged lengths to agree); {int(bad.sum())} jet(s) affected"
        )


def jet_axis(jets: ak.Array) -> ak.Array:
    """Each jet as a ``vector`` Momentum4D (``pt, eta, phi, mass``), for ``jets.part.deltaR(jet_axis(jets))``.

    ``jets.jet`` itself holds both ``energy`` and ``mass``, which ``vector`` refuses in one record.
    """
    return vector.zip({"pt": jets.jet.pt, "eta": jets.jet.eta, "phi": jets.jet.phi, "mass": jets.jet.mass})


def particle_kinematics(jets: ak.Array) -> ak.Array:
    """``pt, eta, phi, mass`` and ``deta, dphi`` (relative to the jet axis) of every particle.

    Shapes:
        jets: N jets; returns N * var * {pt, eta, phi, mass, deta, dphi}.
    """
    p4 = vector.zip({"px": jets.part.px, "py": jets.part.py, "pz": jets.part.pz, "E": jets.part.energy})
    axis = vector.zip({"pt": jets.jet.pt, "eta": jets.jet.eta, "phi": jets.jet.phi, "mass": jets.jet.mass})
    return ak.zip(
        {
            "pt": p4.pt,
            "eta": p4.eta,
            "phi": p4.phi,
            "mass": p4.tau,
            "deta": p4.eta - axis.eta,
            "dphi": p4.deltaphi(axis),
        }
    )
