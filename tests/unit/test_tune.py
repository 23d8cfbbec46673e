"""ml/tune.py: the trials are deterministic, read only fit / early stopping, and the best
early-stopping AP wins; `train --tune` records the choice and the trial table."""

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from ml.dataset import FEATURES
from ml.errors import BadInput
from ml.metrics import average_precision
from ml.train import TrainParams, boost, dmatrix
from ml.tune import SPACE, candidates, search_params, tune_horizon


def part(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=list(FEATURES))
    z = df[FEATURES[0]] + 0.5 * df[FEATURES[1]] ** 2
    df["label"] = (rng.random(n) < 1 / (1 + np.exp(-(z - 3)))).astype("int64")
    df["Depot_Number"] = [f"D{i}" for i in range(n)]
    return df


def test_candidates_are_deterministic_distinct_and_start_with_the_defaults():
    base = TrainParams()
    a, b = candidates(base, 24), candidates(base, 24)
    assert a == b and a[0] == base
    keys = [tuple(search_params(p).values()) for p in a]
    assert len(set(keys)) == 24
    for p in a[1:]:
        assert all(getattr(p, k) in v for k, v in SPACE.items())
        assert (p.n_estimators, p.seed, p.eval_metric) == (base.n_estimators, base.seed, base.eval_metric)
    other = candidates(TrainParams(seed=7), 24)
    assert [search_params(p) for p in other[1:]] != [search_params(p) for p in a[1:]]
    assert candidates(base, 5) == a[:5]                 # fewer trials: a prefix of the same draws
    for bad in (0, 61):
        with pytest.raises(BadInput, match="--tune-trials must be between 1 and 60"):
            candidates(base, bad)


def test_tune_reads_only_fit_and_early_stopping_and_picks_the_best_ap():
    # No calibration or test part at all: reading one would fail.
    parts = {"fit": part(3000, 1), "early_stopping": part(1000, 2)}
    base = TrainParams(n_estimators=60, early_stopping_rounds=10)
    winner, table = tune_horizon(parts, base, FEATURES, n_trials=5)
    assert [t["trial"] for t in table] == [0, 1, 2, 3, 4]
    assert sum(t["chosen"] for t in table) == 1
    best = max(table, key=lambda t: t["ap_early_stopping"])
    assert best["chosen"] and search_params(winner) == {k: best[k] for k in SPACE}
    # the recorded AP is the trial's booster on the early-stopping part, recomputed here
    params = candidates(base, 5)[best["trial"]]
    booster, it, _ = boost(params, dmatrix(parts["fit"], FEATURES), dmatrix(parts["early_stopping"], FEATURES),
                           FEATURES)
    assert best["trees"] == it + 1
    ap = average_precision(parts["early_stopping"]["label"], booster.predict(dmatrix(parts["early_stopping"], FEATURES)))
    assert best["ap_early_stopping"] == pytest.approx(ap, abs=1e-6)
    assert asdict(winner)["n_estimators"] == 60            # only SPACE fields change


def test_monotone_constraints_hold_in_the_booster():
    parts = {"fit": part(3000, 3), "early_stopping": part(1000, 4)}
    f = FEATURES[1]                                        # U-shaped effect: unconstrained is not monotone
    params = TrainParams(n_estimators=40, early_stopping_rounds=40, monotone=((f, 1), ("Not_A_Feature", 1)))
    assert params.xgb_params(FEATURES)["monotone_constraints"] == {f: 1}
    booster, _, _ = boost(params, dmatrix(parts["fit"], FEATURES), dmatrix(parts["early_stopping"], FEATURES),
                          FEATURES)
    grid = pd.DataFrame(0.0, index=range(50), columns=list(FEATURES))
    grid[f] = np.linspace(-3, 3, 50)
    grid["label"] = 0
    pred = booster.predict(dmatrix(grid, FEATURES))
    assert (np.diff(pred) >= -1e-7).all()
    free, _, _ = boost(TrainParams(n_estimators=40, early_stopping_rounds=40), dmatrix(parts["fit"], FEATURES),
                       dmatrix(parts["early_stopping"], FEATURES), FEATURES)
    assert (np.diff(free.predict(dmatrix(grid, FEATURES))) < -1e-4).any()   # the constraint matters here
    assert "monotone_constraints" not in TrainParams().xgb_params(FEATURES)


def test_train_tune_records_choice_and_trials(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import synthetic_world
    from orchestrate import cli
    from ml import registry
    from ml.config import load_settings
    from ml.db import open_target

    env = {"FA_DUCKDB_PATH": str(tmp_path / "fa.duckdb"), "FA_ART_DIR": str(tmp_path / "artifacts"),
           "FA_SOURCE_DB": str(tmp_path / "src.duckdb")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("FA_CONFIG", raising=False)
    synthetic_world.write_tables(tmp_path / "fa.duckdb", depots=200)
    r = CliRunner().invoke(cli, ["train", "--horizons", "30", "--train-start", "2024-10-25",
                                 "--train-end", "2025-06-10", "--test-start", "2025-06-11",
                                 "--test-end", "2025-07-21", "--n-estimators", "80", "--n-boot", "0",
                                 "--tune", "--tune-trials", "3"])
    assert r.exit_code == 0, r.output
    assert "T30 tuned (3 trials, early-stopping AP" in r.output
    with open_target(load_settings(env)) as db:
        row = registry.list_models(db, "DEMO").iloc[0]
    metrics, params = json.loads(row["Metrics_Json"]), json.loads(row["Params_Json"])
    tuning = metrics["tuning"]
    assert tuning["objective"] == "ap_early_stopping" and len(tuning["trials"]) == 3
    win = next(t for t in tuning["trials"] if t["chosen"])
    assert {k: params[k] for k in SPACE} == tuning["chosen"] == {k: win[k] for k in SPACE}
    assert tuning["defaults"] == search_params(TrainParams(n_estimators=80))
    assert row["Best_Iteration"] + 1 == win["trees"]      # the final fit repeats the winning trial
