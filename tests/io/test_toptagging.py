"""Top-tagging reference HDF5 (pandas fixed format), written with pandas' own to_hdf."""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

import jetgraph
from jetgraph.errors import FileFormatError, MissingFieldError, RecipeError

SLOTS = 20  # the real files have 200; the reader must find the number from the column names
N_JETS = 60
TOP_MASS = 172.5


def _frame(n: int = N_JETS, seed: int = 11, truth: bool = True, shuffle: bool = True) -> tuple[pd.DataFrame, dict]:
    """Jets like the real ones: massless constituents around a jet axis, leading first, zero-padded.

    Momenta are float32 and the truth float64, ttv int8 and the label int64, so the DataFrame has
    four dtype blocks; the columns are shuffled so that E_10 comes before E_2 in the file.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, SLOTS + 1, n)
    counts[0] = SLOTS  # one full jet
    pt = np.sort(rng.exponential(40.0, (n, SLOTS)) + 1.0, axis=1)[:, ::-1]
    axis_eta, axis_phi = rng.uniform(-2, 2, n), rng.uniform(-np.pi, np.pi, n)
    eta = axis_eta[:, None] + rng.normal(0, 0.3, (n, SLOTS))
    phi = axis_phi[:, None] + rng.normal(0, 0.3, (n, SLOTS))
    real = np.arange(SLOTS)[None, :] < counts[:, None]
    p4 = {
        "E": pt * np.cosh(eta),
        "PX": pt * np.cos(phi),
        "PY": pt * np.sin(phi),
        "PZ": pt * np.sinh(eta),
    }
    p4 = {k: np.where(real, v, 0.0).astype(np.float32) for k, v in p4.items()}
    label = rng.integers(0, 2, n).astype(np.int64)
    columns: dict[str, np.ndarray] = {f"{k}_{i}": v[:, i] for k, v in p4.items() for i in range(SLOTS)}
    top_pt = rng.uniform(500, 700, n)
    top_eta = axis_eta + rng.normal(0, 0.05, n)
    top_phi = axis_phi + rng.normal(0, 0.05, n)
    mt = np.sqrt(top_pt**2 + TOP_MASS**2)
    top = {
        "truthE": mt * np.cosh(top_eta),
        "truthPX": top_pt * np.cos(top_phi),
        "truthPY": top_pt * np.sin(top_phi),
        "truthPZ": mt * np.sinh(top_eta),
    }
    if truth:
        columns.update({k: np.where(label == 1, v, 0.0) for k, v in top.items()})  # QCD: zeros
    columns["ttv"] = np.zeros(n, np.int8)
    columns["is_signal_new"] = label
    frame = pd.DataFrame(columns)
    if shuffle:
        frame = frame[list(rng.permutation(frame.columns))]
    raw = {"p4": p4, "counts": counts, "label": label, "real": real, "top": top, "top_pt": top_pt}
    return frame, raw


@pytest.fixture
def top_file(tmp_path: Path) -> tuple[Path, dict]:
    frame, raw = _frame()
    path = tmp_path / "train.h5"
    frame.to_hdf(path, key="table", format="fixed")
    return path, raw


def _flat(jets: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(jets.part[field]))


def test_file_has_mixed_dtype_blocks_and_shuffled_columns(top_file):
    path, _ = top_file
    with h5py.File(path, "r") as handle:
        group = handle["table"]
        dtypes = {group[f"block{k}_values"].dtype for k in range(int(group.attrs["nblocks"]))}
        items = [n.decode() for n in group["block0_items"][()]]
    assert dtypes == {np.dtype("float32"), np.dtype("float64"), np.dtype("int8"), np.dtype("int64")}
    e_columns = [c for c in items if c.startswith("E_")]
    assert e_columns != sorted(e_columns, key=lambda c: int(c[2:]))  # the reader must sort by slot


def test_values_round_trip(top_file, caplog):
    path, raw = top_file
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(path)
    assert "detected format 'toptagging' (recipe toptagging)" in caplog.text
    assert ak.array_equal(jets, jetgraph.read(path, recipe="toptagging"))
    assert len(jets) == N_JETS
    np.testing.assert_array_equal(ak.to_numpy(ak.num(jets.part, axis=1)), raw["counts"])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.nparticles), raw["counts"])
    real = raw["real"]
    for field, prefix in (("energy", "E"), ("px", "PX"), ("py", "PY"), ("pz", "PZ")):
        np.testing.assert_array_equal(_flat(jets, field), raw["p4"][prefix][real])
    assert jets.part.fields == ["px", "py", "pz", "energy"]
    np.testing.assert_array_equal(ak.to_numpy(jets.label), raw["label"])
    assert jets.attrs["label_names"] == ["qcd", "top"]


def test_jet_kinematics_from_constituents(top_file):
    path, raw = top_file
    jets = jetgraph.read(path)
    sums = {k: np.where(raw["real"], v, 0).astype(np.float64).sum(axis=1) for k, v in raw["p4"].items()}
    mass = np.sqrt(np.clip(sums["E"] ** 2 - sums["PX"] ** 2 - sums["PY"] ** 2 - sums["PZ"] ** 2, 0, None))
    np.testing.assert_allclose(ak.to_numpy(jets.jet.mass), mass, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.pt), np.hypot(sums["PX"], sums["PY"]), rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.energy), sums["E"], rtol=1e-6)


def test_truth_is_the_top_quark_and_zero_for_qcd(top_file):
    path, raw = top_file
    jets = jetgraph.read(path)
    assert jets.truth.fields == ["pt", "eta", "phi", "energy", "mass"]
    top = raw["label"] == 1
    np.testing.assert_allclose(ak.to_numpy(jets.truth.mass)[top], TOP_MASS, rtol=1e-4)
    np.testing.assert_allclose(ak.to_numpy(jets.truth.pt)[top], raw["top_pt"][top], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.truth.energy)[top], raw["top"]["truthE"][top], rtol=1e-6)
    for field in jets.truth.fields:  # no top quark: zeros, not NaN (which would drop the jet)
        np.testing.assert_array_equal(ak.to_numpy(jets.truth[field])[~top], 0.0)


def test_chunked_iteration_and_count(top_file):
    path, _ = top_file
    whole = jetgraph.read(path)
    chunks = list(jetgraph.iterate(path, step_size=25))
    assert [len(c) for c in chunks] == [25, 25, 10]
    assert ak.array_equal(ak.concatenate(chunks), whole)
    assert jetgraph.count(path) == N_JETS
    assert jetgraph.count(path, recipe="toptagging") == N_JETS
    assert len(jetgraph.read(path, entry_stop=30)) == 30


def test_user_recipe_prefixes_units_and_jet_columns(tmp_path):
    frame, raw = _frame(n=12, truth=False, shuffle=False)
    frame = frame.rename(columns=lambda c: c.replace("E_", "Ene").replace("P", "p") if "_" in c else c)
    frame = frame.rename(columns={"is_signal_new": "is_top"})
    frame[[c for c in frame.columns if c[:3] in ("Ene", "pX_", "pY_", "pZ_")]] *= 1000.0  # MeV
    charge = np.where(raw["real"], np.resize([1, -1, 0], raw["real"].shape), 0).astype(np.float32)
    frame = pd.concat([frame, pd.DataFrame({f"Q_{i}": charge[:, i] for i in range(SLOTS)})], axis=1)
    path = tmp_path / "mev.h5"
    frame.to_hdf(path, key="jets", format="fixed")
    recipe = {
        "format": "toptagging",
        "tree": "jets",
        "units": {"energy": "MeV"},
        "fields": {
            "part.energy": "Ene",
            "part.px": "pX_",
            "part.py": "pY_",
            "part.pz": "pZ_",
            "part.charge": "Q_",
            "jet.ttv": "ttv",
        },
        "label": {"branch": "is_top", "names": ["qcd", "top"]},
        "options": {"truth_p4": {"px": "truthPX", "py": "truthPY", "pz": "truthPZ", "energy": "truthE"}},
    }
    recipe_path = tmp_path / "mine.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe))
    jets = jetgraph.read(path, recipe=recipe_path)
    np.testing.assert_allclose(_flat(jets, "energy"), raw["p4"]["E"][raw["real"]], rtol=1e-6)
    np.testing.assert_array_equal(_flat(jets, "charge"), charge[raw["real"]])
    assert jets.part.fields == ["px", "py", "pz", "energy", "charge"]
    assert "truth" not in jets.fields  # the file has no truth columns
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.ttv), 0)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), raw["label"])


def test_missing_key_suggests_closest(tmp_path):
    frame, _ = _frame(n=5)
    path = tmp_path / "renamed.h5"
    frame.to_hdf(path, key="tables", format="fixed")
    with pytest.raises(MissingFieldError, match=r"renamed.h5: no pandas key 'table'; did you mean 'tables'\?"):
        jetgraph.read(path, recipe="toptagging")
    with pytest.raises(MissingFieldError, match=r"no pandas key 'table'"):
        jetgraph.count(path, recipe="toptagging")


def test_missing_energy_columns(tmp_path):
    frame, _ = _frame(n=5)
    path = tmp_path / "noe.h5"
    frame.rename(columns=lambda c: c.replace("E_", "En_")).to_hdf(path, key="table", format="fixed")
    with pytest.raises(MissingFieldError, match=r"noe.h5:table: no part.energy columns 'E_<n>'; did you mean 'En_<n>'"):
        jetgraph.read(path)
    frame.drop(columns=[c for c in frame.columns if c.startswith("E_")]).to_hdf(path, key="table", format="fixed")
    with pytest.raises(MissingFieldError, match=r"noe.h5:table: no part.energy columns 'E_<n>'"):
        jetgraph.read(path)


def test_missing_label_column_suggests_closest(tmp_path):
    frame, _ = _frame(n=5)
    path = tmp_path / "nolabel.h5"
    frame.rename(columns={"is_signal_new": "is_signal"}).to_hdf(path, key="table", format="fixed")
    message = r"nolabel.h5:table: no column 'is_signal_new'; did you mean 'is_signal'\?"
    with pytest.raises(MissingFieldError, match=message):
        jetgraph.read(path)


def test_slots_must_agree_between_fields(tmp_path):
    frame, _ = _frame(n=5)
    path = tmp_path / "short.h5"
    frame.drop(columns=["PZ_19"]).to_hdf(path, key="table", format="fixed")
    message = r"short.h5:table: the columns PZ_<n> and E_<n> have different slots \(19 and 20"
    with pytest.raises(FileFormatError, match=message):
        jetgraph.read(path)


def test_table_format_is_refused_with_a_clear_message(tmp_path):
    frame, _ = _frame(n=5)
    path = tmp_path / "tableformat.h5"
    frame.to_hdf(path, key="table", format="table")
    message = r"tableformat.h5:table: a DataFrame in pandas' 'table' format; expected .*format='fixed'"
    with pytest.raises(FileFormatError, match=message):
        jetgraph.read(path, recipe="toptagging")


def test_recipe_without_particle_prefixes(tmp_path, top_file):
    path, _ = top_file
    recipe = {"format": "toptagging", "fields": {"part.energy": "E_", "part.pt": "PT_"}}
    message = r"reads particles from column prefixes .* missing \['part.px', 'part.py', 'part.pz'\]"
    with pytest.raises(RecipeError, match=message):
        jetgraph.read(path, recipe=recipe)


def test_one_hot_label_columns(tmp_path):
    frame, raw = _frame(n=10)
    frame["is_qcd"] = (raw["label"] == 0).astype(np.int64)
    frame["is_top"] = (raw["label"] == 1).astype(np.float32)
    frame = frame.drop(columns=["is_signal_new"])
    path = tmp_path / "onehot.h5"
    frame.to_hdf(path, key="table", format="fixed")
    recipe = jetgraph.load_recipe("toptagging")
    data = {"format": "toptagging", "fields": recipe.fields, "label": {"one_hot": {"qcd": "is_qcd", "top": "is_top"}}}
    jets = jetgraph.read(path, recipe=data)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), raw["label"])
    assert jets.attrs["label_names"] == ["qcd", "top"]
    frame["is_top"] = 1.0
    frame.to_hdf(path, key="table", format="fixed")
    with pytest.raises(
        jetgraph.SchemaError,
        match=r"onehot.h5:table: entry \d+: 2 of the one-hot labels \[.is_qcd., .is_top.\] are true",
    ):
        jetgraph.read(path, recipe=data)


def test_inspect_counts(top_file):
    from tests.helpers import inspect_json

    path, raw = top_file
    summary = inspect_json(path)
    assert (summary["recipe"], summary["jets"], summary["dropped"]) == ("toptagging", len(raw["label"]), 0)
    assert summary["labels"] == {"qcd": int((raw["label"] == 0).sum()), "top": int((raw["label"] == 1).sum())}
    assert summary["multiplicity"]["max"] == int(raw["real"].sum(axis=1).max())


@pytest.mark.parametrize(
    ("dropped", "kept"),
    [
        (["truthPX"], ["energy"]),
        (["truthPZ"], ["pt", "phi", "energy"]),
        (["truthE"], ["pt", "eta", "phi"]),
    ],
)
def test_partial_truth_reads_what_is_complete_and_warns(tmp_path, dropped, kept):
    frame, raw = _frame(n=12, shuffle=False)
    path = tmp_path / "skim.h5"
    frame.drop(columns=dropped).to_hdf(path, key="table", format="fixed")
    with pytest.warns(UserWarning, match=rf"skim.h5:table: no column '{dropped[0]}' of options.truth_p4; reading"):
        jets = jetgraph.read(path)
    assert sorted(jets.truth.fields) == sorted(kept)
    top = raw["label"] == 1
    if "energy" in kept:
        np.testing.assert_allclose(ak.to_numpy(jets.truth.energy)[top], raw["top"]["truthE"][top], rtol=1e-6)
    if "pt" in kept:
        np.testing.assert_allclose(ak.to_numpy(jets.truth.pt)[top], raw["top_pt"][top], rtol=1e-6)
    assert len(jets) == 12 and ak.to_numpy(jets.label).tolist() == raw["label"].tolist()
