"""Training: XGBoost + isotonic calibration per horizon, out-of-time test, registry entry.

Per horizon (docs/model.md): the booster is fitted on the *fit* part with early stopping on
the *early_stopping* part (log loss; the booster is cut to its best iteration), the isotonic
calibrator is fitted on the booster's scores of the *calibration* part (the last 90 days of
the training window), and everything is measured once on the *test* part. The parts come
from :func:`ml.dataset.split` with purge gaps. All horizons trained together share one
version id.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ml.config import Settings, default_of
from ml.dataset import (FEATURES, Windows, check_features, check_horizons, label_column, label_horizon,
                        load_window, matrix, part_of, split_masks)
from ml.db import open_target
from ml.log import log
from ml.errors import BadInput, DataError
from ml.metrics import average_precision, evaluate, headline
from ml.model import Calibrator, Model, xgb
from ml import provenance, registry


@dataclass(frozen=True)
class TrainParams:
    max_depth: int = 6
    learning_rate: float = 0.05
    n_estimators: int = 1200
    early_stopping_rounds: int = 50
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    # Measured on the demo world (docs/model.md): AUCPR on the early-stopping part jumps with
    # every few positives and stopped after 2-7 trees; log loss is smooth. Leaves of at
    # least 50 (hessian-weighted) rows keep the trees from chasing single buyers.
    min_child_weight: float = 50.0
    eval_metric: str = "logloss"
    seed: int = 42
    nthread: int = default_of(Settings, "duckdb_threads")  # the CLI passes duckdb.threads
    n_boot: int = 200
    # < 1: keep this share of the all-negative rows before the calibration part, weighted
    # 1/rate (ml/sampling.py); calibration and test stay unsampled. Keeps 50k depots in bounds.
    neg_sample_rate: float = 1.0
    # < 1: train, calibrate and test on this share of the depots only (whole depots, every
    # part; ml/sampling.py). For worlds whose calibration and test parts alone exceed the
    # memory (200k depots x 24 months: docs/performance.md).
    depot_sample_rate: float = 1.0
    # Monotone constraints as (feature, +1 | -1) pairs, e.g. (("Deposit_30d_eff", 1),);
    # features the model does not use are ignored. Off: measured in docs/model.md (Tuning).
    monotone: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.neg_sample_rate <= 1:
            raise BadInput("--neg-sample-rate must be in (0, 1]")
        if not 0 < self.depot_sample_rate <= 1:
            raise BadInput("--depot-sample-rate must be in (0, 1]")
        if not 1 <= self.max_depth <= 16:
            raise BadInput("--max-depth must be between 1 and 16")
        if not 0 < self.learning_rate <= 1:
            raise BadInput("--learning-rate must be in (0, 1]")
        if not 1 <= self.n_estimators <= 20000:
            raise BadInput("--n-estimators must be between 1 and 20000")

    def xgb_params(self, features: Sequence[str] = FEATURES) -> dict[str, Any]:
        # No scale_pos_weight: the isotonic step sets the probability scale afterwards.
        out = {
            "objective": "binary:logistic",
            "eval_metric": self.eval_metric,
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "seed": self.seed,
            "nthread": self.nthread,
        }
        constraints = {f: int(d) for f, d in self.monotone if f in features}
        if constraints:  # by feature name (the DMatrix carries the names)
            out["monotone_constraints"] = constraints
        return out


def _check_part(labels: pd.Series, name: str, horizon: int, windows: Windows) -> None:
    """Refuse a part (its label column) that is empty or, before the test, of one class."""
    lo, hi = next((lo, hi) for n, lo, hi in windows.parts() if n == name)
    if labels.empty:
        raise DataError(
            f"no labelled rows for T{horizon} in the {name} part [{lo}, {hi}] "
            "(after purge gaps; a label is complete only when D+T <= the data horizon): "
            "run 'python orchestrate.py backfill' for these dates or choose other windows"
        )
    if name != "test" and labels.nunique() < 2:
        raise DataError(
            f"the {name} part [{lo}, {hi}] of T{horizon} has only label {int(labels.iloc[0])}: "
            "choose a longer window"
        )


def _weights(part: pd.DataFrame):
    """Row weights of a down-sampled part (ml/sampling.py), None when not sampled."""
    return part["weight"].to_numpy() if "weight" in part.columns else None


def dmatrix(part: pd.DataFrame, features: Sequence[str]):
    """An XGBoost DMatrix of a part: features, labels, row weights when down-sampled."""
    return xgb().DMatrix(matrix(part, features), label=part["label"].to_numpy(),
                         feature_names=list(features), weight=_weights(part))


def boost(params: TrainParams, d_fit, d_es, features: Sequence[str]) -> tuple[Any, int, float]:
    """Boost on d_fit with early stopping on d_es (params.eval_metric); returns (booster cut
    to its best iteration, best iteration, the metric on d_es at that iteration)."""
    booster = xgb().train(
        params.xgb_params(features), d_fit, num_boost_round=params.n_estimators,
        evals=[(d_es, "early_stopping")], early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    best = int(booster.best_iteration)
    return booster[: best + 1], best, float(booster.best_score)  # only the trees up to the best


def fit_horizon(parts: dict[str, pd.DataFrame], params: TrainParams, horizon: int,
                features: Sequence[str] | None = None) -> tuple[Model, dict]:
    """Booster on fit (early stopping on early_stopping), isotonic on calibration.

    ``features``: the columns the model uses (None = ml.features.FEATURES; a model on
    another list registers but cannot score). Returns the model and facts about the fit
    (best_iteration, seconds).
    """
    features = check_features(features)
    t0 = time.perf_counter()
    booster, best, _ = boost(params, dmatrix(parts["fit"], features),
                             dmatrix(parts["early_stopping"], features), features)
    uncalibrated = Model(booster, Calibrator((0.0, 1.0), (0.0, 1.0)), features, horizon)
    raw_cal = uncalibrated.raw(matrix(parts["calibration"], features))
    calibrator = Calibrator.fit(raw_cal, parts["calibration"]["label"].to_numpy())
    model = Model(booster, calibrator, features, horizon)
    return model, {"best_iteration": best, "train_seconds": round(time.perf_counter() - t0, 2)}


def _part_counts(parts: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    return {n: {"rows": int(len(p)), "positives": int(p["label"].sum())} for n, p in parts.items()}


def _figures(version: str, ap: float, lift_at_1: float, p_at_1: float) -> dict[str, Any]:
    return {"version": version, "ap": ap, "lift_at_1": lift_at_1, "p_at_1": p_at_1}


def _decide(db, settings: Settings, horizon: int, version: str, test: pd.DataFrame,
            metrics: dict[str, Any], force: bool) -> tuple[bool, str]:
    """Activate the new model of a horizon when its AP is no worse on the same test rows.

    ``metrics``: the new model's test figures (ml.metrics.evaluate on ``test``). The
    champion (the active model) is scored on the same rows; both models' AP, Lift@1 % and
    P@1 %, with the rows and positives, go into the history event of the decision
    (Decision_Json; a kept champion is a ``keep`` event). Returns (activated, note).
    """
    code = settings.target.code
    current = registry.active_row(db, code, horizon)
    y = test["label"].to_numpy()
    decision = {
        "rule": "the challenger becomes active when its test AP >= the champion's on the same rows",
        "test_rows": int(len(y)), "test_positives": int(y.sum()),
        "test_days": [str(test["Score_Date"].min().date()), str(test["Score_Date"].max().date())],
        "challenger": _figures(version, metrics["ap"], metrics["lift_at_1"], metrics["p_at_1"]),
        "champion": None,
    }
    stale = current is not None and tuple(json.loads(current["Features_Json"])) != FEATURES
    problem = None  # why the champion could not be scored
    if current is not None and not stale:
        try:
            old = headline(y, registry.load_model(settings, current).predict(matrix(test)))
            decision["champion"] = _figures(str(current["Version"]), old["ap"], old["lift_at_1"], old["p_at_1"])
        except DataError as exc:
            problem = f"could not compare: {exc}"
    if force:
        registry.activate(db, code, horizon, version, "promote", "--promote", decision)
        return True, "promoted (--promote)"
    if current is None:
        registry.activate(db, code, horizon, version, "activate", "first model of this horizon", decision)
        return True, "activated (first model)"
    if stale:  # the champion cannot score with this code any more
        reason = f"{current['Version']} was trained on another feature list; score would refuse it"
        registry.activate(db, code, horizon, version, "activate", reason, decision)
        return True, "activated (" + reason + ")"
    if problem is not None:
        registry.keep(db, code, horizon, version, problem, decision)
        return False, f"kept {current['Version']} ({problem})"
    old_ap, new_ap = decision["champion"]["ap"], metrics["ap"]
    if not np.isnan(old_ap) and new_ap < old_ap:
        reason = f"kept {current['Version']}: its AP {old_ap:.4f} > {new_ap:.4f} on this test window"
        registry.keep(db, code, horizon, version, reason, decision)
        return False, reason
    reason = f"AP {new_ap:.4f} >= {old_ap:.4f} of {current['Version']} on the same test window"
    registry.activate(db, code, horizon, version, "activate", reason, decision)
    return True, "activated (" + reason + ")"


def _tune(parts: dict[str, pd.DataFrame], params: TrainParams, horizon: int, features: Sequence[str],
          n_trials: int) -> tuple[TrainParams, dict[str, Any]]:
    """The search of ml/tune.py on one horizon's fit / early-stopping parts, logged."""
    from ml.tune import search_params, tune_horizon

    t0 = time.perf_counter()
    chosen, trials = tune_horizon(parts, params, features, n_trials)
    win = next(t for t in trials if t["chosen"])
    log(f"train: T{horizon}: tuning: {len(trials)} trials in {time.perf_counter() - t0:.0f} s; "
        f"early-stopping AP {win['ap_early_stopping']} (trial {win['trial']}) vs "
        f"{trials[0]['ap_early_stopping']} with the defaults")
    return chosen, {"objective": "ap_early_stopping", "chosen": search_params(chosen),
                    "defaults": search_params(params), "trials": trials}


def train(settings: Settings, horizons: Sequence[int], windows: Windows, params: TrainParams,
          force_promote: bool = False, features: Sequence[str] | None = None,
          tune_trials: int = 0) -> list[dict[str, Any]]:
    """Train, test, save and register one version for every horizon; returns a summary per horizon.

    ``features``: the model's columns (None = ml.features.FEATURES). A version trained on
    another list is registered (benchmarks compare feature sets) but never activated:
    ``score`` would refuse it. ``tune_trials`` > 0: each horizon's parameters are chosen
    by ml.tune.tune_horizon on its fit / early-stopping parts (``params`` is trial 0).
    """
    horizons = check_horizons(settings, horizons)
    windows.require_fit_days(horizons)
    features = check_features(features)
    code = settings.target.code
    with open_target(settings) as db:
        log(f"train: loading rows {windows.train_start} .. {windows.test_end}")
        # features as float32: what the booster stores anyway, at half the memory
        if params.neg_sample_rate < 1 or params.depot_sample_rate < 1:  # ml/sampling.py
            from ml.sampling import load_window_sampled

            data = load_window_sampled(db, settings, windows.train_start, windows.test_end, horizons,
                                       params.neg_sample_rate, windows.calib_start,
                                       params.depot_sample_rate, dtype="float32")
            log(f"train: {len(data)} rows kept (negatives before the calibration part at "
                f"{params.neg_sample_rate}, depots at {params.depot_sample_rate})")
        else:
            data = load_window(db, settings, windows.train_start, windows.test_end, horizons,
                               dtype="float32")
        horizon_date = label_horizon(db, settings, horizons)
        log(f"train: labels complete up to {horizon_date} (D + T <= that day)")
        # the read is done: DuckDB's cache of it (3.6 GB at 200k depots) would otherwise sit
        # beside the boosting's copies until the registry write at the end
        db.release_cache()
        for h in horizons:  # every horizon must be trainable before anything is written
            for name, mask in split_masks(data, windows, h, horizon_date).items():
                _check_part(data.loc[mask, label_column(h)], name, h, windows)
        created = registry.utc_now()
        version = registry.new_version(created, {"code": code, "windows": windows.as_dict(),
                                                 "params": asdict(params)})
        trained = []
        # One horizon's parts at a time: holding all three horizons' copies at once took
        # ~5.2 GB at 50k depots (docs/performance.md). Of a trained horizon only its test
        # rows' mask is kept; the rows are cut again for the registry decision below.
        for h in horizons:
            masks = split_masks(data, windows, h, horizon_date)
            parts = {name: part_of(data, mask, h) for name, mask in masks.items()}
            counts = _part_counts(parts)
            log(f"train: T{h}: fit {counts['fit']['rows']} rows, early stopping "
                f"{counts['early_stopping']['rows']}, calibration {counts['calibration']['rows']}, "
                f"test {counts['test']['rows']}")
            params_h, tuning = params, None
            if tune_trials:
                params_h, tuning = _tune(parts, params, h, features, tune_trials)
            model, info = fit_horizon(parts, params_h, h, features)
            model.version = version
            test = parts["test"]
            y, p = test["label"].to_numpy(), model.predict(matrix(test, features))
            log(f"train: T{h}: {info['best_iteration'] + 1} trees in {info['train_seconds']} s; evaluating")
            metrics = evaluate(y, p, test["Depot_Number"].to_numpy(), n_boot=params.n_boot, seed=params.seed)
            metrics.update(info)
            # The seed's compliance note: log what the model relies on (gain per feature).
            gain = model.booster.get_score(importance_type="total_gain")
            total = sum(gain.values()) or 1.0
            metrics["feature_importance"] = {f: round(gain.get(f, 0.0) / total, 4) for f in features}
            top = sorted(metrics["feature_importance"].items(), key=lambda kv: -kv[1])[:3]
            log(f"train: T{h}: top features by gain: " + ", ".join(f"{f} {v:.0%}" for f, v in top))
            metrics["ap_uncalibrated"] = average_precision(y, model.raw(matrix(test, features)))
            metrics["parts"] = counts
            metrics["windows"] = windows.as_dict()
            if tuning is not None:
                metrics["tuning"] = tuning
            paths = registry.write_artifacts(settings, version, model, metrics)
            paths.update(provenance.training_record(settings, version, model, parts))  # drift.json, git, libs
            row = {
                "Target_Code": code, "Horizon": h, "Version": version,
                "Train_Start": windows.train_start, "Train_End": windows.train_end,
                "Test_Start": windows.test_start, "Test_End": windows.test_end,
                "Windows_Json": registry.dumps(windows.as_dict()),
                "Features_Json": registry.dumps(list(features)),
                "Features_Sha256": registry.features_hash(features),
                "Params_Json": registry.dumps(asdict(params_h)),
                "Metrics_Json": registry.dumps({k: v for k, v in metrics.items() if k != "calibration"}),
                "Test_AP": metrics["ap"], "Test_Base_Rate": metrics["base_rate"],
                "Test_Lift_At_1": metrics["lift_at_1"],
                "Train_Rows": counts["fit"]["rows"], "Test_Rows": counts["test"]["rows"],
                "Best_Iteration": info["best_iteration"], "Created_At": created, **paths,
            }
            trained.append((h, row, masks["test"], metrics))
            del parts, test  # freed before the next horizon's parts are cut
        summary = []
        # Registration and every horizon's activation in one transaction: a crash leaves
        # the registry as it was before this run (the orphan artifact folder is never read).
        with db.transaction():
            registry.register(db, pd.DataFrame([r for _, r, _, _ in trained]))
            decisions = {h: _decide(db, settings, h, version, part_of(data, test, h), metrics,
                                    force_promote)
                         if features == FEATURES else
                         (False, "not activated: trained on a feature list other than ml.features.FEATURES")
                         for h, _, test, metrics in trained}
        for h, row, _, metrics in trained:
            active, note = decisions[h]
            summary.append({
                "horizon": h, "version": version, "ap": metrics["ap"], "ap_ci": metrics["ci"].get("ap"),
                "base_rate": metrics["base_rate"], "lift_at_1": metrics["lift_at_1"],
                "p_at_1": metrics["p_at_1"], "brier": metrics["brier"], "ece": metrics["ece"],
                "test_rows": metrics["rows"], "best_iteration": metrics["best_iteration"],
                "train_seconds": metrics["train_seconds"], "active": active, "note": note,
                "tuning": metrics.get("tuning"),
            })
    return summary
