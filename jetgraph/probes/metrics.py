"""Figures of merit for probes: ROC, AUC, background rejection, bootstrap intervals, energy response.

Classification follows the HEP convention: class 1 is the signal, a working point is a signal
efficiency ε_S, and a tagger is judged by its background rejection 1/ε_B there. Regression of an
energy is judged in bins of the true value by the response (median of predicted/truth) and the
resolution (half the 16-84% width of predicted/truth over the median).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, auc, roc_curve

from jetgraph.errors import JetGraphError

Statistic = Callable[[np.ndarray, np.ndarray], Mapping[str, float]]


class ProbeError(JetGraphError, ValueError):
    """Arguments a probe, metric or figure cannot use: bad shapes, labels, fractions or names."""


class ProbeWarning(UserWarning):
    """A number that rests on too few jets to be read as a result (the CLI prints it as ``warning: ...``)."""


# ---------------------------------------------------------------------------------------------- validation


def _vector(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ProbeError(f"{name}: got an array of shape {array.shape}; expected a 1-D array")
    if array.dtype.kind not in "biuf":
        raise ProbeError(f"{name}: got dtype {array.dtype}; expected numbers")
    return array


def _finite(name: str, array: np.ndarray, what: str = "values") -> np.ndarray:
    bad = ~np.isfinite(array)
    if bad.any():
        raise ProbeError(f"{name}: {int(bad.sum())} of {array.size} {what} are NaN or inf; expected finite {what}")
    return array


def _same_length(names: tuple[str, str], a: np.ndarray, b: np.ndarray) -> None:
    if len(a) != len(b):
        raise ProbeError(f"{names[1]}: got {len(b)} values for {len(a)} {names[0]}; expected one per jet")


def _labels_scores(y_true: object, score: object) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert binary labels (0/1, both present) and finite scores of equal length."""
    y = _vector("y_true", y_true)
    s = _finite("score", _vector("score", score).astype(np.float64, copy=False), "scores")
    _same_length(("labels", "score"), y, s)
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        raise ProbeError(f"y_true: got labels {values[:10].tolist()}; expected 0 (background) and 1 (signal) only")
    if len(values) != 2:
        raise ProbeError(f"y_true: got only label {values.tolist()}; expected both 0 (background) and 1 (signal)")
    return y.astype(np.int64, copy=False), s


def _efficiency(value: float, name: str = "efficiency") -> float:
    try:
        e = float(value)
    except (TypeError, ValueError):
        raise ProbeError(f"{name}: got {value!r}; expected a signal efficiency in (0, 1]") from None
    if not 0.0 < e <= 1.0:
        raise ProbeError(f"{name}: got {value!r}; expected a signal efficiency in (0, 1]")
    return e


# ---------------------------------------------------------------------------------------------- classification


def _roc(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    background_efficiency, signal_efficiency, _ = roc_curve(y, s)
    return signal_efficiency, background_efficiency


def _rejection(signal_eff: np.ndarray, background_eff: np.ndarray, efficiency: float) -> float:
    """1/ε_B on the segment of the ROC that reaches ε_S = ``efficiency`` (best point among ties)."""
    # roc_curve starts at (0, 0) and ε_S never decreases: the first point at or above the working point
    # and the one before it bound the segment that crosses it.
    i = int(np.searchsorted(signal_eff, efficiency, side="left"))
    s0, s1 = signal_eff[i - 1], signal_eff[i]
    b0, b1 = background_eff[i - 1], background_eff[i]
    eps_b = b1 if s1 == efficiency else b0 + (b1 - b0) * (efficiency - s0) / (s1 - s0)
    return float("inf") if eps_b <= 0.0 else float(1.0 / eps_b)


def roc(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal and background efficiencies at every distinct score threshold (class 1 is the signal).

    Args:
        y_true: (N,) labels, 0 for background and 1 for signal.
        score: (N,) scores, higher meaning more signal-like.

    Returns:
        ``(signal_efficiency, background_efficiency)``, both rising from 0 to 1.

    Raises:
        ProbeError: not 1-D, unequal lengths, labels other than 0/1 or one class only, non-finite scores.
    """
    return _roc(*_labels_scores(y_true, score))


def rejection_at(y_true: np.ndarray, score: np.ndarray, efficiency: float) -> float:
    """Background rejection 1/ε_B at signal efficiency ε_S = ``efficiency``, the usual tagger figure.

    ε_B is interpolated linearly along the ROC; where several points share ε_S the lowest ε_B (the best
    threshold) is used. Returns ``inf`` when no background passes at that efficiency.

    Raises:
        ProbeError: bad labels or scores (see :func:`roc`), or ``efficiency`` outside (0, 1].
    """
    e = _efficiency(efficiency)
    return _rejection(*roc(y_true, score), e)


def passing_background(y_true: np.ndarray, score: np.ndarray, efficiency: float) -> float:
    """How many background jets pass the cut that keeps ε_S = ``efficiency`` of the signal: ε_B times their number.

    What a rejection 1/ε_B rests on: 1/ε_B = 38 from one passing background jet of 38 is a count, not
    a measurement. ε_B is interpolated along the ROC as in :func:`rejection_at`, so the count can be
    fractional; 0 where :func:`rejection_at` is infinite.

    Raises:
        ProbeError: bad labels or scores (see :func:`roc`), or ``efficiency`` outside (0, 1].
    """
    e = _efficiency(efficiency)
    y, s = _labels_scores(y_true, score)
    rejection = _rejection(*_roc(y, s), e)
    return 0.0 if np.isinf(rejection) else float(np.sum(y == 0) / rejection)


def _binary_metrics(y: np.ndarray, s: np.ndarray, efficiencies: Sequence[float], threshold: float) -> dict[str, float]:
    signal_eff, background_eff = _roc(y, s)
    out = {
        # the area under the curve roc_curve gives is exactly what roc_auc_score returns, without a second sort
        "auc": float(auc(background_eff, signal_eff)),
        "accuracy": float(accuracy_score(y, (s >= threshold).astype(np.int64))),
    }
    for e in efficiencies:
        out[f"rejection_at_{e:g}"] = _rejection(signal_eff, background_eff, e)
    return out


def binary_metrics(
    y_true: np.ndarray,
    score: np.ndarray,
    efficiencies: Sequence[float] = (0.3, 0.5),
    threshold: float = 0.5,
) -> dict[str, float]:
    """AUC, accuracy and background rejection at a few signal efficiencies: one probe's summary.

    Args:
        y_true: (N,) labels, 0 for background and 1 for signal.
        score: (N,) probabilities of class 1.
        efficiencies: working points ε_S; each gives a key ``f"rejection_at_{e:g}"``.
        threshold: ``score >= threshold`` predicts class 1 for the accuracy.

    Returns:
        ``{"auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5"}`` for the default efficiencies.

    Raises:
        ProbeError: bad labels or scores (see :func:`roc`), an efficiency outside (0, 1], a non-finite threshold.
    """
    y, s = _labels_scores(y_true, score)
    effs = [_efficiency(e, "efficiencies") for e in np.ravel(np.asarray(efficiencies, dtype=object)).tolist()]
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = float("nan")
    if not np.isfinite(t):
        raise ProbeError(f"threshold: got {threshold!r}; expected a finite score, e.g. 0.5 for probabilities")
    return _binary_metrics(y, s, effs, t)


def bootstrap(
    y_true: np.ndarray,
    score: np.ndarray,
    statistic: Statistic = binary_metrics,
    n: int = 200,
    seed: int | np.random.Generator = 0,
    level: float = 0.68,
) -> dict[str, dict[str, float]]:
    """Each metric on the full sample with a bootstrap interval, so that probes are compared with their errors.

    The test set is resampled with replacement ``n`` times (resamples with one class missing are skipped)
    and ``statistic`` evaluated on each; the interval is the central ``level`` fraction of those values,
    rounded outwards to resampled values (so that an ``inf`` rejection never turns into NaN).

    Args:
        y_true: (N,) labels, 0 for background and 1 for signal.
        score: (N,) scores.
        statistic: ``f(y_true, score) -> {name: value}``; :func:`binary_metrics` by default.
        n: number of resamples.
        seed: seed or ``numpy.random.Generator`` for the resampling.
        level: the interval's coverage, 0.68 for "one sigma".

    Returns:
        ``{metric: {"value": full-sample value, "low": ..., "high": ...}}``; ``low`` and ``high`` are NaN
        when no resample had both classes.

    Raises:
        ProbeError: bad labels or scores (see :func:`roc`), ``n`` < 1, ``level`` outside (0, 1).
    """
    y, s = _labels_scores(y_true, score)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ProbeError(f"n: got {n!r}; expected a positive number of resamples, e.g. 200")
    if not isinstance(level, (int, float, np.floating)) or not 0.0 < float(level) < 1.0:
        raise ProbeError(f"level: got {level!r}; expected an interval coverage in (0, 1), e.g. 0.68")
    fast = statistic is binary_metrics  # already validated: skip the checks in each resample
    full = _binary_metrics(y, s, (0.3, 0.5), 0.5) if fast else dict(statistic(y, s))
    rng = np.random.default_rng(seed)
    n_jets = len(y)
    samples: dict[str, list[float]] = {name: [] for name in full}
    for _ in range(int(n)):
        index = rng.integers(0, n_jets, size=n_jets)
        yb, sb = y[index], s[index]
        if not 0 < int(yb.sum()) < n_jets:
            continue
        values = _binary_metrics(yb, sb, (0.3, 0.5), 0.5) if fast else statistic(yb, sb)
        for name in samples:
            samples[name].append(float(values[name]))
    low_q, high_q = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    out: dict[str, dict[str, float]] = {}
    for name, value in full.items():
        draws = np.asarray(samples[name], dtype=np.float64)
        if draws.size:
            low = float(np.quantile(draws, low_q, method="lower"))
            high = float(np.quantile(draws, high_q, method="higher"))
        else:
            low = high = float("nan")
        out[name] = {"value": float(value), "low": low, "high": high}
    return out


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    background_efficiency, signal_efficiency, _ = roc_curve(y, s)
    return float(auc(background_efficiency, signal_efficiency))


def paired_bootstrap(
    y_true: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    n: int = 1000,
    seed: int | np.random.Generator = 0,
    level: float = 0.68,
) -> dict[str, float]:
    """AUC(``score_b``) − AUC(``score_a``) on the same test jets, with a paired bootstrap interval.

    Each resample draws the same jets for both scores, so what the two share (which jets happen to be in
    the test set, and how hard they are) cancels in the difference: two probes 0.01 apart, each ±0.02,
    can still differ significantly. Resamples with one class missing are skipped.

    Args:
        y_true: (N,) labels, 0 for background and 1 for signal.
        score_a, score_b: (N,) scores of the two probes for the same jets, in the same order.
        n: number of resamples.
        seed: seed or ``numpy.random.Generator`` for the resampling.
        level: the interval's coverage, 0.68 for "one sigma".

    Returns:
        ``{"value": full-sample difference, "low": ..., "high": ..., "n": resamples used}``; ``low`` and
        ``high`` are NaN when no resample had both classes.

    Raises:
        ProbeError: bad labels or scores (see :func:`roc`), scores of different lengths, ``n`` < 1,
            ``level`` outside (0, 1).
    """
    y, a = _labels_scores(y_true, score_a)
    _, b = _labels_scores(y_true, score_b)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ProbeError(f"n: got {n!r}; expected a positive number of resamples, e.g. 1000")
    if not isinstance(level, (int, float, np.floating)) or not 0.0 < float(level) < 1.0:
        raise ProbeError(f"level: got {level!r}; expected an interval coverage in (0, 1), e.g. 0.68")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(int(n)):
        index = rng.integers(0, len(y), size=len(y))
        yb = y[index]
        if 0 < int(yb.sum()) < len(y):
            draws.append(_auc(yb, b[index]) - _auc(yb, a[index]))
    value = _auc(y, b) - _auc(y, a)
    if not draws:
        return {"value": value, "low": float("nan"), "high": float("nan"), "n": 0}
    low = float(np.quantile(draws, (1.0 - level) / 2.0, method="lower"))
    high = float(np.quantile(draws, (1.0 + level) / 2.0, method="higher"))
    return {"value": value, "low": low, "high": high, "n": len(draws)}


# ---------------------------------------------------------------------------------------------- regression


def response_resolution(predicted: np.ndarray, truth: np.ndarray, bins: Sequence[float] | np.ndarray) -> dict:
    """Response and resolution of a regressed quantity (an energy) in bins of its true value.

    A jet is in bin i when ``bins[i] <= truth < bins[i + 1]`` (the last bin also holds its upper edge,
    as in ``numpy.histogram``); jets outside the edges are ignored.

    Args:
        predicted: (N,) predictions.
        truth: (N,) true values, positive inside the bins.
        bins: (B + 1,) non-decreasing bin edges.

    Returns:
        (B,) arrays ``centre``, ``count`` (int64), ``response`` (median of predicted/truth), ``resolution``
        (half the 16-84% width of predicted/truth over its median) and ``sigma_over_mu`` (std/mean of
        predicted/truth); NaN in empty bins.

    Raises:
        ProbeError: not 1-D, unequal lengths, non-finite values, fewer than 2 or decreasing edges, truth <= 0
        inside the bins.
    """
    p = _finite("predicted", _vector("predicted", predicted).astype(np.float64, copy=False))
    t = _finite("truth", _vector("truth", truth).astype(np.float64, copy=False))
    _same_length(("truth values", "predicted"), t, p)
    edges = _finite("bins", _vector("bins", bins).astype(np.float64, copy=False), "edges")
    if len(edges) < 2 or (np.diff(edges) < 0).any():
        raise ProbeError(f"bins: got {edges.tolist()}; expected at least 2 non-decreasing bin edges")
    n_bins = len(edges) - 1
    which = np.searchsorted(edges, t, side="right") - 1
    which[t == edges[-1]] = n_bins - 1
    inside = (which >= 0) & (which < n_bins)
    if (t[inside] <= 0).any():
        raise ProbeError(
            f"truth: {int((t[inside] <= 0).sum())} values <= 0 inside the bins; expected positive true values"
        )
    ratio = p[inside] / t[inside]
    which = which[inside]
    count = np.bincount(which, minlength=n_bins).astype(np.int64)
    response = np.full(n_bins, np.nan)
    resolution = np.full(n_bins, np.nan)
    sigma_over_mu = np.full(n_bins, np.nan)
    for i in np.flatnonzero(count):
        r = ratio[which == i]
        q16, median, q84 = np.quantile(r, (0.16, 0.5, 0.84))
        response[i] = median
        with np.errstate(divide="ignore", invalid="ignore"):
            resolution[i] = 0.5 * (q84 - q16) / median
            sigma_over_mu[i] = r.std() / r.mean()
    return {
        "centre": 0.5 * (edges[:-1] + edges[1:]),
        "count": count,
        "response": response,
        "resolution": resolution,
        "sigma_over_mu": sigma_over_mu,
    }


__all__ = [
    "ProbeError",
    "ProbeWarning",
    "binary_metrics",
    "bootstrap",
    "paired_bootstrap",
    "passing_background",
    "rejection_at",
    "response_resolution",
    "roc",
]
