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
    np.testing.assert_allclose(cal.isotonic(probe), iso.predict(probe), rtol=0, atol=1e-12)
    # the published probability stays within the tie-break weight of the isotonic map
    assert np.max(np.abs(cal.apply(probe) - iso.predict(probe))) <= 1e-6


def test_apply_keeps_the_booster_order_inside_an_isotonic_step():
    # two steps: everything below 0.5 maps to 0.1, everything above to 0.6
    cal = Calibrator((0.0, 0.5, 0.5000001, 1.0), (0.1, 0.1, 0.6, 0.6))
    raw = np.array([0.05, 0.2, 0.3, 0.49, 0.7, 0.9])
    iso = cal.isotonic(raw)
    assert len(set(iso[:4].tolist())) == 1          # the isotonic map ties the first four
    p = cal.apply(raw)
    assert np.all(np.diff(p) > 0)                   # ... the published scores do not
    # by hand: (1 - 1e-6) * 0.1 + 1e-6 * 0.2
    assert p[1] == pytest.approx(0.1 - 1e-7 + 2e-7, abs=1e-15)
    assert np.all((p >= 0) & (p <= 1))


def test_json_round_trip_and_rejects_bad_files():
    cal = Calibrator((0.1, 0.5, 0.9), (0.0, 0.2, 0.7))
    back = Calibrator.from_json(cal.to_json())
    assert back == cal
    assert back.isotonic([0.0, 0.3, 2.0]).tolist() == pytest.approx([0.0, 0.1, 0.7])
    old = Calibrator.from_json('{"kind": "isotonic", "x": [0.1, 0.9], "y": [0.0, 0.7]}')
    assert old.tie_break == 0.0 and old.apply([0.5]).tolist() == pytest.approx([0.35])
    with pytest.raises(ValueError):
        Calibrator.from_json('{"kind": "isotonic", "x": [0.5, 0.1], "y": [0, 1]}')
    with pytest.raises(ValueError):
        Calibrator.from_json('{"kind": "pickle", "x": [0.1], "y": [0.2]}')
