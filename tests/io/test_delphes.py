"""Delphes ROOT output, written with uproot's mktree under Delphes's own branch names (Jet.PT, Jet_size)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import jetgraph
from jetgraph.errors import FileFormatError, MissingFieldError, RecipeError, SchemaError
from jetgraph.io import delphes
from jetgraph.io.native import write_ttree
from jetgraph.io.recipe import builtin_recipes
from jetgraph.schema import BadJetsWarning

F4, I4 = np.float32, np.int32
LEAVES = {
    "Event": {"Number": np.int64, "ProcessID": I4},
    "Jet": {"PT": F4, "Eta": F4, "Phi": F4, "Mass": F4, "Flavor": I4, "BTag": I4},
    "EFlowTrack": {"PT": F4, "Eta": F4, "Phi": F4, "Charge": I4, "PID": I4, "D0": F4, "DZ": F4},
    "EFlowPhoton": {"ET": F4, "Eta": F4, "Phi": F4},
    "EFlowNeutralHadron": {"ET": F4, "Eta": F4, "Phi": F4},
    "GenJet": {"PT": F4, "Eta": F4, "Phi": F4, "Mass": F4},
}
"""Delphes's member names and types (Jet, Track, Tower and Jet classes; a subset of their members)."""


def _collection(events: list[list[dict]], leaves: dict) -> ak.Array:
    """One list of objects per event, with every member of ``leaves`` (absent ones 0)."""
    flat = [o for event in events for o in event]
    columns = {leaf: np.array([o.get(leaf, 0) for o in flat], dtype=dtype) for leaf, dtype in leaves.items()}
    return ak.unflatten(ak.zip(columns), [len(event) for event in events])


def write_delphes(path: Path, events: list[dict], leaves: dict = LEAVES, extra: dict | None = None) -> Path:
    """A TTree 'Delphes' with a split collection per key of ``leaves``: branches Jet.PT..., counters Jet_size."""
    arrays: dict = {name: _collection([e.get(name, []) for e in events], spec) for name, spec in leaves.items()}
    arrays.update(extra or {})
    return write_ttree(
        path,
        "Delphes",
        arrays,
        field_name=lambda outer, inner: f"{outer}.{inner}",
        counter_name=lambda counted: f"{counted}_size",
    )


def _obj(pt: float, eta: float, phi: float, key: str = "PT", **more) -> dict:
    return {key: pt, "Eta": eta, "Phi": phi, **more}


# Three events by hand. Event 0: two jets 0.6 apart in eta, a track between them (nearer the first),
# one nearer the second, objects out of reach. Event 1: no jet. Event 2: a jet at phi = 3.1 with
# constituents and a GenJet across the phi = pi line, and jets not in pT order in the file.
HAND = [
    {
        "Event": [{"Number": 1, "ProcessID": 1}],
        "Jet": [
            _obj(100, 0.0, 0.0, Mass=12, Flavor=21, BTag=0),
            _obj(60, 0.6, 0.0, Mass=8, Flavor=1, BTag=1),
        ],
        "EFlowTrack": [
            _obj(30, 0.05, 0.1, Charge=1, PID=211, D0=0.01, DZ=-0.02),  # jet 0
            _obj(20, 0.25, 0.0, Charge=-1, PID=-211, D0=-0.03, DZ=0.04),  # dR 0.25 / 0.35: jet 0
            _obj(15, 0.35, 0.0, Charge=1, PID=321, D0=0.05, DZ=0.06),  # dR 0.35 / 0.25: jet 1
            _obj(5, -0.5, 0.0, Charge=-1, PID=-11, D0=0.0, DZ=0.0),  # dR 0.5: no jet
        ],
        "EFlowPhoton": [_obj(25, -0.1, -0.1, "ET"), _obj(10, 0.7, 0.1, "ET")],  # jet 0, jet 1
        "EFlowNeutralHadron": [_obj(12, 0.6, -0.2, "ET"), _obj(3, 2.0, 2.0, "ET")],  # jet 1, none
        "GenJet": [_obj(95, 0.02, 0.01, Mass=10), _obj(40, -2.0, 2.0, Mass=5)],  # jet 0; jet 1 unmatched
    },
    {
        "Event": [{"Number": 2, "ProcessID": 0}],
        "EFlowTrack": [_obj(7, 0.0, 0.0, Charge=1, PID=211)],
        "GenJet": [_obj(20, 0.0, 0.0, Mass=2)],
    },
    {
        "Event": [{"Number": 3, "ProcessID": 1}],
        "Jet": [
            _obj(80, -1.0, 3.1, Mass=6, Flavor=5, BTag=1),
            _obj(30, 1.5, -1.0, Mass=3, Flavor=21, BTag=0),
            _obj(45, -2.0, 1.0, Mass=4, Flavor=2, BTag=0),
        ],
        "EFlowTrack": [
            _obj(40, -1.05, -3.1, Charge=-1, PID=-211, D0=0.2, DZ=0.1),  # jet 2, across phi = pi
            _obj(10, 1.45, -1.05, Charge=1, PID=2212, D0=-0.1, DZ=0.3),  # jet 3
        ],
        "EFlowPhoton": [_obj(20, -2.1, 1.1, "ET"), _obj(8, -0.9, 3.0, "ET")],  # jet 4, jet 2
        "EFlowNeutralHadron": [_obj(6, 1.6, -0.95, "ET")],  # jet 3
        "GenJet": [_obj(78, -1.02, -3.12, Mass=5), _obj(28, 1.52, -1.0, Mass=2)],  # jet 2 (across pi), jet 3
    },
]
# each jet's constituents as (pt, eta, phi, pid, charge, d0, dz), by decreasing pT
EXPECTED = [
    [(30, 0.05, 0.1, 211, 1, 0.01, -0.02), (25, -0.1, -0.1, 22, 0, 0, 0), (20, 0.25, 0.0, -211, -1, -0.03, 0.04)],
    [(15, 0.35, 0.0, 321, 1, 0.05, 0.06), (12, 0.6, -0.2, 130, 0, 0, 0), (10, 0.7, 0.1, 22, 0, 0, 0)],
    [(40, -1.05, -3.1, -211, -1, 0.2, 0.1), (8, -0.9, 3.0, 22, 0, 0, 0)],
    [(10, 1.45, -1.05, 2212, 1, -0.1, 0.3), (6, 1.6, -0.95, 130, 0, 0, 0)],
    [(20, -2.1, 1.1, 22, 0, 0, 0)],
]


def _p4(pt, eta, phi) -> np.ndarray:
    """Massless four-momentum from the float32 values as written."""
    pt, eta, phi = (np.float32(x).astype(np.float64) for x in (pt, eta, phi))
    return np.array([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)])


def _recipe(**options):
    base = builtin_recipes()["delphes"]
    return dataclasses.replace(base, options={**base.options, **options}, source="test-recipe")


@pytest.fixture
def hand_file(tmp_path: Path) -> Path:
    return write_delphes(tmp_path / "delphes.root", HAND)


def test_detected_and_read_with_constituents_by_nearest_jet(hand_file, caplog):
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(hand_file)
    assert "detected format 'delphes' (recipe delphes)" in caplog.text
    assert ak.array_equal(jets, jetgraph.read(hand_file, recipe="delphes"))
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.pt), [100, 60, 80, 30, 45])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.nparticles), [len(e) for e in EXPECTED])
    for i, expected in enumerate(EXPECTED):
        part = jets.part[i]
        p4 = np.stack([_p4(*c[:3]) for c in expected], axis=1)
        for row, field in enumerate(("px", "py", "pz", "energy")):
            np.testing.assert_allclose(ak.to_numpy(part[field]), p4[row], rtol=2e-6, atol=1e-5)
        for column, field in zip((3, 4, 5, 6), ("pid", "charge", "d0", "dz"), strict=True):
            np.testing.assert_allclose(ak.to_numpy(part[field]), [c[column] for c in expected], atol=1e-7)
    assert jets.part.pid.type.content.content.primitive == "int32"
    # the track between the first two jets went to the nearer one only; the objects out of reach to none
    assert int(ak.sum(jets.jet.nparticles)) == 11
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.flavor), [21, 1, 5, 21, 2])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.btag), [0, 1, 1, 0, 0])
    assert "label" not in jets.fields
    assert jetgraph.count(hand_file) == 5


def test_jet_four_momentum_from_delphes_or_from_constituents(hand_file):
    jets = jetgraph.read(hand_file)
    written = [j for e in HAND for j in e.get("Jet", [])]
    pt, eta, mass = (np.array([j[k] for j in written], np.float32).astype(np.float64) for k in ("PT", "Eta", "Mass"))
    np.testing.assert_allclose(ak.to_numpy(jets.jet.mass), mass)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.energy), np.hypot(pt * np.cosh(eta), mass), rtol=1e-6)

    summed = jetgraph.read(hand_file, recipe=_recipe(jet_kinematics="constituents"))
    for i, expected in enumerate(EXPECTED):
        px, py, pz, energy = np.sum([_p4(*c[:3]) for c in expected], axis=0)
        np.testing.assert_allclose(float(summed.jet.pt[i]), np.hypot(px, py), rtol=1e-6)
        np.testing.assert_allclose(float(summed.jet.energy[i]), energy, rtol=1e-6)
        mass = np.sqrt(max(energy**2 - px**2 - py**2 - pz**2, 0.0))  # 0 for the one-particle jet
        np.testing.assert_allclose(float(summed.jet.mass[i]), mass, rtol=1e-4, atol=1e-2)
        np.testing.assert_allclose(float(ak.sum(summed.part.px[i])), px, rtol=1e-5, atol=1e-4)
    assert ak.array_equal(summed.part, jets.part)
    np.testing.assert_array_equal(ak.to_numpy(summed.jet.flavor), ak.to_numpy(jets.jet.flavor))


def test_truth_from_nearest_genjet_and_zero_when_unmatched(hand_file):
    truth = jetgraph.read(hand_file).truth
    np.testing.assert_allclose(ak.to_numpy(truth.pt), [95, 0, 78, 28, 0])
    np.testing.assert_allclose(ak.to_numpy(truth.eta), [0.02, 0, -1.02, 1.52, 0], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(truth.phi), [0.01, 0, -3.12, -1.0, 0], rtol=1e-6)  # jet 2: across pi
    np.testing.assert_allclose(ak.to_numpy(truth.mass), [10, 0, 5, 2, 0])
    gen_pt, gen_eta, gen_mass = np.float32([95, 78, 28]), np.float32([0.02, -1.02, 1.52]), np.float32([10, 5, 2])
    energy = np.hypot(gen_pt * np.cosh(gen_eta.astype(np.float64)), gen_mass)
    np.testing.assert_allclose(ak.to_numpy(truth.energy)[[0, 2, 3]], energy, rtol=1e-6)
    assert ak.to_numpy(truth.energy)[[1, 4]].tolist() == [0, 0]


def test_no_genjet_branches_gives_no_truth(tmp_path):
    leaves = {k: v for k, v in LEAVES.items() if k != "GenJet"}
    path = write_delphes(tmp_path / "nogen.root", HAND, leaves=leaves)
    jets = jetgraph.read(path)
    assert "truth" not in jets.fields
    assert len(jets) == 5
    assert "truth" not in jetgraph.read(tmp_path / "nogen.root", recipe=_recipe(genjets=None)).fields


def test_leading_jets_and_min_pt_without_handing_particles_to_farther_jets(hand_file):
    leading = jetgraph.read(hand_file, recipe=_recipe(max_jets_per_event=1))
    np.testing.assert_array_equal(ak.to_numpy(leading.jet.pt), [100, 80])  # file order 80, 30, 45
    # the second jet's particles (two within dR 0.4 of the first jet) are not given to the first
    np.testing.assert_array_equal(ak.to_numpy(leading.jet.nparticles), [3, 2])
    assert ak.array_equal(leading.part[0], jetgraph.read(hand_file).part[0])
    two = _recipe(max_jets_per_event=2)
    np.testing.assert_array_equal(ak.to_numpy(jetgraph.read(hand_file, recipe=two).jet.pt), [100, 60, 80, 45])
    hard = _recipe(min_pt=50.0)
    np.testing.assert_array_equal(ak.to_numpy(jetgraph.read(hand_file, recipe=hard).jet.pt), [100, 60, 80])
    both = _recipe(min_pt=35.0, max_jets_per_event=2)
    np.testing.assert_array_equal(ak.to_numpy(jetgraph.read(hand_file, recipe=both).jet.pt), [100, 60, 80, 45])
    for recipe, expected in ((_recipe(max_jets_per_event=1), 2), (two, 4), (hard, 3), (both, 4)):
        assert jetgraph.count(hand_file, recipe=recipe) == expected


def _random_events(n_events: int, seed: int) -> list[dict]:
    """Events of 0-4 jets, each with a track on its axis and a few objects around it, plus noise."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n_events):
        n_jets = int(rng.integers(0, 5))
        axes = np.column_stack([rng.uniform(-2.5, 2.5, n_jets), rng.uniform(-np.pi, np.pi, n_jets)])
        pt = np.sort(rng.uniform(20, 300, n_jets))[::-1]
        event: dict = {"Jet": [], "EFlowTrack": [], "EFlowPhoton": [], "EFlowNeutralHadron": [], "GenJet": []}
        for (eta, phi), jet_pt in zip(axes, pt, strict=True):
            event["Jet"].append(_obj(jet_pt, eta, phi, Mass=rng.uniform(1, 20)))
            event["GenJet"].append(_obj(jet_pt * rng.uniform(0.9, 1.1), eta + 0.02, phi, Mass=5))
            event["EFlowTrack"].append(_obj(jet_pt / 4, eta, phi, Charge=1, PID=211))
            for name, key in (("EFlowTrack", "PT"), ("EFlowPhoton", "ET"), ("EFlowNeutralHadron", "ET")):
                for _ in range(int(rng.integers(0, 4))):
                    d_eta, d_phi = rng.normal(0, 0.12, 2)
                    extra = {"Charge": -1, "PID": -211, "D0": rng.normal(0, 0.1)} if key == "PT" else {}
                    event[name].append(_obj(rng.uniform(1, 30), eta + d_eta, (phi + d_phi), key, **extra))
        event["EFlowPhoton"].append(_obj(1.0, rng.uniform(-4, 4), rng.uniform(-np.pi, np.pi), "ET"))
        events.append(event)
    return events


def test_chunks_of_whole_events_give_the_same_jets(tmp_path):
    events = _random_events(24, seed=5)
    path = write_delphes(tmp_path / "random.root", events)
    whole = jetgraph.read(path)
    total = sum(len(e["Jet"]) for e in events)
    assert len(whole) == total == jetgraph.count(path)
    assert ak.all(whole.jet.nparticles >= 1)
    for step in (2, 7):
        chunks = list(jetgraph.iterate(path, step_size=step))
        assert all(len(c) <= max(step, 4) for c in chunks)
        assert ak.array_equal(ak.concatenate(chunks), whole)
    recipe = builtin_recipes()["delphes"]
    firsts = [(first, len(jets)) for first, jets in delphes.iterate(str(path), recipe, 5)]
    assert [f for f, _ in firsts] == list(np.cumsum([0] + [n for _, n in firsts])[:-1])
    assert all(n <= 5 for _, n in firsts)
    assert len(jetgraph.read(path, entry_stop=13)) == 13


def test_nearest_matches_a_brute_force_loop():
    rng = np.random.default_rng(2)
    src_counts, dst_counts = rng.integers(0, 6, 30), rng.integers(0, 4, 30)
    src = rng.uniform(-3, 3, (int(src_counts.sum()), 2))
    dst = rng.uniform(-3, 3, (int(dst_counts.sum()), 2))
    src_event = rng.permutation(np.repeat(np.arange(30), src_counts))  # any order
    index, dr2 = delphes.nearest(src[:, 0], src[:, 1], src_event, dst[:, 0], dst[:, 1], dst_counts, budget=7)
    offsets = np.cumsum(dst_counts) - dst_counts
    for i, e in enumerate(src_event):
        candidates = range(offsets[e], offsets[e] + dst_counts[e])
        d = [
            (src[i, 0] - dst[j, 0]) ** 2 + ((src[i, 1] - dst[j, 1] + np.pi) % (2 * np.pi) - np.pi) ** 2
            for j in candidates
        ]
        assert index[i] == (offsets[e] + int(np.argmin(d)) if d else -1)
        assert dr2[i] == (pytest.approx(min(d), rel=1e-12) if d else np.inf)


def test_labels_from_event_and_jet_branches(tmp_path):
    flag = np.array([1, 0, 2], np.int32)
    path = write_delphes(tmp_path / "labels.root", HAND, extra={"Flag": flag})
    by_event = dataclasses.replace(
        _recipe(), label=jetgraph.io.recipe.Label(branch="Event.ProcessID", names=("a", "b"))
    )
    jets = jetgraph.read(path, recipe=by_event)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), [1, 1, 1, 1, 1])
    assert jets.attrs["label_names"] == ["a", "b"]
    flat = dataclasses.replace(_recipe(), label=jetgraph.io.recipe.Label(branch="Flag"))
    np.testing.assert_array_equal(ak.to_numpy(jetgraph.read(path, recipe=flat).label), [1, 1, 2, 2, 2])
    by_jet = dataclasses.replace(_recipe(), label=jetgraph.io.recipe.Label(branch="Jet.BTag"))
    np.testing.assert_array_equal(ak.to_numpy(jetgraph.read(path, recipe=by_jet).label), [0, 1, 1, 0, 0])
    many = dataclasses.replace(_recipe(), label=jetgraph.io.recipe.Label(branch="EFlowTrack.PID"))
    with pytest.raises(FileFormatError, match=r"labels.root:Delphes: event 0: branch 'EFlowTrack.PID' has 4 values"):
        jetgraph.read(path, recipe=many)


def test_missing_branch_suggests_closest(tmp_path):
    leaves = dict(LEAVES, EFlowPhoton={"Et": F4, "Eta": F4, "Phi": F4})  # a typo in somebody's tree
    events = [{**e, "EFlowPhoton": [{**p, "Et": p["ET"]} for p in e.get("EFlowPhoton", [])]} for e in HAND]
    path = write_delphes(tmp_path / "typo.root", events, leaves=leaves)
    with pytest.raises(
        MissingFieldError, match=r"typo.root:Delphes: no branch 'EFlowPhoton.ET'; did you mean 'EFlowPhoton.Et'"
    ):
        jetgraph.read(path)


def test_non_delphes_root_file_names_the_tree(tmp_path):
    path = write_ttree(tmp_path / "flat.root", "tree", {"jet_pt": np.ones(3, np.float32)})
    with pytest.raises(MissingFieldError, match=r"flat.root: no TTree 'Delphes'; it has 'tree'"):
        jetgraph.read(path, recipe="delphes")
    with pytest.raises(MissingFieldError, match=r"no TTree 'Delphes'"):
        jetgraph.count(path, recipe="delphes")


def test_jet_without_particles_is_dropped_with_a_warning(tmp_path):
    events = [dict(HAND[0], Jet=[*HAND[0]["Jet"], _obj(50, -3.0, -2.0, Mass=1)])]
    path = write_delphes(tmp_path / "lonely.root", events)
    assert jetgraph.count(path) == 3
    with pytest.warns(BadJetsWarning, match=r"lonely.root:Delphes: dropped 1 of 3 jets: 1 with no particles.*entry 2"):
        assert len(jetgraph.read(path)) == 2
    with pytest.raises(SchemaError, match=r"entry 2: no particles"):
        jetgraph.read(path, on_bad="raise")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_jets_per_event": 0}, r"options.max_jets_per_event: 0 is not a positive integer or null"),
        ({"radius": -0.4}, r"options.radius: -0.4 is not a positive number"),
        (
            {"jet_kinematics": "fastjet"},
            r"options.jet_kinematics: 'fastjet' is not one of \['delphes', 'constituents'\]",
        ),
        ({"tracks": None, "photons": None, "neutral_hadrons": None}, r"are all null; jets need particles"),
        ({"cone": 0.4}, r"unknown option 'cone' for format 'delphes'"),
    ],
)
def test_bad_options(hand_file, change, message):
    with pytest.raises(RecipeError, match=message):
        jetgraph.read(hand_file, recipe=_recipe(**change))


def test_particle_fields_in_the_recipe_are_refused(hand_file):
    recipe = dataclasses.replace(_recipe(), fields={"part.pt": "EFlowTrack.PT"})
    with pytest.raises(RecipeError, match=r"format 'delphes' takes only jet.\* fields"):
        jetgraph.read(hand_file, recipe=recipe)


def test_inspect_counts(hand_file):
    from tests.helpers import inspect_json

    summary = inspect_json(hand_file)
    assert (summary["recipe"], summary["jets"], summary["dropped"]) == ("delphes", len(EXPECTED), 0)
    assert summary["multiplicity"] == {"min": 1.0, "mean": 2.2, "median": 2.0, "max": 3.0}
    assert "Delphes" in summary["contains"]
