"""Labelled particle-level jets from Pythia 8 events clustered with FastJet, without per-particle loops.

Events come from ``pythia8mc``'s batched awkward output (``Pythia.nextBatch``); final-state
particles (status > 0, the sample's ``exclude_pid`` left out) are clustered per event with
``fastjet``'s awkward interface; the hardest jet of each event is kept if it passes the sample's cuts
and, for top samples, the truth match. Every step acts on whole batches of events.

Each process of a sample has its own :class:`ProcessGenerator` (one initialised ``Pythia``),
reseeded per chunk with :meth:`ProcessGenerator.jets`, so a chunk's jets depend on its seed alone,
never on which worker made it or on what it made before.
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np

from jetgraph.errors import JetGraphError, RecipeError
from jetgraph.generate.sample import Sample
from jetgraph.schema import build, kinematics

QUIET = ("Print:quiet = on", "Next:numberCount = 0")
"""No banner, event listings or progress counts: jetgraph shows its own progress bar."""
MAX_PYTHIA_SEED = 900_000_000
"""Pythia's random seeds run from 1 to 900 000 000."""
FIRST_BATCH = 64
"""Events in a chunk's first batch; later batches are sized from the efficiency seen so far."""
MAX_BATCH = 4000
"""Events per batch at most (bounds memory)."""
_TOP, _BOTTOM, _W = 6, 5, 24


def pythia_seed(entropy: int) -> int:
    """Map any non-negative integer onto Pythia's seed range."""
    return entropy % MAX_PYTHIA_SEED + 1


class ProcessGenerator:
    """One initialised Pythia for one process of a sample, turning events into selected jets.

    Args:
        sample: the sample (shared settings, jet definition, cuts).
        process: the name of one of ``sample.processes``.
    """

    def __init__(self, sample: Sample, process: str) -> None:
        import fastjet
        import pythia8mc

        self.sample = sample
        self.process = process
        self.settings = sample.processes[process]
        self.label = sample.label(process)
        self.pythia = pythia8mc.Pythia("", False)
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
        depend on ``seed`` alone.
        """
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
        merged = {
            record: {k: np.concatenate([p[record][k] for p in pieces])[:n_jets] for k in pieces[0][record]}
            if record == "truth"
            else {k: ak.concatenate([p[record][k] for p in pieces])[:n_jets] for k in pieces[0][record]}
            for record in ("part", "truth")
        }
        return build(
            part=merged["part"],
            truth=merged["truth"],
            label=np.full(n_jets, self.label, dtype=np.int32),
            label_names=list(self.sample.label_names),
            source=f"sample '{self.sample.name}'",
        )

    # --- one batch of events -> selected jets ------------------------------------------------

    def _select(self, events: ak.Array) -> dict[str, Any] | None:
        """Cluster a batch of events and keep the hardest jet of each event that passes; None if none."""
        prt = events.prt
        if self.settings.hard_partons:
            prt = prt[_hard_partons_in(prt, self.settings.hard_partons)]
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
        flat = kinematics(*(ak.to_numpy(jet[k]) for k in ("px", "py", "pz", "E")))
        keep = (flat["pt"] > cuts.pt[0]) & (flat["pt"] < cuts.pt[1])
        if cuts.rapidity_max is not None:
            e, pz = ak.to_numpy(jet.E), ak.to_numpy(jet.pz)
            keep &= np.abs(0.5 * np.log((e + pz) / (e - pz))) < cuts.rapidity_max
        if cuts.eta_max is not None:
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
        return {"part": part, "truth": {k: v[keep] for k, v in flat.items()}}

    def _charge(self, pid: np.ndarray) -> np.ndarray:
        """Electric charge of each particle, looked up once per species in Pythia's particle table."""
        species = np.unique(pid)
        for code in species[~_isin(species, list(self._charges))]:
            self._charges[int(code)] = self.pythia.particleData.charge(int(code))
        return np.array([self._charges[int(code)] for code in species], dtype=np.float32)[np.searchsorted(species, pid)]


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
    dphi = (np.arctan2(p.p.py, p.p.px) - phi + np.pi) % (2 * np.pi) - np.pi
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
