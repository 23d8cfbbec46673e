"""Model benchmark: XGBoost + isotonic against a logistic regression and raw XGBoost.

Runs on the target database of the environment (FA_DUCKDB_PATH; after `make demo` that is
the demo world), with the training and test windows `orchestrate.py demo` derives from the
data. Per horizon, on the same parts (ml.dataset.split, purge gaps included):

- ``xgb+isotonic``: the production model (ml.train.fit_horizon, default options);
- ``xgb raw``: the same booster's uncalibrated scores;
- ``logistic``: median imputation + missing-value indicators, log1p of the money and count
  columns, standardisation, L2 logistic regression, fitted on fit + early-stopping parts
  (no early stopping needed), uncalibrated.

Reported on the test part: AP, base rate, Lift@1 %, ECE (10 score deciles), Brier, and
the fit seconds (booster + calibrator; LR fit). Writes the table into docs/performance.md
between the ``model-bench`` markers, and prints it.

    python -m bench.model_baselines [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- model-bench:begin -->", "<!-- model-bench:end -->"
LOG_COLUMNS = ("Buys_7d", "Buys_30d", "Last_Buy_Days", "Avg_Ticket_90d", "Cash", "Portfolio_Value",
               "Deposit_30d_eff", "Turnover_30d", "Pos_Count", "NewRefs_90d")


def logistic_baseline(train: pd.DataFrame, seed: int = 0):
    """A scikit-learn pipeline over ml.dataset.FEATURES; returns (model, seconds)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from ml.dataset import FEATURES

    signed_log = FunctionTransformer(lambda x: np.sign(x) * np.log1p(np.abs(x)), feature_names_out="one-to-one")
    log_cols = [c for c in FEATURES if c in LOG_COLUMNS]
    other = [c for c in FEATURES if c not in LOG_COLUMNS]
    prep = ColumnTransformer([
        ("log", make_pipeline(signed_log, SimpleImputer(strategy="median", add_indicator=True)), log_cols),
        ("raw", SimpleImputer(strategy="median", add_indicator=True), other),
    ])
    model = make_pipeline(prep, StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=seed))
    t0 = time.perf_counter()
    model.fit(train[list(FEATURES)], train["label"].to_numpy())
    return model, time.perf_counter() - t0


def figures(y: np.ndarray, p: np.ndarray) -> dict:
    from ml.metrics import expected_calibration_error, headline

    h = headline(y, p)
    return {"ap": h["ap"], "base_rate": h["base_rate"], "lift_at_1": h["lift_at_1"],
            "ece": expected_calibration_error(y, p), "brier": h["brier"]}


def run() -> tuple[list[dict], dict]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ml.config import load_settings
    from ml.dataset import FEATURES, Windows, label_horizon, load_window, matrix, score_date_range, split
    from ml.db import open_target
    from ml.runner import demo_windows
    from ml.train import TrainParams, fit_horizon

    settings = load_settings()
    horizons = settings.target.horizons
    with open_target(settings, read_only=True) as db:
        first, _ = score_date_range(db, settings)
        horizon_date = label_horizon(db, settings, horizons)
        w = demo_windows(first, horizon_date, max(horizons))
        windows = Windows(w["train_start"], w["train_end"], w["test_start"], w["test_end"])
        data = load_window(db, settings, windows.train_start, windows.test_end, horizons)
        depots = int(db.query_df(
            f"SELECT COUNT(DISTINCT Depot_Number) AS n FROM dbo.{settings.agg_table}").iloc[0]["n"])
    params = TrainParams(nthread=settings.duckdb_threads)
    rows = []
    for h in horizons:
        parts = split(data, windows, h, horizon_date)
        test = parts["test"]
        y = test["label"].to_numpy()
        t0 = time.perf_counter()
        model, info = fit_horizon(parts, params, h)
        xgb_s = time.perf_counter() - t0
        X = matrix(test)
        common = {"horizon": f"T{h}", "fit_rows": len(parts["fit"]), "test_rows": len(test),
                  "trees": info["best_iteration"] + 1}
        rows.append({**common, "model": "xgb+isotonic", **figures(y, model.predict(X)), "seconds": xgb_s})
        rows.append({**common, "model": "xgb raw", **figures(y, model.raw(X)), "seconds": xgb_s})
        lr, lr_s = logistic_baseline(pd.concat([parts["fit"], parts["early_stopping"]]))
        rows.append({**common, "model": "logistic", "trees": None,
                     **figures(y, lr.predict_proba(test[list(FEATURES)])[:, 1]), "seconds": lr_s})
        print(f"model-bench: T{h} done", file=sys.stderr, flush=True)
    facts = {"depots": depots, **{k: v.isoformat() for k, v in w.items()},
             "data_horizon": horizon_date.isoformat(), "features": len(FEATURES)}
    return rows, facts


def markdown(rows: list[dict], facts: dict) -> str:
    def f(v, spec):
        return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} by `python -m bench.model_baselines` on {platform.machine()}, "
        f"{os.cpu_count()} cores, nthread 2. Demo world, {facts['depots']:,} depots; training "
        f"{facts['train_start']} .. {facts['train_end']}, test {facts['test_start']} .. "
        f"{facts['test_end']} (data horizon {facts['data_horizon']}), purge gaps as in docs/model.md. "
        "ECE: 10 score deciles. *fit s*: booster with early stopping + isotonic (the raw row repeats it); "
        "logistic: one fit on fit + early-stopping parts. ¹ rows of the fit part (the logistic regression also sees the early-stopping part).",
        "",
        "| horizon | model | fit rows¹ | test rows | trees | base rate | AP | AP / base | Lift@1 % | ECE | Brier | fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['horizon']} | {r['model']} | {r['fit_rows']:,} | {r['test_rows']:,} | "
            f"{'–' if r['trees'] is None else r['trees']} | {f(r['base_rate'], '.4f')} | {f(r['ap'], '.4f')} | "
            f"{f(r['ap'] / r['base_rate'], '.1f')} | {f(r['lift_at_1'], '.1f')} | {f(r['ece'], '.4f')} | "
            f"{f(r['brier'], '.5f')} | {f(r['seconds'], '.1f')} |")
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    section = f"{BEGIN}\n{block}\n{END}"
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n## Model\n\nXGBoost + isotonic against baselines " \
               "(bench/model_baselines.py; docs/model.md).\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/performance.md alone")
    args = ap.parse_args(argv)
    rows, facts = run()
    block = markdown(rows, facts)
    print(block)
    if not args.no_write:
        write_doc(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
