"""The probe figures: ROC curves, energy response, 2-D maps of a representation, AUC vs label fraction.

Figures are drawn on a standalone :class:`matplotlib.figure.Figure` with the Agg canvas, never through
pyplot, so neither the user's backend nor pyplot's list of open figures is touched; the HEP look
(mplhep's ROOT style, when mplhep is installed) is applied only while a figure is drawn. Each PNG is
written under a temporary name and renamed when complete.
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
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import roc_auc_score

from jetgraph.outputs import written_atomically
from jetgraph.probes.metrics import ProbeError, roc

_METRIC_LABELS = {"auc": "AUC", "accuracy": "Accuracy"}


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


def roc_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | os.PathLike) -> Path:
    """ROC curves in the HEP convention: background rejection 1/ε_B (log) against signal efficiency ε_S.

    Args:
        curves: ``{name: (y_true, score)}``, one line each, with its AUC in the legend.
        path: the PNG to write.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

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
    with _style():
        figure = _figure(figsize=(8, 7), layout="constrained")
        ax = figure.add_subplot()
        for name, x, y, area in lines:
            ax.plot(x, y, label=f"{name} (AUC = {area:.3f})")
        reference = np.linspace(0.01, 1.0, 200)
        ax.plot(reference, 1.0 / reference, color="grey", linestyle="--", label="random (AUC = 0.500)")
        ax.set_yscale("log")
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel(r"Signal efficiency $\varepsilon_S$")
        ax.set_ylabel(r"Background rejection $1/\varepsilon_B$")
        ax.set_title("ROC curves on the test jets")
        ax.legend(loc="upper right")
        return _save(figure, path)


def response_figure(
    results: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike,
    xlabel: str = "Truth jet energy [GeV]",
) -> Path:
    """Energy response (top) and resolution (bottom) against the true energy, one line per regressor.

    Args:
        results: ``{name: response_resolution(...)}``; each needs ``centre``, ``response`` and ``resolution``.
        path: the PNG to write.
        xlabel: the x axis title, with units, for a quantity other than the jet energy.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

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
        for name, result in results.items():
            centre = np.asarray(result["centre"], dtype=float)
            top.plot(centre, np.asarray(result["response"], dtype=float), marker="o", label=name)
            bottom.plot(centre, np.asarray(result["resolution"], dtype=float), marker="o", label=name)
        top.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        top.set_ylabel("Response: median of predicted/true")
        top.set_title("Energy response and resolution")
        top.legend(loc="best")
        bottom.set_ylabel("Resolution: (q84 - q16) / (2 median)")
        bottom.set_ylim(bottom=0.0)
        bottom.set_xlabel(xlabel)
        return _save(figure, path)


def _label_name(label: int, label_names: Mapping[int, str] | Sequence[str] | None) -> str:
    if isinstance(label_names, Mapping) and label in label_names:
        return str(label_names[label])
    if label_names is not None and not isinstance(label_names, Mapping) and 0 <= label < len(label_names):
        return str(label_names[label])
    return "unknown" if label < 0 else f"class {label}"


def map_figure(
    representation: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike,
    method: str = "pca",
    label_names: Mapping[int, str] | Sequence[str] | None = None,
    max_points: int = 5000,
    seed: int | np.random.Generator = 0,
) -> Path:
    """A 2-D map of the representation coloured by class, to see whether the classes separate.

    Args:
        representation: (N, D) representations, D >= 2.
        labels: (N,) integer class labels (-1, unknown, is drawn as "unknown").
        path: the PNG to write.
        method: ``"pca"`` (fast, linear) or ``"tsne"`` (slower, local neighbourhoods).
        label_names: names of the classes, by label value.
        max_points: jets drawn at most, a random subset of them.
        seed: seed or ``numpy.random.Generator`` for the subset and t-SNE.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

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
        ax.set_title(f"{'PCA' if method == 'pca' else 't-SNE'} map of {len(x)} jets")
        ax.legend(loc="best", markerscale=3)
        return _save(figure, path)


def label_fraction_figure(
    scan: Mapping[str, Mapping[float, Mapping[str, Any]]],
    path: str | os.PathLike,
    metric: str = "auc",
    intervals: str = "bootstrap intervals",
) -> Path:
    """A metric with its bootstrap interval against the fraction of labels the probe was trained on.

    Args:
        scan: ``scan[name][fraction]`` is ``{"value", "low", "high"}`` for ``metric``, or the whole
            :func:`~jetgraph.probes.metrics.bootstrap` result, from which ``metric`` is taken.
        path: the PNG to write.
        metric: the metric drawn and named on the y axis.
        intervals: what the error bars are, for the title (e.g. "spread over 3 seeds").

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

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
            value = float(entry["value"])
            low, high = float(entry.get("low", value)), float(entry.get("high", value))
            rows.append([f, value, low, high])
        table = np.array(sorted(rows), dtype=np.float64)
        table[~np.isfinite(table)] = np.nan  # an infinite rejection has no place on the axis
        lines.append((name, table))
    with _style():
        figure = _figure(figsize=(8, 7), layout="constrained")
        ax = figure.add_subplot()
        for name, (fraction, value, low, high) in ((n, t.T) for n, t in lines):
            errors = np.nan_to_num(np.clip([value - low, high - value], 0.0, None))
            ax.errorbar(fraction, value, yerr=errors, marker="o", capsize=4, label=name)
        ax.set_xscale("log")
        if metric.startswith("rejection_at_"):
            ax.set_yscale("log")
        ax.set_xlabel("Fraction of training labels used")
        ax.set_ylabel(_metric_label(metric))
        ax.set_title(f"{_metric_label(metric, short=True)} vs training labels, {intervals}")
        figure.legend(loc="outside lower center")  # below the axes: the curves fill them from 1% to 100%
        return _save(figure, path)


__all__ = ["label_fraction_figure", "map_figure", "response_figure", "roc_figure"]
