"""Turn the booster's raw scores into probabilities that mean what they say, fitted on validation days."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


class ScoreCalibrator:
    """Isotonic (default) or sigmoid map from raw margin to probability (scikit-learn conventions)."""

    def __init__(self, method: Literal["isotonic", "sigmoid"] = "isotonic") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, label: np.ndarray) -> ScoreCalibrator:
        raw, label = np.asarray(raw, dtype=np.float64), np.asarray(label, dtype=np.float64)
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                raw, label
            )
        else:
            self.model_ = LogisticRegression(C=1e4).fit(raw.reshape(-1, 1), label)
        return self

    def to_dict(self) -> dict:
        """Plain numbers, so the model can carry the calibrator without pickles."""
        if self.method == "isotonic":
            return {
                "method": self.method,
                "x": self.model_.X_thresholds_.tolist(),
                "y": self.model_.y_thresholds_.tolist(),
            }
        return {
            "method": self.method,
            "coef": float(self.model_.coef_[0, 0]),
            "intercept": float(self.model_.intercept_[0]),
        }

    @classmethod
    def from_dict(cls, data: dict) -> ScoreCalibrator:
        calibrator = cls(data["method"])
        if data["method"] == "isotonic":
            x, y = np.asarray(data["x"], dtype=np.float64), np.asarray(data["y"], dtype=np.float64)
            calibrator.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                x, y
            )
        else:
            model = LogisticRegression()
            model.coef_ = np.array([[data["coef"]]])
            model.intercept_ = np.array([data["intercept"]])
            model.classes_ = np.array([0.0, 1.0])
            calibrator.model_ = model
        return calibrator

    def predict(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.method == "isotonic":
            probability = self.model_.predict(raw)
        else:
            probability = self.model_.predict_proba(raw.reshape(-1, 1))[:, 1]
        # Keep the booster's order within a flat isotonic step, the first and last included: ties
        # would throw ranking information away (a step at 0 held half of a held-out week once).
        edge = 1e-6
        return np.clip(probability, edge, 1.0 - edge) + 1e-9 * np.tanh(raw / 10.0)
