"""Energy regression probes and the calibrated cell sum, on jets whose true response and resolution are known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.regress import REGRESSORS, calibrate_sum, fit_predict_energy, make_regressor

SMEAR = 0.05  # the resolution injected in the representation, in log(E)


def _jets(n: int, rng: np.random.Generator, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """True energies log-uniform in 10-1000 GeV; the representation holds log(E) smeared by SMEAR, and noise."""
    energy = 10 ** rng.uniform(1, 3, n)
    x = rng.normal(size=(n, dim))
    x[:, 0] = np.log(energy) + SMEAR * rng.normal(size=n)
    return x.astype(np.float32), energy


def _resolution(ratio: np.ndarray) -> float:
    """Half the central 68% interval of prediction/truth, over its median."""
    low, median, high = np.quantile(ratio, [0.16, 0.5, 0.84])
    return (high - low) / 2 / median


@pytest.fixture(scope="module")
def jets() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return (*_jets(4000, rng), *_jets(4000, rng))


def test_linear_log_regression_recovers_energy_and_resolution(jets):
    x_train, e_train, x_test, e_test = jets
    predicted = fit_predict_energy("linear", x_train, e_train, x_test)
    assert predicted.shape == e_test.shape and predicted.dtype == np.float64
    ratio = predicted / e_test
    assert abs(np.median(ratio) - 1) < 0.02
    # unbiased at both ends of the two decades, which a fit of E (not log E) on log E would not be
    for part in (e_test < 20, e_test > 500):
        assert abs(np.median(ratio[part]) - 1) < 0.02
    # a 5% smear in log E is a 5% resolution; 4000 jets measure it to ~2%
    assert abs(_resolution(ratio) / SMEAR - 1) < 0.1


def test_mlp_log_regression_recovers_energy(jets):
    x_train, e_train, x_test, e_test = jets
    predicted = fit_predict_energy("mlp", x_train, e_train, x_test, seed=3)
    ratio = predicted / e_test
    assert (predicted > 0).all()
    assert abs(np.median(ratio) - 1) < 0.02
    assert _resolution(ratio) < 2 * SMEAR  # the MLP is noisier than the exact linear model, not useless
    np.testing.assert_array_equal(predicted, fit_predict_energy("mlp", x_train, e_train, x_test, seed=3))


def _raw(energy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A calorimeter's cell sum: a response growing with energy, 0.7 at 10 GeV to 0.9 at 1 TeV, and 10% smear."""
    return energy * (0.6 + 0.1 * np.log10(energy)) * (1 + 0.1 * rng.normal(size=len(energy)))


def test_calibrated_sum_corrects_a_non_linear_response():
    rng = np.random.default_rng(2)
    e_train, e_test = 10 ** rng.uniform(1, 3, 20000), 10 ** rng.uniform(1, 3, 20000)
    raw_train, raw_test = _raw(e_train, rng), _raw(e_test, rng)
    calibrated = calibrate_sum(raw_train, e_train, raw_test)
    which = np.digitize(np.log10(e_test), np.linspace(1, 3, 11)[1:-1])  # ten bins of true energy
    raw_response = np.array([np.median((raw_test / e_test)[which == b]) for b in range(10)])
    response = np.array([np.median((calibrated / e_test)[which == b]) for b in range(10)])
    assert raw_response.min() < 0.75 and raw_response.max() > 0.85  # what there is to correct
    np.testing.assert_array_less(np.abs(response - 1), 0.03)


def test_calibrated_sum_of_a_constant_response_is_a_scale_factor():
    rng = np.random.default_rng(3)
    e_train = 10 ** rng.uniform(1, 3, 5000)
    raw_train = 0.5 * e_train * (1 + 0.1 * rng.normal(size=5000))
    raw_test = np.array([15.0, 100.0, 400.0])
    np.testing.assert_allclose(calibrate_sum(raw_train, e_train, raw_test, bins=5) / raw_test, 2.0, rtol=0.02)


def test_make_regressor_builds_the_documented_models():
    linear = make_regressor("linear")
    assert isinstance(linear.steps[0][1], StandardScaler)
    assert isinstance(linear.named_steps["model"], Ridge) and linear.named_steps["model"].alpha == 1.0
    mlp = make_regressor("mlp", seed=5)
    assert isinstance(mlp, TransformedTargetRegressor) and isinstance(mlp.transformer, StandardScaler)
    assert isinstance(mlp.regressor.steps[0][1], StandardScaler)
    model = mlp.regressor.named_steps["model"]
    assert isinstance(model, MLPRegressor) and model.hidden_layer_sizes == (300,)
    assert model.early_stopping and model.random_state == 5
    assert REGRESSORS == ("linear", "mlp")


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("gbdt", {}, r"regressor kind 'gbdt' is not known; known kinds: 'linear', 'mlp'"),
        ("linear", {"C": 1.0}, r"'linear' has no parameter 'C'; it accepts 'alpha'"),
        ("linear", {"alpha": 0}, r"alpha=0; expected a positive number"),
    ],
)
def test_unknown_regressors_and_parameters_are_refused(kind, params, match):
    with pytest.raises(ProbeError, match=match):
        make_regressor(kind, **params)


def _bad_energy_inputs():
    x, e = np.ones((10, 2)), np.linspace(10, 100, 10)
    return [
        ((x, -e, x), r"e_train: 10 energies are not finite and positive"),
        ((x, np.where(e > 50, 0.0, e), x), r"e_train: 5 energies"),
        ((x, np.where(e > 50, np.nan, e), x), r"e_train: 5 energies"),
        ((x, e[:8], x), r"e_train: 8 entries for 10 rows"),
        ((x, e, x[:, :1]), r"x_test: 1 columns; the training representations have 2"),
        ((x, e, np.full((3, 2), np.inf)), r"x_test: 6 values are NaN or infinite"),
        ((x[0], e, x), r"x_train: expected a non-empty \(N, D\) array"),
    ]


@pytest.mark.parametrize(("args", "match"), _bad_energy_inputs())
def test_bad_energy_inputs_name_the_argument(args, match):
    with pytest.raises(ProbeError, match=match):
        fit_predict_energy("linear", *args)


def _bad_calibration_inputs():
    raw, e = np.linspace(10, 100, 40), np.linspace(12, 120, 40)
    return [
        ((-raw, e, raw), {}, r"raw_train: 40 energies are not finite and positive"),
        ((raw, e[:30], raw), {}, r"e_train: 30 entries for 40 rows"),
        ((raw, e, np.array([5.0, np.nan])), {}, r"raw_test: 1 energies"),
        ((raw, e, np.zeros((2, 2))), {}, r"raw_test: expected a non-empty 1-D array"),
        ((raw, e, raw), {"bins": 0}, r"bins=0; expected a positive integer"),
        ((raw, e, raw), {"bins": 30}, r"raw_train: 40 jets for bins=30; each bin needs at least 2"),
    ]


@pytest.mark.parametrize(("args", "kwargs", "match"), _bad_calibration_inputs())
def test_bad_calibration_inputs_name_the_argument(args, kwargs, match):
    with pytest.raises(ProbeError, match=match):
        calibrate_sum(*args, **kwargs)
