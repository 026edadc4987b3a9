"""JetBatch: flat tensors that match the awkward jets, detector replicas and views, node edits."""

from __future__ import annotations

import math
import pickle

import awkward as ak
import numpy as np
import pytest
import torch

import jetgraph
from jetgraph.batch import TRACK_LAYER, JetBatch, detector_view
from jetgraph.errors import SchemaError
from jetgraph.generate.detector import load_detector, simulate
from jetgraph.io.examples import write_jetclass
from jetgraph.schema import particle_kinematics


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    path = write_jetclass(tmp_path_factory.mktemp("batch") / "jets.root", n_jets=60, seed=4)
    return jetgraph.read(path)


@pytest.fixture(scope="module")
def detector_jets(jets):
    return simulate(jets, load_detector("default"), 3, np.random.default_rng(2))


def test_particles_jets_and_labels_match_the_awkward_jets(jets):
    batch = JetBatch.from_jets(jets)
    counts = ak.num(jets.part).to_numpy()
    assert batch.num_jets == 60 and batch.num_nodes == counts.sum()
    assert batch.ptr.tolist() == [0, *np.cumsum(counts).tolist()]
    assert torch.equal(batch.batch, torch.repeat_interleave(torch.arange(60), torch.from_numpy(counts)))
    kin = particle_kinematics(jets)
    for name in ("pt", "eta", "phi"):
        assert np.allclose(batch[name].numpy(), ak.flatten(kin[name]).to_numpy(), rtol=1e-5, atol=1e-6), name
    assert np.array_equal(batch.pid.numpy(), ak.flatten(jets.part.pid).to_numpy())
    assert batch.jet_pt.dtype == torch.float32 and batch.label.dtype == torch.long
    assert np.array_equal(batch.jet_mass.numpy(), jets.jet.mass.to_numpy())
    assert np.array_equal(batch.label.numpy(), jets.label.to_numpy())
    assert batch.node_fields == ["pt", "eta", "phi", "energy", "pid", "charge"]
    assert "cells_energy" not in batch and "truth_pt" not in batch


def test_unlabelled_jets_get_minus_one_and_the_batch_pickles(jets):
    unlabelled = ak.Array({k: jets[k] for k in ak.fields(jets) if k != "label"})
    batch = JetBatch.from_jets(unlabelled)
    assert batch.label.tolist() == [-1] * 60
    again = pickle.loads(pickle.dumps(batch))  # DataLoader workers send batches this way
    assert isinstance(again, JetBatch) and torch.equal(again.pt, batch.pt)
    taken = pickle.loads(pickle.dumps(batch.take(torch.tensor([5, 2]))))  # a batch made from a batch, too
    assert taken.num_jets == 2 and torch.equal(taken.jet_pt, batch.jet_pt[[5, 2]])


class WorkerBatches(torch.utils.data.Dataset):
    """Batches a DataLoader worker makes from a file: views into a bigger batch, an expanded tensor, an empty one."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> JetBatch:
        batch = JetBatch.from_jets(jetgraph.read(self.path)).take(slice(3, 20))
        batch = batch.replace(charge=torch.zeros(1).expand(batch.num_nodes))  # stride 0
        return batch if index == 0 else batch.take(slice(0, 0))


def test_a_batch_crosses_from_a_dataloader_worker_intact(tmp_path):
    dataset = WorkerBatches(str(write_jetclass(tmp_path / "jets.root", n_jets=30, seed=6)))
    # made in a spawned worker, pickled there, shared through memory, unpickled here (spawn: a fork of this
    # test process, which holds other libraries' threads, can hang)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=1, multiprocessing_context="spawn")
    for index, again in enumerate(loader):
        original = dataset[index]
        assert isinstance(again, JetBatch) and sorted(again.keys()) == sorted(original.keys())
        assert again.num_nodes == original.num_nodes and again.num_jets == original.num_jets == (17, 0)[index]
        for key in original.keys():
            if isinstance(original[key], torch.Tensor):
                assert again[key].dtype == original[key].dtype and torch.equal(again[key], original[key]), key


def test_take_gathers_jets_with_their_particles_and_replicas(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    picked = torch.tensor([9, 0, 41])
    taken = batch.take(picked)
    direct = JetBatch.from_jets(detector_jets[picked.numpy()])
    assert taken.num_nodes == direct.num_nodes and sorted(taken.keys()) == sorted(direct.keys())
    for key in direct.keys():
        if isinstance(direct[key], torch.Tensor):
            assert torch.equal(taken[key], direct[key]), key


def test_split_cuts_consecutive_batches_equal_to_reading_those_jets(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    pieces = batch.split(25)
    assert [p.num_jets for p in pieces] == [25, 25, 10]
    for number, piece in enumerate(pieces):
        jets = slice(number * 25, (number + 1) * 25)
        direct, sliced = JetBatch.from_jets(detector_jets[jets]), batch.take(jets)
        assert sorted(piece.keys()) == sorted(direct.keys()) and piece.num_nodes == direct.num_nodes
        for key in direct.keys():
            if isinstance(direct[key], torch.Tensor):
                assert torch.equal(piece[key], sliced[key]), (number, key)
                # vectorised atan2 may round the last bit differently at another offset in memory
                assert torch.allclose(piece[key], direct[key], rtol=1e-6, atol=0), (number, key)
    assert batch.split(60) == [batch]


def test_particle_kinematics_match_float64(jets):
    flat = ak.flatten(jets.part)
    px, py, pz = (ak.to_numpy(flat[k]).astype(np.float64) for k in ("px", "py", "pz"))
    batch = JetBatch.from_jets(jets)
    pt = np.hypot(px, py)
    np.testing.assert_allclose(batch.pt.numpy(), pt, rtol=2e-7)
    np.testing.assert_allclose(batch.eta.numpy(), np.arcsinh(pz / pt), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(batch.phi.numpy(), np.arctan2(py, px), rtol=1e-6, atol=1e-6)
    # a particle along the beam (pt = 0) gets eta = 0, not inf or NaN; pz/pt = 1e38 and -1e48 (past float32)
    # give the capped |eta| = asinh(1e18) = 42.1
    beam = ak.zip(
        {"px": [0.0, 0.0, 1e-20, 1e-30], "py": [0.0] * 4, "pz": [5.0, 0, 1e18, -1e18], "energy": [5.0, 0, 1e18, 1e18]}
    )
    got = JetBatch.from_jets(ak.with_field(jets[:1], ak.unflatten(beam, [4]), "part"))
    assert got.eta[:2].tolist() == [0.0, 0.0]
    torch.testing.assert_close(got.eta[2:], torch.tensor([math.asinh(1e18), -math.asinh(1e18)]))


def test_detector_replicas_are_flattened_with_their_jet_and_replica(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    assert batch.replicas.tolist() == [3] * 60
    cells = detector_jets.cells
    jet, replica = 17, 2
    mine = (batch.cells_jet == jet) & (batch.cells_replica == replica)
    assert np.array_equal(batch.cells_energy[mine].numpy(), cells[jet, replica].energy.to_numpy())
    assert np.array_equal(batch.cells_layer[mine].numpy(), cells[jet, replica].layer.to_numpy())
    assert batch.cells_energy.numel() == ak.sum(ak.num(cells, axis=2))
    assert torch.all(batch.tracks_jet[1:] >= batch.tracks_jet[:-1])  # (jet, replica, item) order


def test_detector_view_takes_one_replica_per_jet(detector_jets):
    batch = JetBatch.from_jets(detector_jets)
    choice = torch.arange(60) % 3
    view = detector_view(batch, choice)
    assert "pid" not in view and view.node_fields == ["pt", "eta", "phi", "energy", "charge", "layer"]
    for jet in (0, 31, 59):
        cells = detector_jets.cells[jet, int(choice[jet])]
        tracks = detector_jets.tracks[jet, int(choice[jet])]
        nodes = slice(int(view.ptr[jet]), int(view.ptr[jet + 1]))
        assert view.ptr[jet + 1] - view.ptr[jet] == len(cells) + len(tracks)
        layer = view.layer[nodes]
        assert np.allclose(np.sort(view.energy[nodes][layer < TRACK_LAYER].numpy()), np.sort(cells.energy.to_numpy()))
        assert np.allclose(np.sort(view.pt[nodes][layer == TRACK_LAYER].numpy()), np.sort(tracks.pt.to_numpy()))
    cell = view.layer < TRACK_LAYER  # massless cells: E = pT cosh(eta)
    assert torch.allclose(view.pt[cell] * torch.cosh(view.eta[cell]), view.energy[cell], rtol=1e-5)
    with pytest.raises(SchemaError, match="replica indices must be one per jet"):
        detector_view(batch, torch.full((60,), 3))


def test_detector_view_needs_cells(jets):
    with pytest.raises(SchemaError, match="needs detector-level jets"):
        detector_view(JetBatch.from_jets(jets), torch.zeros(60, dtype=torch.long))


def test_select_and_add_particles_keep_jets_sorted_and_share_the_rest(jets):
    batch = JetBatch.from_jets(jets)
    hard = (batch.pt > 5).nonzero().squeeze(1)
    kept = batch.select(hard)
    assert kept.num_nodes == len(hard) and torch.equal(kept.pt, batch.pt[hard])
    assert torch.equal(kept.ptr[1:] - kept.ptr[:-1], torch.bincount(batch.batch[hard], minlength=60))
    assert kept.jet_pt is batch.jet_pt and batch.num_nodes > kept.num_nodes  # shared, and input untouched
    extra = {name: torch.ones(2, dtype=batch[name].dtype) for name in batch.node_fields}
    grown = batch.add_particles(torch.tensor([59, 0]), **extra)
    assert grown.num_nodes == batch.num_nodes + 2
    assert grown.ptr[1] - grown.ptr[0] == batch.ptr[1] - batch.ptr[0] + 1
    assert grown.pt[int(grown.ptr[1]) - 1] == 1 and grown.pt[-1] == 1  # after the jet's own particles
    with pytest.raises(SchemaError, match="needs exactly the node fields"):
        batch.add_particles(torch.tensor([0]), pt=torch.ones(1))


def test_jets_without_particles_or_jet_record_are_refused(jets):
    with pytest.raises(SchemaError, match="needs canonical jets with 'jet'"):
        JetBatch.from_jets(ak.Array({"label": jets.label}))
