"""Reason codes (ml/reasons.py): contributions, top-3 ranking, the table written by score."""

import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

import synthetic_world
from ml import reasons
from ml.dataset import FEATURES, load_day, matrix
from ml.db import open_target
from ml.db_sqlserver import SqlServerDatabase
from ml.model import xgb
from ml.score import score_day, write_day
from ml.train import TrainParams, train
from report_world import WINDOWS, settings_for as make_settings
from tools.fake_dbapi import FakeConnection

DAY = date(2025, 8, 1)


def independent_top3(row):
    """Second reading: feature indices sorted by (-|c|, index), the first three."""
    return sorted(range(len(row)), key=lambda j: (-abs(row[j]), j))[:3]


# ---- pure ranking ------------------------------------------------------------------------
def test_top_features_by_absolute_value_ties_by_feature_order():
    c = np.array([[0.5, -0.5, 0.1, 0.0],      # tie of |0.5|: feature 0 before feature 1
                  [0.0, 0.0, 0.0, 0.0],       # all zero: the first three features
                  [-0.01, 0.2, -0.3, 0.25]])
    idx, val = reasons.top_features(c)
    assert idx.tolist() == [[0, 1, 2], [0, 1, 2], [2, 3, 1]]
    assert val.tolist() == [[0.5, -0.5, 0.1], [0.0, 0.0, 0.0], [-0.3, 0.25, 0.2]]


def test_top_features_agrees_with_an_independent_sort_on_random_rows():
    rng = np.random.default_rng(3)
    c = np.round(rng.normal(size=(300, 12)), 1)  # rounded: many ties
    idx, val = reasons.top_features(c)
    for i in range(len(c)):
        assert idx[i].tolist() == independent_top3(c[i].tolist())
        assert val[i].tolist() == [c[i, j] for j in independent_top3(c[i].tolist())]


def test_reason_rows_shape_and_order():
    c = np.array([[0.1, -0.4, 0.2, 9.0], [0.3, 0.0, -0.3, 9.0]])  # last column: bias, dropped
    out = reasons.reason_rows(DAY, ["A", "B"], c, ["f1", "f2", "f3"])
    assert list(out.columns) == [c for c, _ in reasons.REASON_COLUMNS]
    assert out[["Depot_Number", "Rank", "Feature", "Contribution"]].values.tolist() == [
        ["A", 1, "f2", -0.4], ["A", 2, "f3", 0.2], ["A", 3, "f1", 0.1],
        ["B", 1, "f1", 0.3], ["B", 2, "f3", -0.3], ["B", 3, "f2", 0.0],
    ]
    assert (out["Score_Date"] == DAY).all()
    assert reasons.reason_rows(DAY, [], np.zeros((0, 4)), ["f1", "f2", "f3"]).empty


# ---- contributions of a real booster -----------------------------------------------------
@pytest.fixture(scope="module")
def stump():
    """One depth-1 tree on feature 'b' only: its contributions can be computed by hand."""
    x = xgb()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 1] > 0.3).astype(float)
    X[:5, 0] = np.nan  # missing values must not break anything
    booster = x.train({"max_depth": 1, "eta": 1.0, "objective": "binary:logistic",
                       "base_score": 0.5, "lambda": 1.0, "nthread": 1},
                      x.DMatrix(X, label=y, feature_names=["a", "b", "c"], missing=np.nan), 1)
    return booster, X


def test_stump_contributions_equal_the_hand_computation(stump):
    booster, X = stump
    tree = booster.trees_to_dataframe()
    root = tree[tree["Node"] == 0].iloc[0]
    assert root["Feature"] == "b"
    leaves = tree[tree["Feature"] == "Leaf"].set_index("ID")
    left, right = leaves.loc[root["Yes"]], leaves.loc[root["No"]]
    expected_leaf = (left["Cover"] * left["Gain"] + right["Cover"] * right["Gain"]) / (
        left["Cover"] + right["Cover"])
    goes_left = X[:, 1].astype(np.float32) < np.float32(root["Split"])  # xgboost compares in float32
    leaf = np.where(goes_left, left["Gain"], right["Gain"])
    for exact in (False, True):  # on one split, path-based and TreeSHAP values coincide
        contribs = reasons.contributions(booster, X, ["a", "b", "c"], exact=exact)
        assert contribs.shape == (400, 4)
        np.testing.assert_allclose(contribs[:, 1], leaf - expected_leaf, rtol=1e-5, atol=1e-6)
        assert np.all(contribs[:, [0, 2]] == 0)  # features the tree never uses explain nothing
        np.testing.assert_allclose(contribs[:, 3], expected_leaf + 0.0, rtol=1e-5, atol=1e-6)  # logit(0.5) = 0
        idx, _ = reasons.top_features(contribs[:, :3])
        assert (idx[:, 0] == 1).all() and idx[:, 1:].tolist() == [[0, 2]] * 400  # zeros: feature order


# ---- score writes the table ----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("reasons")
    synthetic_world.write_tables(root / "fa.duckdb")
    train(make_settings(root), (7, 14, 30), WINDOWS, TrainParams(n_estimators=60, n_boot=0))
    return root


@pytest.fixture
def world(trained, tmp_path):
    shutil.copy(trained / "fa.duckdb", tmp_path / "fa.duckdb")
    shutil.copytree(trained / "artifacts", tmp_path / "artifacts")
    return make_settings(tmp_path)


def test_score_writes_three_reasons_per_row_from_the_t30_margin(world):
    from ml import registry

    summary = score_day(world, DAY)
    with open_target(world) as db:
        why = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_REASONS ORDER BY Depot_Number, Rank")
        frame = load_day(db, world, DAY)
        model = registry.load_model(world, registry.require_active(db, "DEMO", 30))
    assert summary["reasons_table"] == "dbo.CD_FA_BUY_DEMO_REASONS"
    assert len(why) == 3 * summary["rows_scored"] > 0
    assert why["Rank"].tolist() == [1, 2, 3] * summary["rows_scored"]
    # the margin of the T30 booster is bias + the sum of all contributions
    X = matrix(frame)
    contribs = reasons.contributions(model.booster, X, FEATURES)
    margin = model.booster.predict(xgb().DMatrix(X, feature_names=list(FEATURES), missing=np.nan),
                                   output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1), margin, rtol=1e-4, atol=1e-4)
    exact = reasons.contributions(model.booster, X, FEATURES, exact=True)
    np.testing.assert_allclose(exact.sum(axis=1), margin, rtol=1e-4, atol=1e-4)
    # the first reason agrees with exact TreeSHAP's strongest feature on most rows
    same = (np.abs(contribs[:, :-1]).argmax(axis=1) == np.abs(exact[:, :-1]).argmax(axis=1)).mean()
    assert same > 0.8, same
    # the stored top 3 of every depot equal an independent ranking of those contributions
    for i, depot in enumerate(frame["Depot_Number"]):
        rows = why[why["Depot_Number"] == depot]
        top = independent_top3(contribs[i, :-1].tolist())
        assert rows["Feature"].tolist() == [FEATURES[j] for j in top]
        np.testing.assert_allclose(rows["Contribution"], contribs[i, top], rtol=1e-6)


def test_rescoring_replaces_the_day_identically(world):
    score_day(world, DAY)
    with open_target(world) as db:
        before = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_REASONS ORDER BY Depot_Number, Rank")
    score_day(world, DAY)
    score_day(world, date(2025, 8, 2))
    with open_target(world) as db:
        after = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_REASONS WHERE Score_Date = ? "
                            "ORDER BY Depot_Number, Rank", [DAY])
        days = db.query_df("SELECT Score_Date, COUNT(*) AS n FROM dbo.CD_FA_BUY_DEMO_REASONS "
                           "GROUP BY Score_Date ORDER BY Score_Date")
    pd.testing.assert_frame_equal(before, after)
    assert len(days) == 2
    with open_target(world) as db:  # the grain holds although DuckDB has no key on it
        dup = db.scalar("SELECT COUNT(*) FROM (SELECT Score_Date, Depot_Number, Rank "
                        "FROM dbo.CD_FA_BUY_DEMO_REASONS GROUP BY ALL HAVING COUNT(*) > 1)")
    assert dup == 0


def test_a_failed_reasons_write_leaves_the_scores_untouched(world, monkeypatch):
    """Scores and reasons are one transaction: a crash in the second insert undoes both."""
    score_day(world, DAY)
    with open_target(world) as db:
        before = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY Depot_Number")
    from ml.db import DuckDatabase

    real = DuckDatabase.insert_df

    def broken(self, table, df):
        if table.endswith("_REASONS"):
            raise RuntimeError("disk full")
        return real(self, table, df)

    monkeypatch.setattr(DuckDatabase, "insert_df", broken)
    with pytest.raises(RuntimeError):
        score_day(world, DAY)
    monkeypatch.undo()
    with open_target(world) as db:
        after = db.query_df("SELECT * FROM dbo.CD_FA_BUY_DEMO_ML ORDER BY Depot_Number")
    pd.testing.assert_frame_equal(before, after)  # scored_at included: the old rows stayed


def test_sqlserver_writes_scores_and_reasons_in_one_transaction(world):
    scores = pd.DataFrame({"Score_Date": [DAY], "Depot_Number": ["00000001"], "p_buy_30d": [0.1]})
    why = reasons.reason_rows(DAY, ["00000001"], np.array([[0.2, -0.1, 0.05, 0.0]]), ["a", "b", "c"])
    con = FakeConnection()
    con.respond("INFORMATION_SCHEMA.TABLES", ["found"], [(1,)], types=[int])  # tables exist
    assert write_day(SqlServerDatabase(con), world, DAY, scores, why) == 1
    sqls = [c.sql for c in con.statements]
    assert "DELETE FROM dbo.CD_FA_BUY_DEMO_ML WHERE Score_Date = ?" in sqls
    assert "DELETE FROM dbo.CD_FA_BUY_DEMO_REASONS WHERE Score_Date = ?" in sqls
    assert con.count("commit") == 1
    writes = [c for c in con.statements if "INFORMATION_SCHEMA" not in c.sql]
    assert all(not c.autocommit for c in writes)

    failing = FakeConnection(fail_when=lambda sql: "INTO dbo.CD_FA_BUY_DEMO_REASONS" in sql)
    failing.respond("INFORMATION_SCHEMA.TABLES", ["found"], [(1,)], types=[int])
    with pytest.raises(Exception):
        write_day(SqlServerDatabase(failing), world, DAY, scores, why)
    assert failing.count("commit") == 0 and failing.count("rollback") == 1
    assert not [c for c in failing.committed if "DELETE" in c.sql or "INSERT" in c.sql]
