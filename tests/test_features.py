"""jetgraph.features against slow per-jet numpy loops."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import torch

from jetgraph.batch import JetBatch, detector_view
from jetgraph.features import (
    LAYER_FEATURES,
    PID_FEATURES,
    FeatureError,
    feature_names,
    knn_edges,
    node_features,
    num_node_features,
    radius_edges,
    to_dense,
)
from jetgraph.generate.detector import load_detector, simulate
from jetgraph.schema import build, four_momentum

# pid: (charge, mass in GeV, expected class in PID_FEATURES order)
SPECIES = {
    211: (1, 0.1396, 0),
    -211: (-1, 0.1396, 0),
    321: (1, 0.4937, 0),
    -2212: (-1, 0.9383, 0),
    3222: (1, 1.1894, 0),  # Sigma+: "anything else charged" is a charged hadron
    130: (0, 0.4976, 1),
    2112: (0, 0.9396, 1),
    310: (0, 0.4976, 1),
    3122: (0, 1.1157, 1),  # Lambda: "anything else neutral" is a neutral hadron
    22: (0, 0.0, 2),
    11: (-1, 0.000511, 3),
    -11: (1, 0.000511, 3),
    13: (-1, 0.1057, 4),
    -13: (1, 0.1057, 4),
    12: (0, 0.0, 1),  # a neutrino: neutral, not a photon, so the "neutral hadron" slot; nothing in the images
}
PIDS = np.array(list(SPECIES))
WEIGHTS = np.array([8, 8, 3, 1, 0.5, 2, 2, 1, 0.5, 10, 0.5, 0.5, 0.5, 0.5, 0.3])


def wrap(x: np.ndarray) -> np.ndarray:
    return np.pi - np.mod(np.pi - x, 2 * np.pi)


def make_jets(n_jets: int = 50, seed: int = 0, sizes: list[int] | None = None) -> ak.Array:
    """Canonical jets of physical particles within ΔR < 0.4 of an axis; jet 0 straddles φ = ±π."""
    rng = np.random.default_rng(seed)
    counts = np.array(sizes) if sizes is not None else rng.integers(5, 61, n_jets)
    n_jets = len(counts)
    axis_eta = rng.uniform(-1.5, 1.5, n_jets)
    axis_phi = rng.uniform(-np.pi, np.pi, n_jets)
    axis_phi[0], axis_phi[1] = np.pi - 0.02, -np.pi + 0.1  # across the seam
    jet = np.repeat(np.arange(n_jets), counts)
    radius = 0.4 * np.sqrt(rng.uniform(0, 1, len(jet)))
    angle = rng.uniform(0, 2 * np.pi, len(jet))
    eta = axis_eta[jet] + radius * np.cos(angle)
    phi = wrap(axis_phi[jet] + radius * np.sin(angle))
    pt = rng.exponential(8.0, len(jet)) + 0.5
    pid = rng.choice(PIDS, len(jet), p=WEIGHTS / WEIGHTS.sum())
    charge = np.array([SPECIES[p][0] for p in pid], dtype=np.float32)
    mass = np.array([SPECIES[p][1] for p in pid])
    p4 = four_momentum(pt, eta, phi, mass=mass)
    part = {name: ak.unflatten(np.asarray(p4[name], dtype=np.float32), counts) for name in p4}
    part["pid"] = ak.unflatten(pid.astype(np.int32), counts)
    part["charge"] = ak.unflatten(charge, counts)
    return build(part=part, label=rng.integers(0, 2, n_jets))


@pytest.fixture(scope="module")
def jets() -> ak.Array:
    return make_jets()


@pytest.fixture(scope="module")
def batch(jets: ak.Array) -> JetBatch:
    return JetBatch.from_jets(jets)


@pytest.fixture(scope="module")
def simulated(jets: ak.Array) -> ak.Array:
    return simulate(jets, load_detector("default"), replicas=2, rng=np.random.default_rng(0))


def per_jet(batch: JetBatch) -> list[dict[str, np.ndarray]]:
    """The batch's particles and jet, one dict per jet, in float64 numpy (the slow reference's input)."""
    out = []
    ptr = batch.ptr.tolist()
    for j in range(batch.num_jets):
        rows = slice(ptr[j], ptr[j + 1])
        item = {name: batch[name][rows].double().numpy() for name in batch.node_fields}
        item.update({f"jet_{name}": float(batch[f"jet_{name}"][j]) for name in ("pt", "eta", "phi", "energy")})
        out.append(item)
    return out


def slow_features(batch: JetBatch) -> np.ndarray:
    rows = []
    for jet in per_jet(batch):
        for i in range(len(jet["pt"])):
            deta = jet["eta"][i] - jet["jet_eta"]
            dphi = jet["phi"][i] - jet["jet_phi"]
            while dphi > np.pi:
                dphi -= 2 * np.pi
            while dphi <= -np.pi:
                dphi += 2 * np.pi
            pt, energy = max(jet["pt"][i], 1e-8), max(jet["energy"][i], 1e-8)
            row = [
                math.log(pt),
                math.log(energy),
                math.log(pt / jet["jet_pt"]),
                math.log(energy / jet["jet_energy"]),
                deta,
                dphi,
                math.hypot(deta, dphi),
            ]
            if "charge" in jet:
                row.append(jet["charge"][i])
            if "pid" in jet:
                hot = [0.0] * 5
                apid = abs(int(jet["pid"][i]))
                special = {22: 2, 11: 3, 13: 4}
                hot[special.get(apid, 0 if jet["charge"][i] != 0 else 1)] = 1.0
                row += hot
            if "layer" in jet:
                row += [float(jet["layer"][i] == value) for value in (0, 1, 2)]
            rows.append(row)
    return np.array(rows)


def test_node_features_match_a_slow_loop(batch: JetBatch) -> None:
    x = node_features(batch)
    names = feature_names(batch)
    assert x.dtype == torch.float32
    assert names == [
        "log_pt",
        "log_energy",
        "log_pt_rel",
        "log_energy_rel",
        "deta",
        "dphi",
        "delta_r",
        "charge",
        *PID_FEATURES,
    ]
    assert x.shape == (batch.num_nodes, num_node_features(batch)) == (batch.num_nodes, len(names))
    np.testing.assert_allclose(x.numpy(), slow_features(batch), rtol=1e-5, atol=1e-5)
    hot = x[:, names.index(PID_FEATURES[0]) :]
    assert torch.equal(hot.sum(1), torch.ones(batch.num_nodes))
    expected = torch.tensor([SPECIES[int(p)][2] for p in batch.pid])
    assert torch.equal(hot.argmax(1), expected)
    dphi = x[:, names.index("dphi")]
    assert float(dphi.abs().max()) < 1.0  # wrapped: the jets across φ = ±π stay compact
    without = node_features(batch, pid_classes=False)
    assert torch.equal(without, x[:, : len(names) - len(PID_FEATURES)])
    assert feature_names(batch, pid_classes=False) == names[: -len(PID_FEATURES)]


def test_node_features_reference_the_batch_jet_and_survive_zero_pt(batch: JetBatch) -> None:
    # the jet fields are the reference, not a jet recomputed from (augmented) particles
    moved = batch.replace(jet_eta=batch.jet_eta + 0.1, jet_pt=batch.jet_pt * 2)
    names = feature_names(batch)
    x, y = node_features(batch), node_features(moved)
    np.testing.assert_allclose(y[:, names.index("deta")], x[:, names.index("deta")] - 0.1, atol=1e-5)
    np.testing.assert_allclose(
        y[:, names.index("log_pt_rel")], x[:, names.index("log_pt_rel")] - math.log(2), atol=1e-5
    )
    zero = batch.replace(pt=torch.where(torch.arange(batch.num_nodes) % 7 == 0, 0.0, batch.pt))
    features = node_features(zero)
    assert torch.isfinite(features).all()
    assert float(features[0, 0]) == pytest.approx(math.log(1e-8), rel=1e-5)


def test_node_features_of_a_detector_view(simulated: ak.Array) -> None:
    view = detector_view(JetBatch.from_jets(simulated), torch.ones(len(simulated), dtype=torch.long))
    x, names = node_features(view), feature_names(view)
    assert names[-3:] == list(LAYER_FEATURES) and "is_photon" not in names
    assert x.shape == (view.num_nodes, 7 + 1 + 3)
    np.testing.assert_allclose(x.numpy(), slow_features(view), rtol=1e-5, atol=1e-5)
    assert torch.equal(x[:, -3:].sum(1), torch.ones(view.num_nodes))
    assert torch.equal(x[:, -3:].argmax(1), view.layer)


def brute_force_neighbours(batch: JetBatch) -> list[np.ndarray]:
    """Pairwise ΔR within each jet, from the particles' own η, φ (not via the axis), as in a textbook loop."""
    out = []
    for jet in per_jet(batch):
        n = len(jet["eta"])
        distance = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                distance[i, j] = math.hypot(jet["eta"][i] - jet["eta"][j], wrap(jet["phi"][i] - jet["phi"][j]))
        out.append(distance)
    return out


def edges_by_centre(edge_index: torch.Tensor, batch: JetBatch) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {i: [] for i in range(batch.num_nodes)}
    for source, target in edge_index.t().tolist():
        found[target].append(source)
    return found


def check_knn(batch: JetBatch, k: int, loop: bool) -> None:
    edge_index = knn_edges(batch, k=k, loop=loop)
    assert edge_index.dtype == torch.long and edge_index.shape[0] == 2
    source, target = edge_index
    assert torch.equal(batch.batch[source], batch.batch[target]), "an edge crosses jets"
    assert bool((source == target).any()) == loop
    found = edges_by_centre(edge_index, batch)
    ptr = batch.ptr.tolist()
    for j, distance in enumerate(brute_force_neighbours(batch)):
        n = len(distance)
        for i in range(n):
            chosen = [s - ptr[j] for s in found[ptr[j] + i]]
            candidates = [m for m in range(n) if loop or m != i]
            assert len(chosen) == len(set(chosen)) == min(k, len(candidates))
            others = [m for m in candidates if m not in chosen]
            exact = sorted(candidates, key=lambda m: distance[i, m])[: len(chosen)]
            if set(chosen) != set(exact):  # only a float32 near-tie may swap the k-th neighbour
                assert max(distance[i, chosen]) <= min(distance[i, others]) + 1e-5
            # nearest first
            assert np.all(np.diff(distance[i, chosen]) >= -1e-5)


@pytest.mark.parametrize("k, loop", [(16, False), (4, True), (100, False)])
def test_knn_edges_match_brute_force(batch: JetBatch, k: int, loop: bool) -> None:
    check_knn(batch, k, loop)


def test_knn_edges_small_jets_and_the_seam() -> None:
    small = JetBatch.from_jets(make_jets(sizes=[3, 1, 2, 20, 5], seed=3))
    check_knn(small, k=4, loop=False)  # jets with <= k particles: all the others
    edge_index = knn_edges(small, k=4)
    assert edge_index.shape[1] == 3 * 2 + 0 + 2 * 1 + 20 * 4 + 5 * 4
    # the jet across φ = ±π: its first neighbours are not found via raw φ
    assert float((small.phi[: small.ptr[1]]).abs().min()) > 2.5
    assert torch.equal(knn_edges(small, k=0), torch.zeros(2, 0, dtype=torch.long))


def test_knn_edges_in_other_coordinates(batch: JetBatch) -> None:
    coordinates = torch.randn(batch.num_nodes, 5, generator=torch.Generator().manual_seed(1))
    edge_index = knn_edges(batch, k=3, coordinates=coordinates)
    source, target = edge_index
    assert torch.equal(batch.batch[source], batch.batch[target])
    i = int(batch.ptr[7])
    members = torch.arange(int(batch.ptr[7]), int(batch.ptr[8]))
    distance = (coordinates[members] - coordinates[i]).norm(dim=1)
    distance[0] = math.inf
    assert set(source[target == i].tolist()) == set((members[distance.argsort()[:3]]).tolist())
    with pytest.raises(FeatureError, match="coordinates"):
        knn_edges(batch, coordinates=coordinates[:-1])
    with pytest.raises(FeatureError, match="k=-1"):
        knn_edges(batch, k=-1)


def test_knn_edges_split_into_groups(batch: JetBatch, monkeypatch: pytest.MonkeyPatch) -> None:
    import jetgraph.features as features

    whole = knn_edges(batch, k=8)
    monkeypatch.setattr(features, "MAX_PAIRS", 3 * 60**2)  # a few jets at a time
    assert torch.equal(knn_edges(batch, k=8), whole)


@pytest.mark.parametrize("r, most", [(0.2, 64), (0.3, 3)])
def test_radius_edges_match_brute_force(batch: JetBatch, r: float, most: int) -> None:
    edge_index = radius_edges(batch, r=r, max_neighbours=most)
    source, target = edge_index
    assert torch.equal(batch.batch[source], batch.batch[target])
    assert not bool((source == target).any())
    found = edges_by_centre(edge_index, batch)
    ptr = batch.ptr.tolist()
    total, ties = 0, []
    for j, distance in enumerate(brute_force_neighbours(batch)):
        for i in range(len(distance)):
            within = [m for m in range(len(distance)) if m != i and distance[i, m] < r]
            expected = set(sorted(within, key=lambda m: distance[i, m])[:most])
            chosen = {s - ptr[j] for s in found[ptr[j] + i]}
            if chosen != expected:  # only a float32 near-tie (with r, or with the most-th neighbour) may differ
                assert len(chosen) == len(expected)
                assert all(distance[i, m] < r + 1e-5 for m in chosen)
                left = [m for m in within if m not in chosen]
                assert not left or max(distance[i, list(chosen)]) <= min(distance[i, left]) + 1e-5
                ties.append((j, i))
            total += len(within)
    assert total > batch.num_nodes  # the test does find neighbours
    assert len(ties) < 5, ties
    looped = radius_edges(batch, r=r, loop=True, max_neighbours=most + 1)
    assert looped.shape[1] == edge_index.shape[1] + batch.num_nodes
    with pytest.raises(FeatureError, match="r=0"):
        radius_edges(batch, r=0)


def test_to_dense_pads_and_keeps_the_hardest(batch: JetBatch) -> None:
    x = node_features(batch)
    dense, mask = to_dense(x, batch)
    counts = batch.ptr.diff()
    assert dense.shape == (batch.num_jets, int(counts.max()), x.shape[1])
    assert torch.equal(mask.sum(1), counts)
    assert torch.equal(dense[mask], x)  # batch order kept
    assert float(dense[~mask].abs().sum()) == 0.0

    # after augmentation particles are not pT-sorted: shuffle within jets
    shuffle = torch.argsort(
        batch.batch * 1000 + torch.rand(batch.num_nodes, generator=torch.Generator().manual_seed(0))
    )
    shuffled = batch.replace(**{name: batch[name][shuffle] for name in batch.node_fields})
    dense, mask = to_dense(shuffled.pt, shuffled, max_particles=10)
    assert dense.shape == mask.shape == (batch.num_jets, 10)
    assert torch.equal(mask.sum(1), counts.clamp(max=10))
    ptr = batch.ptr.tolist()
    for j in range(batch.num_jets):
        hardest = torch.sort(batch.pt[ptr[j] : ptr[j + 1]], descending=True).values[:10]
        assert torch.equal(dense[j, mask[j]], hardest)
    wide, wide_mask = to_dense(shuffled.pt.unsqueeze(1), shuffled, max_particles=80)
    assert wide.shape == (batch.num_jets, 80, 1) and torch.equal(wide_mask.sum(1), counts)
    with pytest.raises(FeatureError):
        to_dense(x[:-1], batch)


def test_pid_classes_without_charge_use_the_pid(batch: JetBatch) -> None:
    no_charge = batch.replace()
    del no_charge.charge
    names = feature_names(no_charge)
    assert "charge" not in names and names[-5:] == list(PID_FEATURES)
    expected = torch.tensor([SPECIES[int(p)][2] for p in batch.pid])
    assert torch.equal(node_features(no_charge)[:, -5:].argmax(1), expected)
