"""Metrics against scikit-learn and against hand-computed values."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss

from ml import metrics as m


def hand_example():
    """100 rows, scores 1.00, 0.99, ..., 0.01; positives at ranks 1, 3, 4, 10, 50."""
    p = np.arange(100, 0, -1) / 100
    y = np.zeros(100)
    y[[0, 2, 3, 9, 49]] = 1
    return y, p


def test_precision_and_lift_at_k_by_hand():
    y, p = hand_example()
    # top 1 % = 1 row (rank 1: positive), 3 % = 3 rows (ranks 1, 3), 5 % = 5 rows (1, 3, 4)
    assert m.precision_at(y, p, 0.01) == 1.0
    assert m.precision_at(y, p, 0.03) == pytest.approx(2 / 3)
    assert m.precision_at(y, p, 0.05) == pytest.approx(3 / 5)
    # base rate 5 / 100 = 0.05
    assert m.lift_at(y, p, 0.01) == pytest.approx(20.0)
    assert m.lift_at(y, p, 0.03) == pytest.approx(40 / 3)
    assert m.lift_at(y, p, 0.05) == pytest.approx(12.0)
    h = m.headline(y, p)
    assert (h["p_at_1"], h["lift_at_5"], h["base_rate"]) == (1.0, pytest.approx(12.0), 0.05)


def test_average_precision_by_hand_and_against_sklearn():
    y, p = hand_example()
    # AP = mean over positives of precision at their rank: (1/1 + 2/3 + 3/4 + 4/10 + 5/50) / 5
    expected = (1 + 2 / 3 + 3 / 4 + 4 / 10 + 5 / 50) / 5
    assert m.average_precision(y, p) == pytest.approx(expected)
    assert m.average_precision(y, p) == pytest.approx(average_precision_score(y, p))


def test_average_precision_with_ties_matches_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = (rng.random(500) < 0.1).astype(int)
        p = np.round(rng.random(500) * 0.3 + 0.4 * y * rng.random(500), 2)  # many ties
        assert m.average_precision(y, p) == pytest.approx(average_precision_score(y, p), abs=1e-12)


def test_top_n_rounds_up_and_keeps_exact_products():
    assert m.top_n(100, 0.03) == 3          # 0.03 * 100 is 3.0000000000000004 in floats
    assert m.top_n(150, 0.01) == 2          # 1.5 rows -> 2
    assert m.top_n(10, 0.01) == 1           # never zero rows for a non-empty set
    assert m.top_n(0, 0.05) == 0


def test_brier_matches_sklearn_and_no_positive_gives_nan():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    p = rng.random(300)
    assert m.brier(y, p) == pytest.approx(brier_score_loss(y, p))
    assert math.isnan(m.average_precision(np.zeros(5), np.arange(5) / 5))
    assert math.isnan(m.lift_at(np.zeros(5), np.arange(5) / 5, 0.01))


def test_calibration_table_by_hand():
    p = np.arange(20) / 20            # 0.00 .. 0.95, two rows per decile
    y = np.zeros(20)
    y[[18, 19, 17]] = 1               # top decile both positive, 9th decile one of two
    table = m.calibration_table(y, p)
    assert list(table["rows"]) == [2] * 10
    top = table.iloc[-1]
    assert (top["decile"], top["mean_score"], top["observed_rate"]) == (10, pytest.approx(0.925), 1.0)
    assert table.iloc[8]["observed_rate"] == 0.5
    # ECE: mean |mean_score - rate| weighted by rows (all equal here)
    gaps = np.abs(table["mean_score"] - table["observed_rate"])
    assert m.expected_calibration_error(y, p) == pytest.approx(gaps.mean())


def test_bootstrap_resamples_groups_and_is_reproducible():
    y, p = hand_example()
    groups = np.repeat(np.arange(20), 5)
    a = m.bootstrap_intervals(y, p, groups, n_boot=50, seed=1)
    b = m.bootstrap_intervals(y, p, groups, n_boot=50, seed=1)
    assert a == b
    lo, hi = a["base_rate"]
    assert lo < 0.05 < hi
    # A single group: every draw is the whole data, so the interval collapses to the value.
    one = m.bootstrap_intervals(y, p, np.zeros(100), n_boot=10, seed=1)
    assert one["ap"] == pytest.approx((m.average_precision(y, p),) * 2)


def test_evaluate_is_json_ready():
    y, p = hand_example()
    out = m.evaluate(y, p, np.repeat(np.arange(10), 10), n_boot=20)
    assert out["rows"] == 100 and out["positives"] == 5
    assert set(out["ci"]) >= {"ap", "p_at_1", "lift_at_1", "base_rate", "brier"}
    assert len(out["calibration"]) == 10
