"""The probe figures: ROC curves, energy response, 2-D maps of a representation, AUC vs label fraction.

Figures are drawn on a standalone :class:`matplotlib.figure.Figure` with the Agg canvas, never through
pyplot, so neither the user's backend nor pyplot's list of open figures is touched; the HEP look
(mplhep's ROOT style, when mplhep is installed) is applied only while a figure is drawn. Each PNG is
written under a temporary name and renamed when complete.

Every figure reads at a glance: each probe has one colour in every figure (:func:`probe_colours`),
each run one line style (:data:`RUN_STYLES`, in ``jetgraph compare``); the classes are named (quark
efficiency, gluon rejection) when their ``label_names`` are known; legends sit outside the axes,
below them, off the curves; and ``sample`` (e.g. "qg.root, 80 test jets") is written above the axes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import roc_auc_score

from jetgraph.outputs import written_atomically
from jetgraph.probes.metrics import ProbeError, roc

_METRIC_LABELS = {"auc": "AUC", "accuracy": "Accuracy"}

PROBE_COLOURS = {
    "linear": "#1f77b4",
    "mlp": "#d62728",
    "knn": "#2ca02c",
    "observables (logistic)": "#ff7f0e",
    "observables (GBDT)": "#9467bd",
    "supervised (scratch)": "#8c564b",
    "fine-tuned": "#e377c2",
    "calibrated cell sum": "#000000",
}
"""The colour of each probe of ``jetgraph probe``, the same in every figure (tab10 and black, no two alike)."""

_DODGE = 0.012
"""Decades between the points of neighbouring lines at one label fraction in :func:`draw_label_fractions`."""

_OTHER_COLOURS = ("#17becf", "#bcbd22", "#7f7f7f", "#000000", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")

RUN_STYLES = (
    {"linestyle": "-", "marker": "o"},
    {"linestyle": "--", "marker": "s"},
    {"linestyle": "-.", "marker": "^"},
    {"linestyle": (0, (5, 1, 1, 1, 1, 1)), "marker": "D"},
    {"linestyle": (0, (8, 3)), "marker": "v"},
    {"linestyle": (0, (3, 1, 3, 1, 1, 1)), "marker": "P"},
)
"""The line style and marker of each run in a comparison, in the order the runs are given (then again)."""


def probe_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour for each probe name: :data:`PROBE_COLOURS` for the known probes, distinct others for the rest."""
    others = iter(c for c in (*_OTHER_COLOURS, *_OTHER_COLOURS) if c not in PROBE_COLOURS.values())
    out = {}
    for name in names:
        if name not in out:
            out[name] = PROBE_COLOURS.get(name) or next(others, "#000000")
    return out


def run_style(index: int) -> dict[str, Any]:
    """The line style and marker of the ``index``-th run (from 0) in a comparison."""
    return dict(RUN_STYLES[index % len(RUN_STYLES)])


def class_names(label_names: Sequence[str] | None) -> tuple[str, str]:
    """``(signal, background)``: the names of class 1 and class 0, or "signal" and "background" without names."""
    if label_names is not None and len(label_names) >= 2:
        return str(label_names[1]), str(label_names[0])
    return "signal", "background"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _titles(ax: Any, title: str, sample: str | None) -> None:
    """The figure's title at the left and the sample (file, jets) at the right, above the axes."""
    ax.set_title(title, loc="left", fontsize="medium")
    if sample:
        ax.set_title(sample, loc="right", fontsize="small")


def _legend(figure: Figure, handles: list | None = None, labels: list[str] | None = None, **kwargs: Any) -> None:
    """The legend below the axes (constrained layout makes room), in as many columns as fit."""
    if handles is None:
        handles, labels = [], []
        for ax in figure.axes:
            h, lab = ax.get_legend_handles_labels()
            handles += h
            labels += lab
    longest = max((len(label) for label in labels or [""]), default=1)
    columns = max(1, min(len(handles), 3 if longest < 16 else 2 if longest < 34 else 1))
    figure.legend(handles, labels, loc="outside lower center", ncols=columns, fontsize="small", **kwargs)


@contextmanager
def _style() -> Iterator[None]:
    """mplhep's ROOT style for the duration of one figure (plain matplotlib without mplhep)."""
    try:
        import mplhep  # imported here: it takes most of a second and only figures need it

        style: Any = mplhep.style.ROOT
    except (ImportError, AttributeError):
        style = {}
    # the ROOT style's 26 pt text is sized for 10 x 10 inch figures; titles and legends fit these at 16 pt
    with matplotlib.style.context([style, {"font.size": 16, "axes.titlesize": "large"}]):
        yield


def _figure(**kwargs: Any) -> Figure:
    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | os.PathLike) -> Path:
    """Write ``figure`` to ``path`` as a PNG, atomically, creating its directory, and free it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with written_atomically(path) as partial:
            figure.savefig(partial, format="png", dpi=100)
    finally:
        figure.clear()
    return path


def _not_empty(name: str, mapping: Mapping) -> None:
    if not isinstance(mapping, Mapping) or not mapping:
        raise ProbeError(
            f"{name}: got {type(mapping).__name__} {mapping!r:.60}; expected a non-empty mapping name -> data"
        )


def _metric_label(metric: str, short: bool = False) -> str:
    if metric.startswith("rejection_at_"):
        at = rf"$1/\varepsilon_B$ at $\varepsilon_S = {metric.removeprefix('rejection_at_')}$"
        return at if short else f"Background rejection {at}"
    return _METRIC_LABELS.get(metric, metric)


def draw_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    label_names: Sequence[str] | None = None,
    sample: str | None = None,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
) -> Figure:
    """ROC curves in the HEP convention: background rejection 1/ε_B (log) against signal efficiency ε_S.

    Args:
        curves: ``{name: (y_true, score)}``, one line each, with its AUC in the legend.
        label_names: names of class 0 and class 1 (background and signal: "gluon", "quark"), for the axes.
        sample: what the curves were measured on, e.g. "qg.root, 80 test jets", above the axes.
        styles: matplotlib line properties per curve (``color``, ``linestyle``...); by default each
            probe's colour from :func:`probe_colours`.

    Returns:
        The figure (on an Agg canvas, not saved), for a notebook or another format.

    Raises:
        ProbeError: an empty ``curves`` or bad labels or scores (see :func:`jetgraph.probes.metrics.roc`).
    """
    _not_empty("curves", curves)
    lines = []
    for name, pair in curves.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ProbeError(f"curves[{name!r}]: got {type(pair).__name__}; expected a pair (y_true, score)")
        signal_eff, background_eff = roc(*pair)
        keep = (background_eff > 0) & (signal_eff > 0)  # rejection is infinite where no background passes
        lines.append((name, signal_eff[keep], 1.0 / background_eff[keep], roc_auc_score(*pair)))
    colours = probe_colours(list(curves))
    signal, background = class_names(label_names)
    with _style():
        figure = _figure(figsize=(8, 8), layout="constrained")
        ax = figure.add_subplot()
        for name, x, y, area in lines:
            style = dict(styles[name]) if styles and name in styles else {"color": colours[name]}
            style.pop("marker", None)  # a ROC has a point per test jet: markers would hide the line
            ax.plot(x, y, label=f"{name} (AUC = {area:.3f})", **style)
        reference = np.linspace(0.01, 1.0, 200)
        ax.plot(reference, 1.0 / reference, color="grey", linestyle=":", label="random (AUC = 0.500)")
        ax.set_yscale("log")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel(rf"{_capital(signal)} efficiency $\varepsilon_S$")
        ax.set_ylabel(rf"{_capital(background)} rejection $1/\varepsilon_B$")
        _titles(ax, f"ROC: {signal} vs {background}", sample)
        _legend(figure)
        return figure


def roc_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    **kwargs: Any,
) -> Path:
    """Write :func:`draw_roc`'s figure of ``curves`` to the PNG ``path`` (atomically), with its keyword arguments.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with _style():
        return _save(draw_roc(curves, **kwargs), path)


def draw_response(
    results: Mapping[str, Mapping[str, np.ndarray]],
    xlabel: str = "Truth jet energy [GeV]",
    *,
    sample: str | None = None,
) -> Figure:
    """Energy response (top) and resolution (bottom) against the true energy, one line per regressor.

    Args:
        results: ``{name: response_resolution(...)}``; each needs ``centre``, ``response`` and ``resolution``.
        xlabel: the x axis title, with units, for a quantity other than the jet energy.
        sample: what was measured, e.g. "detector.root, 100 test jets", above the axes.

    Returns:
        The figure (on an Agg canvas, not saved), for a notebook or another format.

    Raises:
        ProbeError: an empty ``results`` or a result without the arrays above.
    """
    _not_empty("results", results)
    for name, result in results.items():
        missing = [k for k in ("centre", "response", "resolution") if k not in result]
        if missing:
            raise ProbeError(f"results[{name!r}]: no {missing}; expected the dict response_resolution returns")
    with _style():
        figure = _figure(figsize=(8, 9), layout="constrained")
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(1, 1))
        colours = probe_colours(list(results))
        for name, result in results.items():
            centre = np.asarray(result["centre"], dtype=float)
            style = {"color": colours[name], "marker": "o"}
            top.plot(centre, np.asarray(result["response"], dtype=float), label=name, **style)
            bottom.plot(centre, np.asarray(result["resolution"], dtype=float), **style)
        top.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        top.set_ylabel("Response: median of predicted/true")
        what = xlabel.split("[")[0].strip().removeprefix("Truth jet ")
        _titles(top, f"{_capital(what)} response and resolution", sample)
        _legend(figure)
        bottom.set_ylabel("Resolution: (q84 - q16) / (2 median)")
        bottom.set_ylim(bottom=0.0)
        bottom.set_xlabel(xlabel)
        return figure


def response_figure(
    results: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike,
    xlabel: str = "Truth jet energy [GeV]",
    **kwargs: Any,
) -> Path:
    """Write :func:`draw_response`'s figure of ``results`` to the PNG ``path`` (atomically).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with _style():
        return _save(draw_response(results, xlabel, **kwargs), path)


def _label_name(label: int, label_names: Mapping[int, str] | Sequence[str] | None) -> str:
    if isinstance(label_names, Mapping) and label in label_names:
        return str(label_names[label])
    if label_names is not None and not isinstance(label_names, Mapping) and 0 <= label < len(label_names):
        return str(label_names[label])
    return "unknown" if label < 0 else f"class {label}"


def draw_map(
    representation: np.ndarray,
    labels: np.ndarray,
    method: str = "pca",
    label_names: Mapping[int, str] | Sequence[str] | None = None,
    max_points: int = 5000,
    seed: int | np.random.Generator = 0,
    *,
    sample: str | None = None,
) -> Figure:
    """A 2-D map of the representation coloured by class, to see whether the classes separate.

    Args:
        representation: (N, D) representations, D >= 2.
        labels: (N,) integer class labels (-1, unknown, is drawn as "unknown").
        method: ``"pca"`` (fast, linear) or ``"tsne"`` (slower, local neighbourhoods).
        label_names: names of the classes, by label value.
        max_points: jets drawn at most, a random subset of them.
        seed: seed or ``numpy.random.Generator`` for the subset and t-SNE.
        sample: the file the jets come from, e.g. "qg.root", above the axes.

    Returns:
        The figure (on an Agg canvas, not saved), for a notebook or another format.

    Raises:
        ProbeError: bad shapes, non-finite values, non-integer labels, an unknown ``method``, ``max_points`` < 3.
    """
    x = np.asarray(representation)
    y = np.asarray(labels)
    if x.ndim != 2 or x.shape[1] < 2 or x.shape[0] < 3:
        raise ProbeError(
            f"representation: got shape {x.shape}; expected (jets, features) with >= 3 jets, >= 2 features"
        )
    if x.dtype.kind not in "biuf" or not np.isfinite(x).all():
        raise ProbeError("representation: got NaN, inf or non-numbers; expected finite numbers")
    if y.ndim != 1 or len(y) != len(x):
        raise ProbeError(f"labels: got shape {y.shape} for {len(x)} jets; expected one label per jet")
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y)))):
        raise ProbeError(f"labels: got dtype {y.dtype} with non-integer values; expected integer class labels")
    if method not in ("pca", "tsne"):
        raise ProbeError(f"method: got {method!r}; expected 'pca' or 'tsne'")
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 3:
        raise ProbeError(f"max_points: got {max_points!r}; expected an integer >= 3")
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        chosen = np.sort(rng.choice(len(x), size=max_points, replace=False))
        x, y = x[chosen], y[chosen]
    x = x.astype(np.float64)
    y = y.astype(np.int64)
    if method == "pca":
        points = PCA(n_components=2, random_state=0).fit_transform(x)
        axis = "PCA component"
    else:
        tsne = TSNE(
            n_components=2,
            perplexity=min(30.0, (len(x) - 1) / 3.0),
            init="pca",
            random_state=int(rng.integers(2**31 - 1)),
        )
        points = tsne.fit_transform(x)
        axis = "t-SNE axis"
    with _style():
        figure = _figure(figsize=(8, 8), layout="constrained")
        ax = figure.add_subplot()
        classes = np.unique(y)
        colours = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        known = classes[classes >= 0]
        for label in classes:
            here = y == label
            colour = "lightgrey" if label < 0 else colours(int(np.searchsorted(known, label)) % colours.N)
            name = _label_name(int(label), label_names)
            ax.scatter(*points[here].T, s=6, alpha=0.6, color=colour, label=f"{name} ({int(here.sum())})")
        ax.set_xlabel(f"{axis} 1 [a.u.]")
        ax.set_ylabel(f"{axis} 2 [a.u.]")
        _titles(ax, f"{'PCA' if method == 'pca' else 't-SNE'} map of {len(x)} jets", sample)
        _legend(figure, markerscale=3)
        return figure


def map_figure(
    representation: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike,
    method: str = "pca",
    **kwargs: Any,
) -> Path:
    """Write :func:`draw_map`'s map of ``representation`` to the PNG ``path`` (atomically).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with _style():
        return _save(draw_map(representation, labels, method, **kwargs), path)


def _number(value: Any) -> float:
    """A metric value as a float: NaN for None (a rejection with no passing background, as JSON writes it)."""
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")


def draw_label_fractions(
    scan: Mapping[str, Mapping[float, Mapping[str, Any]]],
    metric: str = "auc",
    intervals: str = "bootstrap intervals",
    *,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    legend: Sequence[tuple[str, Mapping[str, Any]]] | None = None,
    label_names: Sequence[str] | None = None,
    sample: str | None = None,
) -> Figure:
    """A metric with its bootstrap interval against the fraction of labels the probe was trained on.

    Args:
        scan: ``scan[name][fraction]`` is ``{"value", "low", "high"}`` for ``metric``, or the whole
            :func:`~jetgraph.probes.metrics.bootstrap` result, from which ``metric`` is taken. A value
            of None (a rejection with no passing background) is left out.
        metric: the metric drawn and named on the y axis.
        intervals: what the error bars are, for the title (e.g. "spread over 3 seeds").
        styles: matplotlib line properties per name (``color``, ``linestyle``, ``marker``); by default
            each probe's colour from :func:`probe_colours`.
        legend: ``(label, line properties)`` entries to show instead of one entry per line, e.g. one
            per probe (its colour) and one per run (its line style) in ``jetgraph compare``.
        label_names: names of class 0 and class 1 ("gluon", "quark"), for the axis title.
        sample: what was measured, e.g. "qg.root, 80 test jets", above the axes.

    Returns:
        The figure (on an Agg canvas, not saved), for a notebook or another format.

    Raises:
        ProbeError: an empty ``scan``, a fraction not in (0, 1], an entry without ``metric`` or ``value``.
    """
    _not_empty("scan", scan)
    lines = []
    for name, by_fraction in scan.items():
        _not_empty(f"scan[{name!r}]", by_fraction)
        rows = []
        for fraction, entry in by_fraction.items():
            try:
                f = float(fraction)
            except (TypeError, ValueError):
                f = float("nan")
            if not 0.0 < f <= 1.0:
                raise ProbeError(f"scan[{name!r}]: got label fraction {fraction!r}; expected a fraction in (0, 1]")
            if isinstance(entry, Mapping) and isinstance(entry.get(metric), Mapping):
                entry = entry[metric]
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise ProbeError(
                    f"scan[{name!r}][{fraction!r}]: no {metric!r} and no 'value'; expected bootstrap's output"
                )
            value = _number(entry["value"])
            low, high = _number(entry.get("low", value)), _number(entry.get("high", value))
            rows.append([f, value, low, high])
        table = np.array(sorted(rows), dtype=np.float64)
        table[~np.isfinite(table)] = np.nan  # an infinite rejection has no place on the axis
        lines.append((name, table))
    colours = probe_colours(list(scan))
    with _style():
        figure = _figure(figsize=(8, 7), layout="constrained")
        ax = figure.add_subplot()
        for i, (name, (fraction, value, low, high)) in enumerate((n, t.T) for n, t in lines):
            errors = np.nan_to_num(np.clip([value - low, high - value], 0.0, None))
            style = {"color": colours[name], "marker": "o", **(styles.get(name, {}) if styles else {})}
            dodge = 10 ** ((i - (len(lines) - 1) / 2) * _DODGE)  # side by side, so that no error bar hides another
            ax.errorbar(fraction * dodge, value, yerr=errors, capsize=4, label=name, **style)
        ax.set_xscale("log")
        if metric.startswith("rejection_at_"):
            ax.set_yscale("log")
        ax.set_xlabel("Fraction of training labels used")
        ylabel = _metric_label(metric)
        if label_names is not None and len(label_names) >= 2:
            signal, background = class_names(label_names)
            ylabel += f", {signal} vs {background}"
        ax.set_ylabel(ylabel)
        _titles(ax, f"{_metric_label(metric, short=True)} vs training labels, {intervals}", sample)
        if legend is None:
            _legend(figure)  # below the axes: the curves fill them from 1% to 100%
        else:
            handles = [Line2D([], [], **{"color": "black", **dict(props)}) for _, props in legend]
            _legend(figure, handles, [label for label, _ in legend])
        return figure


__all__ = [
    "PROBE_COLOURS",
    "RUN_STYLES",
    "class_names",
    "label_fraction_figure",
    "map_figure",
    "probe_colours",
    "response_figure",
    "roc_figure",
    "run_style",
]


def label_fraction_figure(
    scan: Mapping[str, Mapping[float, Mapping[str, Any]]],
    path: str | os.PathLike,
    metric: str = "auc",
    intervals: str = "bootstrap intervals",
    **kwargs: Any,
) -> Path:
    """Write :func:`draw_label_fractions`'s figure of ``scan`` to the PNG ``path`` (atomically).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with _style():
        return _save(draw_label_fractions(scan, metric, intervals, **kwargs), path)
