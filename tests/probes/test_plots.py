"""Probe figures: each writes a real PNG atomically and leaves matplotlib's global state as it found it."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from jetgraph.probes.metrics import ProbeError, bootstrap, response_resolution
from jetgraph.probes.plots import (
    PROBE_COLOURS,
    draw_label_fractions,
    draw_map,
    draw_roc,
    label_fraction_figure,
    map_figure,
    probe_colours,
    response_figure,
    roc_figure,
    run_style,
)

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


def _below_the_axes(figure, ax) -> bool:
    """Whether the figure's one legend is drawn under the axes, off the curves."""
    figure.canvas.draw()
    legend = figure.legends[0].get_window_extent()
    return ax.get_legend() is None and len(figure.legends) == 1 and legend.y1 <= ax.get_window_extent().y0


def test_roc_names_the_classes_and_the_sample_and_gives_each_probe_its_own_colour(untouched_matplotlib):
    curves = {name: _scores(400, 1.0 + 0.2 * i, i) for i, name in enumerate(PROBE_COLOURS)}
    figure = draw_roc(curves, label_names=["gluon", "quark"], sample="qg.root, 400 test jets")
    ax = figure.axes[0]
    assert ax.get_xlabel().startswith("Quark efficiency") and ax.get_ylabel().startswith("Gluon rejection")
    assert ax.get_title(loc="right") == "qg.root, 400 test jets" and "quark vs gluon" in ax.get_title(loc="left")
    colours = {line.get_label().split(" (AUC")[0]: line.get_color() for line in ax.get_lines()}
    assert len({colours[name] for name in PROBE_COLOURS}) == len(PROBE_COLOURS)  # linear and fine-tuned too
    assert _below_the_axes(figure, ax)
    unnamed = draw_roc({"linear": curves["linear"]}).axes[0]  # a file without class names
    assert unnamed.get_xlabel().startswith("Signal efficiency") and unnamed.get_ylabel().startswith("Background")


def test_runs_differ_by_line_style_and_probes_by_colour(untouched_matplotlib):
    scan, styles = {}, {}
    colours = probe_colours(["linear", "mlp"])
    for run in range(2):
        for probe in ("linear", "mlp"):
            name = f"run {run}: {probe}"
            scan[name] = {f: bootstrap(*_scores(int(2000 * f), 1.0, run), n=20) for f in (0.1, 1.0)}
            styles[name] = {"color": colours[probe], **run_style(run)}
    legend = [(p, {"color": c}) for p, c in colours.items()] + [(f"run {i}", run_style(i)) for i in range(2)]
    figure = draw_label_fractions(scan, styles=styles, legend=legend, label_names=["qcd", "top"], sample="t.root")
    ax = figure.axes[0]
    lines = [c.lines[0] for c in ax.containers if c.get_label() in scan]  # each errorbar's data line
    drawn = {(line.get_color(), str(line.get_linestyle())) for line in lines}
    assert len(drawn) == 4 and len({colour for colour, _ in drawn}) == 2 and len({s for _, s in drawn}) == 2
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["linear", "mlp", "run 0", "run 1"]
    assert "top vs qcd" in ax.get_ylabel() and _below_the_axes(figure, ax)


def test_map_names_the_classes_in_its_legend(untouched_matplotlib):
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 2, 300)
    figure = draw_map(rng.normal(size=(300, 8)) + labels[:, None], labels, label_names=["gluon", "quark"], sample="qg")
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts == [f"gluon ({(labels == 0).sum()})", f"quark ({(labels == 1).sum()})"]
    assert _below_the_axes(figure, figure.axes[0])


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
