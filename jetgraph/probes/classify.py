"""Frozen-backbone classification probes: a cheap scikit-learn model fitted on fixed jet representations.

The representation is never trained here; a probe measures how much of the class information an encoder
put in it, in the form the probe can read: ``linear`` (the "linear classifier test" of the SSL
literature), ``mlp`` (one hidden layer of 300, as in the detector-replica studies), ``knn`` (no
training at all) and ``gbdt`` (gradient-boosted trees, the strong baseline on classic jet observables).

Every probe is a :class:`~sklearn.pipeline.Pipeline` that standardises the inputs first (with the
training mean and spread), so that the probe does not depend on the representation's units. The
L2 penalty of the ``linear`` and ``mlp`` probes is chosen by stratified k-fold cross-validation on
the training labels (log loss), unless it is given: with 60 labels and a 64-dimensional
representation a fixed weak penalty fits noise, with 6,000 it barely matters, and no single
value serves a label-fraction scan. Arrays go in and come out as numpy; the same ``seed`` gives
the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from jetgraph.errors import suggest
from jetgraph.probes.metrics import ProbeError

__all__ = ["PROBES", "fit_linear", "fit_score", "label_fraction_indices", "make_classifier", "split_indices"]

PROBES = ("linear", "mlp", "knn", "gbdt")


def _positive(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool) and value > 0


def _count(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1


def _layers(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) > 0 and all(_count(v) for v in value)


def _flag(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _penalty(value: Any) -> bool:
    return value is None or _positive(value)


C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 13))
"""Inverse L2 strengths the ``linear`` probe chooses from (half a decade apart)."""

ALPHA_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""L2 strengths the ``mlp`` probe chooses from (sklearn's default 1e-4 is the weakest)."""

CV_FOLDS = 5
"""Folds of the cross-validation that chooses the penalty (fewer when a class has fewer jets)."""


CV_MAX_JETS = 6000
"""Training jets the penalty is cross-validated on at most (a stratified, seeded subset); the probe is
then refitted on all of them. Beyond a few thousand labels the choice barely moves, and the ``mlp``
search is 30 fits: on 24,000 jets, ten minutes of two cores per probe."""

MLP_EARLY_STOPPING_JETS = 1000
"""Training jets from which the MLP probe stops early on a 10% validation split (fewer: a fixed number of epochs)."""

# The parameters each probe accepts: name -> (default, check, what the check wants).
_Spec = Mapping[str, tuple[Any, Callable[[Any], bool], str]]
_CLASSIFIER_PARAMS: dict[str, _Spec] = {
    "linear": {
        "C": (None, _penalty, "a positive number, or None to choose it by cross-validation"),
        "max_iter": (2000, _count, "a positive integer"),
    },
    "mlp": {
        "hidden_layer_sizes": ((300,), _layers, "a tuple of positive integers"),
        "max_iter": (200, _count, "a positive integer"),
        "alpha": (None, _penalty, "a positive number, or None to choose it by cross-validation"),
        "learning_rate_init": (1e-3, _positive, "a positive number"),
    },
    "knn": {
        "k": (25, _count, "a positive integer"),
        "normalize": (False, _flag, "True or False"),
    },
    "gbdt": {
        "max_iter": (100, _count, "a positive integer"),
        "learning_rate": (0.1, _positive, "a positive number"),
        "max_leaf_nodes": (31, lambda v: _count(v) and v >= 2, "an integer >= 2"),
    },
}


def resolve_params(kind: str, params: Mapping[str, Any], table: Mapping[str, _Spec], what: str) -> dict[str, Any]:
    """Check ``kind`` and ``params`` against ``table`` and return every parameter, defaults filled in.

    Raises:
        ProbeError: an unknown kind, an unknown parameter or a value of the wrong kind.
    """
    if kind not in table:
        known = ", ".join(repr(k) for k in table)
        raise ProbeError(f"{what} kind {kind!r} is not known{suggest(str(kind), table)}; known kinds: {known}")
    spec = table[kind]
    for name, value in params.items():
        if name not in spec:
            accepted = ", ".join(repr(p) for p in spec)
            raise ProbeError(f"{what} {kind!r} has no parameter {name!r}; it accepts {accepted}")
        _, check, wanted = spec[name]
        if not check(value):
            raise ProbeError(f"{what} {kind!r}: {name}={value!r}; expected {wanted}")
    return {name: params.get(name, default) for name, (default, _, _) in spec.items()}


def make_classifier(kind: str, seed: int = 0, **params: Any) -> Pipeline | GridSearchCV:
    """Build the unfitted probe ``kind`` (one of :data:`PROBES`): a standardiser followed by the model.

    ``linear`` and ``mlp`` without ``C`` / ``alpha`` come wrapped in a :class:`GridSearchCV` over
    :data:`C_GRID` / :data:`ALPHA_GRID` (stratified :data:`CV_FOLDS`-fold, log loss, refitted on
    all training jets with the best value); :func:`fit_score` lowers the folds when a class is rare.

    ``knn`` measures Euclidean distance between standardised representations by default. With
    ``normalize=True`` each standardised row is scaled to unit length first, which gives the cosine
    k-nearest-neighbour monitor common in the SSL literature. The default keeps the length because
    the representation is taken before the projection head, where the contrastive loss does not
    normalise it, so the length can carry information a cosine probe would never see.

    Args:
        kind: ``linear``, ``mlp``, ``knn`` or ``gbdt``.
        seed: the random state of the models that have one (``mlp``, ``gbdt``) and of the folds.
        **params: ``linear``: ``C`` (None: cross-validated), ``max_iter``; ``mlp``:
            ``hidden_layer_sizes``, ``max_iter``, ``alpha`` (None: cross-validated),
            ``learning_rate_init``; ``knn``: ``k`` (25), ``normalize`` (False);
            ``gbdt``: ``max_iter``, ``learning_rate``, ``max_leaf_nodes``.

    Raises:
        ProbeError: an unknown kind or parameter, or a bad parameter value.
    """
    p = resolve_params(kind, params, _CLASSIFIER_PARAMS, "probe")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    grid: dict[str, tuple[float, ...]] = {}
    if kind == "linear":
        steps.append(("model", LogisticRegression(C=p["C"] or 1.0, max_iter=p["max_iter"])))
        if p["C"] is None:
            grid = {"model__C": C_GRID}
    elif kind == "mlp":
        model = MLPClassifier(
            hidden_layer_sizes=tuple(p["hidden_layer_sizes"]),
            alpha=p["alpha"] or ALPHA_GRID[0],
            learning_rate_init=p["learning_rate_init"],
            early_stopping=True,
            max_iter=p["max_iter"],
            random_state=seed,
        )
        steps.append(("model", model))
        if p["alpha"] is None:
            grid = {"model__alpha": ALPHA_GRID}
    elif kind == "knn":
        if p["normalize"]:
            steps.append(("normalize", Normalizer(norm="l2")))
        steps.append(("model", KNeighborsClassifier(n_neighbors=p["k"])))
    else:  # gbdt
        model = HistGradientBoostingClassifier(
            max_iter=p["max_iter"],
            learning_rate=p["learning_rate"],
            max_leaf_nodes=p["max_leaf_nodes"],
            random_state=seed,
        )
        steps.append(("model", model))
    if not grid:
        return Pipeline(steps)
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
    return GridSearchCV(Pipeline(steps), grid, cv=folds, scoring="neg_log_loss")


def as_matrix(name: str, x: Any, columns: int | None = None) -> np.ndarray:
    """Return ``x`` as a finite, non-empty (N, D) float array (float32 stays float32), or raise naming ``name``."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ProbeError(f"{name}: expected a non-empty (N, D) array of representations; got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ProbeError(f"{name}: expected numbers; got dtype {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if columns is not None and x.shape[1] != columns:
        raise ProbeError(f"{name}: {x.shape[1]} columns; the training representations have {columns}")
    if not np.isfinite(x).all():
        raise ProbeError(f"{name}: {int((~np.isfinite(x)).sum())} values are NaN or infinite")
    return x


def as_vector(name: str, y: Any, length: int | None = None) -> np.ndarray:
    """Return ``y`` as a non-empty 1-D array of ``length`` rows, or raise naming ``name``."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] == 0:
        raise ProbeError(f"{name}: expected a non-empty 1-D array; got shape {y.shape}")
    if length is not None and len(y) != length:
        raise ProbeError(f"{name}: {len(y)} entries for {length} rows of representations")
    return y


def _binary_labels(name: str, y: Any, length: int) -> np.ndarray:
    y = as_vector(name, y, length)
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        if not (np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all()):
            raise ProbeError(f"{name}: expected integer class labels; got dtype {y.dtype}")
    classes = np.unique(y)
    if len(classes) > 2:
        raise ProbeError(
            f"{name}: {len(classes)} classes {classes.tolist()[:10]}; probes handle two classes only for now"
        )
    if len(classes) < 2:
        raise ProbeError(f"{name}: every label is {classes.tolist()[0]}; a probe needs both classes to train on")
    return y


def _fitted(kind: str, x_train: np.ndarray, y_train: np.ndarray, seed: int, **params: Any) -> Pipeline:
    """The probe ``kind`` fitted on checked training arrays (folds and early stopping fitted to the labels).

    A cross-validated penalty is chosen on at most :data:`CV_MAX_JETS` of the jets, then the probe
    is fitted on all of them with it.
    """
    model = make_classifier(kind, seed=seed, **params)
    pipeline = model.estimator if isinstance(model, GridSearchCV) else model
    counts = np.unique(y_train, return_counts=True)[1]
    if kind == "knn" and pipeline.named_steps["model"].n_neighbors > len(x_train):
        k = pipeline.named_steps["model"].n_neighbors
        raise ProbeError(f"probe 'knn': k={k} neighbours but only {len(x_train)} training jets")
    if kind == "mlp" and (len(y_train) < MLP_EARLY_STOPPING_JETS or counts.min() < 20):
        # early stopping judges on 10% of the jets: below ~100 of them (or with a rare class) it stops
        # an MLP that takes one step per epoch after ~10 steps, untrained; the L2 penalty regularises instead
        pipeline.set_params(model__early_stopping=False)
    if isinstance(model, GridSearchCV):
        if counts.min() < 2:
            raise ProbeError(
                f"probe {kind!r}: {counts.min()} training jet of one class; choosing its penalty by"
                " cross-validation needs at least 2 of each (or give C / alpha)"
            )
        search = np.arange(len(y_train))
        if len(y_train) > CV_MAX_JETS:
            search = label_fraction_indices(y_train, CV_MAX_JETS / len(y_train), seed)
        fewest = np.unique(y_train[search], return_counts=True)[1].min()  # of the jets searched, not all
        folds = StratifiedKFold(min(CV_FOLDS, int(fewest)), shuffle=True, random_state=seed)
        model.set_params(cv=folds, refit=False).fit(x_train[search], y_train[search])
        pipeline.set_params(**model.best_params_)
    return pipeline.fit(x_train, y_train)


def fit_score(kind: str, x_train: Any, y_train: Any, x_test: Any, seed: int = 0, **params: Any) -> np.ndarray:
    """Fit the probe ``kind`` on the training jets and return its probability of class 1 for the test jets.

    Binary only: ``y_train`` holds two labels, and the score is the probability of the greater one
    (class 1 for labels 0/1, the positive class of :func:`sklearn.metrics.roc_auc_score`).

    Shapes:
        x_train: (N, D); y_train: (N,); x_test: (M, D); returns (M,) float64 in [0, 1].

    Raises:
        ProbeError: bad kind or parameters, arrays of the wrong shape or with NaN, labels that are not
            exactly two classes, ``k`` larger than the training set, or a class of one jet where
            the penalty is cross-validated.
    """
    x_train = as_matrix("x_train", x_train)
    y_train = _binary_labels("y_train", y_train, len(x_train))
    x_test = as_matrix("x_test", x_test, columns=x_train.shape[1])
    model = _fitted(kind, x_train, y_train, seed, **params)
    proba = model.predict_proba(x_test)
    positive = int(np.flatnonzero(model.classes_ == model.classes_.max())[0])
    return np.asarray(proba[:, positive], dtype=np.float64)


def fit_linear(x_train: Any, y_train: Any, seed: int = 0, **params: Any) -> tuple[np.ndarray, float]:
    """The ``linear`` probe's decision function as a weight vector and bias on the raw (unscaled) inputs.

    ``x @ weight + bias`` is the log-odds of the greater label: the standardiser folded into the
    logistic regression, so that a linear layer on the representation can start from it (the
    head of a fine-tuned encoder, :func:`jetgraph.probes.supervised.train_classifier`).

    Shapes:
        x_train: (N, D); y_train: (N,); returns a (D,) float64 weight and a float bias.
    """
    x_train = as_matrix("x_train", x_train)
    y_train = _binary_labels("y_train", y_train, len(x_train))
    pipeline = _fitted("linear", x_train, y_train, seed, **params)
    scale, logistic = pipeline.named_steps["scale"], pipeline.named_steps["model"]
    weight = logistic.coef_[0] / scale.scale_
    bias = float(logistic.intercept_[0] - weight @ scale.mean_)
    return weight.astype(np.float64), bias


def label_fraction_indices(y: Any, fraction: float, seed: int) -> np.ndarray:
    """Pick a stratified ``fraction`` of the labelled training jets: the label-efficiency scans.

    Each class keeps ``round(fraction * n_class)`` jets (at least 2, so that every class can be fitted),
    so the class ratio of the subsample matches the full set to within one jet per class. For a given
    seed the subsets are nested: a smaller fraction picks a subset of what a larger one picks, so the
    points of a scan differ only by the added labels.

    Shapes:
        y: (N,) labels of any number of classes; returns sorted int64 indices into ``y``.

    Raises:
        ProbeError: ``fraction`` outside (0, 1], ``y`` not 1-D, or a class with fewer than 2 jets.
    """
    y = as_vector("y", y)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.integer | np.floating):
        raise ProbeError(f"fraction={fraction!r}; expected a number in (0, 1]")
    if not (np.isfinite(fraction) and 0 < fraction <= 1):
        raise ProbeError(f"fraction={fraction!r}; expected a number in (0, 1]")
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        few = classes[counts < 2].tolist()
        raise ProbeError(f"y: classes {few} have fewer than 2 jets; each class needs at least 2")
    if fraction == 1:
        return np.arange(len(y), dtype=np.int64)
    rng = np.random.default_rng(seed)
    chosen = []
    for label, count in zip(classes, counts, strict=True):
        members = np.flatnonzero(y == label)
        keep = max(2, int(np.round(fraction * count)))
        chosen.append(members[rng.permutation(count)[:keep]])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def split_indices(
    n: int, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``range(n)`` at random into train, validation and test indices, reproducibly from ``seed``.

    The sizes are ``round(f * n)`` for train and validation, the rest for test. Each part is sorted
    (HDF5 reads want increasing indices); together they cover ``0..n-1`` once.

    Returns:
        ``(train, val, test)``, int64 arrays.

    Raises:
        ProbeError: ``fractions`` not three non-negative numbers that sum to 1, or a part that would be empty.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ProbeError(f"n={n!r}; expected a number of jets (a non-negative integer)")
    values = np.asarray(fractions, dtype=np.float64) if np.ndim(fractions) == 1 else np.zeros(0)
    if values.shape != (3,) or not np.isfinite(values).all() or (values < 0).any():
        raise ProbeError(f"fractions={fractions!r}; expected three non-negative numbers (train, val, test)")
    if abs(values.sum() - 1) > 1e-6:
        raise ProbeError(f"fractions={fractions!r} sum to {values.sum():g}; they must sum to 1")
    n_train = int(np.round(values[0] * n))
    n_val = int(np.round(values[1] * n))
    n_test = n - n_train - n_val
    if min(n_train, n_val, n_test) <= 0:
        raise ProbeError(
            f"fractions={fractions!r} of n={n} jets give {n_train} train, {n_val} val and {n_test} test jets;"
            " every part must hold at least one"
        )
    order = np.random.default_rng(seed).permutation(n)
    parts = np.split(order, [n_train, n_train + n_val])
    return tuple(np.sort(part).astype(np.int64) for part in parts)  # type: ignore[return-value]
