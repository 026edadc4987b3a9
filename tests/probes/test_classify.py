"""Classification probes on representations drawn from known distributions, where the best AUC is known."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import Normalizer, StandardScaler

from jetgraph.errors import JetGraphError
from jetgraph.probes import classify
from jetgraph.probes.classify import (
    ALPHA_GRID,
    C_GRID,
    PROBES,
    fit_linear,
    fit_score,
    label_fraction_indices,
    make_classifier,
    split_indices,
)
from jetgraph.probes.metrics import ProbeError

# an MLP on a few dozen jets runs its 200 epochs without meeting sklearn's tolerance; that is expected
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _gaussians(n: int, delta: float, rng: np.random.Generator, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two unit Gaussians in ``dim`` dimensions, class 1 shifted by ``delta`` along the first axis."""
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x[:, 0] += delta * y
    return x, y


def _disc(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 inside a circle in the first two of four dimensions (half the jets): no linear boundary."""
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((x[:, :2] ** 2).sum(axis=1) < 2 * math.log(2)).astype(np.int64)  # the median of a chi2 with 2 dof
    return x, y


def _auc_error(auc: float, y: np.ndarray) -> float:
    """Hanley & McNeil's standard error of an AUC measured on the labels ``y``."""
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return math.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc**2) + (n0 - 1) * (q2 - auc**2)) / (n0 * n1))


@pytest.mark.parametrize("delta", [0.5, 1.5])
def test_linear_probe_reaches_the_bayes_auc_of_two_gaussians(delta):
    rng = np.random.default_rng(1)
    x_train, y_train = _gaussians(4000, delta, rng)
    x_test, y_test = _gaussians(4000, delta, rng)
    auc = roc_auc_score(y_test, fit_score("linear", x_train, y_train, x_test))
    bayes = norm.cdf(delta / math.sqrt(2))  # the optimal score is x[0]; x[0]|1 - x[0]|0 ~ N(delta, 2)
    # 3 standard errors of the test AUC, and 0.005 for fitting a 16-D direction on 4000 jets
    assert abs(auc - bayes) < 3 * _auc_error(bayes, y_test) + 0.005


@pytest.mark.parametrize("kind", PROBES)
def test_shuffled_labels_give_an_auc_of_one_half(kind):
    rng = np.random.default_rng(2)
    x_train, y_train = _gaussians(2000, 1.5, rng, dim=8)
    x_test, y_test = _gaussians(3000, 1.5, rng, dim=8)
    # The test labels are shuffled too: a probe fitted on noise ranks the test jets along a random
    # direction, and against the true test labels that direction's overlap with the signal axis would
    # move the AUC by ~0.1 from one seed to the next. Against shuffled labels the spread is ~0.01.
    score = fit_score(kind, x_train, rng.permutation(y_train), x_test)
    assert abs(roc_auc_score(rng.permutation(y_test), score) - 0.5) < 0.05


def test_linear_probe_sees_nothing_across_a_circular_boundary():
    rng = np.random.default_rng(3)
    x_train, y_train = _disc(2000, rng)
    x_test, y_test = _disc(3000, rng)
    # both classes are symmetric about 0, so every linear score has an AUC of 1/2
    assert abs(roc_auc_score(y_test, fit_score("linear", x_train, y_train, x_test)) - 0.5) < 0.05


@pytest.mark.parametrize("kind", ["mlp", "knn", "gbdt"])
def test_non_linear_probes_find_a_circular_boundary(kind):
    rng = np.random.default_rng(3)
    x_train, y_train = _disc(2000, rng)
    x_test, y_test = _disc(3000, rng)
    assert roc_auc_score(y_test, fit_score(kind, x_train, y_train, x_test)) > 0.9


def test_the_mlp_probe_learns_from_sixty_labels():
    """With 1% of 6,000 labels an epoch is one step: early stopping on 6 jets used to stop it untrained."""
    rng = np.random.default_rng(0)
    x, y = _gaussians(2060, 1.6, rng, dim=64)
    aucs = [roc_auc_score(y[60:], fit_score("mlp", x[:60], y[:60], x[60:], seed=seed)) for seed in range(3)]
    # 64 dimensions, 60 jets (Bayes: 0.87): stopping early on 6 validation jets ended it after ~10
    # steps at 0.52-0.59; trained, with sklearn's weak default penalty, 0.63-0.64
    assert min(aucs) > 0.62, aucs


def _one_factor(n: int, rng: np.random.Generator, dim: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Every dimension is one class-dependent factor plus twice as much noise of its own.

    Like a pooled representation in which every feature sees the multiplicity: the class sits in the
    direction of largest variance, which a strong L2 penalty keeps and a weak one loses in the noise.
    """
    y = rng.integers(0, 2, n)
    factor = rng.normal(size=n) + y
    return (factor[:, None] + 2.0 * rng.normal(size=(n, dim))).astype(np.float32), y


@pytest.mark.parametrize(
    ("kind", "weak", "data"),
    [("linear", {"C": 1.0}, _one_factor), ("mlp", {"alpha": 1e-4}, lambda n, rng: _gaussians(n, 1.6, rng, dim=64))],
)
def test_a_cross_validated_penalty_beats_a_weak_fixed_one_on_few_labels(kind, weak, data):
    """60 labels in 64 dimensions: a weak fixed penalty fits noise (the MLP: in 63 empty dimensions)."""
    chosen, fixed = [], []
    for draw in range(3):
        x, y = data(2060, np.random.default_rng(10 + draw))
        chosen.append(roc_auc_score(y[60:], fit_score(kind, x[:60], y[:60], x[60:], seed=draw)))
        fixed.append(roc_auc_score(y[60:], fit_score(kind, x[:60], y[:60], x[60:], seed=draw, **weak)))
    # linear: 0.74 against 0.64 (the factor alone: 0.76); MLP: 0.67 against 0.60 (Bayes: 0.87)
    assert np.mean(chosen) > np.mean(fixed) + 0.04, (chosen, fixed)


def test_fit_linear_is_the_linear_probe_on_raw_inputs():
    rng = np.random.default_rng(8)
    x_train, y_train = _gaussians(300, 1.0, rng, dim=5)
    x_train = 40.0 + 7.0 * x_train  # far from standardised: the scaler must be folded in
    x_test, _ = _gaussians(100, 1.0, rng, dim=5)
    weight, bias = fit_linear(x_train, y_train, seed=3)
    score = fit_score("linear", x_train, y_train, x_test, seed=3)
    np.testing.assert_allclose(1 / (1 + np.exp(-(x_test @ weight + bias))), score, rtol=1e-6, atol=1e-9)


def test_the_penalty_is_chosen_on_a_stratified_subset_and_the_probe_refitted_on_every_jet(monkeypatch):
    monkeypatch.setattr(classify, "CV_MAX_JETS", 200)
    searched, chosen = [], []
    search = GridSearchCV.fit

    def spy(self, x, y):
        searched.append(np.bincount(y))
        fitted = search(self, x, y)
        chosen.append(fitted.best_params_["model__C"])
        return fitted

    monkeypatch.setattr(GridSearchCV, "fit", spy)
    x, y = _gaussians(1300, 1.0, np.random.default_rng(4))
    y[:300] = 1  # unbalanced: 800 of class 1 in the 1000 training jets
    score = fit_score("linear", x[:1000], y[:1000], x[1000:], seed=2)
    share = np.bincount(y[:1000]) / 1000
    np.testing.assert_allclose(searched[0], 200 * share, atol=1)  # 200 jets, the class ratio kept
    np.testing.assert_array_equal(score, fit_score("linear", x[:1000], y[:1000], x[1000:], seed=2, C=chosen[0]))
    assert len(searched) == 1  # the fixed-C probe searches nothing


def test_the_folds_fit_the_searched_subset_of_a_rare_class(monkeypatch):
    monkeypatch.setattr(classify, "CV_MAX_JETS", 200)
    x, y = _gaussians(1000, 1.0, np.random.default_rng(5))
    y[:] = 0
    y[:8] = 1  # 8 of class 1 in all, 2 of them in the 200 searched
    folds = []
    search = GridSearchCV.fit
    monkeypatch.setattr(GridSearchCV, "fit", lambda self, x, y: folds.append(self.cv.n_splits) or search(self, x, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # sklearn: "the least populated class ... n_splits"
        score = fit_score("linear", x, y, x[:10], seed=1)
    assert folds == [2]  # 2 folds, each validated on one jet of class 1: not 5, three of them without one
    assert score.shape == (10,) and np.isfinite(score).all()


def test_a_cross_validated_penalty_needs_two_jets_of_each_class():
    x = np.random.default_rng(9).normal(size=(10, 3))
    y = np.array([1] + [0] * 9)
    with pytest.raises(ProbeError, match=r"probe 'linear': 1 training jet of one class.*\(or give C / alpha\)"):
        fit_score("linear", x, y, x)
    assert fit_score("linear", x, y, x, C=1.0).shape == (10,)


def test_score_is_the_probability_of_the_greater_label():
    rng = np.random.default_rng(4)
    x_train, y_train = _gaussians(1000, 2.0, rng, dim=4)
    x_test, y_test = _gaussians(1000, 2.0, rng, dim=4)
    score = fit_score("linear", x_train, y_train, x_test)
    assert score.shape == (1000,) and score.dtype == np.float64 and ((score >= 0) & (score <= 1)).all()
    assert roc_auc_score(y_test, score) > 0.8
    relabelled = fit_score("linear", x_train, np.where(y_train == 1, 7, 3), x_test)  # 7 is the positive class
    np.testing.assert_allclose(relabelled, score)


def test_knn_normalize_measures_angles_around_the_training_mean():
    rng = np.random.default_rng(5)
    x_train, y_train = _gaussians(500, 1.0, rng, dim=6)
    x_train = x_train.astype(np.float64)
    x_test = rng.normal(size=(200, 6))
    mean = x_train.mean(axis=0)
    stretched = mean + 3.0 * (x_test - mean)  # same direction from the mean, three times as far
    cosine = [fit_score("knn", x_train, y_train, x, k=15, normalize=True) for x in (x_test, stretched)]
    np.testing.assert_allclose(cosine[0], cosine[1])
    euclidean = [fit_score("knn", x_train, y_train, x, k=15) for x in (x_test, stretched)]
    assert np.abs(euclidean[0] - euclidean[1]).max() > 0.1


def test_probes_are_reproducible_from_the_seed():
    rng = np.random.default_rng(6)
    x_train, y_train = _disc(300, rng)
    x_test, _ = _disc(100, rng)
    # alpha fixed: one fit per seed instead of a cross-validated grid (the grid's folds follow the seed too:
    # test_make_classifier_builds_the_documented_models)
    first, again, other = (fit_score("mlp", x_train, y_train, x_test, seed=s, alpha=1e-3) for s in (0, 0, 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_make_classifier_builds_the_documented_models():
    models = {kind: make_classifier(kind, seed=7) for kind in PROBES}
    for model in models.values():
        pipeline = model.estimator if isinstance(model, GridSearchCV) else model
        assert isinstance(pipeline.steps[0][1], StandardScaler)
    for kind, grid in (("linear", {"model__C": C_GRID}), ("mlp", {"model__alpha": ALPHA_GRID})):
        assert isinstance(models[kind], GridSearchCV) and models[kind].param_grid == grid
        assert models[kind].scoring == "neg_log_loss" and models[kind].cv.random_state == 7
    linear = make_classifier("linear", C=0.5).named_steps["model"]
    assert isinstance(linear, LogisticRegression) and linear.C == 0.5 and linear.max_iter == 2000
    mlp = models["mlp"].estimator.named_steps["model"]
    assert isinstance(mlp, MLPClassifier) and mlp.hidden_layer_sizes == (300,)
    assert mlp.early_stopping and mlp.max_iter == 200 and mlp.random_state == 7
    assert make_classifier("mlp", alpha=0.1).named_steps["model"].alpha == 0.1
    knn = models["knn"].named_steps["model"]
    assert isinstance(knn, KNeighborsClassifier) and knn.n_neighbors == 25
    assert "normalize" not in models["knn"].named_steps
    assert make_classifier("knn", k=5).named_steps["model"].n_neighbors == 5
    assert isinstance(make_classifier("knn", normalize=True).named_steps["normalize"], Normalizer)
    gbdt = models["gbdt"].named_steps["model"]
    assert isinstance(gbdt, HistGradientBoostingClassifier) and gbdt.random_state == 7


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("svm", {}, r"'svm' is not known; known kinds: 'linear', 'mlp', 'knn', 'gbdt'"),
        ("lienar", {}, r"did you mean 'linear'"),
        ("knn", {"n_neighbors": 3}, r"'knn' has no parameter 'n_neighbors'; it accepts 'k', 'normalize'"),
        ("knn", {"k": 0}, r"k=0; expected a positive integer"),
        ("knn", {"k": 2.5}, r"k=2.5"),
        ("linear", {"C": -1.0}, r"C=-1.0; expected a positive number"),
        ("mlp", {"hidden_layer_sizes": ()}, r"hidden_layer_sizes=\(\)"),
    ],
)
def test_unknown_kinds_and_parameters_are_refused(kind, params, match):
    with pytest.raises(ProbeError, match=match) as info:
        make_classifier(kind, **params)
    assert isinstance(info.value, JetGraphError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def _bad_inputs():
    x, y = np.zeros((10, 3), np.float32), np.array([0, 1] * 5)
    x_nan = x.copy()
    x_nan[2, 1] = np.nan
    return [
        ((x, y, x[:, :2]), r"x_test: 2 columns; the training representations have 3"),
        ((x, y, x_nan), r"x_test: 1 values are NaN"),
        ((x_nan, y, x), r"x_train: 1 values are NaN"),
        ((x[:, 0], y, x), r"x_train: expected a non-empty \(N, D\) array"),
        ((x, y[:9], x), r"y_train: 9 entries for 10 rows"),
        ((x, np.arange(10) % 3, x), r"y_train: 3 classes .*two classes only"),
        ((x, np.zeros(10, int), x), r"y_train: every label is 0"),
        ((x, np.array(["a", "b"] * 5), x), r"y_train: expected integer class labels"),
    ]


@pytest.mark.parametrize(("args", "match"), _bad_inputs())
def test_bad_inputs_name_the_argument(args, match):
    with pytest.raises(ProbeError, match=match):
        fit_score("linear", *args)


def test_knn_with_more_neighbours_than_jets_is_refused():
    x, y = np.random.default_rng(0).normal(size=(10, 3)), np.array([0, 1] * 5)
    with pytest.raises(ProbeError, match=r"k=25 neighbours but only 10 training jets"):
        fit_score("knn", x, y, x)


def test_label_fractions_keep_the_class_ratio():
    rng = np.random.default_rng(8)
    y = rng.permutation(np.repeat([0, 1, 2], [700, 250, 50]))
    for fraction in (0.01, 0.1, 0.37, 0.5, 0.99):
        chosen = label_fraction_indices(y, fraction, seed=3)
        assert chosen.dtype == np.int64 and (np.diff(chosen) > 0).all() and 0 <= chosen[0] and chosen[-1] < len(y)
        for label, count in zip(*np.unique(y, return_counts=True), strict=True):
            kept = int((y[chosen] == label).sum())
            assert kept == 2 if fraction * count < 1.5 else abs(kept - fraction * count) <= 1, (fraction, label)


def test_label_fractions_are_reproducible_and_nested():
    y = np.random.default_rng(9).integers(0, 2, 1000)
    small = label_fraction_indices(y, 0.1, seed=4)
    np.testing.assert_array_equal(small, label_fraction_indices(y, 0.1, seed=4))
    assert not np.array_equal(small, label_fraction_indices(y, 0.1, seed=5))
    assert np.isin(small, label_fraction_indices(y, 0.5, seed=4)).all()
    np.testing.assert_array_equal(label_fraction_indices(y, 1.0, seed=4), np.arange(1000))


def test_label_fractions_keep_at_least_two_jets_per_class():
    y = np.repeat([0, 1], [990, 10])
    chosen = label_fraction_indices(y, 0.001, seed=0)
    np.testing.assert_array_equal(np.bincount(y[chosen]), [2, 2])


@pytest.mark.parametrize(
    ("y", "fraction", "match"),
    [
        (np.array([0, 1] * 5), 0.0, r"fraction=0.0; expected a number in \(0, 1\]"),
        (np.array([0, 1] * 5), 1.5, r"fraction=1.5"),
        (np.array([0, 1] * 5), float("nan"), r"fraction=nan"),
        (np.array([0, 1] * 5), "0.5", r"fraction='0.5'"),
        (np.array([0, 0, 0, 1]), 0.5, r"y: classes \[1\] have fewer than 2 jets"),
        (np.zeros((4, 2)), 0.5, r"y: expected a non-empty 1-D array"),
    ],
)
def test_bad_label_fractions_are_refused(y, fraction, match):
    with pytest.raises(ProbeError, match=match):
        label_fraction_indices(y, fraction, seed=0)


def test_split_is_a_reproducible_partition():
    train, val, test = split_indices(1000, seed=3)
    assert (len(train), len(val), len(test)) == (600, 200, 200)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(1000))
    for part in (train, val, test):
        assert part.dtype == np.int64 and (np.diff(part) > 0).all()
    for mine, again in zip((train, val, test), split_indices(1000, seed=3), strict=True):
        np.testing.assert_array_equal(mine, again)
    assert not np.array_equal(train, split_indices(1000, seed=4)[0])
    assert [len(p) for p in split_indices(101, (0.5, 0.25, 0.25))] == [50, 25, 26]


@pytest.mark.parametrize(
    ("n", "fractions", "match"),
    [
        (100, (0.6, 0.2, 0.1), r"sum to 0.9; they must sum to 1"),
        (100, (0.8, 0.2), r"expected three non-negative numbers"),
        (100, (1.2, -0.1, -0.1), r"expected three non-negative numbers"),
        (3, (0.98, 0.01, 0.01), r"give 3 train, 0 val and 0 test jets"),
        (-1, (0.6, 0.2, 0.2), r"n=-1"),
    ],
)
def test_bad_splits_are_refused(n, fractions, match):
    with pytest.raises(ProbeError, match=match):
        split_indices(n, fractions)
