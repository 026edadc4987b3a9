"""Probe metrics against scikit-learn, hand-computed ROCs, and samples whose true AUC and resolution are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, rankdata
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve

from jetgraph.errors import JetGraphError
from jetgraph.probes.metrics import (
    ProbeError,
    binary_metrics,
    bootstrap,
    paired_bootstrap,
    passing_background,
    rejection_at,
    response_resolution,
    roc,
)

# Ties between a signal and a background score (0.6) make a slanted ROC segment. In (ε_S, ε_B) the ROC is
# (0,0) (1/3,0) (1/3,1/3) (2/3,2/3) (1,2/3) (1,1); signal scores 0.9, 0.6, 0.3 beat 3, 1.5 and 1 of the
# background scores 0.8, 0.6, 0.1, so AUC = 5.5/9.
TIED_Y = np.array([1, 0, 1, 0, 1, 0])
TIED_SCORE = np.array([0.9, 0.8, 0.6, 0.6, 0.3, 0.1])
# No ties: (0,0) (1/3,0) (1/3,1/3) (2/3,1/3) (2/3,2/3) (1,2/3) (1,1).
PLAIN_Y = np.array([0, 0, 1, 0, 1, 1])
PLAIN_SCORE = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.9])


def _gaussian_scores(n: int, delta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Labels and a score that is N(0,1) for background and N(delta,1) for signal: AUC = Φ(delta/√2)."""
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + delta * y


def test_probe_error_is_a_jetgraph_value_error():
    assert issubclass(ProbeError, JetGraphError)
    assert issubclass(ProbeError, ValueError)


def test_roc_is_sklearns_curve_with_signal_first():
    y, score = _gaussian_scores(500, 1.0, np.random.default_rng(1))
    fpr, tpr, _ = roc_curve(y, score)
    signal_eff, background_eff = roc(y, score)
    np.testing.assert_array_equal(signal_eff, tpr)
    np.testing.assert_array_equal(background_eff, fpr)


def test_perfect_and_reversed_classifiers():
    y = np.array([0, 1] * 50)
    perfect = binary_metrics(y, y.astype(float))
    assert perfect == {"auc": 1.0, "accuracy": 1.0, "rejection_at_0.3": math.inf, "rejection_at_0.5": math.inf}
    reversed_ = binary_metrics(y, 1.0 - y)
    # every background jet passes before any signal jet does: ε_B = 1 at any ε_S > 0
    assert reversed_ == {"auc": 0.0, "accuracy": 0.0, "rejection_at_0.3": 1.0, "rejection_at_0.5": 1.0}


def test_rejection_by_hand_with_interpolation_and_ties():
    # ε_S = 0.5 lies on the tied segment (1/3,1/3)-(2/3,2/3): ε_B = 1/2
    assert rejection_at(TIED_Y, TIED_SCORE, 0.5) == pytest.approx(2.0, rel=1e-12)
    # ε_S = 0.4 on the same segment: ε_B = 1/3 + 1/3 * (0.4 - 1/3) / (1/3) = 0.4
    assert rejection_at(TIED_Y, TIED_SCORE, 0.4) == pytest.approx(2.5, rel=1e-12)
    # at ε_S = 1/3 the best threshold keeps no background
    assert rejection_at(TIED_Y, TIED_SCORE, 1 / 3) == math.inf
    # on a flat segment ε_B stays 1/3; at ε_S = 1 the best point is (1, 2/3), not (1, 1)
    assert rejection_at(PLAIN_Y, PLAIN_SCORE, 0.5) == pytest.approx(3.0, rel=1e-12)
    assert rejection_at(PLAIN_Y, PLAIN_SCORE, 0.8) == pytest.approx(1.5, rel=1e-12)
    assert rejection_at(PLAIN_Y, PLAIN_SCORE, 1.0) == pytest.approx(1.5, rel=1e-12)
    assert binary_metrics(TIED_Y, TIED_SCORE)["auc"] == pytest.approx(5.5 / 9, rel=1e-12)


def test_rejection_matches_linear_interpolation_of_the_full_roc():
    y, score = _gaussian_scores(5000, 1.5, np.random.default_rng(2))
    fpr, tpr, _ = roc_curve(y, score, drop_intermediate=False)
    for efficiency in (0.1, 0.3, 0.5, 0.77, 0.9):
        assert rejection_at(y, score, efficiency) == pytest.approx(1.0 / np.interp(efficiency, tpr, fpr), rel=1e-9)


def test_binary_metrics_match_sklearn_on_random_scores():
    y, score = _gaussian_scores(3000, 1.0, np.random.default_rng(3))
    probability = norm.cdf(score - 0.5)
    metrics = binary_metrics(y, probability)
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, probability), abs=1e-12)
    assert metrics["accuracy"] == accuracy_score(y, probability >= 0.5)
    assert metrics["rejection_at_0.3"] > metrics["rejection_at_0.5"] > 1.0


def test_accuracy_threshold_counts_equal_scores_as_signal():
    y = np.array([0, 0, 1, 1])
    score = np.array([0.2, 0.6, 0.5, 0.9])
    assert binary_metrics(y, score)["accuracy"] == 0.75  # 0.5 >= 0.5 predicts signal
    assert binary_metrics(y, score, threshold=0.55)["accuracy"] == 0.5
    assert binary_metrics(y, score, threshold=0.7)["accuracy"] == 0.75


def test_efficiency_key_names():
    y, score = _gaussian_scores(200, 1.0, np.random.default_rng(4))
    assert list(binary_metrics(y, score)) == ["auc", "accuracy", "rejection_at_0.3", "rejection_at_0.5"]
    keys = list(binary_metrics(y, score, efficiencies=(0.25, 0.5, 1.0)))
    assert keys[2:] == ["rejection_at_0.25", "rejection_at_0.5", "rejection_at_1"]


def test_bootstrap_value_is_the_full_sample_metric_inside_its_interval():
    y, score = _gaussian_scores(2000, 1.0, np.random.default_rng(5))
    result = bootstrap(y, score, n=100, seed=0)
    full = binary_metrics(y, score)
    assert list(result) == list(full)
    for name, value in full.items():
        assert result[name]["value"] == value
        assert result[name]["low"] < value < result[name]["high"]
    assert bootstrap(y, score, n=100, seed=0) == result
    assert bootstrap(y, score, n=100, seed=1)["auc"]["low"] != result["auc"]["low"]


def _rank_auc(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """AUC as the Mann-Whitney U statistic: one sort, for a coverage study of 3000 resamples in about a second."""
    signal = y == 1
    n1, n0 = int(signal.sum()), int((~signal).sum())
    return {"auc": (rankdata(score)[signal].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)}


def test_bootstrap_intervals_cover_the_true_auc():
    delta = 1.0
    true_auc = norm.cdf(delta / math.sqrt(2.0))
    rng = np.random.default_rng(6)
    y, score = _gaussian_scores(2000, delta, rng)
    assert _rank_auc(y, score)["auc"] == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    covered = []
    for trial in range(30):
        y, score = _gaussian_scores(2000, delta, rng)
        interval = bootstrap(y, score, statistic=_rank_auc, n=100, seed=trial, level=0.68)["auc"]
        covered.append(interval["low"] <= true_auc <= interval["high"])
    assert 0.45 <= np.mean(covered) <= 0.9


def test_bootstrap_width_grows_with_level_and_shrinks_with_size():
    rng = np.random.default_rng(7)
    y, score = _gaussian_scores(4000, 1.0, rng)
    width = lambda r: r["auc"]["high"] - r["auc"]["low"]
    assert width(bootstrap(y, score, n=100, level=0.95)) > width(bootstrap(y, score, n=100, level=0.68))
    assert width(bootstrap(y[:400], score[:400], n=100)) > 2 * width(bootstrap(y, score, n=100))


def test_bootstrap_skips_resamples_with_one_class():
    y = np.zeros(10, dtype=int)
    y[3] = 1  # a resample misses the one signal jet with probability 0.9**10 = 0.35
    score = np.linspace(0.0, 1.0, 10)

    def both_classes(yb, sb):
        if len(np.unique(yb)) != 2:
            raise AssertionError("a resample with one class reached the statistic")
        return {"mean_score": float(sb.mean())}

    result = bootstrap(y, score, statistic=both_classes, n=50, seed=0)
    assert result["mean_score"]["value"] == pytest.approx(0.5)
    assert result["mean_score"]["low"] <= result["mean_score"]["high"]


def test_passing_background_counts_the_jets_a_rejection_rests_on():
    # PLAIN at ε_S = 0.5: ε_B = 1/3 of its 3 background jets; at ε_S = 1/3 no background passes
    assert passing_background(PLAIN_Y, PLAIN_SCORE, 0.5) == pytest.approx(1.0)
    assert rejection_at(PLAIN_Y, PLAIN_SCORE, 1 / 3) == math.inf
    assert passing_background(PLAIN_Y, PLAIN_SCORE, 1 / 3) == 0.0
    y, score = _gaussian_scores(3000, 1.0, np.random.default_rng(5))
    for e in (0.3, 0.5, 0.9):  # ε_B × background jets, whatever the working point
        assert passing_background(y, score, e) == pytest.approx((y == 0).sum() / rejection_at(y, score, e))
    with pytest.raises(ProbeError, match="efficiency"):
        passing_background(y, score, 0.0)


def test_paired_bootstrap_cancels_what_two_scores_of_the_same_jets_share():
    rng = np.random.default_rng(7)
    y, shared = _gaussian_scores(400, 1.0, rng)
    a = shared + 0.3 * rng.normal(size=400)
    b = shared + 0.2 * y + 0.3 * rng.normal(size=400)  # the same jets, a little more signal
    d = paired_bootstrap(y, a, b, n=500, seed=1)
    assert d["value"] == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a))
    assert 0 < d["low"] <= d["value"] <= d["high"] and d["n"] == 500
    one, other = bootstrap(y, a, n=500)["auc"], bootstrap(y, b, n=500)["auc"]
    unpaired = math.hypot(one["high"] - one["low"], other["high"] - other["low"])
    assert d["high"] - d["low"] < unpaired / 2
    assert other["low"] < one["high"]  # each probe's own intervals overlap; their paired difference excludes 0
    same = paired_bootstrap(y, a, a, n=50)
    assert same["value"] == same["low"] == same["high"] == 0
    with pytest.raises(ProbeError, match="score"):
        paired_bootstrap(y, a, b[:-1])


def test_response_resolution_of_a_ten_percent_smearing():
    rng = np.random.default_rng(8)
    truth = rng.uniform(50.0, 400.0, 40_000)
    truth[truth >= 300.0] += 100.0  # no jet in [300, 400)
    truth[0] = 500.0  # the upper edge belongs to the last bin, as in numpy.histogram
    predicted = truth * (1.0 + 0.1 * rng.standard_normal(truth.size))
    edges = np.array([50.0, 100.0, 200.0, 300.0, 400.0, 500.0])
    result = response_resolution(predicted, truth, edges)
    assert set(result) == {"centre", "count", "response", "resolution", "sigma_over_mu"}
    np.testing.assert_allclose(result["centre"], [75.0, 150.0, 250.0, 350.0, 450.0])
    counts = np.histogram(truth, edges)[0]
    assert counts[3] == 0 and counts.sum() == truth.size
    np.testing.assert_array_equal(result["count"], counts)
    populated = [0, 1, 2, 4]
    n = counts[populated].astype(float)
    # standard errors of the median, of half the 16-84% width, and of the standard deviation, times 5
    half_width = 0.1 * norm.ppf(0.84)  # 0.0994: a Gaussian's 16-84% half-width is just under its sigma
    quantile_error = 0.1 * math.sqrt(0.16 * 0.84) / norm.pdf(norm.ppf(0.84)) / np.sqrt(n)
    assert np.all(np.abs(result["response"][populated] - 1.0) < 5 * 1.2533 * 0.1 / np.sqrt(n))
    assert np.all(np.abs(result["resolution"][populated] - half_width) < 5 * quantile_error)
    assert np.all(np.abs(result["sigma_over_mu"][populated] - 0.1) < 5 * 0.1 / np.sqrt(2 * n))
    for key in ("response", "resolution", "sigma_over_mu"):
        assert np.isnan(result[key][3])


def test_response_resolution_of_a_biased_regressor():
    rng = np.random.default_rng(9)
    truth = rng.uniform(10.0, 100.0, 20_000)
    predicted = 0.9 * truth + 0.2 * truth * rng.standard_normal(truth.size)
    result = response_resolution(predicted, truth, [10.0, 40.0, 70.0, 100.0])
    np.testing.assert_allclose(result["response"], 0.9, atol=0.01)
    np.testing.assert_allclose(result["resolution"], 0.2 * norm.ppf(0.84) / 0.9, rtol=0.05)
    np.testing.assert_allclose(result["sigma_over_mu"], 0.2 / 0.9, rtol=0.05)


Y = np.array([0, 1, 0, 1])
S = np.array([0.1, 0.9, 0.4, 0.6])


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: roc(Y.reshape(2, 2), S), "y_true"),
        (lambda: roc(Y, S[:3]), "score"),
        (lambda: roc([0, 2, 0, 1], S), "y_true"),
        (lambda: roc([1, 1, 1, 1], S), "y_true"),
        (lambda: roc(Y, [0.1, np.nan, 0.4, 0.6]), "score"),
        (lambda: roc(Y, [0.1, np.inf, 0.4, 0.6]), "score"),
        (lambda: roc(Y, np.array(["a", "b", "c", "d"])), "score"),
        (lambda: rejection_at(Y, S, 0.0), "efficiency"),
        (lambda: rejection_at(Y, S, 1.5), "efficiency"),
        (lambda: binary_metrics(Y, S, efficiencies=(0.3, -0.1)), "efficiencies"),
        (lambda: binary_metrics(Y, S, threshold=float("nan")), "threshold"),
        (lambda: bootstrap(Y, S, n=0), "n"),
        (lambda: bootstrap(Y, S, level=1.0), "level"),
        (lambda: bootstrap([0, 0, 0, 0], S), "y_true"),
        (lambda: response_resolution([1.0, np.nan], [1.0, 2.0], [0.5, 3.0]), "predicted"),
        (lambda: response_resolution([1.0, 2.0, 3.0], [1.0, 2.0], [0.5, 3.0]), "predicted"),
        (lambda: response_resolution([1.0, 2.0], [1.0, 2.0], [3.0, 0.5]), "bins"),
        (lambda: response_resolution([1.0, 2.0], [1.0, 2.0], [0.5]), "bins"),
        (lambda: response_resolution([1.0, 2.0], [-1.0, 2.0], [-2.0, 3.0]), "truth"),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(ProbeError, match=rf"^{name}: "):
        call()


def test_truth_outside_the_bins_may_be_anything():
    result = response_resolution([1.0, 2.0, 5.0], [-1.0, 2.0, 0.0], [1.0, 3.0])
    np.testing.assert_array_equal(result["count"], [1])
    assert result["response"][0] == 1.0
