"""jetgraph's own files round-trip every canonical field, and are written atomically."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

import jetgraph
from jetgraph.errors import FileFormatError, SchemaError
from jetgraph.io.native import JetWriter
from jetgraph.schema import build, conform


def _detector_jets(n: int = 25, replicas: int = 3, seed: int = 0) -> ak.Array:
    """Jets with particles, truth, labels and cells on a replica axis (jets * replica * cell)."""
    rng = np.random.default_rng(seed)
    n_part = rng.integers(1, 9, n)
    part = {k: ak.unflatten(rng.uniform(0.5, 20, n_part.sum()), n_part) for k in ("px", "py", "pz")}
    part["energy"] = np.sqrt(part["px"] ** 2 + part["py"] ** 2 + part["pz"] ** 2) + 0.1
    part["pid"] = ak.unflatten(rng.choice([22, 211, -211, 130], n_part.sum()), n_part)
    part["charge"] = ak.unflatten(rng.choice([-1.0, 0.0, 1.0], n_part.sum()), n_part)
    n_cells = rng.integers(1, 6, n * replicas)
    cells = {
        "eta": rng.normal(0, 0.2, n_cells.sum()),
        "phi": rng.normal(0, 0.2, n_cells.sum()),
        "energy": rng.exponential(5, n_cells.sum()),
        "layer": rng.integers(0, 2, n_cells.sum()),
    }
    cells = {k: ak.unflatten(ak.unflatten(v, n_cells), replicas) for k, v in cells.items()}
    truth = {"pt": rng.uniform(100, 200, n), "eta": rng.normal(0, 1, n), "phi": rng.uniform(-3, 3, n),
             "energy": rng.uniform(200, 300, n), "mass": rng.uniform(0, 30, n)}  # fmt: skip
    return build(part=part, cells=cells, truth=truth, label=rng.integers(0, 2, n), label_names=["gluon", "quark"])


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_round_trip_every_field_with_replicas(tmp_path, suffix):
    jets = _detector_jets()
    path = jetgraph.write(jets, tmp_path / f"jets{suffix}")
    back = jetgraph.read(path)
    assert back.attrs["recipe"] == "jetgraph"
    assert back.attrs["label_names"] == ["gluon", "quark"]
    assert back.fields == ["part", "jet", "truth", "cells", "label"]
    assert back.type.content == conform(jets).type.content
    assert ak.array_equal(back, conform(jets))
    assert ak.num(back.cells, axis=1).tolist() == [3] * 25
    assert jetgraph.count(path) == 25


def test_root_file_is_a_ttree_in_jetclass_naming(tmp_path):
    path = jetgraph.write(_detector_jets(), tmp_path / "jets.root")
    with uproot.open(path) as handle:
        assert handle.classnames()["tree;1"] == "TTree"  # not an RNTuple
        assert {"part_px", "part_pid", "jet_pt", "truth_mass", "cells_energy", "cells_replica_size", "label"} <= set(
            handle["tree"].keys()
        )


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_chunked_writes_stream_back_in_chunks(tmp_path, suffix):
    chunks = [_detector_jets(10, seed=s) for s in range(3)]
    with JetWriter(tmp_path / f"jets{suffix}") as out:
        for chunk in chunks:
            out.write(chunk)
    assert out.jets_written == 30
    got = list(jetgraph.iterate(out.path, step_size=4))
    assert max(len(c) for c in got) <= 4
    assert ak.array_equal(ak.concatenate(got), conform(ak.concatenate(chunks)))


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_killed_write_leaves_no_file(tmp_path, suffix):
    target = tmp_path / f"jets{suffix}"
    with pytest.raises(RuntimeError, match="killed"):
        with JetWriter(target) as out:
            out.write(_detector_jets(5))
            assert (tmp_path / f"jets{suffix}.partial").exists()
            assert not target.exists()
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_hdf5_chunks_must_agree_in_type(tmp_path):
    with pytest.raises(SchemaError, match=r"jets.h5: chunk has type .* unlike the first chunk"):
        with JetWriter(tmp_path / "jets.h5") as out:
            out.write(_detector_jets(5))
            out.write(_detector_jets(5)[["part", "jet"]])
    assert not (tmp_path / "jets.h5").exists()


def test_unknown_suffix_rejected(tmp_path):
    with pytest.raises(FileFormatError, match=r"jets.parquet: cannot write this suffix; expected .root or .h5"):
        jetgraph.write(_detector_jets(2), tmp_path / "jets.parquet")


def test_unsupported_metadata_version(tmp_path):
    path = jetgraph.write(_detector_jets(3), tmp_path / "jets.h5")
    import h5py

    with h5py.File(path, "a") as handle:
        del handle["jetgraph_format"]
        handle["jetgraph_format"] = '{"version": 99, "label_names": []}'
    with pytest.raises(FileFormatError, match=r"jets.h5: 'jetgraph_format' version 99; this jetgraph reads version 1"):
        jetgraph.read(path)


@pytest.mark.parametrize("suffix", [".root", ".h5"])
def test_reproducible_writes_are_byte_identical(tmp_path, suffix):
    jets = _detector_jets(20, replicas=2)
    paths = []
    for name in ("a", "b"):
        with JetWriter(tmp_path / name / f"jets{suffix}", reproducible="run-1") as out:
            out.write(jets[:10])
            out.write(jets[10:])
        paths.append(out.path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert ak.array_equal(jetgraph.read(paths[0]), conform(jets))


def test_plain_root_writes_carry_their_own_uuid_and_time(tmp_path):
    jets = _detector_jets(5, replicas=1)
    first = jetgraph.write(jets, tmp_path / "a.root").read_bytes()
    second = jetgraph.write(jets, tmp_path / "b.root").read_bytes()
    assert first != second  # the pinned clock and UUID are only used when asked for
    assert uproot.writing._cascade.datetime.datetime.now().year > 2000  # and the clock is restored
