"""The parametric detector: resolutions, noise, tracking and lateral spread checked as physics properties.

Statistical checks compare with the formula within 4 standard errors (a false failure about once in
16000 runs); the seeds are fixed, so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
import yaml

import jetgraph.io
from jetgraph.errors import JetGraphError, RecipeError, SchemaError
from jetgraph.generate.detector import Calorimeter, Detector, Tracker, load_detector, simulate
from jetgraph.schema import build, conform, four_momentum, validate

PION_MASS = 0.13957
DEFAULT = load_detector()


def _jets(pt, eta, phi, pid, charge, counts=None, mass=0.0, **extra) -> ak.Array:
    """Canonical jets of the given particles (one per jet unless ``counts`` says otherwise)."""
    pt, eta, phi = (np.asarray(x, dtype=np.float64) for x in (pt, eta, phi))
    counts = np.ones(len(pt), dtype=np.int64) if counts is None else np.asarray(counts)
    jag = {name: ak.unflatten(x, counts) for name, x in (("pt", pt), ("eta", eta), ("phi", phi))}
    masses = ak.unflatten(np.broadcast_to(np.asarray(mass, dtype=np.float64), pt.shape).copy(), counts)
    part = four_momentum(jag["pt"], jag["eta"], jag["phi"], mass=masses)
    part["pid"] = ak.unflatten(np.broadcast_to(pid, pt.shape).copy(), counts)
    part["charge"] = ak.unflatten(np.broadcast_to(np.asarray(charge, dtype=np.float64), pt.shape).copy(), counts)
    return build(part=part, **extra)


def _clean(**detector_changes) -> Detector:
    """The default detector without noise and threshold (plus any other changes)."""
    ecal = dataclasses.replace(DEFAULT.ecal, noise=0.0, threshold=0.0)
    hcal = dataclasses.replace(DEFAULT.hcal, noise=0.0, threshold=0.0)
    return dataclasses.replace(DEFAULT, **{"ecal": ecal, "hcal": hcal, **detector_changes})


def _calo_sum(out: ak.Array, replica: int = 0, layer: int | None = None) -> np.ndarray:
    """Summed cell energy of one replica of each jet, in float64."""
    cells = out.cells[:, replica]
    energy = ak.values_astype(cells.energy, np.float64)
    if layer is not None:
        energy = energy[cells.layer == layer]
    return ak.to_numpy(ak.sum(energy, axis=1))


def _sigma(energy, calo: Calorimeter) -> np.ndarray:
    """sigma(E) = E sqrt(a^2/E + c^2)."""
    energy = np.asarray(energy, dtype=np.float64)
    return np.sqrt(calo.stochastic**2 * energy + calo.constant**2 * energy**2)


def _check_std(values: np.ndarray, expected: float) -> None:
    """The sample std agrees with ``expected`` within 4 standard errors (sigma / sqrt(2N))."""
    error = expected / math.sqrt(2 * len(values))
    assert abs(values.std(ddof=1) - expected) < 4 * error, (values.std(ddof=1), expected, error)


def _check_mean(values: np.ndarray, expected: float, sigma: float) -> None:
    error = sigma / math.sqrt(len(values))
    assert abs(values.mean() - expected) < 4 * error, (values.mean(), expected, error)


# --- calorimeter response and resolution -----------------------------------------------------------


def test_photon_energy_resolution_follows_the_ecal_formula():
    n, energy, eta = 4000, 50.0, 0.3
    rng = np.random.default_rng(1)
    jets = _jets(np.full(n, energy / math.cosh(eta)), np.full(n, eta), rng.uniform(-3, 3, n), 22, 0)
    out = simulate(jets, _clean(), 1, np.random.default_rng(2))
    assert set(ak.ravel(out.cells.layer).tolist()) == {0}  # a photon never reaches the HCAL
    measured = _calo_sum(out)
    sigma = float(_sigma(energy, DEFAULT.ecal))  # 10%/sqrt(50) (+) 1% = 1.73%
    _check_mean(measured, energy, sigma)  # response 1
    _check_std(measured, sigma)


def test_charged_pion_resolution_follows_the_hcal_formula_on_the_deposited_energy():
    # hadron_ecal_fraction = 0: all of E goes to the HCAL with response h/e = 0.8, and the resolution
    # is the HCAL formula at the deposited energy 0.8 E (not at E)
    n, energy = 4000, 100.0
    rng = np.random.default_rng(3)
    pt = math.sqrt(energy**2 - PION_MASS**2) / math.cosh(0.5)
    jets = _jets(np.full(n, pt), np.full(n, -0.5), rng.uniform(-3, 3, n), 211, 1, mass=PION_MASS)
    detector = _clean(hadron_ecal_fraction=0.0, hadron_response=0.8)
    out = simulate(jets, detector, 1, np.random.default_rng(4))
    assert set(ak.ravel(out.cells.layer).tolist()) == {1}
    deposited = 0.8 * float(ak.mean(ak.values_astype(jets.part.energy, np.float64)))
    measured = _calo_sum(out)
    sigma = float(_sigma(deposited, DEFAULT.hcal))
    _check_mean(measured, deposited, sigma)
    _check_std(measured, sigma)
    assert abs(sigma - float(_sigma(energy, DEFAULT.hcal)) * 0.8) > 4 * sigma / math.sqrt(2 * n)  # formulas differ


@pytest.mark.parametrize(
    ("pid", "ecal", "hcal"),
    [
        (22, 1.0, 0.0),
        (11, 1.0, 0.0),
        (-11, 1.0, 0.0),
        (211, 0.3, 0.7 * 0.6),  # f E in the ECAL, (1 - f) E h in the HCAL
        (2112, 0.3, 0.7 * 0.6),
        (130, 0.3, 0.7 * 0.6),
        (13, 0.0, 0.0),  # muons and neutrinos leave nothing
        (-13, 0.0, 0.0),
        (12, 0.0, 0.0),
        (14, 0.0, 0.0),
        (16, 0.0, 0.0),
    ],
)
def test_what_each_particle_deposits(pid, ecal, hcal):
    exact = _clean(hadron_ecal_fraction=0.3, hadron_response=0.6)
    exact = dataclasses.replace(
        exact,
        ecal=dataclasses.replace(exact.ecal, stochastic=0.0, constant=0.0),
        hcal=dataclasses.replace(exact.hcal, stochastic=0.0, constant=0.0),
    )
    jets = _jets([20.0, 35.0], [0.1, -1.2], [0.4, 2.0], pid, 0)
    energy = ak.to_numpy(ak.flatten(jets.part.energy)).astype(np.float64)
    out = simulate(jets, exact, 1, np.random.default_rng(0))
    np.testing.assert_allclose(_calo_sum(out, layer=0), ecal * energy, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_calo_sum(out, layer=1), hcal * energy, rtol=1e-5, atol=1e-6)


def test_particles_outside_a_calorimeter_deposit_nothing_there():
    detector = _clean(hcal=dataclasses.replace(DEFAULT.hcal, eta_max=4.0, noise=0.0, threshold=0.0))
    jets = _jets([10.0, 10.0, 10.0], [2.9, 3.5, 4.5], [0.0, 0.0, 0.0], 211, 1, mass=PION_MASS)
    out = simulate(jets, detector, 1, np.random.default_rng(0))
    assert ak.num(out.cells[:, 0], axis=1).tolist()[2] == 0  # beyond both
    assert set(out.cells[1, 0].layer.tolist()) == {1}  # HCAL only at 3.0 < |eta| < 4.0
    assert set(out.cells[0, 0].layer.tolist()) == {0, 1}
    assert ak.max(abs(out.cells.eta[1, 0])) < 4.0


def test_noise_adds_noise_squared_per_cell():
    # three photons in three distant cells, no spread: each jet has exactly 3 cells, and the sum of
    # the cells has variance sum(sigma_i^2) + 3 noise^2 (noise is per cell, not per jet)
    n, energy, noise = 4000, 20.0, 1.0
    ecal = dataclasses.replace(DEFAULT.ecal, noise=noise, threshold=0.0, spread=0.0)
    detector = dataclasses.replace(_clean(), ecal=ecal)
    rng = np.random.default_rng(5)
    eta = np.stack([np.full(n, -1.0), np.full(n, 0.0), np.full(n, 1.0)], axis=1).ravel()
    jets = _jets(energy / np.cosh(eta), eta, rng.uniform(-3, 3, 3 * n), 22, 0, counts=np.full(n, 3))
    out = simulate(jets, detector, 1, np.random.default_rng(6))
    assert ak.num(out.cells[:, 0], axis=1).tolist() == [3] * n
    photon = ak.to_numpy(ak.flatten(jets.part.energy)).astype(np.float64)
    variance = (_sigma(photon, ecal) ** 2).reshape(n, 3).sum(axis=1).mean() + 3 * noise**2
    measured = _calo_sum(out)
    _check_std(measured, math.sqrt(variance))
    _check_mean(measured, photon.reshape(n, 3).sum(axis=1).mean(), math.sqrt(variance))


def test_threshold_drops_small_cells():
    jets = _jets([0.1, 30.0], [0.0, 1.0], [0.0, 1.0], 22, 0, counts=[2])
    out = simulate(jets, DEFAULT, 3, np.random.default_rng(0))
    energy = ak.to_numpy(ak.ravel(out.cells.energy))
    layer = ak.to_numpy(ak.ravel(out.cells.layer))
    assert (energy[layer == 0] >= DEFAULT.ecal.threshold).all()
    assert (energy > 0).all()
    assert np.all(np.abs(ak.to_numpy(ak.ravel(out.cells.eta)) - 1.0) < 0.1)  # only the 30 GeV photon's cells


# --- tracker ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pt", [5.0, 200.0])  # resolution dominated by b, then by a pT
def test_tracking_efficiency_and_pt_resolution(pt):
    n_jets, per_jet = 200, 100
    n = n_jets * per_jet
    rng = np.random.default_rng(7)
    eta = rng.uniform(-2.4, 2.4, n)
    charge = rng.choice([-1.0, 1.0], n)
    jets = _jets(np.full(n, pt), eta, rng.uniform(-3, 3, n), 211, charge, counts=np.full(n_jets, per_jet))
    out = simulate(jets, DEFAULT, 1, np.random.default_rng(8))
    tracks = out.tracks[:, 0]
    found = int(ak.sum(ak.num(tracks, axis=1)))
    eff = DEFAULT.tracker.efficiency
    assert abs(found / n - eff) < 4 * math.sqrt(eff * (1 - eff) / n)
    measured = ak.to_numpy(ak.flatten(tracks.pt)).astype(np.float64)
    rel = math.hypot(DEFAULT.tracker.resolution_a * pt, DEFAULT.tracker.resolution_b)
    _check_std(measured, rel * pt)
    _check_mean(measured, pt, rel * pt)
    # eta, phi and charge are those of the particles, in particle order
    for k in (0, 17, n_jets - 1):
        track_eta = ak.to_numpy(tracks.eta[k])
        particle = np.flatnonzero(np.isin(_eta(out.part[k]), track_eta))
        assert len(particle) == len(track_eta)
        np.testing.assert_array_equal(_eta(out.part[k])[particle], track_eta)
        np.testing.assert_array_equal(_phi(out.part[k])[particle], ak.to_numpy(tracks.phi[k]))
        np.testing.assert_array_equal(ak.to_numpy(out.part.charge[k])[particle], ak.to_numpy(tracks.charge[k]))


def _eta(part: ak.Array) -> np.ndarray:
    pt = np.hypot(ak.to_numpy(part.px).astype(np.float64), ak.to_numpy(part.py).astype(np.float64))
    return np.arcsinh(ak.to_numpy(part.pz).astype(np.float64) / pt).astype(np.float32)


def _phi(part: ak.Array) -> np.ndarray:
    return np.arctan2(ak.to_numpy(part.py).astype(np.float64), ak.to_numpy(part.px).astype(np.float64)).astype(
        np.float32
    )


def test_no_tracks_from_neutrals_forward_or_soft_particles():
    full = dataclasses.replace(DEFAULT, tracker=dataclasses.replace(DEFAULT.tracker, efficiency=1.0))
    jets = _jets(
        [20.0, 20.0, 20.0, 20.0, 0.4, 20.0],
        [0.0, 0.5, 2.6, -2.7, 0.0, 2.4],
        [0.0, 1.0, 2.0, -1.0, 0.5, 0.3],
        [22, 2112, 211, -211, 211, 211],
        [0, 0, 1, -1, 1, 1],
        counts=[6],
    )
    out = simulate(jets, full, 50, np.random.default_rng(0))
    assert ak.num(out.tracks[0], axis=1).tolist() == [1] * 50  # only the 20 GeV pion at eta 2.4
    assert np.allclose(ak.to_numpy(ak.ravel(out.tracks.eta)), 2.4, atol=1e-5)
    assert set(ak.ravel(out.tracks.charge).tolist()) == {1.0}


# --- replicas and reproducibility -------------------------------------------------------------------


def _mixed_jets(n: int, seed: int) -> ak.Array:
    """Jets of 10 particles (photons, charged pions, neutrons) of 5-50 GeV, with truth and labels."""
    rng = np.random.default_rng(seed)
    p = 10 * n
    pid = rng.choice([22, 211, -211, 2112], p)
    charge = np.select([pid == 211, pid == -211], [1.0, -1.0], 0.0)
    energy = rng.uniform(5, 50, p)
    eta = rng.uniform(-2.0, 2.0, p)
    truth = {"pt": rng.uniform(50, 100, n), "eta": rng.uniform(-2, 2, n), "phi": rng.uniform(-3, 3, n)}
    truth |= {"energy": truth["pt"] * 2, "mass": rng.uniform(5, 20, n)}
    return _jets(
        energy / np.cosh(eta),
        eta,
        rng.uniform(-math.pi, math.pi, p),
        pid,
        charge,
        counts=np.full(n, 10),
        truth=truth,
        label=rng.integers(0, 2, n),
        label_names=["gluon", "quark"],
    )


def test_replicas_are_independent_simulations_of_the_same_truth():
    n = 3000
    jets = _mixed_jets(n, seed=9)
    detector = _clean()
    out = simulate(jets, detector, 2, np.random.default_rng(10))
    assert ak.num(out.cells, axis=1).tolist() == [2] * n
    assert ak.num(out.tracks, axis=1).tolist() == [2] * n
    for name in ("part", "jet", "truth", "label"):
        assert ak.array_equal(out[name], jets[name])
    assert out.attrs["label_names"] == ["gluon", "quark"]
    assert out.fields == ["part", "jet", "truth", "cells", "tracks", "label"]
    e1, e2 = _calo_sum(out, 0), _calo_sum(out, 1)
    assert not np.array_equal(e1, e2)
    # predicted per-jet variance from the per-particle resolutions of each deposit
    pid = np.abs(ak.to_numpy(ak.flatten(jets.part.pid)))
    energy = ak.to_numpy(ak.flatten(jets.part.energy)).astype(np.float64)
    em = pid == 22
    f, h = detector.hadron_ecal_fraction, detector.hadron_response
    ecal = np.where(em, energy, f * energy)
    hcal = np.where(em, 0.0, (1 - f) * h * energy)
    variance = _sigma(ecal, detector.ecal) ** 2 + np.where(hcal > 0, _sigma(hcal, detector.hcal) ** 2, 0.0)
    per_jet = variance.reshape(n, 10).sum(axis=1)
    pulls = (e1 - e2) / np.sqrt(2 * per_jet)
    _check_std(pulls, 1.0)
    _check_mean(pulls, 0.0, 1.0)
    _check_mean(e1 - (ecal + hcal).reshape(n, 10).sum(axis=1), 0.0, math.sqrt(per_jet.mean()))


def test_same_seed_same_output_other_seed_other_output():
    jets = _mixed_jets(50, seed=11)
    first = simulate(jets, DEFAULT, 3, np.random.default_rng(12))
    again = simulate(jets, DEFAULT, 3, np.random.default_rng(12))
    other = simulate(jets, DEFAULT, 3, np.random.default_rng(13))
    assert ak.array_equal(first, again)
    assert not ak.array_equal(first.cells, other.cells)
    assert not ak.array_equal(first.tracks, other.tracks)


def test_output_has_schema_dtypes_and_survives_empty_replicas():
    jets = _jets([30.0, 10.0, 5.0], [0.2, 0.0, 1.0], [0.0, 1.0, 2.0], [22, 14, 13], [0, 0, -1], counts=[1, 1, 1])
    out = simulate(jets, DEFAULT, 2, np.random.default_rng(0))
    assert out.type.content == conform(out).type.content
    assert str(out.cells.type.content) == "var * var * {eta: float32, phi: float32, energy: float32, layer: int32}"
    assert ak.num(out.cells[1], axis=1).tolist() == [0, 0]  # a neutrino: nothing, but still valid
    assert len(simulate(jets[:0], DEFAULT, 2, np.random.default_rng(0))) == 0


# --- lateral spread and the grid --------------------------------------------------------------------


def _exact(spread_ecal: float | None = None) -> Detector:
    """No noise, no threshold, no smearing: the cells carry exactly the deposit."""
    detector = _clean()
    ecal = dataclasses.replace(detector.ecal, stochastic=0.0, constant=0.0)
    if spread_ecal is not None:
        ecal = dataclasses.replace(ecal, spread=spread_ecal)
    hcal = dataclasses.replace(detector.hcal, stochastic=0.0, constant=0.0)
    return dataclasses.replace(detector, ecal=ecal, hcal=hcal)


def test_lateral_spread_conserves_energy_and_cells_lie_on_the_grid():
    n = 500
    rng = np.random.default_rng(14)
    eta = np.concatenate([rng.uniform(-2.9, 2.9, n - 3), [2.999, -2.999, 0.0]])
    phi = np.concatenate([rng.uniform(-math.pi, math.pi, n - 3), [0.0, 1.0, math.pi - 1e-3]])
    jets = _jets(40.0 / np.cosh(eta), eta, phi, 22, 0)
    out = simulate(jets, _exact(), 1, np.random.default_rng(15))
    energy = ak.to_numpy(ak.flatten(jets.part.energy)).astype(np.float64)
    np.testing.assert_allclose(_calo_sum(out), energy, rtol=3e-6)
    counts = ak.to_numpy(ak.num(out.cells[:, 0], axis=1))
    assert (counts[:-3] == 9).all()  # spread 0.02 on 0.025 cells: all of the 3 x 3 get energy
    assert counts[-3] == counts[-2] == 6  # at the edge of the acceptance: the cells beyond are not there
    cells = ak.flatten(out.cells[:, 0])
    cell_eta = ak.to_numpy(cells.eta).astype(np.float64)
    cell_phi = ak.to_numpy(cells.phi).astype(np.float64)
    eta_index = cell_eta / 0.025 - 0.5
    phi_width = 2 * math.pi / 251
    phi_index = (cell_phi + math.pi) / phi_width - 0.5
    np.testing.assert_allclose(eta_index, np.round(eta_index), atol=2e-4)
    np.testing.assert_allclose(phi_index, np.round(phi_index), atol=2e-4)
    assert np.abs(cell_eta).max() < 3.0
    assert (cell_phi > -math.pi).all() and (cell_phi <= math.pi).all()
    wrapped = ak.to_numpy(out.cells[-1, 0].phi)  # a photon at phi = pi shares with cells at phi = -pi
    assert wrapped.min() < -3.1 and wrapped.max() > 3.1
    # the energy-weighted centroid stays within a cell of the photon
    centroid = ak.to_numpy(ak.sum(out.cells.eta[:, 0] * out.cells.energy[:, 0], axis=1)) / energy
    assert np.abs(centroid[:-3] - eta[:-3]).max() < 0.025


def test_lateral_profile_is_the_gaussian_integrated_over_the_cells():
    # a photon at a cell centre: the central cell holds (erf(w/2)/erf(3w/2))^2 of the energy (per axis)
    spread = 0.02
    eta, phi_width = 10.5 * 0.025, 2 * math.pi / 251
    phi = -math.pi + 130.5 * phi_width
    jets = _jets([50.0 / math.cosh(eta)], [eta], [phi], 22, 0)
    out = simulate(jets, _exact(spread), 1, np.random.default_rng(0))
    cells = out.cells[0, 0]
    energy = ak.to_numpy(cells.energy).astype(np.float64)
    central = int(np.argmax(energy))
    assert abs(cells.eta[central] - eta) < 1e-6 and abs(cells.phi[central] - phi) < 1e-6

    def share(width: float) -> float:
        inner = math.erf(width / 2 / (spread * math.sqrt(2)))
        return inner / math.erf(3 * width / 2 / (spread * math.sqrt(2)))

    np.testing.assert_allclose(energy[central] / energy.sum(), share(0.025) * share(phi_width), rtol=1e-5)
    # with no spread, the photon stays in its own cell
    narrow = simulate(jets, _exact(0.0), 1, np.random.default_rng(0))
    assert ak.num(narrow.cells[0, 0], axis=0) == 1
    assert abs(narrow.cells.eta[0, 0, 0] - eta) < 1e-6


# --- loading ----------------------------------------------------------------------------------------


def test_default_detector_loads():
    detector = load_detector("default")
    assert detector.name == "default"
    assert detector.ecal.cell_size == (0.025, 0.025)
    assert detector.hcal.cell_size == (0.1, 0.1)
    assert (detector.ecal.layer, detector.hcal.layer) == (0, 1)
    assert detector.tracker == Tracker()


def _write(tmp_path, data: dict):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _default_mapping() -> dict:
    from importlib import resources

    return yaml.safe_load((resources.files("jetgraph") / "data_recipes/detectors/default.yaml").read_text())


def test_detector_from_a_file(tmp_path):
    data = _default_mapping()
    data.pop("name")
    data["ecal"]["noise"] = 0.2
    detector = load_detector(_write(tmp_path, data))
    assert detector.ecal.noise == 0.2
    assert detector.name == "mine"


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    data = _default_mapping()
    data["ecal"]["stochastik"] = data["ecal"].pop("stochastic")
    with pytest.raises(RecipeError, match=r"unknown key 'ecal\.stochastik'; did you mean 'stochastic'"):
        load_detector(_write(tmp_path, data))


def test_bad_value_is_named(tmp_path):
    data = _default_mapping()
    data["hcal"]["noise"] = "0.1 GeV"
    with pytest.raises(RecipeError, match=r"hcal\.noise: '0\.1 GeV'; expected a number"):
        load_detector(_write(tmp_path, data))
    data = _default_mapping()
    data["tracker"]["efficiency"] = 1.5
    with pytest.raises(RecipeError, match=r"efficiency is 1\.5; expected between 0 and 1"):
        load_detector(_write(tmp_path, data))


def test_unknown_builtin_detector():
    with pytest.raises(RecipeError, match=r"'defualt' is not a built-in detector.*did you mean 'default'"):
        load_detector("defualt")


@pytest.mark.parametrize(
    ("build_it", "match"),
    [
        (lambda: Tracker(efficiency=-0.1), "efficiency"),
        (lambda: dataclasses.replace(DEFAULT.ecal, cell_size=(0.025,)), "cell_size"),
        (lambda: dataclasses.replace(DEFAULT.ecal, spread=-1.0), "spread"),
        (lambda: dataclasses.replace(DEFAULT, hadron_response=0.0), "hadron_response"),
        (lambda: dataclasses.replace(DEFAULT, hcal=dataclasses.replace(DEFAULT.hcal, layer=0)), "different layers"),
    ],
)
def test_out_of_range_settings_raise(build_it, match):
    with pytest.raises(ValueError, match=match):
        build_it()


def test_bad_inputs_raise():
    jets = _mixed_jets(3, seed=0)
    with pytest.raises(JetGraphError, match="replicas=0"):
        simulate(jets, DEFAULT, 0, np.random.default_rng(0))
    with pytest.raises(SchemaError, match=r"lack \['pid'\]"):
        simulate(build(part={k: jets.part[k] for k in ("px", "py", "pz", "energy", "charge")}), DEFAULT, 1, None)
    out = simulate(jets, DEFAULT, 1, np.random.default_rng(0))
    with pytest.raises(SchemaError, match="already have"):
        simulate(out, DEFAULT, 1, np.random.default_rng(0))


# --- files ------------------------------------------------------------------------------------------


def _file_jets(neutrino_jet: bool) -> ak.Array:
    """Three small jets; with ``neutrino_jet`` the second is a lone neutrino (its replicas are empty)."""
    second = (12, 0.0) if neutrino_jet else (211, 1.0)
    return _jets(
        [30.0, 10.0, 3.0, 8.0, 25.0, 2.0],
        [0.1, 0.5, 0.2, -1.0, -1.1, -0.9],
        [0.3, 1.0, 0.25, 2.0, 2.1, 1.9],
        [22, 211, second[0], 2112, -211, 22],
        [0, 1, second[1], 0, -1, 0],
        counts=[2, 1, 3],
        mass=[0.0, PION_MASS, 0.0 if neutrino_jet else PION_MASS, 0.9396, PION_MASS, 0.0],
        label=[0, 1, 0],
        label_names=["gluon", "quark"],
    )


def _round_trip(out: ak.Array, path) -> ak.Array:
    back = jetgraph.io.read(jetgraph.io.write(out, path), on_bad="raise")
    validate(back, on_bad="raise")
    assert back.fields == out.fields
    assert back.attrs["label_names"] == ["gluon", "quark"]
    return back


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_round_trip_through_a_file(tmp_path, suffix):
    # every replica has cells and (with efficiency 1) a track
    full = dataclasses.replace(DEFAULT, tracker=dataclasses.replace(DEFAULT.tracker, efficiency=1.0))
    out = simulate(_file_jets(neutrino_jet=False), full, 3, np.random.default_rng(18))
    assert ak.all(ak.num(out.cells, axis=2) > 0) and ak.all(ak.num(out.tracks, axis=2) > 0)
    back = _round_trip(out, tmp_path / f"detector{suffix}")
    assert ak.array_equal(back, out)
    assert ak.num(back.cells, axis=1).tolist() == [3, 3, 3]


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_round_trip_keeps_empty_replicas(tmp_path, suffix):
    out = simulate(_file_jets(neutrino_jet=True), DEFAULT, 3, np.random.default_rng(18))
    assert ak.num(out.cells[1], axis=1).tolist() == [0, 0, 0]  # the neutrino leaves nothing
    back = _round_trip(out, tmp_path / f"detector{suffix}")
    assert ak.num(back.cells, axis=1).tolist() == [3, 3, 3]
    assert ak.array_equal(back, out)
