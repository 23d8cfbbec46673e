"""Train, score and registry on a small synthetic world (tests/unit/synthetic_world.py)."""

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthetic_world
from ml import registry
from ml.config import load_settings
from ml.dataset import Windows
from ml.db import open_target
from ml.errors import DataError
from ml.score import score_day
from ml.train import TrainParams, train

WINDOWS = Windows(date(2024, 10, 25), date(2025, 6, 10), date(2025, 6, 11), date(2025, 7, 21))
FAST = TrainParams(n_estimators=200, n_boot=20)


def make_settings(root: Path):
    return load_settings({
        "FA_DUCKDB_PATH": str(root / "fa.duckdb"),
        "FA_ART_DIR": str(root / "artifacts"),
        "FA_SOURCE_DB": str(root / "src.duckdb"),
    })


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A world with one trained, active version; tests get a private copy."""
    root = tmp_path_factory.mktemp("trained")
    synthetic_world.write_tables(root / "fa.duckdb")
    summary = train(make_settings(root), (7, 14, 30), WINDOWS, FAST)
    return root, summary


@pytest.fixture
def world(trained, tmp_path):
    root, summary = trained
    shutil.copy(root / "fa.duckdb", tmp_path / "fa.duckdb")
    shutil.copytree(root / "artifacts", tmp_path / "artifacts")
    return make_settings(tmp_path), summary


def registry_rows(settings):
    with open_target(settings) as db:
        return registry.list_models(db, "DEMO")


def test_ap_clearly_above_base_rate(trained):
    _, summary = trained
    assert [s["horizon"] for s in summary] == [7, 14, 30]
    for s in summary:
        assert s["ap"] > 1.5 * s["base_rate"], s
        assert s["active"] and s["note"] == "activated (first model)"


def test_artifacts_are_written_and_hashed_without_pickle(world):
    settings, summary = world
    rows = registry_rows(settings)
    assert len(rows) == 3 and set(rows["Is_Active"]) == {1}
    for _, row in rows.iterrows():
        for file_name, path_col, hash_col in registry.ARTIFACTS.values():
            assert row[path_col] == f"DEMO/{row['Version']}/T{row['Horizon']}/{file_name}"
            assert registry.sha256_file(settings.art_dir / row[path_col]) == row[hash_col]
    assert not list(settings.art_dir.rglob("*.pkl"))


def test_scores_are_monotone_and_rescoring_is_identical(world):
    settings, summary = world
    first = score_day(settings, date(2025, 8, 1))
    with open_target(settings) as db:
        a = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY Depot_Number")
        expected = db.query_df(
            "SELECT COUNT(*) AS n FROM dbo.CD_FA_AGG_BUY_DEMO WHERE Pre_First_Target = 1 AND Score_Date = ?",
            [date(2025, 8, 1)]).iloc[0]["n"]
    assert first["rows_scored"] == len(a) == expected > 0
    assert (a["p_buy_7d"] <= a["p_buy_14d"]).all() and (a["p_buy_14d"] <= a["p_buy_30d"]).all()
    assert set(a["model_version_30d"]) == {summary[0]["version"]}
    score_day(settings, date(2025, 8, 1))
    with open_target(settings) as db:
        b = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY Depot_Number")
    pd.testing.assert_frame_equal(a.drop(columns="scored_at"), b.drop(columns="scored_at"))


def test_score_defaults_to_the_latest_aggregate_day(world):
    settings, _ = world
    assert score_day(settings)["score_date"] == "2025-08-20"


def test_altered_artifact_makes_score_refuse(world):
    settings, _ = world
    booster = next(settings.art_dir.rglob("T14/booster.ubj"))
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 1                      # one changed bit
    booster.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"booster.ubj of model .* T14 was altered"):
        score_day(settings)


def test_no_active_model_is_a_data_error(tmp_path):
    settings = make_settings(tmp_path)
    synthetic_world.write_tables(tmp_path / "fa.duckdb", depots=20, days=60)
    with pytest.raises(DataError, match="no active model for DEMO horizon 7: run 'python orchestrate.py train' first"):
        score_day(settings)


def test_retrain_keeps_earlier_rows_and_applies_the_promotion_rule(world):
    settings, summary = world
    v1 = summary[0]["version"]
    before = registry_rows(settings)
    # A much weaker model (one stump) is worse on the same test window: v1 stays active.
    weak = train(settings, (7, 14, 30), WINDOWS, TrainParams(max_depth=1, n_estimators=1, n_boot=0))
    v2 = weak[0]["version"]
    assert v2 > v1
    after = registry_rows(settings)
    old = after[after["Version"] == v1].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, before.reset_index(drop=True))   # v1 rows untouched
    assert all(not s["active"] and s["note"].startswith(f"kept {v1}") for s in weak)
    # --promote activates regardless; rollback returns to v1; history keeps every event.
    forced = train(settings, (30,), WINDOWS, TrainParams(max_depth=1, n_estimators=1, n_boot=0),
                   force_promote=True)
    v3 = forced[0]["version"]
    with open_target(settings) as db:
        assert registry.active_row(db, "DEMO", 30)["Version"] == v3
        assert registry.active_row(db, "DEMO", 7)["Version"] == v1
        assert registry.rollback(db, "DEMO", (30,)) == {30: v1}
        assert registry.active_row(db, "DEMO", 30)["Version"] == v1
        with pytest.raises(DataError, match="nothing to roll back to for DEMO horizon 30"):
            registry.rollback(db, "DEMO", (30,))
        hist = registry.history(db, "DEMO")
    t30 = hist[hist["Horizon"] == 30]
    # the weak run's decision is a 'keep' event (nothing changes); the stack ignores it
    assert list(t30["Action"]) == ["activate", "keep", "promote", "rollback"]
    assert list(t30["Version"]) == [v1, v2, v3, v1]
    assert list(t30["Previous_Version"].fillna("-")) == ["-", v1, v1, v3]
    assert t30["Decision_Json"].isna().tolist() == [False, False, False, True]   # rollback: no decision
    import json
    promoted = json.loads(t30.iloc[2]["Decision_Json"])          # --promote still records both
    assert promoted["champion"]["version"] == v1 and promoted["challenger"]["version"] == v3
    assert len(registry_rows(settings)) == 3 + 3 + 1


def test_identical_retrain_is_no_worse_and_becomes_active(world):
    settings, summary = world
    again = train(settings, (7,), WINDOWS, FAST)
    assert again[0]["ap"] == pytest.approx(summary[0]["ap"])   # deterministic training
    assert again[0]["active"] and again[0]["note"].startswith("activated (AP")


def test_promote_unknown_version_and_window_without_labels(world):
    settings, _ = world
    with open_target(settings) as db, pytest.raises(Exception, match="no registered model version nope"):
        registry.promote(db, "DEMO", "nope")
    late = Windows(date(2024, 11, 1), date(2025, 8, 1), date(2025, 8, 2), date(2025, 8, 20))
    with pytest.raises(DataError, match=r"no labelled rows for T30 in the test part \[2025-08-02, 2025-08-20\]"):
        train(settings, (7, 30), late, FAST)


def test_active_stack_pushes_and_pops():
    ev = pd.DataFrame({"Event_Seq": [1, 2, 3, 4, 5],
                       "Action": ["activate", "activate", "promote", "rollback", "rollback"],
                       "Version": ["a", "b", "c", "b", "a"]})
    assert registry.active_stack(ev) == ["a"]
    assert registry.active_stack(ev.iloc[:3]) == ["a", "b", "c"]


def test_label_horizon_is_read_from_the_labels(world):
    from ml.dataset import label_horizon

    settings, _ = world
    with open_target(settings) as db:
        assert label_horizon(db, settings, (7, 14, 30)) == date(2025, 8, 20)


def test_metrics_json_holds_intervals_deciles_and_feature_importance(world):
    import json

    settings, _ = world
    path = next(settings.art_dir.rglob("T30/metrics.json"))
    m = json.loads(path.read_text())
    for name in ("ap", "p_at_1", "p_at_3", "p_at_5", "lift_at_1", "lift_at_3", "lift_at_5", "base_rate", "brier"):
        assert name in m and len(m["ci"][name]) == 2
    assert len(m["calibration"]) == 10
    assert sum(m["calibration"][i]["rows"] for i in range(10)) == m["rows"]
    features = json.loads((path.parent / "features.json").read_text())["features"]
    assert set(m["feature_importance"]) == set(features)
    assert sum(m["feature_importance"].values()) == pytest.approx(1.0, abs=1e-3)
    assert m["parts"]["test"]["rows"] == m["rows"]


def test_versions_of_one_second_sort_by_time_not_by_hash():
    from datetime import datetime

    from ml.registry import new_version

    first = new_version(datetime(2025, 8, 21, 6, 15, 2, 417_000), {"run": 1})
    second = new_version(datetime(2025, 8, 21, 6, 15, 2, 418_999), {"run": 2})
    assert first.startswith("20250821T061502417Z-") and second.startswith("20250821T061502418Z-")
    assert first < second


def test_training_on_another_feature_list_registers_but_cannot_score(world):
    import json

    from ml.errors import BadInput

    settings, summary = world
    subset = ("Deposit_30d_eff", "Cash", "Buys_30d")       # another order, a subset of FEATURES
    out = train(settings, (30,), WINDOWS, TrainParams(n_estimators=50, n_boot=0), features=subset)
    v = out[0]["version"]
    assert not out[0]["active"]
    assert out[0]["note"] == "not activated: trained on a feature list other than ml.features.FEATURES"
    with open_target(settings) as db:
        row = registry.get_model_row(db, "DEMO", 30, v)
        assert registry.active_row(db, "DEMO", 30)["Version"] == summary[0]["version"]
    assert json.loads(row["Features_Json"]) == list(subset)
    assert row["Features_Sha256"] == registry.features_hash(subset)
    folder = settings.art_dir / "DEMO" / v / "T30"
    assert json.loads((folder / "features.json").read_text())["features"] == list(subset)
    assert set(json.loads((folder / "metrics.json").read_text())["feature_importance"]) == set(subset)
    with pytest.raises(DataError, match=rf"model {v} T30 was trained on features \['Deposit_30d_eff'"):
        registry.load_model(settings, row)
    # Made active by hand, it stops score; the next default training replaces it, because
    # the old model cannot be compared on (nor score) this code's features.
    with open_target(settings) as db:
        registry.promote(db, "DEMO", v)
    with pytest.raises(DataError, match="was trained on features"):
        score_day(settings)
    again = train(settings, (30,), WINDOWS, TrainParams(n_estimators=50, n_boot=0))
    assert again[0]["active"]
    assert again[0]["note"] == (f"activated ({v} was trained on another feature list; "
                                "score would refuse it)")
    for bad in (("Nope",), (), ("Cash", "Cash")):
        with pytest.raises(BadInput, match="features must be a non-empty list"):
            train(settings, (30,), WINDOWS, FAST, features=bad)


def test_history_records_both_models_on_the_same_test_rows(world):
    """A second reading of the decision: rescore both models on the test rows by hand."""
    import json

    from ml.dataset import label_horizon, load_window, matrix, split
    from ml.metrics import average_precision, lift_at

    settings, summary = world
    v1 = summary[2]["version"]
    weak = train(settings, (30,), WINDOWS, TrainParams(max_depth=1, n_estimators=2, n_boot=0))
    v2 = weak[0]["version"]
    with open_target(settings) as db:
        hist = registry.history(db, "DEMO")
        models = {v: registry.load_model(settings, registry.get_model_row(db, "DEMO", 30, v)) for v in (v1, v2)}
        data = load_window(db, settings, WINDOWS.train_start, WINDOWS.test_end, (30,))
        test = split(data, WINDOWS, 30, label_horizon(db, settings, (7, 14, 30)))["test"]
    t30 = hist[hist["Horizon"] == 30].sort_values("Event_Seq")
    first, last = (json.loads(t30.iloc[i]["Decision_Json"]) for i in (0, -1))
    assert first["champion"] is None and first["challenger"]["version"] == v1
    y = test["label"].to_numpy()
    assert last["test_rows"] == len(test) and last["test_positives"] == int(y.sum()) > 0
    assert last["test_days"] == ["2025-06-11", "2025-07-21"]
    for role, v in (("champion", v1), ("challenger", v2)):
        p = models[v].predict(matrix(test))
        assert last[role]["version"] == v
        assert last[role]["ap"] == pytest.approx(average_precision(y, p))
        assert last[role]["lift_at_1"] == pytest.approx(lift_at(y, p, 0.01))
    assert t30.iloc[-1]["Action"] == ("keep" if last["challenger"]["ap"] < last["champion"]["ap"] else "activate")
    assert (t30.iloc[-1]["Action"] == "activate") == weak[0]["active"]


def test_an_older_history_table_gets_the_decision_column(tmp_path):
    import duckdb

    settings = make_settings(tmp_path)
    con = duckdb.connect(str(tmp_path / "fa.duckdb"))
    con.execute("CREATE SCHEMA dbo")
    old_cols = ", ".join(f"{c} VARCHAR" for c, _ in registry.HISTORY_COLUMNS if c != "Decision_Json")
    con.execute(f"CREATE TABLE dbo.FA_MODEL_REGISTRY_HISTORY ({old_cols})")
    con.execute("INSERT INTO dbo.FA_MODEL_REGISTRY_HISTORY (Target_Code, Action) VALUES ('DEMO', 'activate')")
    con.close()
    synthetic_world.write_tables(tmp_path / "fa.duckdb", depots=20, days=60)
    with open_target(settings) as db:
        registry.ensure_tables(db)      # readers leave the old table as it is
        assert "Decision_Json" not in registry.history(db, "DEMO").columns
        row = {c: None for c, _ in registry.REGISTRY_COLUMNS}
        row.update(Target_Code="DEMO", Horizon=7, Version="v1")
        registry.register(db, pd.DataFrame([row]).drop(columns="Is_Active"))
        registry.activate(db, "DEMO", 7, "v1", "activate", "test", {"champion": None})
        hist = registry.history(db, "DEMO")
    assert list(hist.columns)[-1] == "Decision_Json" and len(hist) == 2
    assert hist["Decision_Json"].dropna().tolist() == ['{"champion": null}']   # the old row: NULL


def test_depot_sampling_trains_calibrates_and_tests_on_the_sampled_depots_only(world):
    """train --depot-sample-rate: every part holds only the depots of the documented hash
    (tests/unit/test_sampling.py reads the rule again); the registry records the rate."""
    import json

    from ml.dataset import label_horizon
    from test_sampling import independent_depot_pick

    settings, _ = world
    out = train(settings, (30,), WINDOWS, TrainParams(n_estimators=30, n_boot=0, depot_sample_rate=0.5))
    with open_target(settings) as db:
        h = label_horizon(db, settings, (30,))
        rows = db.query_df(
            "SELECT a.Depot_Number, a.Score_Date FROM dbo.CD_FA_AGG_BUY_DEMO a JOIN dbo.CD_FA_LABELS_DEMO l "
            "ON l.Score_Date = a.Score_Date AND l.Depot_Number = a.Depot_Number "
            "WHERE a.Pre_First_Target = 1 AND l.label_T30 IS NOT NULL AND a.Score_Date BETWEEN ? AND ?",
            [WINDOWS.test_start, WINDOWS.test_end])
        reg = db.query_df("SELECT Test_Rows, Params_Json, Metrics_Json FROM dbo.FA_MODEL_REGISTRY "
                          "WHERE Version = ?", [out[0]["version"]]).iloc[0]
    rows = rows[pd.to_datetime(rows["Score_Date"]) + pd.Timedelta(days=30) <= pd.Timestamp(h)]
    picked = rows["Depot_Number"].astype(str).map(lambda d: independent_depot_pick(d, 0.5))
    assert 0 < picked.sum() < len(rows)
    assert reg["Test_Rows"] == picked.sum()
    assert json.loads(reg["Params_Json"])["depot_sample_rate"] == 0.5
    parts = json.loads(reg["Metrics_Json"])["parts"]
    assert parts["test"]["rows"] == picked.sum()


def test_sampled_read_is_the_same_rows_whatever_the_chunk_size(world):
    """load_window_sampled cuts the window into chunks only to bound memory: one-day,
    weekly and whole-window chunks give the same rows, weights and order, and at rates 1
    the rows of load_window itself (weight 1)."""
    from ml.dataset import load_window
    from ml.sampling import load_window_sampled

    settings, _ = world
    lo, hi, keep_all = WINDOWS.train_start, WINDOWS.test_end, WINDOWS.calib_start
    with open_target(settings) as db:
        def read(days, rate=0.3, depot_rate=0.5):
            return load_window_sampled(db, settings, lo, hi, (7, 30), rate, keep_all, depot_rate,
                                       "float32", chunk_days=days)
        weekly = read(7)
        assert 0 < len(weekly) and (weekly["weight"] > 1).any()
        for days in (1, 31, (hi - lo).days + 1):
            pd.testing.assert_frame_equal(read(days), weekly)
        whole = load_window(db, settings, lo, hi, (7, 30), "float32")
        unsampled = read(7, rate=1.0, depot_rate=1.0)
    assert (unsampled["weight"] == 1).all()
    pd.testing.assert_frame_equal(unsampled.drop(columns="weight"), whole)
