"""Probe figures: each writes a real PNG atomically and leaves matplotlib's global state as it found it."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from jetgraph.probes.metrics import ProbeError, bootstrap, response_resolution
from jetgraph.probes.plots import label_fraction_figure, map_figure, response_figure, roc_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path, expected: Path) -> None:
    assert path == expected
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000
    assert not list(path.parent.glob("*.partial"))


def _scores(n: int, delta: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + delta * y - delta / 2)))


@pytest.fixture
def untouched_matplotlib():
    """The figures must not choose a backend or leave a style behind for the user."""
    backend = matplotlib.rcParams._get_backend_or_none()
    font_size = matplotlib.rcParams["font.size"]
    yield
    assert matplotlib.rcParams._get_backend_or_none() == backend
    assert matplotlib.rcParams["font.size"] == font_size


def test_roc_figure(tmp_path, untouched_matplotlib):
    curves = {"good": _scores(2000, 2.0, 0), "weak": _scores(2000, 0.5, 1)}
    out = tmp_path / "new" / "dir" / "roc.png"  # parent directories are created
    _assert_png(roc_figure(curves, out), out)


def test_response_figure(tmp_path, untouched_matplotlib):
    rng = np.random.default_rng(2)
    truth = rng.uniform(20.0, 500.0, 3000)
    edges = np.array([20.0, 100.0, 200.0, 350.0, 500.0, 700.0])  # the last bin is empty: NaN
    results = {
        "linear": response_resolution(truth * (1.0 + 0.1 * rng.standard_normal(3000)), truth, edges),
        "mlp": response_resolution(truth * (0.95 + 0.05 * rng.standard_normal(3000)), truth, edges),
    }
    out = tmp_path / "response.png"
    _assert_png(response_figure(results, str(out)), out)


def test_map_figure_pca_subsamples_and_names_classes(tmp_path, untouched_matplotlib):
    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 3, 1000)  # -1: unknown
    representation = rng.normal(size=(1000, 32)) + labels[:, None]
    out = tmp_path / "map.png"
    _assert_png(map_figure(representation, labels, out, label_names=["q", "g", "t"], max_points=300), out)


def test_map_figure_tsne(tmp_path, untouched_matplotlib):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 200)
    representation = rng.normal(size=(200, 16)) + 2.0 * labels[:, None]
    out = tmp_path / "tsne.png"
    with threadpool_limits(1):  # t-SNE's OpenMP threads crawl on a small, busy machine
        _assert_png(map_figure(representation, labels, out, method="tsne", label_names={0: "QCD", 1: "top"}), out)


def test_label_fraction_figure_from_bootstrap_results(tmp_path, untouched_matplotlib):
    scan = {}
    for name, delta in (("transformer", 2.0), ("observables", 1.0)):
        scan[name] = {f: bootstrap(*_scores(int(4000 * f), delta * f**0.1, 5), n=30) for f in (0.05, 0.2, 1.0)}
    out = tmp_path / "auc.png"
    _assert_png(label_fraction_figure(scan, out), out)
    out = tmp_path / "rejection.png"
    _assert_png(label_fraction_figure(scan, out, metric="rejection_at_0.5"), out)


def test_label_fraction_figure_from_one_metric_with_infinite_values(tmp_path, untouched_matplotlib):
    scan = {
        "a": {0.01: {"value": 0.7, "low": 0.65, "high": 0.74}, 0.1: {"value": 0.8, "low": 0.78, "high": 0.83}},
        "b": {0.01: {"value": 3.0, "low": 2.0, "high": np.inf}, 1.0: {"value": np.inf, "low": 5.0, "high": np.inf}},
    }
    out = tmp_path / "one.png"
    _assert_png(label_fraction_figure(scan, out, metric="rejection_at_0.3"), out)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda p: roc_figure({}, p), "curves"),
        (lambda p: roc_figure({"a": ([0, 1], [0.5])}, p), "score"),
        (lambda p: response_figure({"a": {"centre": np.ones(3)}}, p), "results"),
        (lambda p: map_figure(np.ones((10, 2)), np.zeros(10), p, method="umap"), "method"),
        (lambda p: map_figure(np.ones(10), np.zeros(10), p), "representation"),
        (lambda p: map_figure(np.ones((10, 2)), np.linspace(0, 1, 10), p), "labels"),
        (lambda p: label_fraction_figure({"a": {0.0: {"value": 0.5}}}, p), "scan"),
        (lambda p: label_fraction_figure({"a": {0.5: {"auc": {"value": 0.5}}}}, p, metric="accuracy"), "scan"),
    ],
)
def test_bad_inputs_raise_and_write_nothing(tmp_path, call, name):
    with pytest.raises(ProbeError, match=rf"^{name}"):
        call(tmp_path / "figure.png")
    assert not list(tmp_path.iterdir())
