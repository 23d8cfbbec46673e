"""The HTML report (ml/report_html): curves by hand, sections, determinism, errors."""

import json
import re
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import report_world
from ml.metrics import average_precision, precision_at, top_n
from ml.report_html import curves, write_report
from ml.report_html.page import SECTIONS
from orchestrate import cli


# ---- pure curves ---------------------------------------------------------------------------
def test_pr_curve_by_hand_and_its_area_is_the_ap():
    y = np.array([1, 0, 1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.8, 0.3, 0.2, 0.1])
    pr = curves.pr_curve(y, p)
    # thresholds 0.9 | 0.8 (two rows, one step) | 0.3 | 0.2 | 0.1
    assert pr["threshold"].tolist() == [0.9, 0.8, 0.3, 0.2, 0.1]
    np.testing.assert_allclose(pr["recall"], [1 / 3, 2 / 3, 2 / 3, 2 / 3, 1])
    np.testing.assert_allclose(pr["precision"], [1, 2 / 3, 2 / 4, 2 / 5, 3 / 6])
    rng = np.random.default_rng(5)
    y, p = rng.random(2000) < 0.05, np.round(rng.random(2000), 2)  # ties
    pr = curves.pr_curve(y, p)
    area = float(np.sum(np.diff(np.r_[0.0, pr["recall"]]) * pr["precision"]))
    assert area == pytest.approx(average_precision(y, p), rel=1e-12)
    assert curves.pr_curve(np.zeros(3), np.ones(3)).empty


def test_gains_curve_at_the_top_percent_matches_precision_at_1():
    rng = np.random.default_rng(6)
    y, p = (rng.random(1234) < 0.1).astype(float), rng.random(1234)
    g = curves.gains_curve(y, p)
    n = top_n(len(y), 0.01)
    assert g.iloc[0].tolist() == [0.0, 0.0] and g.iloc[-1].tolist() == [1.0, 1.0]
    assert g["share_rows"].iloc[n] == pytest.approx(n / len(y))
    assert g["share_positives"].iloc[n] == pytest.approx(precision_at(y, p, 0.01) * n / y.sum())
    assert (np.diff(g["share_positives"]) >= 0).all()


def test_thin_keeps_first_and_last_and_at_most_the_limit():
    c = pd.DataFrame({"a": np.arange(10_000)})
    t = curves.thin(c, 400)
    assert len(t) <= 400 and t["a"].iloc[0] == 0 and t["a"].iloc[-1] == 9_999
    assert len(curves.thin(c.head(50), 400)) == 50


def test_wilson_interval_by_hand():
    lo, hi = curves.wilson(5, 10)   # p = 0.5, n = 10, z = 1.96: 0.5 -/+ 0.2634
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = curves.wilson(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    assert all(np.isnan(curves.wilson(0, 0)))


def test_calibration_intervals_contain_the_observed_rate():
    rng = np.random.default_rng(8)
    p = rng.random(500) * 0.2
    y = (rng.random(500) < p).astype(float)
    t = curves.calibration_with_intervals(y, p)
    assert len(t) == 10 and (t["low"] <= t["observed_rate"]).all() and (t["observed_rate"] <= t["high"]).all()


def test_trailing_median_uses_only_the_preceding_known_days():
    s = pd.Series([1.0, 3.0, np.nan, 2.0, 10.0, 4.0])
    m = curves.trailing_median(s, 3)
    # day 4 (10.0): median of 1, 3, 2 = 2; day 5: median of 3, 2, 10 = 3; the NaN day stays NaN
    assert m.isna().tolist() == [True, True, True, True, False, False]
    assert m.iloc[4] == 2.0 and m.iloc[5] == 3.0


# ---- the report on a world -----------------------------------------------------------------
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    full = tmp_path_factory.mktemp("report_full")
    report_world.build(full)
    bare = tmp_path_factory.mktemp("report_bare")
    report_world.build(bare, optional=False)
    return full, bare


@pytest.fixture
def full(built, tmp_path):
    shutil.copy(built[0] / "fa.duckdb", tmp_path / "fa.duckdb")
    shutil.copytree(built[0] / "artifacts", tmp_path / "artifacts")
    return report_world.settings_for(tmp_path)


def section(text: str, sid: str) -> str:
    return text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]


def test_every_section_and_chart_is_there_with_the_hand_made_rows(full):
    summary = write_report(full)
    path = full.art_dir / "report_DEMO_2025-08-01.html"
    assert summary["report"] == str(path) and summary["score_date"] == "2025-08-01"
    assert summary["sections_without_data"] == "none"
    text = path.read_text(encoding="utf-8")
    for sid, heading in SECTIONS:
        assert f'<section id="{sid}"><h2>{heading}</h2>' in text
    imgs = re.findall(r'<img id="([^"]+)" alt="([^"]*)" src="data:image/svg\+xml;base64,', text)
    ids = [i for i, _ in imgs]
    assert ids == ["chart-model-t7", "chart-model-t14", "chart-model-t30", "chart-monitor-t7",
                   "chart-monitor-t14", "chart-monitor-t30", "chart-drift", "chart-scores", "chart-qc",
                   "chart-data-quality"]
    assert all(len(alt) > 40 for _, alt in imgs)
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    # the hand-made rows show up where they belong
    qc = section(text, "qc")
    assert qc.count(report_world.FRESHNESS) == 1          # two runs of one alert: shown once
    assert "Alerts (2, of which 1 freshness)" in qc
    drift = section(text, "drift")
    assert f"<td class=\"text\">{report_world.TOP_MOVER[0]}</td><td>{report_world.TOP_MOVER[1]:.4f}</td>" in drift
    assert "largest on the last day: Cash_Ratio 0.312" in drift
    log = section(text, "run-log")
    assert "5 entries" in log and "1 with a non-zero exit code" in log
    assert "no active model for DEMO horizon 30" in log
    dq = section(text, "data-quality")
    assert "duplicate_row" in dq and "unknown_file" in dq
    scores = section(text, "scores")
    assert "Reason codes of 2025-08-01" in scores


def test_the_ap_in_the_models_table_is_the_registry_figure(full):
    from ml.db import open_target
    from ml import registry

    write_report(full)
    text = (full.art_dir / "report_DEMO_2025-08-01.html").read_text(encoding="utf-8")
    with open_target(full) as db:
        rows = registry.list_models(db, "DEMO")
    for _, r in rows.iterrows():
        ci = json.loads(r["Metrics_Json"])["ci"]["ap"]
        assert f"{r['Test_AP']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" in section(text, "models")


def test_rerunning_gives_an_identical_file(full, tmp_path):
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    write_report(full, date(2025, 8, 1), a)
    write_report(full, date(2025, 8, 1), b)
    assert a.read_bytes() == b.read_bytes()
    other = tmp_path / "c.html"
    write_report(full, date(2025, 7, 31), other)
    assert other.read_bytes() != a.read_bytes()


def test_missing_optional_tables_say_no_data_yet(built, tmp_path):
    settings = report_world.settings_for(built[1])
    summary = write_report(settings, out=tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert summary["sections_without_data"] == "monitor, drift, qc, data-quality, run-log"
    for sid in ("monitor", "drift", "qc", "data-quality", "run-log"):
        assert '<p class="empty">no data yet' in section(text, sid), sid
    for sid in ("models", "scores", "registry"):
        assert "no data yet" not in section(text, sid), sid
    # a day without scores: that section says so, the others stand
    write_report(settings, date(2025, 7, 1), tmp_path / "old.html")
    assert "no data yet (no scores for 2025-07-01" in section(
        (tmp_path / "old.html").read_text(encoding="utf-8"), "scores")


def env_of(settings):
    return {"FA_DUCKDB_PATH": str(settings.duckdb_path), "FA_ART_DIR": str(settings.art_dir),
            "FA_SOURCE_DB": str(settings.source_db), "FA_CONFIG": ""}


def test_cli_report_writes_and_prints_the_path(full, tmp_path):
    out = tmp_path / "sub" / "r.html"
    r = CliRunner().invoke(cli, ["report", "--date", "2025-08-01", "--out", str(out)], env=env_of(full))
    assert r.exit_code == 0, r.output
    assert f"report                 {out}" in r.output and out.is_file()


def test_cli_errors_are_one_line_with_their_exit_code(full, tmp_path):
    import duckdb

    r = CliRunner().invoke(cli, ["report", "--out", str(tmp_path)], env=env_of(full))
    assert r.exit_code == 2 and r.output.strip().splitlines()[-1].startswith("Error: --out ")
    r = CliRunner().invoke(cli, ["report", "--date", "2025-02-30"], env=env_of(full))
    assert r.exit_code == 2
    con = duckdb.connect(str(full.duckdb_path))
    con.execute("UPDATE dbo.FA_MODEL_REGISTRY SET Is_Active = 0")
    con.close()
    r = CliRunner().invoke(cli, ["report"], env=env_of(full))
    assert r.exit_code == 3
    assert r.output.strip().splitlines() == [
        "Error: no active model for DEMO: run 'python orchestrate.py train' first"]
    empty = tmp_path / "empty"
    empty.mkdir()
    r = CliRunner().invoke(cli, ["report"], env={**env_of(full), "FA_DUCKDB_PATH": str(empty / "fa.duckdb")})
    assert r.exit_code == 3 and r.output.strip().splitlines()[-1].startswith("Error: FA database ")


def test_gapped_breaks_lines_only_at_gaps_longer_than_four_days():
    from ml.report_html.charts import gapped

    days = pd.Series(pd.to_datetime(["2025-07-04", "2025-07-07", "2025-07-14", "2025-07-15"]))  # Fri, Mon, ...
    d, v = gapped(days, pd.Series([1, 2, 3, 4]))
    assert [x.strftime("%m-%d") for x in d] == ["07-04", "07-07", "07-08", "07-14", "07-15"]
    assert v.isna().tolist() == [False, False, True, False, False]
    d, v = gapped(days.head(2), pd.Series([1, 2]))   # a weekend is no gap
    assert len(d) == 2 and v.notna().all()
