"""One horizon's model: an XGBoost booster plus an isotonic calibrator, without pickle.

The booster is saved in XGBoost's own format (UBJSON, ``.ubj``); the calibrator is plain
JSON: the knots (x, y) of the fitted isotonic regression, applied with linear
interpolation and clipped at both ends, which is exactly what scikit-learn's
``IsotonicRegression(out_of_bounds="clip").predict`` does. Neither format can execute code
when loaded, unlike pickle.

The isotonic map is a step function: every raw score inside one step gets the same
probability, so thousands of depots tie and a top-k list would be cut at random inside a
step (measured on the demo world: 15-25 % of AP lost against the raw booster). The
published probability is therefore ``(1 - e) * isotonic(s) + e * s`` with ``e = 1e-6``: the
isotonic probability to within one in a million, ordered like the booster everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np


def xgb():
    """Import xgboost (slow, spins threads) only when needed, with a passive OpenMP wait."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xgboost

    return xgboost


@dataclass(frozen=True)
class Calibrator:
    """Isotonic map from raw score to probability: knots x (increasing) and y (non-decreasing)."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    tie_break: float = 1e-6  # weight of the raw score: keeps the booster's order in a step

    @classmethod
    def fit(cls, raw: Sequence[float], labels: Sequence[int]) -> "Calibrator":
        """Fit scikit-learn's isotonic regression and keep only its knots."""
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(np.asarray(raw, dtype="float64"), np.asarray(labels, dtype="float64"))
        return cls(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))

    def isotonic(self, raw: Sequence[float]) -> np.ndarray:
        """The isotonic map itself (np.interp clips outside [x[0], x[-1]]), shape (rows,)."""
        return np.interp(np.asarray(raw, dtype="float64"), self.x, self.y)

    def apply(self, raw: Sequence[float]) -> np.ndarray:
        """Probabilities in [0, 1] for raw booster probabilities in [0, 1], shape (rows,).

        Within ``tie_break`` of the isotonic map, and strictly increasing in the raw score.
        """
        raw = np.clip(np.asarray(raw, dtype="float64"), 0.0, 1.0)
        return (1.0 - self.tie_break) * self.isotonic(raw) + self.tie_break * raw

    def to_json(self) -> str:
        return json.dumps({"kind": "isotonic", "x": list(self.x), "y": list(self.y),
                           "tie_break": self.tie_break}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Calibrator":
        data = json.loads(text)
        if data.get("kind") != "isotonic" or len(data["x"]) != len(data["y"]) or not data["x"]:
            raise ValueError("not an isotonic calibrator file")
        x, y = np.asarray(data["x"], dtype="float64"), np.asarray(data["y"], dtype="float64")
        if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
            raise ValueError("calibrator knots are not non-decreasing")
        tie_break = float(data.get("tie_break", 0.0))  # files from before tie-breaking: 0
        if not 0.0 <= tie_break < 0.01:
            raise ValueError("calibrator tie_break must be in [0, 0.01)")
        return cls(tuple(map(float, x)), tuple(map(float, y)), tie_break)


@dataclass
class Model:
    """A trained horizon: booster (best iteration only), calibrator, feature names."""

    booster: Any
    calibrator: Calibrator
    features: tuple[str, ...]
    horizon: int
    version: str = ""

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated booster probabilities, shape (rows,)."""
        if X.shape[0] == 0:
            return np.zeros(0)
        dm = xgb().DMatrix(X, feature_names=list(self.features), missing=np.nan)
        return self.booster.predict(dm)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, shape (rows,)."""
        return self.calibrator.apply(self.raw(X))

    def save_booster(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @staticmethod
    def load_booster(path: Path, nthread: int = 2) -> Any:
        booster = xgb().Booster(params={"nthread": nthread})
        booster.load_model(str(path))
        return booster
