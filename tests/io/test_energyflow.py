"""EnergyFlow quark/gluon NPZ files, written with numpy.savez_compressed."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

import jetgraph
from jetgraph.errors import FileFormatError, MissingFieldError, RecipeError
from jetgraph.io.energyflow import mass_and_charge

N_JETS, SLOTS = 50, 30
# PDG masses (GeV) and charges of the ids the generator draws, written out independently of the reader
HAND = {22: (0.0, 0), 211: (0.13957039, 1), -211: (0.13957039, -1), 321: (0.493677, 1), -321: (0.493677, -1),
        130: (0.497611, 0), 2212: (0.93827208816, 1), -2212: (0.93827208816, -1), 2112: (0.93956542052, 0),
        11: (0.51099895e-3, -1), -11: (0.51099895e-3, 1), 13: (0.1056583755, -1), -13: (0.1056583755, 1)}  # fmt: skip


def _jets(n: int = N_JETS, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Particles like QG_jets.npz: (pt, y, phi, pid) in float64, leading first, zero-padded."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, SLOTS - 2, n)
    counts[0] = SLOTS - 3  # even the widest jet has padding slots (not so in the real files; harmless)
    real = np.arange(SLOTS)[None, :] < counts[:, None]
    pt = np.sort(rng.exponential(20.0, (n, SLOTS)) + 0.5, axis=1)[:, ::-1]
    y = rng.uniform(-1.7, 1.7, n)[:, None] + rng.normal(0, 0.2, (n, SLOTS))
    phi = rng.uniform(0, 2 * np.pi, n)[:, None] + rng.normal(0, 0.2, (n, SLOTS))
    pid = rng.choice(list(HAND), (n, SLOTS)).astype(np.float64)
    x = np.where(real[..., None], np.stack([pt, y, phi, pid], axis=-1), 0.0)
    label = rng.integers(0, 2, n).astype(np.float64)  # 1 = quark, as the real files (float)
    return x, label


@pytest.fixture
def qg_file(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    x, label = _jets()
    path = tmp_path / "QG_jets.npz"
    np.savez_compressed(path, X=x, y=label)
    return path, x, label


def _hand_p4(pt: float, y: float, phi: float, pid: int) -> tuple[float, float, float, float]:
    m = HAND.get(pid, (0.0, 0))[0]
    mt = math.sqrt(pt**2 + m**2)
    return pt * math.cos(phi), pt * math.sin(phi), mt * math.sinh(y), mt * math.cosh(y)


def test_four_momenta_by_hand(tmp_path):
    x = np.zeros((2, 4, 4))
    x[0, :3] = [[100.0, 0.5, 0.3, 211], [50.0, -0.2, 0.1, 22], [20.0, 0.1, -0.4, -2212]]
    x[1, :1] = [[7.0, 2.5, 6.0, 9999]]  # an id not in the table: massless and neutral
    path = tmp_path / "hand.npz"
    np.savez_compressed(path, X=x, y=np.array([1.0, 0.0]))
    jets = jetgraph.read(path)
    assert ak.num(jets.part, axis=1).tolist() == [3, 1]
    got = np.stack([_flat(jets, f) for f in ("px", "py", "pz", "energy")], axis=1)
    expected = np.array([_hand_p4(*row[:3], int(row[3])) for row in (*x[0, :3], x[1, 0])])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # pi+ at pt 100, y 0.5: E = sqrt(100^2 + 0.13957^2) cosh(0.5)
    assert math.isclose(float(jets.part.energy[0, 0]), 112.762706, rel_tol=1e-6)
    assert _flat(jets, "pid").tolist() == [211, 22, -2212, 9999]
    assert _flat(jets, "charge").tolist() == [1, 0, -1, 0]
    assert jets.label.tolist() == [1, 0]


def _flat(jets: ak.Array, field: str) -> np.ndarray:
    return ak.to_numpy(ak.flatten(jets.part[field]))


def test_values_masses_and_labels(qg_file, caplog):
    path, x, label = qg_file
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(path)
    assert "detected format 'energyflow' (recipe energyflow)" in caplog.text
    assert ak.array_equal(jets, jetgraph.read(path, recipe="energyflow"))
    real = x[..., 0] > 0
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.nparticles), real.sum(axis=1))
    pid = x[..., 3].astype(int)
    mass = np.vectorize(lambda p: HAND[p][0])(np.where(real, pid, 22))
    mt = np.sqrt(x[..., 0] ** 2 + mass**2)
    p4 = {"px": x[..., 0] * np.cos(x[..., 2]), "py": x[..., 0] * np.sin(x[..., 2]),
          "pz": mt * np.sinh(x[..., 1]), "energy": mt * np.cosh(x[..., 1])}  # fmt: skip
    for field, values in p4.items():
        np.testing.assert_allclose(_flat(jets, field), values[real], rtol=2e-6, atol=1e-5)
    np.testing.assert_array_equal(_flat(jets, "pid"), pid[real])
    np.testing.assert_array_equal(_flat(jets, "charge"), np.vectorize(lambda p: HAND[p][1])(pid[real]))
    # the jet mass from the summed four-momenta, computed directly with numpy from the padded array;
    # particles are stored as float32 (a lone pion's mass is then only good to ~1%), sums in float64
    sums = {k: np.where(real, v, 0.0).astype(np.float32).sum(axis=1, dtype=np.float64) for k, v in p4.items()}
    jet_mass = np.sqrt(sums["energy"] ** 2 - sums["px"] ** 2 - sums["py"] ** 2 - sums["pz"] ** 2)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.mass), jet_mass, rtol=1e-5)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.pt), np.hypot(sums["px"], sums["py"]), rtol=1e-5)
    np.testing.assert_array_equal(ak.to_numpy(jets.label), label.astype(int))
    assert jets.attrs["label_names"] == ["gluon", "quark"]


def test_mass_and_charge_table():
    mass, charge = mass_and_charge(np.array([[211, -211, 22], [-11, 0, 123456]]))
    np.testing.assert_allclose(mass, [[0.13957039, 0.13957039, 0.0], [0.51099895e-3, 0.0, 0.0]])
    np.testing.assert_array_equal(charge, [[1, -1, 0], [1, 0, 0]])


def test_chunked_iteration_and_count(qg_file):
    path, _, _ = qg_file
    whole = jetgraph.read(path)
    chunks = list(jetgraph.iterate(path, step_size=20))
    assert [len(c) for c in chunks] == [20, 20, 10]
    assert ak.array_equal(ak.concatenate(chunks), whole)
    assert jetgraph.count(path) == N_JETS
    assert jetgraph.count(path, recipe="energyflow") == N_JETS
    assert len(jetgraph.read(path, entry_stop=25)) == 25


def test_mev_user_recipe_with_other_array_names(tmp_path):
    x, label = _jets(n=8)
    scaled = x.copy()
    scaled[..., 0] *= 1000.0
    path = tmp_path / "mev.npz"
    np.savez_compressed(path, particles=scaled, is_quark=label)
    recipe = {"format": "energyflow", "units": {"energy": "MeV"}, "options": {"particles": "particles"},
              "label": {"branch": "is_quark", "names": ["g", "q"]}}  # fmt: skip
    jets = jetgraph.read(path, recipe=recipe)
    reference = jetgraph.read(_save(tmp_path / "gev.npz", x, label))
    for field in ("px", "py", "pz", "energy"):
        np.testing.assert_allclose(_flat(jets, field), _flat(reference, field), rtol=1e-6)
    assert jets.attrs["label_names"] == ["g", "q"]


def _save(path: Path, x: np.ndarray, label: np.ndarray) -> Path:
    np.savez_compressed(path, X=x, y=label)
    return path


def test_missing_array_suggests_closest(tmp_path):
    x, label = _jets(n=4)
    path = tmp_path / "renamed.npz"
    np.savez_compressed(path, X1=x, y=label)
    with pytest.raises(MissingFieldError, match=r"renamed.npz: no array 'X'; did you mean 'X1'\?"):
        jetgraph.read(path, recipe="energyflow")
    with pytest.raises(MissingFieldError, match=r"renamed.npz: no array 'X'"):
        jetgraph.count(path, recipe="energyflow")


def test_wrong_shape_names_file_array_and_shapes(tmp_path):
    x, label = _jets(n=4)
    path = tmp_path / "three.npz"
    np.savez_compressed(path, X=x[..., :3], y=label)
    message = (
        r"three.npz: array 'X' has shape \(4, 30, 3\); "
        r"expected \(jets, particles, 4\) with columns \('pt', 'rapidity', 'phi', 'pid'\)"
    )
    with pytest.raises(FileFormatError, match=message):
        jetgraph.read(path)
    with pytest.raises(FileFormatError, match=message):
        jetgraph.count(path)


def test_label_length_must_match(tmp_path):
    x, label = _jets(n=4)
    path = tmp_path / "short.npz"
    np.savez_compressed(path, X=x, y=label[:3])
    with pytest.raises(FileFormatError, match=r"short.npz: label array 'y' has shape \(3,\); expected \(4,\)"):
        jetgraph.read(path)


def test_corrupt_data_is_a_file_format_error(tmp_path, qg_file):
    path, _, _ = qg_file
    data = bytearray(path.read_bytes())
    start = len(data) // 3
    data[start : start + 64] = bytes(64)  # inside X's compressed stream
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"bad.npz: truncated or corrupt file"):
        jetgraph.read(bad, recipe="energyflow")
    with pytest.raises(FileFormatError, match=r"bad.npz: truncated or corrupt file"):
        jetgraph.read(bad)  # auto-detection reads only headers; the damage shows when X is inflated


def test_fields_are_refused(qg_file):
    path, _, _ = qg_file
    with pytest.raises(RecipeError, match=r"format 'energyflow' reads particles from one \(N, M, 4\) array"):
        jetgraph.read(path, recipe={"format": "energyflow", "fields": {"part.pt": "pt"}})


def test_inspect_counts(qg_file):
    from tests.helpers import inspect_json

    path, x, label = qg_file
    summary = inspect_json(path)
    assert (summary["recipe"], summary["jets"], summary["dropped"]) == ("energyflow", N_JETS, 0)
    assert summary["labels"] == {"gluon": int((label == 0).sum()), "quark": int((label == 1).sum())}
    assert summary["multiplicity"]["max"] == int((x[..., 0] > 0).sum(axis=1).max())
