"""JetNet HDF5 files (g.hdf5, q.hdf5...), written with h5py in the Zenodo layout and in jetnet's getData layout."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest

import jetgraph
from jetgraph.errors import FileFormatError, MissingFieldError, RecipeError
from jetgraph.schema import BadJetsWarning

N_JETS, SLOTS = 50, 30


def _jetnet(n: int = N_JETS, seed: int = 3) -> dict[str, np.ndarray]:
    """Jets like JetNet's: ~1 TeV, up to 30 particles (etarel, phirel, ptrel, mask), leading first, zero-padded."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, SLOTS + 1, n)
    counts[0] = SLOTS  # a full jet, no padding
    real = np.arange(SLOTS)[None, :] < counts[:, None]
    share = np.where(real, np.sort(rng.exponential(1.0, (n, SLOTS)), axis=1)[:, ::-1], 0.0)
    ptrel = share / share.sum(axis=1, keepdims=True)
    etarel = np.where(real, rng.normal(0, 0.15, (n, SLOTS)), 0.0)
    phirel = np.where(real, rng.normal(0, 0.15, (n, SLOTS)), 0.0)
    particles = np.stack([etarel, phirel, ptrel, real.astype(float)], axis=-1).astype(np.float32)
    jet_pt = rng.normal(1000.0, 50.0, n)
    jet_eta = rng.uniform(-2.0, 2.0, n)
    jet_mass = rng.uniform(20.0, 200.0, n)
    jets = np.stack([jet_pt, jet_eta, jet_mass, counts + rng.integers(0, 3, n)], axis=1).astype(np.float32)
    return {"particles": particles, "jets": jets, "real": real, "counts": counts}


def _write(path: Path, particles: np.ndarray, jets: np.ndarray, **extra: np.ndarray) -> Path:
    with h5py.File(path, "w") as handle:
        handle.create_dataset("particle_features", data=particles, compression="gzip")
        handle["jet_features"] = jets
        for name, values in extra.items():
            handle[name] = values
    return path


@pytest.fixture
def gluon_file(tmp_path: Path) -> tuple[Path, dict]:
    raw = _jetnet()
    return _write(tmp_path / "g.hdf5", raw["particles"], raw["jets"]), raw


def _flat(jets: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(jets.part[field]))


def test_four_momenta_by_hand(tmp_path):
    particles = np.zeros((2, SLOTS, 4), np.float32)
    particles[0, :2] = [[0.1, -0.2, 0.25, 1.0], [-0.05, 0.3, 0.5, 1.0]]
    particles[1, :1] = [[0.0, 0.0, 1.0, 1.0]]
    jets = np.array([[1000.0, 0.5, 90.0, 2], [800.0, -1.0, 40.0, 1]], np.float32)
    path = _write(tmp_path / "t.hdf5", particles, jets)
    got = jetgraph.read(path)
    assert ak.num(got.part, axis=1).tolist() == [2, 1]
    # pt = ptrel * jet pt, eta = etarel + jet eta, phi = phirel (jet axis at phi = 0), massless
    hand = [(250.0, 0.6, -0.2), (500.0, 0.45, 0.3), (800.0, -1.0, 0.0)]
    expected = [
        (pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), pt * math.cosh(eta)) for pt, eta, phi in hand
    ]
    p4 = np.stack([_flat(got, f) for f in ("px", "py", "pz", "energy")], axis=1)
    np.testing.assert_allclose(p4, expected, rtol=2e-6)
    assert got.jet.pt.tolist() == [1000.0, 800.0]
    assert got.jet.eta.tolist() == [0.5, -1.0]
    assert got.jet.phi.tolist() == [0.0, 0.0]
    assert got.jet.mass.tolist() == [90.0, 40.0]
    assert got.jet.nparticles.tolist() == [2, 1]
    assert math.isclose(float(got.jet.energy[0]), 250 * math.cosh(0.6) + 500 * math.cosh(0.45), rel_tol=1e-6)
    assert got.label.tolist() == [2, 2]  # t.hdf5: top
    assert got.attrs["label_names"] == ["gluon", "quark", "top", "W", "Z"]


def test_values_round_trip(gluon_file, caplog):
    path, raw = gluon_file
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(path)
    assert "detected format 'jetnet' (recipe jetnet)" in caplog.text
    assert ak.array_equal(jets, jetgraph.read(path, recipe="jetnet"))
    real = raw["real"]
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.nparticles), raw["counts"])
    p = raw["particles"].astype(np.float64)
    jet_pt, jet_eta, jet_mass = (raw["jets"][:, i].astype(np.float64) for i in range(3))
    pt = p[..., 2] * jet_pt[:, None]
    eta = p[..., 0] + jet_eta[:, None]
    phi = p[..., 1]
    hand = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "energy": pt * np.cosh(eta)}
    for field, values in hand.items():
        np.testing.assert_allclose(_flat(jets, field), values[real], rtol=2e-6, atol=1e-3)
    assert jets.part.fields == ["px", "py", "pz", "energy"]
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.pt), raw["jets"][:, 0])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.eta), raw["jets"][:, 1])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.mass), raw["jets"][:, 2])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.phi), 0.0)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.energy), np.where(real, hand["energy"], 0).sum(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), 0)  # g.hdf5
    # the particles' pT adds up to the jet's (ptrel sums to 1 here) and they sit around the axis
    np.testing.assert_allclose(
        ak.to_numpy(ak.sum(jetgraph.schema.particle_kinematics(jets).pt, axis=1)), jet_pt, rtol=1e-5
    )


@pytest.mark.parametrize(("name", "label"), [("g", 0), ("q", 1), ("t", 2), ("w", 3), ("z", 4), ("z150", 4)])
def test_type_from_the_file_name(tmp_path, name, label):
    raw = _jetnet(n=3)
    path = _write(tmp_path / f"{name}.hdf5", raw["particles"], raw["jets"])
    assert jetgraph.read(path).label.tolist() == [label] * 3


def test_getdata_layout_has_the_type_first(tmp_path):
    raw = _jetnet(n=10)
    types = np.arange(10) % 5
    jets = np.concatenate([types[:, None], raw["jets"]], axis=1).astype(np.float32)
    path = _write(tmp_path / "mixed.hdf5", raw["particles"], jets)  # the name says nothing here
    got = jetgraph.read(path)
    assert got.label.tolist() == types.tolist()
    np.testing.assert_array_equal(ak.to_numpy(got.jet.pt), raw["jets"][:, 0])
    np.testing.assert_array_equal(ak.to_numpy(got.jet.mass), raw["jets"][:, 2])


def test_mask_decides_padding(tmp_path):
    raw = _jetnet(n=4)
    particles = raw["particles"].copy()
    particles[1, -1] = [0.1, 0.1, 0.2, 0.0]  # features in a padded slot: still padding
    particles[2, :, 3] = 0.0  # a jet with no particle at all
    path = _write(tmp_path / "q.hdf5", particles, raw["jets"])
    with pytest.warns(BadJetsWarning, match=r"q.hdf5: dropped 1 of 4 jets: 1 with no particles .* first at entry 2"):
        got = jetgraph.read(path)
    assert got.jet.nparticles.tolist() == [raw["counts"][i] for i in (0, 1, 3)]


def test_chunked_iteration_and_count(gluon_file):
    path, _ = gluon_file
    whole = jetgraph.read(path)
    chunks = list(jetgraph.iterate(path, step_size=20))
    assert [len(c) for c in chunks] == [20, 20, 10]
    assert ak.array_equal(ak.concatenate(chunks), whole)
    assert jetgraph.count(path) == N_JETS
    assert jetgraph.count(path, recipe="jetnet") == N_JETS
    assert len(jetgraph.read(path, entry_stop=25)) == 25


def test_user_recipe_with_other_names_columns_and_units(tmp_path):
    raw = _jetnet(n=6)
    jets = raw["jets"][:, :3] * np.array([1000.0, 1.0, 1000.0], np.float32)  # pt, eta, mass in MeV
    jets = np.concatenate([np.full((6, 1), 3.0, np.float32), jets], axis=1)  # (type, pt, eta, mass)
    path = tmp_path / "wjets.h5"
    with h5py.File(path, "w") as handle:
        handle["parts"] = raw["particles"]
        handle["jets"] = jets
    recipe = {
        "format": "jetnet",
        "units": {"energy": "MeV"},
        "label": {"branch": "type", "names": ["gluon", "quark", "top", "W", "Z"]},
        "options": {"particles": "parts", "jets": "jets", "jet_columns": ["type", "pt", "eta", "mass"]},
    }
    got = jetgraph.read(path, recipe=recipe)
    assert got.label.tolist() == [3] * 6
    np.testing.assert_allclose(ak.to_numpy(got.jet.pt), raw["jets"][:, 0], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(got.jet.mass), raw["jets"][:, 2], rtol=1e-6)
    pt = raw["particles"][..., 2].astype(np.float64) * raw["jets"][:, :1]
    expected = (pt * np.cos(raw["particles"][..., 1]))[raw["real"]]
    np.testing.assert_allclose(_flat(got, "px"), expected, rtol=1e-5, atol=1e-4)


def test_no_label_without_a_type(tmp_path):
    raw = _jetnet(n=5)
    path = _write(tmp_path / "generated.hdf5", raw["particles"], raw["jets"])
    message = r"generated.hdf5: cannot tell the jet type: JetNet files store it only in their name \(g.hdf5, q.hdf5"
    with pytest.raises(FileFormatError, match=message):
        jetgraph.read(path)
    got = jetgraph.read(path, recipe={"format": "jetnet"})
    assert "label" not in got.fields
    assert len(got) == 5


def test_missing_dataset_suggests_closest(tmp_path):
    raw = _jetnet(n=5)
    path = tmp_path / "g.hdf5"
    with h5py.File(path, "w") as handle:
        handle["particle_features"] = raw["particles"]
        handle["jet_feature"] = raw["jets"]
    message = r"g.hdf5: no dataset 'jet_features'; did you mean 'jet_feature'"
    with pytest.raises(MissingFieldError, match=message):
        jetgraph.read(path, recipe="jetnet")
    with pytest.raises(MissingFieldError, match=message):
        jetgraph.count(path, recipe="jetnet")


@pytest.mark.parametrize(
    ("particles", "jets", "message"),
    [
        ((5, 30, 3), (5, 4), r"dataset 'particle_features' has shape \(5, 30, 3\); expected \(jets, particles, 4\)"),
        ((5, 30), (5, 4), r"dataset 'particle_features' has shape \(5, 30\); expected \(jets, particles, 4\)"),
        ((5, 30, 4), (5, 6), r"dataset 'jet_features' has shape \(5, 6\); expected \(jets, 4\) .* or \(jets, 5\)"),
        ((5, 30, 4), (4, 4), r"'particle_features' has 5 jets but 'jet_features' has 4"),
    ],
)
def test_wrong_shapes(tmp_path, particles, jets, message):
    path = _write(tmp_path / "g.hdf5", np.zeros(particles, np.float32), np.ones(jets, np.float32))
    with pytest.raises(FileFormatError, match=rf"g.hdf5: {message}"):
        jetgraph.read(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jet_columns": ["pt", "phi", "mass"]}, r"options.jet_columns must list each column .* got \['pt', 'phi'"),
        ({"jet_columns": ["pt", "pt", "eta", "mass"]}, r"options.jet_columns must list each column"),
        ({"particle": "x"}, r"unknown option 'particle' for format 'jetnet'"),
    ],
)
def test_bad_recipe_options(gluon_file, options, message):
    path, _ = gluon_file
    with pytest.raises(RecipeError, match=message):
        jetgraph.read(path, recipe={"format": "jetnet", "options": options})


def test_inspect_counts(gluon_file):
    from tests.helpers import inspect_json

    path, raw = gluon_file
    summary = inspect_json(path)
    assert (summary["recipe"], summary["jets"], summary["dropped"]) == ("jetnet", N_JETS, 0)
    assert summary["labels"] == {"gluon": N_JETS}
    assert summary["multiplicity"]["max"] == SLOTS


@pytest.mark.parametrize("dataset", ["jet_class", "label", "jet_type"])
def test_type_from_a_dataset_when_the_name_says_nothing(tmp_path, dataset):
    """Files made from JetNet arrays often keep the type in a dataset of its own, not in the file name."""
    raw = _jetnet(n=10)
    types = (np.arange(10) * 3) % 5
    path = _write(tmp_path / "mixed.hdf5", raw["particles"], raw["jets"], **{dataset: types.astype(np.int64)})
    assert jetgraph.read(path).label.tolist() == types.tolist()


def test_type_names_in_a_dataset(tmp_path):
    raw = _jetnet(n=4)
    names = np.array([b"g", b"t", b"q", b"t"])
    path = _write(tmp_path / "mixed.hdf5", raw["particles"], raw["jets"], jet_class=names)
    got = jetgraph.read(path)
    assert got.label.tolist() == [0, 2, 1, 2] and got.attrs["label_names"][2] == "top"
    bad = _write(tmp_path / "odd.hdf5", raw["particles"], raw["jets"], jet_class=np.array([b"g", b"x", b"q", b"t"]))
    with pytest.raises(FileFormatError, match=r"odd.hdf5: dataset 'jet_class' holds jet types \['x'\]; expected"):
        jetgraph.read(bad)
