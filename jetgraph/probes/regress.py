"""Frozen-backbone regression probes: the jet energy from fixed representations, and its classic baseline.

The representation probes (:func:`fit_predict_energy`) regress the logarithm of the truth energy with
a ridge regression or a one-hidden-layer MLP. The baseline (:func:`calibrate_sum`) is what a
calorimeter does without machine learning: the raw sum of cell energies times a response correction
that depends on that sum. Arrays go in and come out as numpy; energies are in GeV.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from jetgraph.probes.classify import _count, _layers, _positive, as_matrix, as_vector, resolve_params
from jetgraph.probes.metrics import ProbeError

__all__ = ["REGRESSORS", "calibrate_sum", "fit_predict_energy", "make_regressor"]

REGRESSORS = ("linear", "mlp")

_REGRESSOR_PARAMS = {
    "linear": {"alpha": (1.0, _positive, "a positive number")},
    "mlp": {
        "hidden_layer_sizes": ((300,), _layers, "a tuple of positive integers"),
        "max_iter": (200, _count, "a positive integer"),
        "alpha": (1e-4, _positive, "a positive number"),
        "learning_rate_init": (1e-3, _positive, "a positive number"),
    },
}


def make_regressor(kind: str, seed: int = 0, **params: Any) -> Pipeline | TransformedTargetRegressor:
    """Build the unfitted regression probe ``kind``: ``linear`` (ridge) or ``mlp`` (one hidden layer of 300).

    Both standardise the inputs with the training mean and spread. The MLP also standardises its
    target (and undoes it on prediction): its weights start small, so a target centred far from zero,
    as log(E/GeV) ~ 2-7 is, would spend the early-stopped training on learning an offset.

    Args:
        kind: ``linear`` or ``mlp``.
        seed: the MLP's random state (the ridge regression has none).
        **params: ``linear``: ``alpha``; ``mlp``: ``hidden_layer_sizes``, ``max_iter``, ``alpha``,
            ``learning_rate_init``.

    Raises:
        ProbeError: an unknown kind or parameter, or a bad parameter value.
    """
    p = resolve_params(kind, params, _REGRESSOR_PARAMS, "regressor")
    if kind == "linear":
        return Pipeline([("scale", StandardScaler()), ("model", Ridge(alpha=p["alpha"]))])
    model = MLPRegressor(
        hidden_layer_sizes=tuple(p["hidden_layer_sizes"]),
        alpha=p["alpha"],
        learning_rate_init=p["learning_rate_init"],
        max_iter=p["max_iter"],
        early_stopping=True,
        random_state=seed,
    )
    pipeline = Pipeline([("scale", StandardScaler()), ("model", model)])
    return TransformedTargetRegressor(regressor=pipeline, transformer=StandardScaler())


def _energies(name: str, e: Any, length: int | None = None) -> np.ndarray:
    e = as_vector(name, e, length)
    if not (np.issubdtype(e.dtype, np.floating) or np.issubdtype(e.dtype, np.integer)):
        raise ProbeError(f"{name}: expected energies in GeV (numbers); got dtype {e.dtype}")
    e = e.astype(np.float64)
    bad = ~(np.isfinite(e) & (e > 0))
    if bad.any():
        raise ProbeError(f"{name}: {int(bad.sum())} energies are not finite and positive (first: {e[bad][0]!r})")
    return e


def fit_predict_energy(kind: str, x_train: Any, e_train: Any, x_test: Any, seed: int = 0, **params: Any) -> np.ndarray:
    """Fit the regression probe ``kind`` on the training jets and predict the test jets' energy in GeV.

    The probe regresses log(E), not E: jet energies span orders of magnitude and calorimeter errors
    are relative (sigma/E roughly constant), so in log(E) the residuals are about equally wide at
    every energy and a least-squares fit weighs a 20 GeV jet like a 2 TeV one, instead of being
    decided by the highest energies. The prediction, exp of the fitted log(E), is always positive
    and estimates the median of E given the representation, which is what the median response
    (prediction / truth) measures.

    Shapes:
        x_train: (N, D); e_train: (N,) GeV; x_test: (M, D); returns (M,) float64 GeV.

    Raises:
        ProbeError: bad kind or parameters, arrays of the wrong shape, NaN, or energies that are not positive.
    """
    model = make_regressor(kind, seed=seed, **params)
    x_train = as_matrix("x_train", x_train)
    e_train = _energies("e_train", e_train, len(x_train))
    x_test = as_matrix("x_test", x_test, columns=x_train.shape[1])
    model.fit(x_train, np.log(e_train))
    return np.exp(np.asarray(model.predict(x_test), dtype=np.float64))


def calibrate_sum(raw_train: Any, e_train: Any, raw_test: Any, bins: int = 10) -> np.ndarray:
    """Calibrate the raw sum of cell energies: the classic, no-learning energy baseline.

    A calorimeter sees only a fraction of a jet's energy (its response), and that fraction grows with
    energy. The correction is measured on the training jets as a function of what is observed, the
    raw sum: the jets are cut into ``bins`` bins of equal population in raw sum (quantile bins), and
    in each the median of ``e_true / raw`` is the correction, placed at the bin's median log(raw).
    A test jet's correction is interpolated linearly in log(raw) between bins (``np.interp``; beyond the
    outermost bins it stays at their value) and multiplies its raw sum. Medians keep the rare jets with
    a badly measured sum from pulling the correction.

    Shapes:
        raw_train: (N,) GeV; e_train: (N,) GeV; raw_test: (M,) GeV; returns (M,) float64 GeV.

    Raises:
        ProbeError: arrays of the wrong shape, energies that are not finite and positive, or fewer
            than 2 training jets per bin.
    """
    raw_train = _energies("raw_train", raw_train)
    e_train = _energies("e_train", e_train, len(raw_train))
    raw_test = _energies("raw_test", raw_test)
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ProbeError(f"bins={bins!r}; expected a positive integer")
    if len(raw_train) < 2 * bins:
        raise ProbeError(f"raw_train: {len(raw_train)} jets for bins={bins}; each bin needs at least 2")
    order = np.argsort(raw_train, kind="stable")
    log_raw = np.log(raw_train)
    centres = np.empty(bins)
    corrections = np.empty(bins)
    for i, members in enumerate(np.array_split(order, bins)):
        centres[i] = np.median(log_raw[members])
        corrections[i] = np.median(e_train[members] / raw_train[members])
    return raw_test * np.interp(np.log(raw_test), centres, corrections)
