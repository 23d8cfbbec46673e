"""The JSON isotonic calibrator equals scikit-learn's IsotonicRegression(out_of_bounds='clip')."""

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from ml.model import Calibrator


def test_knots_reproduce_sklearn_predict_inside_and_outside_the_range():
    rng = np.random.default_rng(0)
    raw = rng.random(2000) * 0.6 + 0.2
    labels = (rng.random(2000) < raw).astype(int)
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, labels)
    cal = Calibrator.fit(raw, labels)
    probe = np.r_[np.linspace(-0.5, 1.5, 401), raw[:100]]   # includes points below/above the data
    np.testing.assert_allclose(cal.apply(probe), iso.predict(probe), rtol=0, atol=1e-12)


def test_json_round_trip_and_rejects_bad_files():
    cal = Calibrator((0.1, 0.5, 0.9), (0.0, 0.2, 0.7))
    back = Calibrator.from_json(cal.to_json())
    assert back == cal
    assert back.apply([0.0, 0.3, 2.0]).tolist() == pytest.approx([0.0, 0.1, 0.7])
    with pytest.raises(ValueError):
        Calibrator.from_json('{"kind": "isotonic", "x": [0.5, 0.1], "y": [0, 1]}')
    with pytest.raises(ValueError):
        Calibrator.from_json('{"kind": "pickle", "x": [0.1], "y": [0.2]}')
