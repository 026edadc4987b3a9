"""Delphes ROOT output: jets from ``Jet``, constituents from the energy-flow objects, ``GenJet`` as truth.

Delphes (de Favereau et al., "DELPHES 3, a modular framework for fast simulation of a generic
collider experiment", JHEP 02 (2014) 057, arXiv:1307.6346), the fast detector simulation behind
the JetClass and top-tagging reference datasets, writes one TTree ``Delphes`` with an entry per
event. Each collection is a split TClonesArray: one branch per class member, named
``<collection>.<member>`` (``Jet.PT``, ``EFlowTrack.Charge``...; uproot reads each as one list per
event), and a counter branch ``<collection>_size``. In files written by Delphes the member branches
are sub-branches of the collection (uproot's full path ``Jet/Jet.PT``); this reader uses the short
names, so it reads Delphes's own files and flat files with the same names (uproot ``mktree``) alike.

What becomes of an event (collection names from the recipe's options, see below):

- **Jets**: one canonical jet per entry of ``Jet`` (events are flattened into jets, in file order),
  ``jet.pt, eta, phi, mass`` from ``Jet.PT, Eta, Phi, Mass`` and ``jet.energy`` from that
  four-vector, ``jet.nparticles`` from the associated particles. With ``jet_kinematics:
  constituents`` every jet kinematic quantity is the sum of the associated particles instead.
  Extra jet observables come from the recipe's ``fields`` (``jet.flavor: Jet.Flavor``). Options
  ``min_pt`` (GeV) and ``max_jets_per_event`` keep only the jets above a pT and the leading ones.
- **Particles**: the objects of ``EFlowTrack`` (``PT, Eta, Phi, Charge, PID``, and ``D0, DZ`` in mm
  when the file has them), ``EFlowPhoton`` and ``EFlowNeutralHadron`` (``ET, Eta, Phi``; ``ET`` is
  their pT), as massless four-vectors (tracks too: Delphes tracks carry the generator particle's
  mass, but a detector does not measure it, and massless keeps the three kinds alike). Photons get
  ``pid = 22``, neutral hadrons ``pid = 130``, both ``charge = 0`` and ``d0 = dz = 0``. A jet's
  particles are listed by decreasing pT.
- **Association**: each energy-flow object goes to the *nearest* jet of its event in
  ``dR = sqrt(deta^2 + dphi^2)`` (pseudorapidity, phi wrapped), and only if ``dR < radius``
  (default 0.4; set it to the ``ParameterR`` of the card's jet finder), so no particle is counted
  twice. The nearest jet is sought among all jets of the event, before ``min_pt`` and
  ``max_jets_per_event``, so a cut never hands a particle to a farther jet. On an exact tie the
  first jet in the file wins. A jet left without particles is dropped by validation (with the
  usual warning).
- **Truth**: the ``GenJet`` nearest to the jet with ``dR < radius`` gives ``truth.pt, eta, phi,
  mass`` and the energy of that four-vector; several jets may match the same GenJet. A jet with no
  GenJet that close has ``truth`` all zeros: **``truth.pt == 0`` marks an unmatched jet** (NaN
  would make validation drop it). A file without ``GenJet`` branches gives jets without ``truth``.
- **Label**: none by default (Delphes has no jet label). ``label.branch`` (or ``label.one_hot``)
  may name an event-level branch (a number per event, or a collection with one object per event
  such as ``Event.Number``), broadcast to the event's jets, or a branch of the jet collection
  (``Jet.Flavor``-like, one value per jet). Extra jet ``fields`` follow the same rule.

Why ``Jet.Constituents`` is not used: it is a TRefArray of references into the EFlow
TClonesArrays, which only ROOT's process-ID table resolves; uproot can neither resolve those
references nor write them, so that path could not be tested with a real writer. dR association
is what remains. It approximates the clustered constituents: it can differ where two jets
overlap, and it adds the particles within ``radius`` that the jet finder put in a jet Delphes
did not store (below the card's ``JetPTMin``).

Chunks and entry numbers: a chunk is a range of whole events (TTree entries) holding at most
``step_size`` jets (an event with more jets than that is a chunk on its own); the counters are read
once per file to plan them. The index yielded with a chunk, and hence the "entry" in validation
messages, is the running number of the jet in the file, counting the jets the recipe keeps, from 0.
:func:`count` gives the same total, from the counter branch alone (``Jet.PT`` too when ``min_pt``
is set).

The built-in recipe (``data_recipes/delphes.yaml``)::

    format: delphes
    tree: Delphes
    fields: {jet.flavor: Jet.Flavor, jet.btag: Jet.BTag}   # extra jet observables (optional)
    options:
      jets: Jet                        # collection names; null leaves a particle collection out
      tracks: EFlowTrack
      photons: EFlowPhoton
      neutral_hadrons: EFlowNeutralHadron
      genjets: GenJet                  # null: no truth
      radius: 0.4                      # dR of the particle and GenJet association
      min_pt: 0.0                      # GeV
      max_jets_per_event: null         # null: all; 2: the two leading jets in pT
      jet_kinematics: delphes          # or constituents
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from jetgraph.errors import FileFormatError, RecipeError, missing
from jetgraph.io.files import open_root, root_tree
from jetgraph.io.recipe import Recipe, class_labels
from jetgraph.schema import JET_FIELDS, TRUTH_FIELDS, build, four_momentum, wrap_phi

OPTIONS = (
    "jets",
    "tracks",
    "photons",
    "neutral_hadrons",
    "genjets",
    "radius",
    "min_pt",
    "max_jets_per_event",
    "jet_kinematics",
)
DEFAULT_TREE = "Delphes"
DEFAULTS = {
    "jets": "Jet",
    "tracks": "EFlowTrack",
    "photons": "EFlowPhoton",
    "neutral_hadrons": "EFlowNeutralHadron",
    "genjets": "GenJet",
    "radius": 0.4,
    "min_pt": 0.0,
    "max_jets_per_event": None,
    "jet_kinematics": "delphes",
}
JET_KINEMATICS = ("delphes", "constituents")
PHOTON_PID = 22
NEUTRAL_HADRON_PID = 130
PAIR_BUDGET = 1 << 20
"""Particle-jet distances computed at once: bounds the memory (about 20 bytes each) and fits the cache."""
_JET_LEAVES = {"pt": "PT", "eta": "Eta", "phi": "Phi", "mass": "Mass"}
_TRACK_LEAVES = {"pt": "PT", "eta": "Eta", "phi": "Phi", "charge": "Charge", "pid": "PID"}
_TRACK_OPTIONAL = {"d0": "D0", "dz": "DZ"}
"""Impact parameters (mm), read when the file has them."""
_TOWER_LEAVES = {"pt": "ET", "eta": "Eta", "phi": "Phi"}
"""EFlowPhoton and EFlowNeutralHadron are Delphes Towers: their transverse energy is their pT."""


@dataclass(frozen=True)
class _Options:
    jets: str
    particles: tuple[tuple[str, str], ...]
    """(option name, collection) of the particle collections read: tracks, photons, neutral_hadrons."""
    genjets: str | None
    radius: float
    min_pt: float
    max_jets: int | None
    jet_kinematics: str


@dataclass(frozen=True)
class _Plan:
    """Which branches make what, checked against one file."""

    source: str
    jets: str
    particles: tuple[tuple[str, dict[str, str]], ...]
    """(option name, {canonical field: branch}) per particle collection."""
    genjets: str | None
    extras: dict[str, str]
    """extra jet field -> branch."""
    label: tuple[str, ...]

    def branches(self) -> list[str]:
        names = [f"{self.jets}.{leaf}" for leaf in _JET_LEAVES.values()]
        for _, fields in self.particles:
            names += fields.values()
        if self.genjets:
            names += [f"{self.genjets}.{leaf}" for leaf in _JET_LEAVES.values()]
        names += [*self.extras.values(), *self.label]
        return list(dict.fromkeys(names))


def _options(recipe: Recipe) -> _Options:
    """The recipe's options, checked (unknown keys and bad values raise :class:`RecipeError`)."""
    get = {key: recipe.option(key, DEFAULTS[key], OPTIONS) for key in OPTIONS}

    def fail(key: str, expected: str) -> RecipeError:
        return RecipeError(f"{recipe.source}: options.{key}: {get[key]!r} is not {expected}")

    for key in ("jets", "tracks", "photons", "neutral_hadrons", "genjets"):
        if not (isinstance(get[key], str) and get[key]) and not (key != "jets" and get[key] is None):
            raise fail(key, "a collection name" + ("" if key == "jets" else " or null"))
    particles = tuple((k, get[k]) for k in ("tracks", "photons", "neutral_hadrons") if get[k] is not None)
    if not particles:
        raise RecipeError(
            f"{recipe.source}: options tracks, photons and neutral_hadrons are all null; jets need particles"
        )
    for key, low in (("radius", False), ("min_pt", True)):
        value = get[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < 0 or (value == 0 and not low):
            raise fail(key, "a positive number" if not low else "a number >= 0 (GeV)")
    max_jets = get["max_jets_per_event"]
    if max_jets is not None and (not isinstance(max_jets, int) or isinstance(max_jets, bool) or max_jets < 1):
        raise fail("max_jets_per_event", "a positive integer or null (all jets)")
    if get["jet_kinematics"] not in JET_KINEMATICS:
        raise fail("jet_kinematics", f"one of {list(JET_KINEMATICS)}")
    return _Options(
        jets=get["jets"],
        particles=particles,
        genjets=get["genjets"],
        radius=float(get["radius"]),
        min_pt=float(get["min_pt"]),
        max_jets=max_jets,
        jet_kinematics=get["jet_kinematics"],
    )


def _extra_fields(recipe: Recipe) -> dict[str, str]:
    """The recipe's ``jet.*`` fields (extra observables); any other record raises :class:`RecipeError`."""
    others = [k for k in recipe.fields if not k.startswith("jet.")]
    if others:
        raise RecipeError(
            f"{recipe.source}: format 'delphes' takes only jet.* fields (extra jet observables); "
            f"cannot use {others}: particles come from options tracks/photons/neutral_hadrons, truth from genjets"
        )
    extras = recipe.fields_of("jet")
    kinematic = [f"jet.{f}" for f in extras if f in JET_FIELDS]
    if kinematic:
        raise RecipeError(
            f"{recipe.source}: fields {kinematic} are set by format 'delphes' (from the jet collection's "
            f"PT, Eta, Phi, Mass and the particles); give extra observables only, e.g. jet.flavor: Jet.Flavor"
        )
    return extras


def _short_names(tree: Any) -> list[str]:
    """Branch names as uproot's ``arrays`` names them (``Jet.PT``, not the full path ``Jet/Jet.PT``)."""
    return list(tree.keys(full_paths=False))


def _plan(recipe: Recipe, options: _Options, tree: Any, source: str) -> _Plan:
    """Check that every branch the recipe needs is in the tree (reads no data).

    Raises:
        MissingFieldError: a branch is missing; the message suggests the closest names.
    """
    available = _short_names(tree)
    present = set(available)

    def require(name: str) -> str:
        if name not in present:
            raise missing("branch", name, source, available)
        return name

    for leaf in _JET_LEAVES.values():
        require(f"{options.jets}.{leaf}")
    particles = []
    for key, collection in options.particles:
        if key == "tracks":
            fields = {f: require(f"{collection}.{leaf}") for f, leaf in _TRACK_LEAVES.items()}
            fields.update({f: f"{collection}.{leaf}" for f, leaf in _TRACK_OPTIONAL.items()})
            fields = {f: b for f, b in fields.items() if b in present}
        else:
            fields = {f: require(f"{collection}.{leaf}") for f, leaf in _TOWER_LEAVES.items()}
        particles.append((key, fields))
    genjets = options.genjets
    if genjets is not None:
        leaves = [f"{genjets}.{leaf}" for leaf in _JET_LEAVES.values()]
        if any(name in present for name in leaves):
            for name in leaves:
                require(name)
        else:  # this file has no generator-level jets
            genjets = None
    extras = {f: require(b) for f, b in _extra_fields(recipe).items()}
    label: tuple[str, ...] = ()
    if recipe.label is not None:
        label = (recipe.label.branch,) if recipe.label.branch else tuple(recipe.label.one_hot)
        for name in label:
            require(name)
    return _Plan(
        source=source, jets=options.jets, particles=tuple(particles), genjets=genjets, extras=extras, label=label
    )


def _flat(data: ak.Array, branch: str, dtype: type = np.float64) -> np.ndarray:
    """The values of a per-event list branch, flattened over events."""
    return ak.to_numpy(ak.flatten(data[branch], axis=1)).astype(dtype, copy=False)


def _wrap(phi: np.ndarray) -> np.ndarray:
    """Angles into [-pi, pi]; those already there (all of Delphes's) are left exactly as they are."""
    outside = np.abs(phi) > np.pi
    if not outside.any():
        return phi
    return np.where(outside, wrap_phi(phi), phi).astype(phi.dtype, copy=False)


def nearest(
    src_eta: np.ndarray,
    src_phi: np.ndarray,
    src_event: np.ndarray,
    dst_eta: np.ndarray,
    dst_phi: np.ndarray,
    dst_counts: np.ndarray,
    budget: int = PAIR_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """For each source object, the nearest destination object of the same event in (eta, phi).

    Vectorised: the destinations are laid out as a padded table (events x most destinations in an
    event, padding at infinite eta), each source is compared with its event's row, about ``budget``
    distances at a time, and ``np.argmin`` picks the nearest (on a tie the first destination).

    Args:
        src_eta, src_phi: the source objects of all events.
        src_event: the event (0-based, within these arrays) of each source object, in any order.
        dst_eta, dst_phi: the destination objects of all events, event after event.
        dst_counts: destinations per event.
        budget: the most distances computed at once (memory: about 20 bytes each).

    Returns:
        ``(index, dr2)``: the flat index into ``dst_*`` of the nearest destination (``-1`` when the
        event has none) and the squared distance to it (``inf`` then).

    Shapes:
        src_*: (S,); dst_eta, dst_phi: (D,); dst_counts: (events,). Returns (S,), (S,).
    """
    n = len(src_eta)
    index = np.full(n, -1, dtype=np.int64)
    dr2 = np.full(n, np.inf, dtype=np.float64)
    if n == 0 or len(dst_eta) == 0:
        return index, dr2
    dtype = np.result_type(src_eta, dst_eta, src_phi, dst_phi, np.float32)  # float32 for Delphes's branches
    dst_counts = np.asarray(dst_counts, dtype=np.int64)
    width = int(dst_counts.max())
    dst_offsets = np.cumsum(dst_counts) - dst_counts
    rows = np.repeat(np.arange(len(dst_counts)), dst_counts)
    columns = np.arange(len(dst_eta)) - dst_offsets[rows]
    table_eta = np.full((len(dst_counts), width), np.inf, dtype=dtype)
    table_phi = np.zeros((len(dst_counts), width), dtype=dtype)
    table_eta[rows, columns] = dst_eta
    table_phi[rows, columns] = _wrap(np.asarray(dst_phi, dtype))
    src_eta, src_phi = np.asarray(src_eta, dtype), _wrap(np.asarray(src_phi, dtype))
    two_pi = dtype.type(2 * np.pi)
    # sources sorted by how many destinations their event has, so each block is compared with rows of
    # about its own width, not the widest event's (a 16-bit stable argsort is a linear radix sort)
    widths = dst_counts[src_event]
    order = np.argsort(np.minimum(widths, np.iinfo(np.int16).max).astype(np.int16), kind="stable")
    sorted_widths = widths[order]
    start = int(np.searchsorted(sorted_widths, 1))  # sources in events without destinations stay -1
    while start < n:  # a loop over blocks of sources, not over events or particles
        stop = min(n, start + max(1, budget // int(sorted_widths[start])))
        stop = min(stop, start + max(1, budget // int(sorted_widths[stop - 1])))
        local = int(sorted_widths[stop - 1])
        block = order[start:stop]
        events = src_event[block]
        d2 = src_eta[block, None] - np.take(table_eta[:, :local], events, axis=0)
        d2 *= d2
        dphi = np.abs(src_phi[block, None] - np.take(table_phi[:, :local], events, axis=0))
        np.minimum(dphi, two_pi - dphi, out=dphi)  # both in [-pi, pi]: the wrapped |dphi|
        dphi *= dphi
        d2 += dphi
        column = np.argmin(d2, axis=1)
        index[block] = dst_offsets[events] + column
        dr2[block] = d2[np.arange(stop - start), column]
        start = stop
    return index, dr2


def _kept(pt: np.ndarray, jet_event: np.ndarray, counts: np.ndarray, options: _Options) -> np.ndarray:
    """Which jets pass ``min_pt`` (GeV) and are among the ``max_jets_per_event`` leading ones in pT.

    Shapes:
        pt, jet_event: (jets,) flat over events; counts: (events,). Returns (jets,) bool.
    """
    keep = pt >= options.min_pt
    if options.max_jets is not None:
        # sorted by event, the passing jets first, by decreasing pT (stable: ties keep file order),
        # so a passing jet's position within its event is its rank among the passing jets
        order = np.lexsort((-pt, ~keep, jet_event))
        event_start = (np.cumsum(counts) - counts)[jet_event[order]]
        rank = np.empty(len(pt), dtype=np.int64)
        rank[order] = np.arange(len(pt)) - event_start
        keep &= rank < options.max_jets
    return keep


def _per_jet(
    plan: _Plan,
    data: ak.Array,
    branch: str,
    jet_counts: np.ndarray,
    keep: np.ndarray,
    kept_per_event: np.ndarray,
    entry: int,
) -> np.ndarray:
    """One value per kept jet from a branch of the jet collection, or an event-level branch broadcast.

    Raises:
        FileFormatError: the branch does not hold one number per jet (jet collection) or per event.
    """
    values = data[branch]
    if branch.startswith(plan.jets + "."):
        if values.ndim != 2 or not np.array_equal(ak.to_numpy(ak.num(values, axis=1)), jet_counts):
            raise FileFormatError(
                f"{plan.source}: branch {branch!r} (type {values.type.content}) does not hold one number per "
                f"jet of {plan.jets!r}; expected a list of numbers as long as {plan.jets}_size"
            )
        return ak.to_numpy(ak.flatten(values, axis=1))[keep]
    if values.ndim == 2:
        per_event = ak.to_numpy(ak.num(values, axis=1))
        if (per_event != 1).any():
            i = int(np.argmax(per_event != 1))
            raise FileFormatError(
                f"{plan.source}: event {entry + i}: branch {branch!r} has {int(per_event[i])} values; expected "
                f"one per event (an event-level branch) or a branch of the jet collection {plan.jets!r}"
            )
        values = ak.flatten(values, axis=1)
    if values.ndim != 1:
        raise FileFormatError(
            f"{plan.source}: branch {branch!r} (type {values.type.content}) is not one number per event or per jet"
        )
    return np.repeat(ak.to_numpy(values), kept_per_event)


def _particles(plan: _Plan, recipe: Recipe, data: ak.Array, n_events: int) -> dict[str, np.ndarray]:
    """Every energy-flow object of the chunk as flat arrays (with its event), collections one after another."""
    pieces: dict[str, list[np.ndarray]] = {k: [] for k in ("pt", "eta", "phi", "pid", "charge", "d0", "dz", "event")}
    with_ip = {f for _, fields in plan.particles for f in ("d0", "dz") if f in fields}
    for key, fields in plan.particles:
        counts = ak.to_numpy(ak.num(data[fields["pt"]], axis=1))
        n = int(counts.sum())
        pieces["event"].append(np.repeat(np.arange(n_events), counts))
        for f in ("pt", "eta", "phi"):
            pieces[f].append(_flat(data, fields[f], np.float32))
        if key == "tracks":
            pieces["pid"].append(_flat(data, fields["pid"], np.int32))
            pieces["charge"].append(_flat(data, fields["charge"], np.float32))
        else:
            pieces["pid"].append(np.full(n, PHOTON_PID if key == "photons" else NEUTRAL_HADRON_PID, np.int32))
            pieces["charge"].append(np.zeros(n, np.float32))
        for f in with_ip:
            pieces[f].append(_flat(data, fields[f], np.float32) if f in fields else np.zeros(n, np.float32))
    out = {k: np.concatenate(v) for k, v in pieces.items() if v}
    out["pt"] = recipe.scaled("pt", out["pt"])
    return out


def _chunk(
    plan: _Plan, options: _Options, recipe: Recipe, data: ak.Array, entry: int, first: int
) -> tuple[ak.Array, int]:
    """Canonical jets of one range of events; returns them and how many jets were kept."""
    n_events = len(data)
    jets = {f: _flat(data, f"{plan.jets}.{leaf}") for f, leaf in _JET_LEAVES.items()}
    jets["pt"], jets["mass"] = recipe.scaled("pt", jets["pt"]), recipe.scaled("mass", jets["mass"])
    jet_counts = ak.to_numpy(ak.num(data[f"{plan.jets}.PT"], axis=1))
    jet_event = np.repeat(np.arange(n_events), jet_counts)
    keep = _kept(jets["pt"], jet_event, jet_counts, options)
    kept_per_event = np.bincount(jet_event[keep], minlength=n_events)

    part = _particles(plan, recipe, data, n_events)
    owner, dr2 = nearest(part["eta"], part["phi"], part["event"], jets["eta"], jets["phi"], jet_counts)
    assigned = (owner >= 0) & (dr2 < options.radius**2)
    assigned[assigned] = keep[owner[assigned]]
    owner = owner[assigned]
    order = np.lexsort((-part["pt"][assigned], owner))  # by jet, then by decreasing pT
    per_jet = np.bincount(owner, minlength=len(keep))[keep]
    flat = {k: v[assigned][order] for k, v in part.items() if k != "event"}
    for k in ("pt", "eta", "phi"):  # four-momenta computed in float64, stored in float32 by build
        flat[k] = flat[k].astype(np.float64)
    lists = {k: ak.unflatten(v, per_jet) for k, v in flat.items()}
    particles = four_momentum(lists.pop("pt"), lists.pop("eta"), lists.pop("phi"))
    particles.update(lists)

    jet: dict[str, np.ndarray] = {}
    if options.jet_kinematics == "delphes":
        jet = {f: jets[f][keep] for f in ("pt", "eta", "phi", "mass")}
        jet["energy"] = np.hypot(jet["pt"] * np.cosh(jet["eta"]), jet["mass"])
    for name, branch in plan.extras.items():
        values = _per_jet(plan, data, branch, jet_counts, keep, kept_per_event, entry)
        jet[name] = recipe.scaled(name, values.astype(np.float64))

    truth = None
    if plan.genjets:
        gen = {f: _flat(data, f"{plan.genjets}.{leaf}") for f, leaf in _JET_LEAVES.items()}
        gen["pt"], gen["mass"] = recipe.scaled("pt", gen["pt"]), recipe.scaled("mass", gen["mass"])
        gen_counts = ak.to_numpy(ak.num(data[f"{plan.genjets}.PT"], axis=1))
        match, gen_dr2 = nearest(
            jets["eta"][keep], jets["phi"][keep], jet_event[keep], gen["eta"], gen["phi"], gen_counts
        )
        matched = (match >= 0) & (gen_dr2 < options.radius**2)
        safe = np.where(matched, match, 0)  # any valid index where unmatched; replaced by 0 below
        found = {f: np.where(matched, v[safe], 0.0) if len(v) else np.zeros(len(match)) for f, v in gen.items()}
        found["energy"] = np.hypot(found["pt"] * np.cosh(found["eta"]), found["mass"])
        truth = {f: found[f] for f in TRUTH_FIELDS}

    label = None
    if plan.label:
        columns = [_per_jet(plan, data, b, jet_counts, keep, kept_per_event, entry) for b in plan.label]
        label = class_labels(np.stack(columns, axis=1), not recipe.label.branch, plan.source, first, plan.label)
    return (
        build(
            part=particles,
            jet=jet or None,
            truth=truth,
            label=label,
            label_names=recipe.label_names,
            source=plan.source,
        ),
        int(keep.sum()),
    )


def _jet_counts(tree: Any, jets: str, source: str) -> np.ndarray:
    """Jets per event, from the counter ``<jets>_size`` (or the length of ``<jets>.PT`` without one)."""
    available = _short_names(tree)
    counter = f"{jets}_size"
    if counter in available:
        return np.asarray(tree[counter].array(library="np"), dtype=np.int64)
    if f"{jets}.PT" not in available:
        raise missing("branch", f"{jets}.PT", source, available)
    return ak.to_numpy(ak.num(tree[f"{jets}.PT"].array(library="ak"), axis=1)).astype(np.int64)


def _event_ranges(counts: np.ndarray, step_size: int) -> Iterator[tuple[int, int]]:
    """Ranges of whole events holding at most ``step_size`` jets (at least one event each)."""
    ends = np.cumsum(counts)
    start, n = 0, len(counts)
    while start < n:
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + step_size, side="right")))
        yield start, stop
        start = stop


def _selector(names: list[str]) -> Callable[[str], bool]:
    """An exact-name filter for uproot (a plain string would be a glob: ``Jet.Tau[5]`` has brackets)."""
    wanted = set(names)
    return lambda name: name in wanted


def iterate(path: str, recipe: Recipe, step_size: int) -> Iterator[tuple[int, ak.Array]]:
    """Yield ``(index of the chunk's first jet in the file, canonical jets)``, whole events at a time.

    A chunk holds at most ``step_size`` jets (one event with more is a chunk on its own); the index
    counts the jets the recipe keeps, from 0, over the file.
    """
    options = _options(recipe)
    with open_root(path) as handle:
        tree = root_tree(handle, path, recipe.tree or DEFAULT_TREE)
        source = f"{path}:{tree.name}"
        plan = _plan(recipe, options, tree, source)
        names = plan.branches()
        first = 0
        for start, stop in _event_ranges(_jet_counts(tree, options.jets, source), step_size):
            data = tree.arrays(filter_name=_selector(names), entry_start=start, entry_stop=stop, library="ak")
            jets, kept = _chunk(plan, options, recipe, data, start, first)
            if kept:
                yield first, jets
            first += kept


def count(path: str, recipe: Recipe) -> int:
    """Jets the recipe keeps in the file: the sum of ``<jets>_size`` (``Jet.PT`` is read only for ``min_pt``)."""
    options = _options(recipe)
    with open_root(path) as handle:
        tree = root_tree(handle, path, recipe.tree or DEFAULT_TREE)
        source = f"{path}:{tree.name}"
        counts = _jet_counts(tree, options.jets, source)
        if options.min_pt <= 0:
            return int(counts.sum() if options.max_jets is None else np.minimum(counts, options.max_jets).sum())
        branch = f"{options.jets}.PT"
        available = _short_names(tree)
        if branch not in available:
            raise missing("branch", branch, source, available)
        total = 0
        for data in tree.iterate(filter_name=_selector([branch]), step_size="100 MB", library="ak"):
            pt = recipe.scaled("pt", _flat(data, branch))
            per_event = ak.to_numpy(ak.num(data[branch], axis=1))
            total += int(_kept(pt, np.repeat(np.arange(len(data)), per_event), per_event, options).sum())
        return total
