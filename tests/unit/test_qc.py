"""QC on hand-built daily counts: which days are checked, which alert."""

from datetime import date, timedelta

import pandas as pd
import pytest

from ml.config import QCThresholds
from ml.qc import compute

TH = QCThresholds(pos_rate_deviation=0.5, pos_rate_median_days=14, null_share_max=0.98)
END = date(2025, 8, 20)


def counts(days=80, rows=1000, pos30=50, scored_last=True):
    """One row per day up to END: `rows` label rows, censoring as the rules make it."""
    idx = pd.DatetimeIndex(pd.date_range(END - timedelta(days=days - 1), END), name="Score_Date")
    df = pd.DataFrame(index=idx)
    df["Agg_Rows"] = rows + 100
    df["Pre_First_Rows"] = rows
    df["Label_Rows"] = rows
    for h, pos in ((7, pos30 // 4), (14, pos30 // 2), (30, pos30)):
        censored = idx + pd.Timedelta(days=h) > pd.Timestamp(END)
        df[f"Pos_T{h}"] = pos
        df[f"Null_T{h}"] = [rows - pos if c else 0 for c in censored]  # only 1s known early
    df["Score_Rows"] = 0
    df["Scored_Rows"] = 0
    if scored_last:
        df.loc[pd.Timestamp(END), ["Score_Rows", "Scored_Rows"]] = rows
    df["DQ_Left_Out_Rows"] = 0
    df["DQ_Superseded_Rows"] = 0
    return df


def test_healthy_days_raise_no_alert_and_censored_labels_are_not_checked():
    table, alerts = compute(counts(), (7, 14, 30), END, END, 30, TH)
    assert alerts == []
    # T30 labels of the last 30 days are censored: neither a rate nor a NULL share there.
    last = table.loc[pd.Timestamp(END)]
    assert pd.isna(last["Pos_Rate_T30"]) and pd.isna(last["Null_Share_T30"])
    complete = table.loc[pd.Timestamp(END - timedelta(days=30))]
    assert complete["Pos_Rate_T30"] == pytest.approx(0.05) and complete["Null_Share_T30"] == 0
    assert last["Score_Null_Share"] == 0


def test_positive_rate_deviation_on_a_complete_day_alerts():
    df = counts()
    spike = pd.Timestamp(END - timedelta(days=35))
    df.loc[spike, "Pos_T30"] = 90   # 0.09 against a median of 0.05: +80 %
    _, alerts = compute(df, (7, 14, 30), END, END, 30, TH)
    dev = [a for a in alerts if a["Check_Name"] == "pos_rate_deviation"]
    assert len(dev) == 1 and dev[0]["Score_Date"] == spike.date()
    assert dev[0]["Value"] == pytest.approx(0.8)
    assert dev[0]["Message"] == ("2025-07-16: T30 positive rate 0.0900 deviates 80% from its "
                                 "14-day median 0.0500")


def test_small_samples_do_not_alert_on_deviation():
    df = counts(rows=100, pos30=5)       # median 0.05 x 100 rows = 5 expected positives < 20
    df.loc[pd.Timestamp(END - timedelta(days=35)), "Pos_T30"] = 15
    _, alerts = compute(df, (7, 14, 30), END, END, 30, TH)
    assert alerts == []


def test_null_share_of_complete_labels_and_of_missing_scores_alerts():
    df = counts(scored_last=False)
    broken = pd.Timestamp(END - timedelta(days=40))
    df.loc[broken, "Null_T14"] = 995    # 99.5 % NULL although D + 14 has passed
    _, alerts = compute(df, (7, 14, 30), END, END, 30, TH)
    subjects = sorted((a["Subject"], str(a["Score_Date"])) for a in alerts if a["Check_Name"] == "null_share")
    assert subjects == [("label_T14", "2025-07-11"), ("scores", "2025-08-20")]


def test_without_a_data_horizon_no_rate_is_computed():
    table, alerts = compute(counts(), (7, 14, 30), None, END, 30, TH)
    assert table["Pos_Rate_T7"].isna().all() and alerts == []


@pytest.mark.parametrize("rows,pos30,spike,alerts_expected", [
    # 1,000 rows at 2 %: 20 expected; 33 is +65 % but only 2.9 Poisson sd: noise, no alert
    (1000, 20, 33, False),
    # 20 expected, 38 observed: +90 % and (38 - 20) / sqrt(20) = 4.02 sd: alerts
    (1000, 20, 38, True),
    # 50,000 rows at 2 %: 1,000 expected; +55 % is 17 sd: alerts
    (50000, 1000, 1550, True),
])
def test_deviation_must_also_be_significant_against_poisson_noise(rows, pos30, spike, alerts_expected):
    df = counts(rows=rows, pos30=pos30)
    df.loc[pd.Timestamp(END - timedelta(days=35)), "Pos_T30"] = spike
    _, alerts = compute(df, (7, 14, 30), END, END, 30, TH)
    dev = [a for a in alerts if a["Check_Name"] == "pos_rate_deviation"]
    assert bool(dev) is alerts_expected
