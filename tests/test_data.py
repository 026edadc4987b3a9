"""JetDataset: every jet once per epoch over DataLoader workers and DDP ranks, seeded shuffles, clear errors."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch.distributed as dist
from torch.utils.data import DataLoader

import jetgraph
from jetgraph.batch import JetBatch
from jetgraph.data import DataError, JetDataset
from jetgraph.io.examples import write_jetclass


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two JetClass-layout files, 700 and 500 jets, each jet told apart by its (pT, eta)."""
    folder = tmp_path_factory.mktemp("data")
    paths = [
        write_jetclass(folder / "a.root", n_jets=700, seed=1, chunk_size=350),
        write_jetclass(folder / "b.root", n_jets=500, seed=2, chunk_size=250),
    ]
    jets = jetgraph.read(paths)
    keys = np.sort(_keys(jets.jet.pt.to_numpy(), jets.jet.eta.to_numpy()))
    assert len(np.unique(keys)) == len(keys) == 1200
    return paths, keys


def _keys(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """One complex number per jet (sorts by pT, then eta): the jet's identity."""
    return pt.astype(np.complex128) + 1j * eta


def _seen(batches) -> np.ndarray:
    return np.concatenate([_keys(b.jet_pt.numpy(), b.jet_eta.numpy()) for b in batches])


def _file_order(paths) -> np.ndarray:
    jets = jetgraph.read(paths)
    return _keys(jets.jet.pt.to_numpy(), jets.jet.eta.to_numpy())


def test_one_process_reads_every_jet_in_file_order_without_a_buffer(files):
    paths, pts = files
    dataset = JetDataset(paths, batch_size=100, step_size=128, recipe="jetclass")
    batches = list(dataset)
    assert all(isinstance(b, JetBatch) for b in batches)
    assert [b.num_jets for b in batches] == [100] * 12
    assert np.array_equal(_seen(batches), _file_order(paths))


def test_two_workers_times_two_ranks_see_every_jet_exactly_once(files):
    paths, pts = files
    seen = []
    for rank in range(2):
        dataset = JetDataset(paths, batch_size=64, step_size=100, shuffle_buffer=300, seed=3, rank=rank, world_size=2)
        seen.append(_seen(DataLoader(dataset, batch_size=None, num_workers=2)))
    assert 0 < len(seen[0]) < 1200 and 0 < len(seen[1]) < 1200  # both ranks got work
    assert np.array_equal(np.sort(np.concatenate(seen)), pts)


def test_shuffle_is_seeded_and_changes_with_the_epoch(files):
    paths, pts = files

    def order(seed, epoch):
        dataset = JetDataset(paths, batch_size=50, step_size=100, shuffle_buffer=400, seed=seed)
        dataset.set_epoch(epoch)
        return _seen(dataset)

    first = order(5, 0)
    assert np.array_equal(first, order(5, 0))
    assert not np.array_equal(first, order(6, 0)) and not np.array_equal(first, order(5, 1))
    assert np.array_equal(np.sort(first), pts) and np.array_equal(np.sort(order(5, 1)), pts)
    # the buffer mixes chunks: the first batch draws from more than one 100-jet chunk
    position = {key: i for i, key in enumerate(_file_order(paths))}
    chunks = {position[key] // 100 for key in first[:50]}
    assert len(chunks) >= 3


def test_drop_last_and_partial_batches(files):
    paths, _ = files
    kept = [b.num_jets for b in JetDataset(paths, batch_size=500, step_size=1000)]
    assert kept == [500, 500, 200]
    assert [b.num_jets for b in JetDataset(paths, batch_size=500, step_size=1000, drop_last=True)] == [500, 500]


def _ddp_worker(rank: int, port: int, paths: list[str], out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        dataset = JetDataset(paths, batch_size=64, step_size=100, shuffle_buffer=200, seed=1)
        seen = _seen(DataLoader(dataset, batch_size=None, num_workers=2))
        gathered = [None, None]
        dist.all_gather_object(gathered, seen.tolist())
        if rank == 0:
            np.save(out, np.concatenate([np.asarray(g) for g in gathered]))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(sys.platform != "linux", reason="gloo over localhost, as CI runs it")
def test_real_ddp_group_shards_by_rank(files, tmp_path, spawn_ranks):
    """Two processes in a gloo group, two DataLoader workers each: the dataset asks torch.distributed."""
    paths, pts = files
    out = tmp_path / "seen.npy"
    spawn_ranks(_ddp_worker, [str(p) for p in paths], str(out))
    assert np.array_equal(np.sort(np.load(out)), pts)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_size": 0}, r"batch_size=0; expected an integer >= 1"),
        ({"shuffle_buffer": -1}, r"shuffle_buffer=-1; expected an integer >= 0"),
        ({"rank": 2, "world_size": 2}, r"rank=2: expected 0 <= rank < world_size=2"),
        ({"rank": 0}, r"give both rank and world_size"),
    ],
)
def test_bad_arguments_are_one_line_errors(files, arguments, message):
    with pytest.raises(DataError, match=message):
        JetDataset(files[0], **arguments)


def test_no_files_is_a_clear_error(tmp_path):
    with pytest.raises(jetgraph.errors.FileFormatError, match="no file matches this pattern"):
        JetDataset(str(tmp_path / "*.root"))


def test_groups_stay_together_and_in_order_through_the_shuffle(showers_file):
    """Shower pairs (``group=2``): shuffled as pairs, never split, first shower first."""
    dataset = JetDataset(showers_file, batch_size=8, step_size=10, shuffle_buffer=40, seed=3, group=2)
    batches = list(dataset)
    event = np.concatenate([b.jet_event.numpy() for b in batches])
    assert all(b.num_jets % 2 == 0 for b in batches) and len(event) == 40
    assert (event[0::2] == event[1::2]).all() and sorted(event[0::2].tolist()) == list(range(20))
    assert event[0::2].tolist() != sorted(event[0::2].tolist())  # shuffled
    truth = jetgraph.read(showers_file)
    first_of = {int(e): float(pt) for e, pt in zip(truth.jet.event[0::2], truth.jet.pt[0::2], strict=True)}
    pts = np.concatenate([b.jet_pt.numpy() for b in batches])
    assert all(first_of[int(e)] == pytest.approx(pt) for e, pt in zip(event[0::2], pts[0::2], strict=True))
    with pytest.raises(DataError, match="batch_size=7: expected a multiple of group=2"):
        JetDataset(showers_file, batch_size=7, group=2)
    with pytest.raises(DataError, match="step_size=9: expected a multiple of group=2"):
        JetDataset(showers_file, batch_size=8, step_size=9, group=2)
