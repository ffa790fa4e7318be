"""The calibrator: probabilities that mean what they say, without throwing the booster's order away."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import ScoreCalibrator, step_centres
from models.metrics import expected_calibration_error


def _sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw margins and labels drawn at the logistic probability of each margin."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(-2.0, 1.5, n)
    return raw, (rng.random(n) < 1.0 / (1.0 + np.exp(-raw))).astype(float)


def test_the_centred_map_keeps_the_boosters_order_where_isotonic_steps_tie_it():
    raw, label = _sample(2_000, 1)
    steps = ScoreCalibrator("isotonic").fit(raw, label)
    centred = ScoreCalibrator().fit(raw, label)
    x, _ = centred.centres_
    inside = np.sort(raw[(raw > x[0]) & (raw < x[-1])])
    # the steps give a few dozen probabilities to 2,000 alerts; the centred map one to each
    assert len(np.unique(np.round(steps.predict(inside), 6))) < len(inside) / 20
    assert np.all(np.diff(centred.predict(inside)) > 0)


def test_the_centred_map_is_as_well_calibrated_as_the_steps_on_new_data():
    raw, label = _sample(4_000, 2)
    fresh_raw, fresh_label = _sample(20_000, 3)
    errors = {
        method: expected_calibration_error(
            ScoreCalibrator(method).fit(raw, label).predict(fresh_raw), fresh_label
        )
        for method in ("isotonic", "centered_isotonic")
    }
    assert errors["centered_isotonic"] <= errors["isotonic"] + 0.005
    assert errors["centered_isotonic"] < 0.02


def test_each_step_stands_at_the_mean_score_of_its_rows():
    raw = np.array([0.0, 1.0, 2.0, 3.0, 10.0, 11.0])
    fitted = np.array([0.1, 0.1, 0.1, 0.5, 0.9, 0.9])
    x, y = step_centres(raw, fitted)
    np.testing.assert_allclose(x, [1.0, 3.0, 10.5])
    np.testing.assert_allclose(y, [0.1, 0.5, 0.9])
    calibrator = ScoreCalibrator.from_dict({"method": "centered_isotonic", "x": x, "y": y})
    # halfway between two centres, halfway between their probabilities; flat beyond the ends
    assert calibrator.predict(np.array([2.0]))[0] == pytest.approx(0.3)
    assert calibrator.predict(np.array([-5.0]))[0] == pytest.approx(0.1)
    assert calibrator.predict(np.array([50.0]))[0] == pytest.approx(0.9)


@pytest.mark.parametrize("method", ["centered_isotonic", "isotonic", "sigmoid"])
def test_a_calibrator_travels_as_plain_numbers(method):
    raw, label = _sample(1_000, 4)
    fitted = ScoreCalibrator(method).fit(raw, label)
    back = ScoreCalibrator.from_dict(fitted.to_dict())
    assert back.method == method
    probe = np.linspace(-8, 4, 500)
    np.testing.assert_allclose(back.predict(probe), fitted.predict(probe), rtol=0, atol=1e-12)


def test_a_ranker_saved_with_isotonic_steps_still_ranks_by_its_steps():
    saved = {"method": "isotonic", "x": [0.0, 1.0, 2.0, 3.0], "y": [0.1, 0.1, 0.6, 0.6]}
    probability = ScoreCalibrator.from_dict(saved).predict(np.array([0.2, 0.8, 2.2, 2.8]))
    np.testing.assert_allclose(probability, [0.1, 0.1, 0.6, 0.6], atol=1e-8)
