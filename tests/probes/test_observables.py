"""Classic jet observables: against a slow loop reference, their symmetries, and quark/gluon physics."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import jetgraph
from jetgraph.augment import CollinearSplit, RandomRotate
from jetgraph.batch import JetBatch, detector_view
from jetgraph.errors import SchemaError
from jetgraph.generate.detector import load_detector, simulate
from jetgraph.io.examples import write_jetclass
from jetgraph.probes import observables
from jetgraph.probes.observables import (
    OBSERVABLES,
    cell_energy_sum,
    observable_matrix,
    qg_observables,
    track_pt_sum,
)


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    path = write_jetclass(tmp_path_factory.mktemp("observables") / "j.root", n_jets=40, seed=5)
    return jetgraph.read(path)


@pytest.fixture(scope="module")
def batch(jets) -> JetBatch:
    return JetBatch.from_jets(jets)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference(batch: JetBatch) -> dict[str, np.ndarray]:
    """The observables jet by jet and pair by pair, in float64 numpy (slow, obvious)."""
    out = {name: np.zeros(batch.num_jets) for name in OBSERVABLES}
    ptr = batch.ptr.tolist()
    for b in range(batch.num_jets):
        pt = batch.pt[ptr[b] : ptr[b + 1]].double().numpy()
        deta = batch.eta[ptr[b] : ptr[b + 1]].double().numpy() - float(batch.jet_eta[b])
        dphi = batch.phi[ptr[b] : ptr[b + 1]].double().numpy() - float(batch.jet_phi[b])
        dphi = math.pi - np.mod(math.pi - dphi, 2 * math.pi)
        out["multiplicity"][b] = len(pt)
        out["mass_over_pt"][b] = float(batch.jet_mass[b]) / float(batch.jet_pt[b])
        if len(pt) == 0:
            continue
        z = pt / pt.sum()
        girth = sum(z[i] * math.hypot(deta[i], dphi[i]) for i in range(len(pt)))
        out["girth"][b] = girth
        out["pt_d"][b] = math.sqrt(sum(p * p for p in pt)) / pt.sum()
        for i in range(len(pt)):
            for j in range(i + 1, len(pt)):
                distance = math.hypot(deta[i] - deta[j], dphi[i] - dphi[j])
                out["e2_b1"][b] += z[i] * z[j] * distance
                out["e2_b2"][b] += z[i] * z[j] * distance**2
        merged: dict[tuple[float, float], float] = {}
        for i in range(len(pt)):
            merged[(deta[i], dphi[i])] = merged.get((deta[i], dphi[i]), 0.0) + pt[i]
        axes = sorted(merged, key=lambda key: -merged[key])[:2]
        tau2 = sum(z[i] * min(math.hypot(deta[i] - a, dphi[i] - p) for a, p in axes) for i in range(len(pt)))
        out["tau21"][b] = tau2 / girth if girth > 0 else 0.0
    return out


def hardest(batch: JetBatch) -> torch.Tensor:
    """Whether each particle is the hardest of its jet (random float pT: no ties)."""
    top = torch.zeros(batch.num_jets).scatter_reduce(0, batch.batch, batch.pt, "amax", include_self=False)
    return batch.pt == top[batch.batch]


def hardest_only(batch: JetBatch, jets: torch.Tensor) -> JetBatch:
    """``batch`` with ``jets`` cut to their hardest particle (the others keep all theirs)."""
    keep = hardest(batch) | ~torch.isin(batch.batch, jets)
    return batch.select(keep.nonzero().squeeze(1))


def test_observables_match_the_slow_reference(batch):
    cut = hardest_only(batch, torch.tensor([0, 3, 7]))
    empty = batch.select(torch.nonzero(batch.batch != 5).squeeze(1))  # jet 5 has no particle
    for sample in (batch, cut, empty):
        mine = qg_observables(sample)
        expected = reference(sample)
        assert list(mine) == list(OBSERVABLES)
        for name in OBSERVABLES:
            assert mine[name].dtype == torch.float32 and mine[name].shape == (sample.num_jets,)
            np.testing.assert_allclose(mine[name].double().numpy(), expected[name], rtol=1e-5, atol=1e-12, err_msg=name)
    assert (reference(batch)["tau21"] > 0).all() and (reference(batch)["e2_b1"] > 0).all()  # a test that can fail


def test_one_particle_and_empty_jets_are_finite(batch):
    cut = hardest_only(batch, torch.tensor([0, 3, 7]))
    values = qg_observables(cut)
    for name in ("e2_b1", "e2_b2", "tau21"):
        assert values[name][[0, 3, 7]].tolist() == [0.0, 0.0, 0.0], name
    assert values["multiplicity"][[0, 3, 7]].tolist() == [1.0, 1.0, 1.0]
    assert torch.allclose(values["pt_d"][[0, 3, 7]], torch.ones(3))
    empty = qg_observables(batch.select(torch.nonzero(batch.batch != 5).squeeze(1)))
    assert all(bool(torch.isfinite(v).all()) for v in empty.values())
    assert [float(empty[name][5]) for name in ("multiplicity", "girth", "pt_d", "e2_b1", "tau21")] == [0.0] * 5


def test_observable_matrix_columns_follow_observables(batch):
    matrix = observable_matrix(batch)
    values = qg_observables(batch)
    assert matrix.dtype == np.float64 and matrix.shape == (batch.num_jets, len(OBSERVABLES))
    for column, name in enumerate(OBSERVABLES):
        assert np.array_equal(matrix[:, column], values[name].double().numpy())


def test_rotation_about_the_axis_keeps_the_angular_observables(batch):
    rotated = RandomRotate()(batch, seeded(0))
    assert not torch.allclose(rotated.eta, batch.eta)
    before, after = qg_observables(batch), qg_observables(rotated)
    assert torch.equal(before["multiplicity"], after["multiplicity"])
    for name in ("girth", "pt_d", "e2_b1", "e2_b2", "tau21"):
        torch.testing.assert_close(after[name], before[name], rtol=2e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("how", ["random", "hardest_halves"])
def test_collinear_splits_keep_the_irc_safe_observables(batch, how):
    if how == "random":  # a random share z of about half the particles, the hardest included in some jets
        split = CollinearSplit(fraction=0.5)(batch, seeded(1))
    else:  # the hardest particle of every jet in two exact halves: tau2's axes must not move onto them
        chosen = hardest(batch).nonzero().squeeze(1)
        half_pt, half_energy = batch.pt[chosen] / 2, batch.energy[chosen] / 2
        shared = batch.replace(
            pt=batch.pt.index_copy(0, chosen, half_pt), energy=batch.energy.index_copy(0, chosen, half_energy)
        )
        rest = {name: batch[name][chosen] for name in batch.node_fields}
        rest["pt"], rest["energy"] = half_pt, half_energy
        split = shared.add_particles(batch.batch[chosen], **rest)
    before, after = qg_observables(batch), qg_observables(split)
    grown = after["multiplicity"] > before["multiplicity"]
    assert grown.sum() >= batch.num_jets // 2
    assert bool((after["pt_d"][grown] < before["pt_d"][grown] * (1 - 1e-3)).all())  # IRC-unsafe: it sees the split
    for name in ("girth", "e2_b1", "e2_b2", "tau21"):
        torch.testing.assert_close(after[name], before[name], rtol=2e-5, atol=1e-7, msg=name)


def test_quark_and_gluon_jets_differ_as_qcd_says(qg_file):
    jets = jetgraph.read(qg_file)
    gluon = list(jets.attrs["label_names"]).index("gluon")
    batch = JetBatch.from_jets(jets)
    values = qg_observables(batch)
    is_gluon = batch.label == gluon
    assert int(is_gluon.sum()) == 100
    for name in ("multiplicity", "girth", "e2_b1"):
        assert values[name][is_gluon].mean() > values[name][~is_gluon].mean(), name
    assert values["pt_d"][is_gluon].mean() < values["pt_d"][~is_gluon].mean()
    x, y = observable_matrix(batch), is_gluon.numpy().astype(int)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    print(f"quark/gluon AUC of the observables, {len(y_test)} held-out jets: {auc:.3f}")
    assert auc > 0.6


@pytest.fixture(scope="module")
def detector_jets(jets):
    return simulate(jets, load_detector("default"), 2, np.random.default_rng(1))


def test_cell_energy_and_track_pt_sums_match_awkward(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    for replica in (0, 1):
        cells = ak.sum(detector_jets.cells.energy[:, replica], axis=1).to_numpy()
        tracks = ak.sum(detector_jets.tracks.pt[:, replica], axis=1).to_numpy()
        energy, pt = cell_energy_sum(batch, replica), track_pt_sum(batch, replica)
        assert energy.dtype == torch.float32 and energy.shape == (batch.num_jets,)
        np.testing.assert_allclose(energy.numpy(), cells, rtol=1e-5)
        np.testing.assert_allclose(pt.numpy(), tracks, rtol=1e-5)
    assert not torch.allclose(cell_energy_sum(batch, 0), cell_energy_sum(batch, 1))  # replicas differ
    with pytest.raises(SchemaError, match="replica=2"):
        cell_energy_sum(batch, 2)


def test_detector_sums_need_detector_jets(batch):
    with pytest.raises(SchemaError, match="cell_energy_sum needs detector-level jets with cells"):
        cell_energy_sum(batch)
    with pytest.raises(SchemaError, match="track_pt_sum needs detector-level jets with tracks"):
        track_pt_sum(batch)


def test_pairs_done_in_groups_of_jets_give_the_same_sums(batch, monkeypatch):
    whole = qg_observables(batch)
    monkeypatch.setattr(observables, "MAX_PAIRS", 1)  # one jet per group
    grouped = qg_observables(batch)
    for name in ("e2_b1", "e2_b2"):
        assert torch.equal(grouped[name], whole[name]), name


def test_detector_views_get_observables_too(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    view = detector_view(batch, torch.zeros(batch.num_jets, dtype=torch.long))
    values = qg_observables(view)
    assert all(bool(torch.isfinite(v).all()) for v in values.values())
    assert bool((values["multiplicity"] > 1).all()) and bool((values["girth"] > 0).all())


@pytest.fixture(scope="module")
def top_qcd(tmp_path_factory):
    """60 generated top and QCD jets (Pythia 8 + FastJet, anti-kT R = 0.8, pT 550-650 GeV)."""
    from jetgraph.generate import generate

    path = tmp_path_factory.mktemp("top") / "top_qcd.root"
    return jetgraph.read(generate("top_qcd", 60, path, seed=3, chunk_size=30, progress=False).path)


def test_top_observables_see_three_prongs_and_the_top_mass(top_qcd):
    from jetgraph.probes.observables import TOP_OBSERVABLES, top_observables

    values = top_observables(JetBatch.from_jets(top_qcd))
    assert list(values) == list(TOP_OBSERVABLES)
    top = top_qcd.label.to_numpy() == 1  # label_names [qcd, top]
    assert 140 < np.median(values["sd_mass"][top]) < 200 and np.median(values["sd_mass"][~top]) < 100
    assert np.all(values["sd_mass"] <= values["mass"] + 1e-3)  # grooming only removes
    for name in ("tau32", "d2"):  # three prongs: small tau32; a two-prong-like correlation ratio: small D2
        assert np.median(values[name][top]) < np.median(values[name][~top]), name
    assert roc_auc_score(top, -values["tau32"]) > 0.8 and roc_auc_score(top, values["sd_mass"]) > 0.8
    assert observable_matrix(JetBatch.from_jets(top_qcd[:5]), "top").shape == (5, len(TOP_OBSERVABLES))


def test_n_subjettiness_of_three_separate_particles():
    """Three particles far apart: three kT axes on them (tau_3 = 0, so tau32 = 0), two leave one out."""
    from jetgraph.probes.observables import top_observables

    pt, eta, phi = [[300.0, 200.0, 100.0]], [[0.0, 0.5, -0.4]], [[0.0, 0.3, -0.4]]
    jets = jetgraph.build(part=jetgraph.schema.four_momentum(ak.Array(pt), ak.Array(eta), ak.Array(phi)))
    values = top_observables(JetBatch.from_jets(jets))
    assert values["tau32"][0] == pytest.approx(0.0, abs=1e-6) and 0 < values["tau21"][0] < 1
    lone = jetgraph.build(part=jetgraph.schema.four_momentum(ak.Array([[50.0]]), ak.Array([[0.1]]), ak.Array([[0.2]])))
    assert top_observables(JetBatch.from_jets(lone))["tau21"][0] == 0.0  # fewer particles than axes: 0
