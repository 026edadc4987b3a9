"""Labelled particle-level jets from Pythia 8 events clustered with FastJet, without per-particle loops.

Events come from ``pythia8mc``'s batched awkward output (``Pythia.nextBatch``); final-state
particles (status > 0, the sample's ``exclude_pid`` left out) are clustered per event with
``fastjet``'s awkward interface; the hardest jet of each event is kept if it passes the sample's cuts
and, for top samples, the truth match. Every step acts on whole batches of events.

Each process of a sample has its own :class:`ProcessGenerator` (one initialised ``Pythia``),
reseeded per chunk with :meth:`ProcessGenerator.jets`, so a chunk's jets depend on its seed alone,
never on which worker made it or on what it made before.

With ``showers > 1`` every hard process is showered and hadronised that many times (re-simulation,
as in Harris et al., arXiv:2403.07066): the event is generated again from the same random state up
to the end of the process level, where a user hook reseeds the generator, so the hard parton is the
same and everything after it (resonance decays, ISR, FSR, MPI, hadronisation) differs. An event is
kept when its first shower's hardest jet passes the cuts and every later shower has a hardest jet
(of any pT above half the lower cut, any rapidity: out-of-cone radiation moves a jet's pT by tens
of GeV). Its jets are written one after the other.
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np

from jetgraph.errors import JetGraphError, RecipeError
from jetgraph.generate.sample import Sample
from jetgraph.schema import build, kinematics, wrap_phi

QUIET = ("Print:quiet = on", "Next:numberCount = 0")
"""No banner, event listings or progress counts: jetgraph shows its own progress bar."""
MAX_PYTHIA_SEED = 900_000_000
"""Pythia's random seeds run from 1 to 900 000 000."""
FIRST_BATCH = 64
"""Events in a chunk's first batch; later batches are sized from the efficiency seen so far."""
MAX_BATCH = 4000
"""Events per batch at most (bounds memory)."""
_TOP, _BOTTOM, _W = 6, 5, 24
SHOWER_BATCH = 500
"""Hard events per batch when showering each several times (one ``nextBatch(1)`` per shower)."""


def pythia_seed(entropy: int) -> int:
    """Map any non-negative integer onto Pythia's seed range."""
    return entropy % MAX_PYTHIA_SEED + 1


class ProcessGenerator:
    """One initialised Pythia for one process of a sample, turning events into selected jets.

    Args:
        sample: the sample (shared settings, jet definition, cuts).
        process: the name of one of ``sample.processes``.
        showers: parton showers (with hadronisation) per hard process; see the module.
    """

    def __init__(self, sample: Sample, process: str, showers: int = 1) -> None:
        import fastjet
        import pythia8mc

        if showers < 1:
            raise JetGraphError(f"showers is {showers}; expected at least 1")
        self.sample = sample
        self.process = process
        self.showers = showers
        self.settings = sample.processes[process]
        self.label = sample.label(process)
        self.pythia = pythia8mc.Pythia("", False)
        self._reseed = _reseed_hook(self.pythia.rndm) if showers > 1 else None
        if self._reseed is not None:
            self.pythia.setUserHooksPtr(self._reseed)
        for line in (*QUIET, *sample.pythia, *self.settings.pythia, "Random:setSeed = on", "Random:seed = 1"):
            if not self.pythia.readString(line):
                raise RecipeError(f"sample '{sample.name}', process {process!r}: Pythia rejected the setting {line!r}")
        if not self.pythia.init():
            raise JetGraphError(f"sample '{sample.name}', process {process!r}: Pythia failed to initialise")
        algorithm = {"antikt": fastjet.antikt_algorithm, "kt": fastjet.kt_algorithm}.get(
            sample.jets.algorithm, fastjet.cambridge_algorithm
        )
        self._fastjet = fastjet
        self._jet_definition = fastjet.JetDefinition(algorithm, sample.jets.radius)
        self._charges: dict[int, float] = {}
        self.events_generated = 0

    def jets(self, n_jets: int, seed: int) -> ak.Array:
        """The first ``n_jets`` jets passing the cuts from the event stream of ``seed``.

        Events are drawn in batches; because batching never changes the random sequence, the jets
        depend on ``seed`` alone. With ``showers > 1``, ``n_jets`` (a multiple of ``showers``) are
        ``n_jets / showers`` hard events times their showers, one event's jets after the other, with
        the event's number within the call in ``jet.event``.
        """
        if self.showers > 1:
            return self._shower_jets(n_jets, seed)
        self.pythia.rndm.init(pythia_seed(seed))
        pieces: list[dict[str, Any]] = []
        found = events = 0
        while found < n_jets:
            # Grow at most 2x per batch, so that a lucky or unlucky first estimate of the efficiency
            # cannot commit thousands of events whose jets are then thrown away.
            estimate = math.ceil(1.05 * (n_jets - found) * events / found) + 8 if found else MAX_BATCH
            batch = min(MAX_BATCH, max(FIRST_BATCH, events), estimate)
            selected = self._select(self.pythia.nextBatch(batch))
            events += batch
            if selected is not None:
                pieces.append(selected)
                found += len(selected["truth"]["pt"])
            if events > 200 * FIRST_BATCH and not found:
                raise JetGraphError(
                    f"sample '{self.sample.name}', process {self.process!r}: no jet passed the cuts in {events} "
                    "events; check the jet window against PhaseSpace:pTHatMin/pTHatMax"
                )
        self.events_generated += events
        return self._build(_merge(pieces, np.arange(n_jets)))

    def _shower_jets(self, n_jets: int, seed: int) -> ak.Array:
        """``n_jets / showers`` hard events, each showered ``showers`` times (see the module)."""
        showers = self.showers
        if n_jets % showers:
            raise JetGraphError(f"{n_jets} jets cannot be cut into events of {showers} showers each")
        wanted = n_jets // showers
        seeds = np.random.default_rng(pythia_seed(seed))
        pieces: list[list[dict[str, Any]]] = [[] for _ in range(showers)]
        found = events = 0
        while found < wanted:
            estimate = math.ceil(1.05 * (wanted - found) * events / found) + 8 if found else SHOWER_BATCH
            batch = min(SHOWER_BATCH, max(FIRST_BATCH, events), estimate)
            hard, again = seeds.integers(0, MAX_PYTHIA_SEED, (2, batch))
            events += batch
            selected = [self._select(self._showered(hard, again, 0))]
            for shower in range(1, showers):  # only the events whose first shower passed the cuts
                if selected[-1] is None:
                    break
                passed = selected[0]["event"]
                later = self._select(self._showered(hard[passed], again[passed], shower), window=False)
                if later is not None:
                    later["event"] = passed[later["event"]]
                selected.append(later)
                events += len(passed)
            if all(s is not None for s in selected):
                common = selected[0]["event"]
                for s in selected[1:]:
                    common = np.intersect1d(common, s["event"])
                for shower, s in enumerate(selected):
                    pieces[shower].append(_take(s, np.isin(s["event"], common)))
                found += len(common)
            if events > 200 * FIRST_BATCH and not found:  # reached even when no batch gave a jet
                raise JetGraphError(
                    f"sample '{self.sample.name}', process {self.process!r}: no event gave a jet passing the "
                    f"cuts in all {showers} showers in {events} events"
                )
        self.events_generated += events
        merged = [_merge(p, np.arange(wanted)) for p in pieces]
        # event-major: the jets of event 0 (shower 0, 1...), then of event 1...
        order = np.arange(n_jets).reshape(showers, wanted).T.ravel()
        jets = {
            record: {k: _concatenate([m[record][k] for m in merged])[order] for k in merged[0][record]}
            for record in ("part", "truth")
        }
        return self._build(jets, event=np.repeat(np.arange(wanted), showers))

    def _showered(self, hard: np.ndarray, again: np.ndarray, shower: int) -> ak.Array:
        """One event per hard seed, showered with the seed ``again + shower`` (see the module)."""
        events = []
        for hard_seed, shower_seed in zip(hard.tolist(), again.tolist(), strict=True):
            self.pythia.rndm.init(pythia_seed(hard_seed))
            self._reseed.seed = pythia_seed(shower_seed + shower)
            events.append(self.pythia.nextBatch(1))
        return ak.concatenate(events)

    def _build(self, jets: dict[str, dict[str, Any]], event: np.ndarray | None = None) -> ak.Array:
        n_jets = len(jets["truth"]["pt"])
        return build(
            part=jets["part"],
            truth=jets["truth"],
            jet=None if event is None else {"event": event},
            label=np.full(n_jets, self.label, dtype=np.int32),
            label_names=list(self.sample.label_names),
            source=f"sample '{self.sample.name}'",
        )

    # --- one batch of events -> selected jets ------------------------------------------------

    def _select(self, events: ak.Array, window: bool = True) -> dict[str, Any] | None:
        """Cluster a batch of events and keep the hardest jet of each event that passes; None if none.

        ``"event"`` holds the position in ``events`` of each kept jet's event. With ``window=False``
        (the later showers of a hard event) the hardest jet is kept whatever its pT (above half the
        lower cut) and rapidity: the showers of one parton need not all land in the window.
        """
        prt = events.prt
        index = np.arange(len(prt))
        if self.settings.hard_partons:
            wanted = _hard_partons_in(prt, self.settings.hard_partons)
            prt, index = prt[wanted], index[wanted]
        stable = (prt.status > 0) & ~_isin(abs(prt.id), self.sample.exclude_pid)
        final = prt[stable]
        p4 = ak.zip({"px": final.p.px, "py": final.p.py, "pz": final.p.pz, "E": final.p.e}, with_name="Momentum4D")
        cuts = self.sample.jets
        cluster = self._fastjet.ClusterSequence(p4, self._jet_definition)
        minimum = 0.5 * cuts.pt[0]
        jets = cluster.inclusive_jets(min_pt=minimum)
        members = cluster.constituent_index(min_pt=minimum)
        hardest = ak.argmax(jets.px**2 + jets.py**2, axis=1, keepdims=True)
        jet = ak.firsts(jets[hardest])
        members = ak.firsts(members[hardest])
        has_jet = ~ak.is_none(jet)
        jet, members, final, prt = jet[has_jet], members[has_jet], final[has_jet], prt[has_jet]
        index = index[ak.to_numpy(has_jet)]
        flat = kinematics(*(ak.to_numpy(jet[k]) for k in ("px", "py", "pz", "E")))
        keep = (flat["pt"] > cuts.pt[0]) & (flat["pt"] < cuts.pt[1]) if window else np.ones(len(flat["pt"]), bool)
        if cuts.rapidity_max is not None and window:
            e, pz = ak.to_numpy(jet.E), ak.to_numpy(jet.pz)
            keep &= np.abs(0.5 * np.log((e + pz) / (e - pz))) < cuts.rapidity_max
        if cuts.eta_max is not None and window:
            keep &= np.abs(flat["eta"]) < cuts.eta_max
        if self.settings.match_top is not None:
            keep &= _top_matched(prt, flat["eta"], flat["phi"], self.settings.match_top)
        if not keep.any():
            return None
        constituents = final[keep][ak.drop_none(members[keep], axis=0)]
        order = ak.argsort(constituents.p.px**2 + constituents.p.py**2, axis=1, ascending=False)
        constituents = constituents[order]
        pid = constituents.id
        part = {
            "px": constituents.p.px,
            "py": constituents.p.py,
            "pz": constituents.p.pz,
            "energy": constituents.p.e,
            "pid": pid,
            "charge": ak.unflatten(self._charge(ak.to_numpy(ak.flatten(pid))), ak.num(pid)),
        }
        return {"part": part, "truth": {k: v[keep] for k, v in flat.items()}, "event": index[keep]}

    def _charge(self, pid: np.ndarray) -> np.ndarray:
        """Electric charge of each particle, looked up once per species in Pythia's particle table."""
        species = np.unique(pid)
        for code in species[~_isin(species, list(self._charges))]:
            self._charges[int(code)] = self.pythia.particleData.charge(int(code))
        return np.array([self._charges[int(code)] for code in species], dtype=np.float32)[np.searchsorted(species, pid)]


def _reseed_hook(rndm: Any) -> Any:
    """A Pythia user hook that reseeds ``rndm`` with the hook's ``seed`` once the hard process is made.

    Whatever comes after the process level (resonance decays, showers, MPI, hadronisation) then
    follows the new seed, while the hard process follows the seed the event started from.
    """
    import pythia8mc

    class Reseed(pythia8mc.UserHooks):
        def __init__(self) -> None:
            super().__init__()
            self.seed = 1

        def canVetoProcessLevel(self) -> bool:
            return True

        def doVetoProcessLevel(self, process: Any) -> bool:
            rndm.init(self.seed)
            return False

    return Reseed()


def _take(selected: dict[str, Any], keep: np.ndarray) -> dict[str, Any]:
    """The jets of a :meth:`ProcessGenerator._select` result at the boolean mask ``keep``."""
    return {
        "part": {k: v[keep] for k, v in selected["part"].items()},
        "truth": {k: v[keep] for k, v in selected["truth"].items()},
        "event": selected["event"][keep],
    }


def _concatenate(arrays: list[Any]) -> Any:
    return np.concatenate(arrays) if isinstance(arrays[0], np.ndarray) else ak.concatenate(arrays)


def _merge(pieces: list[dict[str, Any]], rows: np.ndarray) -> dict[str, dict[str, Any]]:
    """The ``part`` and ``truth`` records of several selections joined, at ``rows``."""
    return {record: {k: _concatenate([p[record][k] for p in pieces])[rows] for k in pieces[0][record]}
            for record in ("part", "truth")}  # fmt: skip


def _isin(values: Any, codes: Any) -> Any:
    """Elementwise ``value in codes`` for flat or jagged integer arrays."""
    if isinstance(values, ak.Array):
        flat = ak.flatten(values, axis=None)
        return ak.unflatten(np.isin(ak.to_numpy(flat), codes), ak.num(values)) if values.ndim == 2 else values
    return np.isin(values, codes)


def _hard_partons_in(prt: ak.Array, allowed: tuple[int, ...]) -> np.ndarray:
    """Events whose outgoing hard-process partons (status 23: quarks, gluons) all have |pid| in ``allowed``."""
    parton = (abs(prt.id) <= 6) | (prt.id == 21)
    outgoing = abs(prt.id[(abs(prt.status) == 23) & parton])
    return ak.to_numpy(ak.all(_isin(outgoing, allowed), axis=1) & (ak.num(outgoing) > 0))


def _delta_r(eta: Any, phi: Any, p: ak.Array) -> ak.Array:
    """dR between jet axes (one per event) and the partons ``p`` (any number per event)."""
    pt = np.hypot(p.p.px, p.p.py)
    dphi = wrap_phi(np.arctan2(p.p.py, p.p.px) - phi)
    return np.hypot(np.arcsinh(p.p.pz / pt) - eta, dphi)


def _top_matched(prt: ak.Array, eta: np.ndarray, phi: np.ndarray, max_dr: float) -> np.ndarray:
    """Jets within ``max_dr`` of a top, of the b from its decay and of both quarks from its W.

    A b whose mother is a top and quarks whose mother is a W are the first copies of the decay
    products (later shower copies have a quark as mother); the top is paired with its decay by
    charge sign (t -> b W+, tbar -> bbar W-).
    """
    mother_id = prt.id[prt.mother1]
    matched = np.zeros(len(prt), dtype=bool)
    for sign in (1, -1):
        bottom = prt[(prt.id == sign * _BOTTOM) & (mother_id == sign * _TOP)][:, :1]
        top = prt[prt.mother1[(prt.id == sign * _BOTTOM) & (mother_id == sign * _TOP)]][:, :1]
        quarks = prt[(abs(prt.id) <= 5) & (mother_id == sign * _W)]
        near = ak.fill_none(ak.max(_delta_r(eta, phi, quarks), axis=1), np.inf) < max_dr
        near = near & (ak.num(quarks) == 2) & (ak.num(top) == 1)
        near = near & ak.fill_none(ak.firsts(_delta_r(eta, phi, top)) < max_dr, False)
        near = near & ak.fill_none(ak.firsts(_delta_r(eta, phi, bottom)) < max_dr, False)
        matched |= ak.to_numpy(near)
    return matched
