"""Files that cannot be read at all: each failure is one FileFormatError naming the file."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import jetgraph
from jetgraph.errors import FileFormatError


def test_missing_file():
    with pytest.raises(FileFormatError, match=r"^/no/such/jets.root: no such file$"):
        jetgraph.read("/no/such/jets.root")


def test_directory(tmp_path):
    with pytest.raises(FileFormatError, match=r"is a directory, expected a ROOT, HDF5 or NPZ file"):
        jetgraph.read(tmp_path)


@pytest.mark.parametrize(("content", "what"), [(b"", "an empty file"), (b"pt,eta,phi\n1,2,3\n", "starts with b'pt,e'")])
def test_not_a_jet_file(tmp_path, content, what):
    path = tmp_path / "jets.csv"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=rf"jets.csv: not a ROOT, HDF5 or NPZ file \({what}\)"):
        jetgraph.read(path)


def test_truncated_root(tmp_path, jetclass_file):
    cut = tmp_path / "cut.root"
    cut.write_bytes(jetclass_file.read_bytes()[: jetclass_file.stat().st_size // 2])
    with pytest.raises(FileFormatError, match=r"cut.root: truncated or corrupt file"):
        jetgraph.read(cut, recipe="jetclass")


def test_corrupt_root_header(tmp_path, jetclass_file):
    bad = tmp_path / "bad.root"
    data = bytearray(jetclass_file.read_bytes())
    data[4:64] = b"\xff" * 60  # keep the magic, destroy the header
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match=r"bad.root: truncated or corrupt file"):
        jetgraph.read(bad, recipe="jetclass")


def test_truncated_hdf5(tmp_path):
    path = tmp_path / "jets.h5"
    with h5py.File(path, "w") as handle:
        handle["particle_features"] = np.ones((100, 30, 4), np.float32)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(FileFormatError, match=r"cut.h5: truncated or corrupt file"):
        jetgraph.read(cut)


def test_truncated_npz(tmp_path):
    path = tmp_path / "qg.npz"
    np.savez_compressed(path, X=np.ones((10, 5, 4)), y=np.ones(10))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FileFormatError, match=r"cut.npz: truncated or corrupt file"):
        jetgraph.read(cut)


def test_unrecognised_hdf5_lists_contents(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["weights"] = np.ones(3)
    with pytest.raises(
        FileFormatError, match=r"other.h5: no built-in recipe recognises this hdf5 file \(it holds weights\)"
    ):
        jetgraph.read(path)


def test_step_size_must_be_positive(jetclass_file):
    with pytest.raises(FileFormatError, match=r"step_size=0: expected a positive number of jets"):
        next(jetgraph.iterate(jetclass_file, step_size=0))


def test_remote_hdf5_is_refused_with_advice():
    with pytest.raises(FileFormatError, match=r"https://example.org/jets.h5: HDF5 files are read from local disk only"):
        jetgraph.read("https://example.org/jets.h5", recipe="jetgraph")
