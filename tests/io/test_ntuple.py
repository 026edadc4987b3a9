"""JetClass ntuples and user-described ROOT ntuples, written with uproot's mktree."""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml

import jetgraph
from jetgraph.errors import MissingFieldError, RecipeError, SchemaError
from jetgraph.io.examples import JETCLASS_LABELS
from jetgraph.io.native import write_ttree


def test_jetclass_values_round_trip(jetclass_file, jetclass_raw, caplog):
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(jetclass_file)
    assert "detected format 'ntuple' (recipe jetclass)" in caplog.text
    assert len(jets) == 300
    for field in ("px", "py", "pz", "energy"):
        written = np.concatenate([ak.to_numpy(ak.flatten(jetclass_raw[c]["part"][field])) for c in ("first", "second")])
        np.testing.assert_array_equal(ak.to_numpy(ak.flatten(jets.part[field])), written)
    written_pt = np.concatenate([jetclass_raw[c]["jet_pt"] for c in ("first", "second")])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.pt), written_pt)
    assert jets.jet.fields[:6] == ["pt", "eta", "phi", "energy", "mass", "nparticles"]
    assert {"sdmass", "tau1", "tau4"} <= set(jets.jet.fields)
    assert jets.attrs["label_names"] == list(JETCLASS_LABELS)


def test_jetclass_labels_from_mixed_type_one_hot(jetclass_file, jetclass_raw):
    tree = uproot.open(jetclass_file)["tree"]
    types = {tree[f"label_{n}"].typename for n in JETCLASS_LABELS}
    assert types == {"float", "bool", "int32_t"}  # the mix the real files have
    jets = jetgraph.read(jetclass_file, recipe="jetclass")
    hot = np.stack(
        [np.concatenate([jetclass_raw[c][f"label_{n}"] for c in ("first", "second")]) for n in JETCLASS_LABELS], 1
    )
    np.testing.assert_array_equal(ak.to_numpy(jets.label), np.argmax(hot, axis=1))


def test_jetclass_pid_from_flags_signed_by_charge(jetclass_file):
    jets = jetgraph.read(jetclass_file)
    pid = ak.to_numpy(ak.flatten(jets.part.pid))
    charge = ak.to_numpy(ak.flatten(jets.part.charge))
    assert set(np.unique(np.abs(pid))) <= {11, 13, 22, 130, 211}
    hadron = np.abs(pid) == 211
    np.testing.assert_array_equal(np.sign(pid[hadron]), charge[hadron])
    lepton = (np.abs(pid) == 11) | (np.abs(pid) == 13)
    np.testing.assert_array_equal(np.sign(pid[lepton]), -charge[lepton])  # e- is +11
    assert np.all(charge[(pid == 22) | (pid == 130)] == 0)


def test_chunked_iteration_matches_read(jetclass_file):
    whole = jetgraph.read(jetclass_file)
    chunks = list(jetgraph.iterate(jetclass_file, step_size=70))
    assert [len(c) for c in chunks] == [70, 70, 70, 70, 20]
    assert ak.array_equal(ak.concatenate(chunks), whole)
    assert jetgraph.count(jetclass_file) == 300
    assert len(jetgraph.read(jetclass_file, entry_stop=123)) == 123


def test_globs_and_lists_of_files(tmp_path, jetclass_file):
    other = jetgraph.io.examples.write_jetclass(tmp_path / "more.root", n_jets=50, seed=7)
    by_glob = jetgraph.read(str(tmp_path / "*.root"))
    by_list = jetgraph.read([jetclass_file, other])
    assert len(by_glob) == len(by_list) == 350
    assert "source" not in by_list.attrs and by_list.attrs["recipe"] == "jetclass"
    assert jetgraph.read(other).attrs["source"] == str(other)
    with pytest.raises(jetgraph.FileFormatError, match=r"nope\*.root: no file matches this pattern"):
        jetgraph.read(str(tmp_path / "nope*.root"))


def test_missing_branch_suggests_closest(tmp_path):
    path = tmp_path / "renamed.root"
    branches = jetgraph.io.examples.jetclass_branches(20)
    branches["jet_sdmas"] = branches.pop("jet_sdmass")  # a typo in somebody's ntuple
    write_ttree(path, "tree", branches)
    with pytest.raises(MissingFieldError, match=r"renamed.root:tree: no branch 'jet_sdmass'; did you mean 'jet_sdmas'"):
        jetgraph.read(path, recipe="jetclass")


def test_missing_tree_suggests_closest(tmp_path):
    path = write_ttree(tmp_path / "t.root", "tree2", {"x": np.ones(3, np.float32)})
    with pytest.raises(MissingFieldError, match=r"t.root: no TTree 'tree'; did you mean 'tree2'"):
        jetgraph.read(path, recipe="jetclass")


def test_one_hot_label_without_a_true_branch_raises(tmp_path):
    path = tmp_path / "nolabel.root"
    branches = jetgraph.io.examples.jetclass_branches(10)
    for name in JETCLASS_LABELS:
        branches[f"label_{name}"] = np.zeros_like(branches[f"label_{name}"])
    write_ttree(path, "tree", branches)
    with pytest.raises(
        SchemaError, match=r"nolabel.root:tree: entry 0: 0 of the one-hot labels .* expected exactly one"
    ):
        jetgraph.read(path)


def _write_custom_ntuple(path: Path, n: int = 40) -> dict:
    """A CMS-NanoAOD-like ntuple in MeV: PF candidates as (pt, eta, phi, mass), a signal flag."""
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 12, n)
    pt = ak.unflatten(rng.uniform(1e3, 5e4, counts.sum()).astype(np.float32), counts)
    eta = ak.unflatten(rng.normal(0, 0.1, counts.sum()).astype(np.float32), counts)
    phi = ak.unflatten(rng.normal(1, 0.1, counts.sum()).astype(np.float32), counts)
    mass = ak.unflatten(np.full(counts.sum(), 139.57, np.float32), counts)
    data = {
        "PFCand": ak.zip({"pt": pt, "eta": eta, "phi": phi, "mass": mass}),
        "isSignal": rng.integers(0, 2, n).astype(np.int32),
        "Jet_pt": ak.to_numpy(ak.sum(pt, axis=1)),
    }
    write_ttree(path, "Events", data)
    return data


def _custom_recipe(tmp_path: Path, **changes) -> Path:
    recipe = {
        "format": "ntuple",
        "tree": "Events",
        "units": {"energy": "MeV"},
        "fields": {
            "part.pt": "PFCand_pt",
            "part.eta": "PFCand_eta",
            "part.phi": "PFCand_phi",
            "part.mass": "PFCand_mass",
            "jet.pt": "Jet_pt",
        },
        "label": {"branch": "isSignal", "names": ["background", "signal"]},
    }
    recipe.update(changes)
    path = tmp_path / "my_ntuple.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_user_recipe_reads_any_ntuple_in_mev(tmp_path):
    data = _write_custom_ntuple(tmp_path / "custom.root")
    jets = jetgraph.read(tmp_path / "custom.root", recipe=_custom_recipe(tmp_path))
    pt, eta, phi = (ak.flatten(data["PFCand"][k]) / (1e3 if k == "pt" else 1) for k in ("pt", "eta", "phi"))
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(jets.part.px)), ak.to_numpy(pt * np.cos(phi)), rtol=1e-5)
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + 0.13957**2)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(jets.part.energy)), ak.to_numpy(energy), rtol=1e-5)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.pt), data["Jet_pt"] / 1e3, rtol=1e-6)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), data["isSignal"])
    assert jets.attrs["label_names"] == ["background", "signal"]
    with pytest.raises(
        jetgraph.FileFormatError, match=r"custom.root: no built-in recipe recognises this root file \(it holds Events\)"
    ):
        jetgraph.read(tmp_path / "custom.root")


def test_user_recipe_without_usable_particle_fields(tmp_path):
    _write_custom_ntuple(tmp_path / "custom.root")
    recipe = _custom_recipe(tmp_path, fields={"part.pt": "PFCand_pt", "part.phi": "PFCand_phi"})
    with pytest.raises(RecipeError, match=r"particles need fields part.px/py/pz/energy or part.pt/eta/phi"):
        jetgraph.read(tmp_path / "custom.root", recipe=recipe)


def _spoil_particle(branches: dict, jet: int, field: str, value: float) -> dict:
    part = branches["part"]
    flat = ak.to_numpy(ak.flatten(part[field])).copy()
    flat[int(ak.sum(ak.num(part, axis=1)[:jet]))] = value
    branches["part"] = ak.with_field(part, ak.unflatten(flat, ak.num(part, axis=1)), field)
    return branches


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("px", np.nan, r"NaN/Inf in 'part.px'"),
        ("energy", np.inf, r"NaN/Inf in 'part.energy'"),
        ("energy", -5.0, r"negative 'part.energy' \(expected >= 0 GeV\)"),
    ],
)
def test_bad_values_in_a_file_dropped_or_raised(tmp_path, field, value, message):
    branches = _spoil_particle(jetgraph.io.examples.jetclass_branches(30), 7, field, value)
    path = write_ttree(tmp_path / "bad.root", "tree", branches)
    with pytest.warns(
        jetgraph.schema.BadJetsWarning,
        match=rf"bad.root:tree: dropped 1 of 30 jets: 1 with {message}[^;]*, first at entry 7",
    ):
        jets = jetgraph.read(path)
    assert len(jets) == 29
    with pytest.raises(SchemaError, match=rf"bad.root:tree: entry 7: {message}"):
        jetgraph.read(path, on_bad="raise")


def test_jagged_lengths_disagree_in_a_file(tmp_path):
    branches = jetgraph.io.examples.jetclass_branches(10)
    branches["jet_nparticles"] = branches["jet_nparticles"] + np.float32(1)  # claims one particle more
    path = write_ttree(tmp_path / "counts.root", "tree", branches)
    with pytest.raises(
        SchemaError, match=r"counts.root:tree: entry 0: 'jet.nparticles' is \d+ but the jet has \d+ particles"
    ):
        jetgraph.read(path)


def test_empty_jets_in_a_file(tmp_path):
    branches = jetgraph.io.examples.jetclass_branches(10)
    counts = ak.num(branches["part"], axis=1).to_numpy().copy()
    keep = np.ones(int(counts.sum()), bool)
    keep[int(counts[:4].sum()) : int(counts[:5].sum())] = False  # jet 4 loses every particle
    counts[4] = 0
    branches["part"] = ak.unflatten(ak.flatten(branches["part"])[keep], counts)
    branches["jet_nparticles"] = counts.astype(np.float32)
    path = write_ttree(tmp_path / "empty.root", "tree", branches)
    with pytest.raises(
        SchemaError, match=r"empty.root:tree: entry 4: no particles \(expected at least one constituent\)"
    ):
        jetgraph.read(path, on_bad="raise")
    with pytest.warns(jetgraph.schema.BadJetsWarning, match="1 with no particles"):
        assert len(jetgraph.read(path)) == 9


def _skim(path: Path, n: int, classes: tuple[str, ...], seed: int = 2) -> tuple[Path, np.ndarray]:
    """A JetClass-layout file with only the label branches of ``classes``, every jet of one of them."""
    branches = jetgraph.io.examples.jetclass_branches(n, seed=seed)
    wanted = np.array([JETCLASS_LABELS.index(c) for c in classes])
    truth = wanted[np.arange(n) % len(wanted)]
    for i, name in enumerate(JETCLASS_LABELS):
        del branches[f"label_{name}"]
        if name in classes:
            branches[f"label_{name}"] = (truth == i).astype(np.float32)
    write_ttree(path, "tree", branches)
    return path, truth


def test_a_jetclass_skim_with_some_label_branches_keeps_the_class_numbers(tmp_path):
    path, truth = _skim(tmp_path / "skim.root", 30, ("QCD", "Wqq", "Tbqq"))
    jets = jetgraph.read(path)  # detected from the particle branches, without label_Hcc & co.
    assert jets.attrs["recipe"] == "jetclass"
    assert ak.to_numpy(jets.label).tolist() == truth.tolist() and set(truth) == {0, 7, 8}
    assert jets.attrs["label_names"][7] == "Wqq"


def test_a_truncated_jetclass_skim_says_truncated(tmp_path):
    path, _ = _skim(tmp_path / "skim.root", 300, ("QCD", "Tbqq"))
    cut = tmp_path / "cut.root"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with pytest.raises(jetgraph.FileFormatError, match=r"cut.root: truncated or corrupt file"):
        jetgraph.read(cut, recipe="jetclass")


def test_no_label_branch_at_all_is_one_line(tmp_path):
    branches = jetgraph.io.examples.jetclass_branches(5)
    for name in JETCLASS_LABELS:
        del branches[f"label_{name}"]
    path = write_ttree(tmp_path / "unlabelled.root", "tree", branches)
    with pytest.raises(MissingFieldError, match=r"unlabelled.root:tree: none of the one-hot label branches"):
        jetgraph.read(path, recipe="jetclass")


# --------------------------------------------------------------------------- per-event files (NanoAOD-style)


@pytest.fixture(scope="module")
def event_jets(tmp_path_factory) -> ak.Array:
    """120 two-class jets with pid and charge, to be stored as events of up to 3 jets."""
    path = jetgraph.io.examples.write_jetclass(tmp_path_factory.mktemp("events") / "jc.root", n_jets=120, seed=3)
    jets = jetgraph.read(path)
    return ak.Array(ak.with_field(jets, jets.label % 2, "label"), attrs={"label_names": ["gluon", "quark"]})


NANO_FIELDS = {
    "part.pt": "PFCands_pt", "part.eta": "PFCands_eta", "part.phi": "PFCands_phi", "part.mass": "PFCands_mass",
    "part.pid": "PFCands_pdgId", "part.charge": "PFCands_charge",
    "jet.pt": "Jet_pt", "jet.eta": "Jet_eta", "jet.phi": "Jet_phi", "jet.mass": "Jet_mass",
}  # fmt: skip
QG_LABEL = {"branch": "Jet_partonFlavour", "classes": {"gluon": [21], "quark": [1, 2, 3, -1, -2, -3]}}


def _per_event_recipe(**extra) -> dict:
    return {"format": "ntuple", "tree": "Events", "jets": "per_event", "fields": NANO_FIELDS, **extra}


def _expected(jets: ak.Array, per_event: int, select: dict) -> tuple[list[int], list[int]]:
    """The kept jets (indices into ``jets``) and their events, by a plain loop over events."""
    kept, events = [], []
    for event, first in enumerate(range(0, len(jets), per_event)):
        taken = 0
        for j in range(first, min(first + per_event, len(jets))):
            pt, eta = float(jets.jet.pt[j]), float(jets.jet.eta[j])
            if pt < select.get("min_pt", 0) or abs(eta) > select.get("max_abs_eta", np.inf):
                continue
            if taken == select.get("max_jets_per_event", np.inf):
                continue
            kept.append(j)
            events.append(event)
            taken += 1
    return kept, events


def _same_particles(got: ak.Array, jets: ak.Array, kept: list[int]) -> None:
    assert len(got) == len(kept)
    for i, j in enumerate(kept):  # the same particles per jet, in any order (PFNano shuffles them)
        for field in ("energy", "pid"):
            a, b = np.sort(ak.to_numpy(got.part[field][i])), np.sort(ak.to_numpy(jets.part[field][j]))
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("select", [{}, {"max_jets_per_event": 1}, {"min_pt": 515.0, "max_abs_eta": 1.0}])
def test_pfnano_links_give_each_selected_jet_its_particles(event_jets, tmp_path, select):
    from jetgraph.io.examples import write_nanoaod

    path = write_nanoaod(event_jets, tmp_path / "nano.root", jets_per_event=3, layout="pfnano", seed=1)
    links = {"jet_index": "JetPFCands_jetIdx", "particle_index": "JetPFCands_pFCandsIdx"}
    recipe = _per_event_recipe(constituents=links, select=select, label=QG_LABEL)
    got = jetgraph.read(path, recipe=recipe)
    kept, events = _expected(event_jets, 3, select)
    _same_particles(got, event_jets, kept)
    assert got.jet.event.tolist() == events and got.label.tolist() == event_jets.label[kept].tolist()
    assert got.attrs["label_names"] == ["gluon", "quark"] and jetgraph.count(path, recipe) == len(kept)
    chunks = list(jetgraph.iterate(path, recipe, step_size=7))  # events in steps, jets in pieces of at most 7
    assert max(len(c) for c in chunks) <= 7 and ak.array_equal(ak.concatenate(chunks), got)


def test_the_pfnano_recipe_is_detected_and_its_flavour_label_is_optional(event_jets, tmp_path):
    from jetgraph.io.examples import write_nanoaod

    path = write_nanoaod(event_jets[:30], tmp_path / "nano.root", jets_per_event=2, layout="pfnano")
    got = jetgraph.read(path)
    assert got.attrs["recipe"] == "pfnano" and len(got) == 30 and got.label.tolist() == [0] * 30  # hadronFlavour 0
    assert got.attrs["label_names"] == ["light", "c", "b"]
    data = uproot.open(path)["Events"].arrays()
    no_flavour = {f: data[f] for f in data.fields if not f.endswith("Flavour") and not f.startswith("n")}
    stripped = write_ttree(tmp_path / "data.root", "Events", no_flavour)
    assert "label" not in jetgraph.read(stripped).fields  # data: no flavour, no label


def test_particles_stored_jet_after_jet_with_counts(event_jets, tmp_path):
    from jetgraph.io.examples import write_nanoaod

    path = write_nanoaod(event_jets, tmp_path / "counts.root", jets_per_event=4, layout="counts")
    recipe = _per_event_recipe(constituents={"counts": "Jet_nConstituents"}, select={"max_jets_per_event": 2})
    got = jetgraph.read(path, recipe=recipe)
    kept, events = _expected(event_jets, 4, {"max_jets_per_event": 2})
    _same_particles(got, event_jets, kept)
    assert got.jet.event.tolist() == events and "label" not in got.fields


def test_lists_of_lists_one_per_jet(event_jets):
    """Particles nested per jet (std::vector<std::vector<float>>: uproot cannot write these, so the reader's
    per-chunk step is given the arrays a file of that layout reads as)."""
    from jetgraph.io.ntuple import _jetwise, _kept
    from jetgraph.io.recipe import parse_recipe

    recipe = parse_recipe(_per_event_recipe(select={"max_abs_eta": 1.5}))
    jets = event_jets[:9]
    kin = jetgraph.schema.particle_kinematics(jets)
    nest = lambda values: ak.unflatten(values, [3, 3, 3])  # noqa: E731
    data = ak.zip(
        {"PFCands_pt": nest(kin.pt), "PFCands_eta": nest(kin.eta), "PFCands_phi": nest(kin.phi),
         "PFCands_mass": nest(kin.mass), "PFCands_pdgId": nest(jets.part.pid), "PFCands_charge": nest(jets.part.charge),
         "Jet_pt": nest(jets.jet.pt), "Jet_eta": nest(jets.jet.eta), "Jet_phi": nest(jets.jet.phi),
         "Jet_mass": nest(jets.jet.mass)},
        depth_limit=1,
    )  # fmt: skip
    keep, per_event = _kept(recipe, data)
    columns = _jetwise(recipe, data, keep, "mem", 0)
    kept, _ = _expected(jets, 3, {"max_abs_eta": 1.5})
    assert keep.sum() == len(kept) == per_event.sum()
    assert [len(p) for p in columns["PFCands_pt"]] == [int(jets.jet.nparticles[j]) for j in kept]


def test_per_event_mistakes_are_one_line(event_jets, tmp_path):
    from jetgraph.io.examples import write_nanoaod

    path = write_nanoaod(event_jets[:12], tmp_path / "counts.root", jets_per_event=3, layout="counts")
    data = uproot.open(path)["Events"].arrays()
    branches = {f: data[f] for f in data.fields if not f.startswith("n")}
    branches["Jet_nConstituents"] = branches["Jet_nConstituents"] + 1
    wrong = write_ttree(tmp_path / "wrong.root", "Events", branches)
    with pytest.raises(SchemaError, match=r"wrong.root:Events: entry 0: the jets' 'Jet_nConstituents' do not add up"):
        jetgraph.read(wrong, recipe=_per_event_recipe(constituents={"counts": "Jet_nConstituents"}))
    with pytest.raises(RecipeError, match=r"jets: per_event needs fields jet.pt"):
        jetgraph.read(path, recipe={**_per_event_recipe(), "fields": {"part.pt": "PFCands_pt"}})
    with pytest.raises(RecipeError, match=r"constituents and select describe per-event files; add jets: per_event"):
        jetgraph.read(path, recipe={**_per_event_recipe(select={"min_pt": 1.0}), "jets": "per_entry"})
    with pytest.raises(RecipeError, match=r"constituents: \{'jet': 'x'\}; expected counts"):
        jetgraph.read(path, recipe=_per_event_recipe(constituents={"jet": "x"}))
    with pytest.raises(MissingFieldError, match=r"no branch 'Jet_nConst'; did you mean 'Jet_nConstituents'"):
        jetgraph.read(path, recipe=_per_event_recipe(constituents={"counts": "Jet_nConst"}))


def test_a_unit_that_does_not_fit_the_file_is_warned_about(jetclass_file, tmp_path):
    """JetClass jets are ~500 GeV: read with units.energy=MeV they would be 0.5 GeV, which no jet is."""
    import dataclasses
    import warnings

    mev = dataclasses.replace(jetgraph.load_recipe("jetclass"), energy_scale=1e-3)
    with pytest.warns(jetgraph.io.UnitsWarning, match=r"jetclass.root: the jets' median pT is 0.5\d* GeV with units"):
        jets = jetgraph.read(jetclass_file, recipe=mev)
    assert len(jets) == 300
    with warnings.catch_warnings():
        warnings.simplefilter("error", jetgraph.io.UnitsWarning)
        jetgraph.read(jetclass_file)  # GeV: plausible, no warning
