"""Jet images from particles and from detector cells: pixel placement, sums, phi seam, HDF5 round trip, atomicity."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest
import torch

import jetgraph
from jetgraph.batch import JetBatch, detector_view
from jetgraph.errors import FileFormatError, JetGraphError, SchemaError
from jetgraph.images import (
    CHANNELS,
    ImageError,
    ImageGrid,
    ImageWriter,
    make_images,
    write_images,
)
from jetgraph.images import jet_images as pixelise
from jetgraph.images import pixelise as pixelise_batch
from jetgraph.io.jetimage import read_images
from jetgraph.schema import build, four_momentum, kinematics

GRID = ImageGrid(pixels=10, width=1.0)  # pixel 0.1; pixel k covers [(k - 5) * 0.1, (k - 4) * 0.1) around the axis
TRACKS, ECAL, HCAL = range(3)
MASS = {
    22: 0.0,
    11: 0.000511,
    13: 0.1057,
    12: 0.0,
    14: 0.0,
    16: 0.0,
    211: 0.1396,
    321: 0.4937,
    130: 0.4976,
    2112: 0.9396,
}
CHARGE = {22: 0, 11: -1, 13: -1, 12: 0, 14: 0, 16: 0, 211: 1, 321: 1, 130: 0, 2112: 0}


def _at(k: float) -> float:
    """Offset from the axis of the centre of pixel ``k`` of :data:`GRID`."""
    return (k - 4.5) * 0.1


def _jets(particles: list[list[tuple]], axis: list[tuple[float, float]], label=None, names=None) -> ak.Array:
    """Jets from ``(pid, pt, eta, phi)`` per particle (signed pid; charge and mass from the pid) and a fixed axis."""
    pid = ak.Array([[p[0] for p in jet] for jet in particles])
    pt, eta, phi = (ak.Array([[float(p[i]) for p in jet] for jet in particles]) for i in (1, 2, 3))
    mass = ak.Array([[MASS[abs(p[0])] for p in jet] for jet in particles])
    charge = ak.Array([[CHARGE[abs(p[0])] * (1 if p[0] > 0 else -1) for p in jet] for jet in particles])
    part = {**four_momentum(pt, eta, phi, mass=mass), "pid": pid, "charge": charge}
    jet = {"eta": [a[0] for a in axis], "phi": [a[1] for a in axis]}
    return build(part=part, jet=jet, label=label, label_names=names)


def _flat_kinematics(jets: ak.Array, k: int) -> dict[str, np.ndarray]:
    return kinematics(*(ak.to_numpy(jets.part[f][k]) for f in ("px", "py", "pz", "energy")))


def _slow_images(jets: ak.Array, grid: ImageGrid) -> np.ndarray:
    """The reference: a loop over jets and particles, with math.floor and an explicit phi wrap."""
    images = np.zeros((len(jets), 3, grid.pixels, grid.pixels))
    for k in range(len(jets)):
        kin = _flat_kinematics(jets, k)
        for n, pid in enumerate(jets.part.pid[k].tolist()):
            deta = kin["eta"][n] - float(jets.jet.eta[k])
            dphi = kin["phi"][n] - float(jets.jet.phi[k])
            while dphi > math.pi:
                dphi -= 2 * math.pi
            while dphi <= -math.pi:
                dphi += 2 * math.pi
            i = math.floor(deta / grid.pixel_size + grid.pixels / 2)
            j = math.floor(dphi / grid.pixel_size + grid.pixels / 2)
            if not (0 <= i < grid.pixels and 0 <= j < grid.pixels):
                continue
            if jets.part.charge[k][n] != 0:
                images[k, TRACKS, i, j] += kin["pt"][n]
            if abs(pid) in (11, 22):
                images[k, ECAL, i, j] += kin["energy"][n]
            elif abs(pid) not in (12, 13, 14, 16):
                images[k, HCAL, i, j] += kin["energy"][n]
    return images


def _random_jets(n: int, seed: int = 3, spread: float = 1.2) -> ak.Array:
    """Jets of a pion at a random axis and 1-30 particles of mixed species within +-spread of it.

    With the default spread some particles fall outside a 1.6-wide window.
    """
    rng = np.random.default_rng(seed)
    species = [22, 11, -11, 211, -211, 321, 130, 2112, 13, -13, 12, 14, 16]
    particles, axis = [], []
    for _ in range(n):
        eta0, phi0 = rng.uniform(-2, 2), rng.uniform(-math.pi, math.pi)
        m = int(rng.integers(1, 31))
        pids = rng.choice(species, m)
        pts = rng.exponential(10.0, m) + 0.5
        etas = eta0 + rng.uniform(-spread, spread, m)
        phis = phi0 + rng.uniform(-spread, spread, m)  # not wrapped: the jets straddle the seam now and then
        core = (211, 20.0, eta0 + rng.uniform(-0.05, 0.05), phi0 + rng.uniform(-0.05, 0.05))  # never an empty image
        particles.append([core, *zip(pids.tolist(), pts, etas, phis, strict=True)])
        axis.append((eta0, phi0))
    return _jets(particles, axis, label=rng.integers(0, 2, n), names=["QCD", "top"])


def test_each_species_lands_in_its_pixel_and_channel():
    particles = [
        [
            (22, 10.0, 0.3 + _at(2), 1.0 + _at(7)),  # photon: ECAL
            (211, 20.0, 0.3 + _at(5), 1.0 + _at(5)),  # pi+: pT in Tracks, energy in HCAL
            (12, 30.0, 0.3 + _at(4), 1.0 + _at(4)),  # neutrino: nowhere
            (-13, 15.0, 0.3 + _at(6), 1.0 + _at(3)),  # mu+: a track, no calorimeter energy
            (11, 5.0, 0.3 + _at(1), 1.0 + _at(8)),  # electron: Tracks and ECAL
            (130, 8.0, 0.3 + _at(9), 1.0 + _at(0)),  # K_L: HCAL, in the corner pixel
            (22, 50.0, 0.3 + 0.7, 1.0),  # outside the window (|deta| > 0.5): dropped
        ],
        [(2112, 12.0, -1.0 + _at(0), -2.0 + _at(9))],
    ]
    jets = _jets(particles, [(0.3, 1.0), (-1.0, -2.0)])
    images = pixelise(jets, GRID, source="particles")
    assert images.shape == (2, 3, 10, 10) and images.dtype == np.float32
    kin = _flat_kinematics(jets, 0)
    pt, energy = kin["pt"], kin["energy"]
    expected = np.zeros((2, 3, 10, 10))
    expected[0, ECAL, 2, 7] = energy[0]
    expected[0, TRACKS, 5, 5] = pt[1]
    expected[0, HCAL, 5, 5] = energy[1]
    expected[0, TRACKS, 6, 3] = pt[3]
    expected[0, TRACKS, 1, 8] = pt[4]
    expected[0, ECAL, 1, 8] = energy[4]
    expected[0, HCAL, 9, 0] = energy[5]
    expected[1, HCAL, 0, 9] = _flat_kinematics(jets, 1)["energy"][0]
    np.testing.assert_allclose(images, expected, rtol=1e-6)
    assert np.count_nonzero(images) == 8
    np.testing.assert_array_equal(pixelise(jets, GRID), images)  # auto: no cells, so particles


def test_vectorised_images_match_a_slow_loop_and_conserve_in_window_sums():
    jets = _random_jets(60)
    grid = ImageGrid(pixels=16, width=1.6)
    images = pixelise(jets, grid, source="particles")
    np.testing.assert_allclose(images, _slow_images(jets, grid), rtol=1e-5, atol=1e-5)
    dropped = 0
    for k in range(len(jets)):  # the sums, as a property: calorimeter energy and charged pT inside the window
        kin = _flat_kinematics(jets, k)
        dphi = np.angle(np.exp(1j * (kin["phi"] - float(jets.jet.phi[k]))))
        inside = (np.abs(kin["eta"] - float(jets.jet.eta[k])) < 0.8) & (np.abs(dphi) < 0.8)
        apid = np.abs(ak.to_numpy(jets.part.pid[k]))
        calo = inside & ~np.isin(apid, (12, 13, 14, 16))
        charged = inside & (ak.to_numpy(jets.part.charge[k]) != 0)
        assert images[k, ECAL:].sum(dtype=np.float64) == pytest.approx(kin["energy"][calo].sum(), rel=1e-5)
        assert images[k, ECAL].sum(dtype=np.float64) == pytest.approx(
            kin["energy"][inside & np.isin(apid, (11, 22))].sum(), rel=1e-5, abs=1e-6
        )
        assert images[k, TRACKS].sum(dtype=np.float64) == pytest.approx(kin["pt"][charged].sum(), rel=1e-5, abs=1e-6)
        dropped += int((~inside).sum())
    assert dropped > 0  # the test saw particles outside the window


def test_phi_seam_is_contiguous():
    axis = [(0.0, math.pi - 0.05), (0.0, -math.pi + 0.02)]
    particles = [
        [(22, 10.0, _at(5), math.pi - 0.05 + 0.15), (22, 20.0, _at(5), math.pi - 0.05 - 0.15)],  # +0.15 is past pi
        [(22, 7.0, _at(2), math.pi - 0.03)],  # on the other side of the seam: dphi = -0.05
    ]
    jets = _jets(particles, axis)
    assert float(jets.part[0, 0].px) < 0 and _flat_kinematics(jets, 0)["phi"][0] < 0  # stored across the seam
    images = pixelise(jets, GRID)
    ecal = images[:, ECAL]
    assert ecal[0, 5, 6] == pytest.approx(10.0 * math.cosh(_at(5)), rel=1e-5)  # dphi = +0.15: column 6
    assert ecal[0, 5, 3] == pytest.approx(20.0 * math.cosh(_at(5)), rel=1e-5)  # dphi = -0.15: column 3
    assert ecal[1, 2, 4] == pytest.approx(7.0 * math.cosh(_at(2)), rel=1e-5)  # dphi = -0.05: column 4
    assert np.count_nonzero(images) == 3


def _cell_jets() -> ak.Array:
    """Two detector-level jets with two replicas each: cells (ECAL, HCAL) and tracks per replica."""
    a, b = _at(3), _at(6)
    cells = {
        "eta": [[[a, b], [a, b, b]], [[0.5 + a], [0.5 + b]]],
        "phi": [[[a, a], [b, b, a]], [[a], [a]]],
        "energy": [[[4.0, 6.0], [5.0, 1.0, 2.0]], [[3.0], [9.0]]],
        "layer": [[[0, 1], [0, 0, 1]], [[1], [0]]],
    }
    tracks = {
        "pt": [[[2.5], []], [[1.5], [1.25]]],
        "eta": [[[a], []], [[0.5 + b], [0.5 + b]]],
        "phi": [[[b], []], [[b], [b]]],
        "charge": [[[1], []], [[-1], [-1]]],
    }
    return build(cells=cells, tracks=tracks, jet={"eta": [0.0, 0.5], "phi": [0.0, 0.0]}, label=[0, 1])


def test_cells_by_layer_and_tracks_for_each_replica():
    jets = _cell_jets()
    first = pixelise(jets, GRID, source="cells", replica=0)
    second = pixelise(jets, GRID, source="cells", replica=1)
    expected = np.zeros((2, 3, 10, 10), np.float32)
    expected[0, ECAL, 3, 3], expected[0, HCAL, 6, 3], expected[0, TRACKS, 3, 6] = 4.0, 6.0, 2.5
    expected[1, HCAL, 3, 3], expected[1, TRACKS, 6, 6] = 3.0, 1.5
    np.testing.assert_array_equal(first, expected)
    expected = np.zeros((2, 3, 10, 10), np.float32)
    expected[0, ECAL, 3, 6], expected[0, ECAL, 6, 6], expected[0, HCAL, 6, 3] = 5.0, 1.0, 2.0
    expected[1, ECAL, 6, 3], expected[1, TRACKS, 6, 6] = 9.0, 1.25
    np.testing.assert_array_equal(second, expected)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(pixelise(jets, GRID), first)  # auto: the jets have cells
    shared = ak.Array({"cells": jets.cells, "jet": jets.jet, "tracks": jets.tracks[:, 0]})  # one set of tracks
    np.testing.assert_array_equal(pixelise(shared, GRID, replica=1)[:, TRACKS], first[:, TRACKS])
    np.testing.assert_array_equal(pixelise(shared, GRID, replica=1)[:, ECAL:], second[:, ECAL:])
    assert pixelise(jets[:0], GRID, replica=1).shape == (0, 3, 10, 10)
    with pytest.raises(ImageError, match=r"replica=2 is out of range: the jets have 2 detector replica\(s\)"):
        pixelise(jets, GRID, source="cells", replica=2)
    flat = build(cells={"eta": [[0.0]], "phi": [[0.0]], "energy": [[1.0]], "layer": [[0]]})  # no replica axis
    assert pixelise(flat, GRID, replica=0)[0, ECAL, 5, 5] == 1.0
    with pytest.raises(ImageError, match=r"replica=1: the jets' 'cells' have no replica axis"):
        pixelise(flat, GRID, replica=1)
    with pytest.raises(SchemaError, match=r"source='cells' needs detector-level jets with 'cells'"):
        pixelise(_jets([[(22, 1.0, 0.0, 0.0)]], [(0.0, 0.0)]), GRID, source="cells")


def test_images_round_trip_through_hdf5(tmp_path):
    jets = _random_jets(25, spread=0.5)  # every jet keeps something inside the window
    path = jetgraph.io.write(jets, tmp_path / "jets.root")
    grid = ImageGrid(pixels=12, width=1.2)
    out = make_images(path, tmp_path / "out" / "images.h5", grid, step_size=7, progress=False)
    assert out == tmp_path / "out" / "images.h5" and sorted(p.name for p in out.parent.iterdir()) == ["images.h5"]
    jets = jetgraph.read(path)
    expected = pixelise(jets, grid)
    with h5py.File(out) as handle:
        assert handle["X_jets"].shape == (25, 12, 12, 3) and handle["X_jets"].compression == "gzip"
        assert (handle.attrs["pixel_size"], handle.attrs["source"]) == (pytest.approx(0.1), "particles")
        assert list(handle.attrs["channels"]) == list(CHANNELS)
        assert list(handle.attrs["label_names"]) == ["QCD", "top"]
    images = read_images(out)
    np.testing.assert_array_equal(images.images, expected)
    np.testing.assert_array_equal(images.label, ak.to_numpy(jets.label))
    np.testing.assert_array_equal(images.pt, ak.to_numpy(jets.jet.pt))
    np.testing.assert_array_equal(images.mass, ak.to_numpy(jets.jet.mass))
    assert (images.label_names, images.pixel_size, images.channels) == (("QCD", "top"), pytest.approx(0.1), CHANNELS)
    # as cells: the reader takes the pixel size from the file (not the recipe's 0.0174), and its class names
    cells = jetgraph.read(out)
    assert cells.attrs["label_names"] == ["QCD", "top"]
    centres = set(np.round(grid.centres, 5).tolist())
    for angle in (cells.cells.eta, cells.cells.phi):
        assert set(np.round(ak.to_numpy(ak.flatten(angle)).astype(np.float64), 5).tolist()) <= centres
    k = 4
    where = np.argwhere(np.moveaxis(expected[k], 0, -1) != 0)  # (row, column, channel), the reader's order
    calo = where[where[:, 2] > 0]  # ECAL and HCAL pixels are cells of layer 0 and 1; Tracks pixels tracks
    np.testing.assert_allclose(ak.to_numpy(cells.cells.eta[k]), grid.centres[calo[:, 0]], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(cells.cells.phi[k]), grid.centres[calo[:, 1]], rtol=1e-6)
    assert cells.cells.layer[k].tolist() == (calo[:, 2] - 1).tolist()
    assert len(cells.tracks.pt[k]) == int((where[:, 2] == 0).sum())


def test_cells_source_records_replica_and_unlabelled_jets_get_minus_one(tmp_path):
    jets = _cell_jets()
    jets = ak.Array({name: jets[name] for name in ak.fields(jets) if name != "label"})
    out = write_images(tmp_path / "cells.h5", pixelise(jets, GRID, replica=1), jets, GRID, replica=1)
    with h5py.File(out) as handle:
        assert (handle.attrs["source"], int(handle.attrs["replica"])) == ("cells", 1)
        assert handle["y"][()].tolist() == [-1, -1]
        assert list(handle.attrs["label_names"]) == []
    images = read_images(out)
    np.testing.assert_array_equal(images.images, pixelise(jets, GRID, replica=1))
    assert images.label_names == ()
    assert jetgraph.read(out).attrs["label_names"] == []  # not the built-in recipe's [gluon, quark]


def test_writer_leaves_nothing_on_error(tmp_path):
    jets = _random_jets(6)
    images = pixelise(jets, GRID)
    out = tmp_path / "images.h5"
    with pytest.raises(RuntimeError, match="stop"):
        with ImageWriter(out, GRID, source="particles") as writer:
            writer.write(images[:3], jets[:3])
            assert writer.partial.exists() and not out.exists()
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
    # a failure in make_images (the second file has no pid) leaves nothing either
    first = jetgraph.io.write(jets, tmp_path / "a.root")
    bare = ak.Array({"part": ak.zip({f: jets.part[f] for f in ("px", "py", "pz", "energy")}), "jet": jets.jet})
    second = jetgraph.io.write(bare, tmp_path / "b.root")
    with pytest.raises(SchemaError, match=r"b.root: source='particles' needs 'part.pid'"):
        make_images([first, second], out, GRID, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.root", "b.root"]
    # chunks are appended
    with ImageWriter(out, GRID) as writer:
        writer.write(images[:2], jets[:2])
        writer.write(images[2:], jets[2:])
    np.testing.assert_array_equal(read_images(out).images, images)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: ImageGrid(pixels=0), ImageError, r"--pixels 0: expected a positive whole number"),
        (lambda: ImageGrid(pixels=2.5), ImageError, r"--pixels 2.5: expected a positive whole number"),
        (lambda: ImageGrid(width=0.0), ImageError, r"--width 0.0: expected a positive image width"),
        (lambda: ImageGrid(width=float("nan")), ImageError, r"--width nan: expected a positive image width"),
        (lambda: pixelise(_random_jets(2), GRID, source="cell"), ImageError, r"did you mean 'cells'"),
        (lambda: pixelise(_random_jets(2), GRID, replica=-1), ImageError, r"--replica -1: expected a replica index"),
        (
            lambda: pixelise(_random_jets(2), GRID, source="cells"),
            SchemaError,
            r"source='cells' needs detector-level jets",
        ),
        (lambda: ImageWriter("images.root", GRID), FileFormatError, r"expected a name ending in .h5"),
    ],
)
def test_bad_arguments_are_one_line_errors(make, error, message):
    with pytest.raises(error, match=message) as caught:
        make()
    assert isinstance(caught.value, JetGraphError) and "\n" not in str(caught.value)


def test_unknown_source_lists_accepted_and_missing_charge_is_named(tmp_path):
    with pytest.raises(ImageError, match=r"--source 'pixels': expected one of \['auto', 'particles', 'cells'\]"):
        make_images(tmp_path / "none.root", tmp_path / "x.h5", source="pixels")
    jets = _random_jets(2)
    part = ak.zip({f: jets.part[f] for f in ("px", "py", "pz", "energy", "pid")})
    with pytest.raises(
        SchemaError, match=r"needs 'part.pid' and 'part.charge'.*have \['px', 'py', 'pz', 'energy', 'pid'\]"
    ):
        pixelise(ak.Array({"part": part, "jet": jets.jet}), GRID)
    with pytest.raises(ImageError, match=r"images of shape \(2, 3, 10, 10\) for 1 jets"):
        write_images(tmp_path / "x.h5", pixelise(jets, GRID), jets[:1], GRID)
    assert not (tmp_path / "x.h5").exists()


def test_grid_geometry():
    grid = ImageGrid(pixels=4, width=2.0)
    assert grid.pixel_size == 0.5
    np.testing.assert_allclose(grid.centres, [-0.75, -0.25, 0.25, 0.75])
    assert ImageGrid() == ImageGrid(32, 1.6)


def test_a_batch_of_mixed_replicas_is_pixelised_replica_by_replica():
    """The one pixeliser on a detector view that takes replica 0 of one jet and replica 1 of the other."""
    jets = _cell_jets()
    per_replica = [pixelise(jets, GRID, source="cells", replica=r) for r in (0, 1)]
    mixed = detector_view(JetBatch.from_jets(jets), torch.tensor([0, 1]))
    np.testing.assert_array_equal(pixelise_batch(mixed, GRID).numpy(), np.stack([per_replica[0][0], per_replica[1][1]]))


def test_a_particle_batch_without_pid_is_one_line():
    batch = JetBatch.from_jets(_random_jets(2)).replace()
    del batch.pid
    with pytest.raises(SchemaError, match=r"pixelise needs 'pid' and 'charge'.*lacks \['pid'\]"):
        pixelise_batch(batch, GRID)


def test_an_image_file_trains_an_image_encoder_as_images(tmp_path):
    """Jets read from a jet-image file are detector-level jets: their first replica, pixelised on the file's
    grid, is the image again, and the image encoder pretrains on them without any setting of its own."""
    from jetgraph.config import load_config
    from jetgraph.images import pixelise as from_batch
    from jetgraph.inputs import Inputs
    from jetgraph.io.jetimage import read_images
    from jetgraph.train import pretrain

    grid = ImageGrid(pixels=16, width=1.6)
    jets = _random_jets(40)
    path = write_images(tmp_path / "images.h5", pixelise(jets, grid), jets, grid)
    batch = JetBatch.from_jets(jetgraph.read(path))
    inputs = Inputs(load_config(None, ["model.encoder=resnet", "augment.pixels=16"]).augment, "image")
    np.testing.assert_allclose(inputs.plain(batch).numpy(), read_images(path).images, rtol=1e-5, atol=1e-6)
    assert torch.equal(inputs.plain(batch), from_batch(detector_view(batch, torch.zeros(40, dtype=torch.long)), grid))
    config = Path(__file__).resolve().parents[1] / "configs" / "pretrain" / "qg_resnet.yaml"
    small = "model.params={widths: [8], blocks: [1], groups: 4}"
    overrides = [f"data.train={path}", "data.val=[]", "train.max_steps=2", "train.batch_size=16",
                 "train.progress=false", "augment.pixels=16", small]  # fmt: skip
    assert pretrain(config, tmp_path / "run", overrides=overrides).steps == 2
