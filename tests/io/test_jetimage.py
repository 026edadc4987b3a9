"""Jet-image HDF5 (X_jets, y, m0, pt), written with h5py; read as images and as cells of the non-empty pixels."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import pytest

import jetgraph
import jetgraph.io.jetimage as jetimage
from jetgraph.errors import FileFormatError, MissingFieldError, RecipeError
from jetgraph.io.jetimage import iterate_images, read_images
from jetgraph.schema import BadJetsWarning

N_JETS, HEIGHT, WIDTH = 40, 16, 12  # not 125 x 125: the reader takes the size from the data; H != W on purpose
PIXEL = 0.0174


def _images(n: int = N_JETS, seed: int = 7) -> dict[str, np.ndarray]:
    """Sparse, non-negative images brighter near the centre, like jet images; float32, channels last."""
    rng = np.random.default_rng(seed)
    i, j = np.meshgrid(np.arange(HEIGHT) - (HEIGHT - 1) / 2, np.arange(WIDTH) - (WIDTH - 1) / 2, indexing="ij")
    occupancy = 0.6 * np.exp(-(i**2 + j**2) / 20.0)[None, :, :, None]
    hit = rng.random((n, HEIGHT, WIDTH, 3)) < occupancy
    x = np.where(hit, rng.exponential(3.0, (n, HEIGHT, WIDTH, 3)), 0.0).astype(np.float32)
    x[:, HEIGHT // 2, WIDTH // 2, 1] += 20.0  # every jet has its core in ECAL
    return {
        "X_jets": x,
        "y": rng.integers(0, 2, n).astype(np.float32),  # 1 = quark, float as in the public file
        "m0": rng.uniform(5.0, 40.0, n).astype(np.float32),
        "pt": rng.uniform(70.0, 200.0, n).astype(np.float32),
    }


def _write(path: Path, data: dict[str, np.ndarray]) -> Path:
    with h5py.File(path, "w") as handle:
        for name, values in data.items():
            handle.create_dataset(name, data=values, compression="gzip" if values.ndim == 4 else None)
    return path


@pytest.fixture
def image_file(tmp_path: Path) -> tuple[Path, dict]:
    data = _images()
    return _write(tmp_path / "quark-gluon_data-set.hdf5", data), data


def test_pixels_to_cells_by_hand(tmp_path):
    x = np.zeros((2, 4, 6, 3), np.float32)
    x[0, 0, 5, 1] = 7.0  # row 0 (eta), column 5 (phi), ECAL
    x[0, 3, 0, 0] = 2.0  # Tracks and HCAL in the same pixel
    x[0, 3, 0, 2] = 3.0
    x[1, 2, 3, 2] = 5.0  # just above and right of the centre of a 4 x 6 grid
    data = {"X_jets": x, "y": np.array([1.0, 0.0]), "m0": np.array([12.0, 8.0]), "pt": np.array([150.0, 90.0])}
    jets = jetgraph.read(_write(tmp_path / "hand.h5", data))
    # centres: eta = (row - 1.5) * 0.0174, phi = (column - 2.5) * 0.0174; items in (row, column, channel) order;
    # ECAL and HCAL pixels are cells of layer 0 and 1, Tracks pixels tracks: a detector-level jet
    assert jets.cells.layer.tolist() == [[0, 1], [1]]
    np.testing.assert_allclose(ak.to_numpy(jets.cells.eta[0]), [-1.5 * PIXEL, 1.5 * PIXEL], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.cells.phi[0]), [2.5 * PIXEL, -2.5 * PIXEL], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.cells.eta[1]), [0.5 * PIXEL], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.cells.phi[1]), [0.5 * PIXEL], rtol=1e-6)
    assert jets.cells.energy.tolist() == [[7.0, 3.0], [5.0]]
    assert jets.tracks.pt.tolist() == [[2.0], []] and jets.tracks.charge.tolist() == [[0.0], []]
    np.testing.assert_allclose(ak.to_numpy(jets.tracks.eta[0]), [1.5 * PIXEL], rtol=1e-6)
    assert jets.jet.pt.tolist() == [150.0, 90.0]
    assert jets.jet.mass.tolist() == [12.0, 8.0]
    assert jets.jet.eta.tolist() == [0.0, 0.0]
    assert jets.jet.phi.tolist() == [0.0, 0.0]
    assert jets.jet.nparticles.tolist() == [2, 1]  # the cells
    assert jets.jet.energy.tolist() == [10.0, 5.0]  # ECAL + HCAL; the Tracks pT is not added
    assert jets.label.tolist() == [1, 0]
    assert jets.attrs["label_names"] == ["gluon", "quark"]
    # another pixel size, and the energy from every channel
    recipe = jetgraph.load_recipe("jetimage")
    mine = {"format": "jetimage", "fields": recipe.fields, "label": {"branch": "y"}}
    mine["options"] = {"pixel_size": 0.1, "jet_energy_channels": None}
    other = jetgraph.read(tmp_path / "hand.h5", recipe=mine)
    np.testing.assert_allclose(ak.to_numpy(other.cells.eta[0]), [-0.15, 0.15], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(other.cells.phi[0]), [0.25, -0.25], rtol=1e-6)
    assert other.jet.energy.tolist() == [12.0, 5.0]


def test_cells_match_every_pixel(image_file, caplog):
    path, data = image_file
    with caplog.at_level(logging.INFO, logger="jetgraph"):
        jets = jetgraph.read(path)
    assert "detected format 'jetimage' (recipe jetimage)" in caplog.text
    assert ak.array_equal(jets, jetgraph.read(path, recipe="jetimage"))
    assert len(jets) == N_JETS
    x = data["X_jets"]
    for k in (0, 17, N_JETS - 1):  # a slow reference per image: calorimeter pixels are cells, Tracks pixels tracks
        where = np.argwhere(x[k] != 0)
        calo, track = where[where[:, 2] > 0], where[where[:, 2] == 0]
        assert jets.cells.layer[k].tolist() == (calo[:, 2] - 1).tolist()
        np.testing.assert_allclose(ak.to_numpy(jets.cells.eta[k]), (calo[:, 0] - 7.5) * PIXEL, rtol=1e-6)
        np.testing.assert_allclose(ak.to_numpy(jets.cells.phi[k]), (calo[:, 1] - 5.5) * PIXEL, rtol=1e-6)
        np.testing.assert_array_equal(ak.to_numpy(jets.cells.energy[k]), x[k][tuple(calo.T)])
        np.testing.assert_array_equal(ak.to_numpy(jets.tracks.pt[k]), x[k][tuple(track.T)])
        np.testing.assert_allclose(ak.to_numpy(jets.tracks.phi[k]), (track[:, 1] - 5.5) * PIXEL, rtol=1e-6)
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.nparticles), (x[..., 1:] != 0).sum(axis=(1, 2, 3)))
    np.testing.assert_allclose(
        ak.to_numpy(jets.jet.energy), x[..., 1:].sum(axis=(1, 2, 3), dtype=np.float64), rtol=1e-6
    )
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.pt), data["pt"])
    np.testing.assert_array_equal(ak.to_numpy(jets.jet.mass), data["m0"])
    np.testing.assert_array_equal(ak.to_numpy(jets.label), data["y"].astype(int))


def test_images_round_trip(image_file):
    path, data = image_file
    images = read_images(path)
    assert images.images.shape == (N_JETS, 3, HEIGHT, WIDTH)  # channels first
    assert images.images.dtype == np.float32 and images.images.flags.c_contiguous
    np.testing.assert_array_equal(images.images, np.moveaxis(data["X_jets"], -1, 1))
    assert images.channels == ("Tracks", "ECAL", "HCAL")
    np.testing.assert_array_equal(images.label, data["y"].astype(np.int32))
    np.testing.assert_array_equal(images.pt, data["pt"])
    np.testing.assert_array_equal(images.mass, data["m0"])
    assert images.label_names == ("gluon", "quark")
    assert (len(images), images.entry_start, images.pixel_size) == (N_JETS, 0, PIXEL)
    # the cells and tracks put back on the grid give the images again
    jets = jetgraph.read(path)
    rebuilt = np.zeros_like(images.images)
    kinds = ((jets.cells, jets.cells.layer + 1, jets.cells.energy), (jets.tracks, 0 * jets.tracks.pt, jets.tracks.pt))
    for items, channel, value in kinds:
        jet = np.repeat(np.arange(N_JETS), ak.to_numpy(ak.num(items, axis=1)))
        row = np.rint(ak.to_numpy(ak.flatten(items.eta)) / PIXEL + (HEIGHT - 1) / 2).astype(int)
        column = np.rint(ak.to_numpy(ak.flatten(items.phi)) / PIXEL + (WIDTH - 1) / 2).astype(int)
        rebuilt[jet, ak.to_numpy(ak.flatten(channel)).astype(int), row, column] = ak.to_numpy(ak.flatten(value))
    np.testing.assert_array_equal(rebuilt, images.images)


def test_image_ranges_and_streaming(image_file):
    path, data = image_file
    part = read_images(path, entry_start=5, entry_stop=12)
    assert (len(part), part.entry_start) == (7, 5)
    np.testing.assert_array_equal(part.images, np.moveaxis(data["X_jets"][5:12], -1, 1))
    np.testing.assert_array_equal(part.pt, data["pt"][5:12])
    assert len(read_images(path, entry_start=30, entry_stop=1000)) == 10  # clipped to the file
    chunks = list(iterate_images(path, 15))
    assert [(len(c), c.entry_start) for c in chunks] == [(15, 0), (15, 15), (10, 30)]
    np.testing.assert_array_equal(np.concatenate([c.images for c in chunks]), read_images(path).images)
    np.testing.assert_array_equal(np.concatenate([c.label for c in chunks]), data["y"].astype(int))
    with pytest.raises(FileFormatError, match=r"entry_start=9, entry_stop=3: expected 0 <= entry_start <= entry_stop"):
        read_images(path, entry_start=9, entry_stop=3)
    with pytest.raises(FileFormatError, match=r"step_size=0: expected a positive number of images"):
        next(iterate_images(path, 0))


def test_chunked_iteration_and_count(image_file, monkeypatch):
    path, _ = image_file
    whole = jetgraph.read(path)
    chunks = list(jetgraph.iterate(path, step_size=15))
    assert [len(c) for c in chunks] == [15, 15, 10]
    assert ak.array_equal(ak.concatenate(chunks), whole)
    monkeypatch.setattr(jetimage, "BLOCK_BYTES", 3 * HEIGHT * WIDTH * 3 * 4)  # 3 images per read inside a chunk
    assert ak.array_equal(ak.concatenate(list(jetgraph.iterate(path, step_size=15))), whole)
    assert jetgraph.count(path) == N_JETS
    assert jetgraph.count(path, recipe="jetimage") == N_JETS
    assert len(jetgraph.read(path, entry_stop=25)) == 25


def test_mev_recipe_scales_both_views(tmp_path):
    data = _images(n=6)
    mev = {**data, "X_jets": data["X_jets"] * 1000, "m0": data["m0"] * 1000, "pt": data["pt"] * 1000}
    path = _write(tmp_path / "mev.h5", mev)
    recipe = {
        "format": "jetimage",
        "units": {"energy": "MeV"},
        "fields": {"jet.pt": "pt", "jet.mass": "m0"},
        "label": {"branch": "y", "names": ["gluon", "quark"]},
    }
    jets = jetgraph.read(path, recipe=recipe)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.pt), data["pt"], rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.jet.mass), data["m0"], rtol=1e-6)
    x = data["X_jets"]
    calo, tracks = x[..., 1:], x[..., :1]
    np.testing.assert_allclose(np.sort(ak.to_numpy(ak.flatten(jets.cells.energy))), np.sort(calo[calo != 0]), rtol=1e-6)
    np.testing.assert_allclose(
        np.sort(ak.to_numpy(ak.flatten(jets.tracks.pt))), np.sort(tracks[tracks != 0]), rtol=1e-6
    )
    images = read_images(path, recipe=recipe)
    np.testing.assert_allclose(images.images, np.moveaxis(x, -1, 1), rtol=1e-6)
    np.testing.assert_allclose(images.pt, data["pt"], rtol=1e-6)


def test_empty_image_is_dropped_with_a_warning(tmp_path):
    data = _images(n=5)
    data["X_jets"][3] = 0.0
    path = _write(tmp_path / "empty.h5", data)
    with pytest.warns(BadJetsWarning, match=r"empty.h5: dropped 1 of 5 jets: 1 with no particles .* first at entry 3"):
        jets = jetgraph.read(path)
    assert len(jets) == 4
    assert len(read_images(path)) == 5  # images are not validated as jets


def test_missing_datasets_suggest_closest(tmp_path):
    data = _images(n=4)
    path = _write(
        tmp_path / "renamed.h5", {"X_jet": data["X_jets"], "y": data["y"], "m0": data["m0"], "pt": data["pt"]}
    )
    message = r"renamed.h5: no dataset 'X_jets'; did you mean 'X_jet'\?"
    with pytest.raises(MissingFieldError, match=message):
        jetgraph.read(path, recipe="jetimage")
    with pytest.raises(MissingFieldError, match=message):
        read_images(path)
    with pytest.raises(MissingFieldError, match=message):
        jetgraph.count(path, recipe="jetimage")
    path = _write(
        tmp_path / "nomass.h5", {"X_jets": data["X_jets"], "y": data["y"], "mass": data["m0"], "pt": data["pt"]}
    )
    with pytest.raises(MissingFieldError, match=r"nomass.h5: no dataset 'm0'; it has 'X_jets', 'mass', 'pt', 'y'"):
        read_images(path)


@pytest.mark.parametrize(
    ("shape", "found"),
    [
        ((4, 16, 16), r"\(4, 16, 16\)"),
        ((4, 16, 16, 2), r"\(4, 16, 16, 2\)"),
        ((4, 3, 16, 16, 1), r"\(4, 3, 16, 16, 1\)"),
    ],
)
def test_wrong_image_shape_is_one_line(tmp_path, shape, found):
    data = {**_images(n=4), "X_jets": np.zeros(shape, np.float32)}
    path = _write(tmp_path / "flat.h5", data)
    message = (
        rf"^\S*flat.h5: dataset 'X_jets' has shape {found} and dtype float32; expected numbers of shape "
        r"\(jets, height, width, 3\), channels \('Tracks', 'ECAL', 'HCAL'\) last$"
    )
    with pytest.raises(FileFormatError, match=message):
        read_images(path)
    with pytest.raises(FileFormatError, match=message):
        jetgraph.read(path)


def test_per_jet_datasets_must_have_one_value_per_image(tmp_path):
    data = _images(n=4)
    path = _write(tmp_path / "short.h5", {**data, "pt": data["pt"][:3]})
    with pytest.raises(FileFormatError, match=r"short.h5: dataset 'pt' \(jet.pt\) has shape \(3,\) .* expected \(4,\)"):
        jetgraph.read(path)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            {"options": {"jet_energy_channels": ["ECALL"]}},
            RecipeError,
            r"'ECALL' is not a channel; did you mean 'ECAL'",
        ),
        ({"options": {"pixel_size": -1}}, RecipeError, r"options.pixel_size must be a positive number"),
        ({"options": {"pixels": "X_jets"}}, RecipeError, r"unknown option 'pixels' for format 'jetimage'"),
        ({"fields": {"jet.eta": "pt"}}, RecipeError, r"sets \['jet.eta'\] itself"),
        ({"fields": {"cells.energy": "pt"}}, RecipeError, r"'fields' takes only jet.\*"),
        ({"format": "energyflow"}, RecipeError, r"read_images needs a recipe of format 'jetimage', got 'energyflow'"),
    ],
)
def test_bad_recipes(image_file, change, error, message):
    path, _ = image_file
    recipe = {"format": "jetimage", "fields": {"jet.pt": "pt"}, **change}
    with pytest.raises(error, match=message):
        read_images(path, recipe=recipe)


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "images.npz"
    np.savez(path, X_jets=np.zeros((2, 4, 4, 3)))
    with pytest.raises(FileFormatError, match=r"images.npz: a NPZ file; jet images are read from HDF5 files"):
        read_images(path)


def test_inspect_counts(image_file):
    from tests.helpers import inspect_json

    path, data = image_file
    summary = inspect_json(path)
    assert (summary["recipe"], summary["jets"], summary["dropped"]) == ("jetimage", N_JETS, 0)
    quarks = int(data["y"].sum())
    assert summary["labels"] == {"gluon": N_JETS - quarks, "quark": quarks}
    assert summary["multiplicity"]["max"] == int((data["X_jets"][..., 1:] != 0).sum(axis=(1, 2, 3)).max())  # cells
    assert math.isclose(summary["jet_pt"]["max"], float(data["pt"].max()), rel_tol=1e-6)


def _with_attributes(path: Path, on: str = "/", **attrs) -> Path:
    """Record grid/class attributes in an image file, as jetgraph.generate.images writes them."""
    with h5py.File(path, "a") as handle:
        target = handle[on]
        for name, value in attrs.items():
            target.attrs[name] = np.array(value, dtype=h5py.string_dtype()) if name == "label_names" else value
    return path


@pytest.mark.parametrize("on", ["/", "X_jets"])
def test_file_attributes_replace_the_builtin_recipe(tmp_path, on):
    data = _images(n=6)
    path = _with_attributes(_write(tmp_path / "own.h5", data), on=on, pixel_size=0.05, label_names=["QCD", "top"])
    images = read_images(path)
    assert (images.pixel_size, images.label_names) == (0.05, ("QCD", "top"))
    jets = jetgraph.read(path)
    assert jets.attrs["label_names"] == ["QCD", "top"]
    where = np.argwhere(data["X_jets"][2][..., 1:] != 0)  # the calorimeter pixels are the cells
    np.testing.assert_allclose(ak.to_numpy(jets.cells.eta[2]), (where[:, 0] - 7.5) * 0.05, rtol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(jets.cells.phi[2]), (where[:, 1] - 5.5) * 0.05, rtol=1e-6)
    # a user recipe that leaves them out takes the file's; one that repeats them is fine
    for options, label in (({}, {"branch": "y"}), ({"pixel_size": 0.05}, {"branch": "y", "names": ["QCD", "top"]})):
        mine = {"format": "jetimage", "fields": {"jet.pt": "pt", "jet.mass": "m0"}, "label": label, "options": options}
        images = read_images(path, recipe=mine)
        assert (images.pixel_size, images.label_names) == (0.05, ("QCD", "top"))
        assert ak.array_equal(jetgraph.read(path, recipe=mine), jets)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"options": {"pixel_size": 0.1}},
            r"options.pixel_size is 0.1 but \S*own.h5 records pixel_size 0.05; remove options.pixel_size",
        ),
        (
            {"label": {"branch": "y", "names": ["gluon", "quark"]}},
            r"label.names is \['gluon', 'quark'\] but \S*own.h5 records label_names \['QCD', 'top'\]",
        ),
    ],
)
def test_user_recipe_that_contradicts_the_file_is_an_error(tmp_path, change, message):
    path = _with_attributes(_write(tmp_path / "own.h5", _images(n=4)), pixel_size=0.05, label_names=["QCD", "top"])
    mine = {"format": "jetimage", "fields": {"jet.pt": "pt"}, "label": {"branch": "y"}, **change}
    with pytest.raises(RecipeError, match=message):
        read_images(path, recipe=mine)
    with pytest.raises(RecipeError, match=message):
        jetgraph.read(path, recipe=mine)


def test_file_with_no_classes_and_bad_attributes(tmp_path):
    path = _with_attributes(_write(tmp_path / "none.h5", _images(n=4)), label_names=[])
    assert read_images(path).label_names == ()
    assert read_images(path).pixel_size == PIXEL  # no pixel_size recorded: the recipe's
    assert jetgraph.read(path).attrs["label_names"] == []  # not the built-in recipe's [gluon, quark]
    path = _with_attributes(_write(tmp_path / "bad.h5", _images(n=4)), pixel_size=-1.0)
    with pytest.raises(FileFormatError, match=r"bad.h5: attribute 'pixel_size' is -1.0; expected a positive number"):
        read_images(path)
