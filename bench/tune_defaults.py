"""Benchmark of the split and of the defaults: what `train --tune` would choose on a built world.

Runs on the target database of the environment (FA_DUCKDB_PATH; after `make demo` the demo
world), with the windows `orchestrate.py demo` derives from the data, and prints per horizon:

1. *split*: the default parameters (ml.train.TrainParams) fitted with the old split
   (early stopping on the 60 days before the calibration part, with its own purge gap) and
   with the current one (early stopping on held-out depots of the same days), test AP and
   Lift@1 % with depot-bootstrap intervals;
2. *tuning*: the winner of ml.tune.tune_horizon (searched on the fit / early-stopping parts
   only) against the defaults, with the early-stopping AP that chose it and the test AP of
   both. The test part is read only for this report, never for choosing;
3. *variants* (unless --no-variants): the defaults with negative down-sampling of whole
   depot-days (ml/sampling.py, rate 0.3, weighted) and with monotone constraints
   (MONOTONE), test AP of each, measured before adopting either.

Change the defaults in one place, ml.train.TrainParams, when a winner holds across worlds.

    python -m bench.tune_defaults [--trials 24] [--n-boot 200] [--no-variants] [--horizons 7,14,30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd

OLD_EARLY_STOPPING_DAYS = 60
# Directions a distributor would defend before seeing data: money coming in, recent buying
# and trying new funds raise the chance of a first buy; a long time since the last buy
# lowers it. Measured here, not adopted (docs/model.md, Tuning).
MONOTONE = (("Deposit_30d_eff", 1), ("Buys_7d", 1), ("Buys_30d", 1), ("NewRefs_90d", 1),
            ("Last_Buy_Days", -1))
NEG_RATE = 0.3
REFERENCE = "depot holdout, defaults"  # every other variant's AP difference is against this one


def old_split(parts: dict[str, pd.DataFrame], windows, horizon: int) -> dict[str, pd.DataFrame]:
    """The split before the depot holdout, rebuilt from the current parts (pure).

    Fit time = all rows of fit + early_stopping (D + T < calib_start); the old early-stopping
    part is its last OLD_EARLY_STOPPING_DAYS days, the old fit part the rows with
    D + T < the start of those days (the purge gap).
    """
    es_start = pd.Timestamp(windows.calib_start - timedelta(days=OLD_EARLY_STOPPING_DAYS))
    fit_time = pd.concat([parts["fit"], parts["early_stopping"]]).sort_values(["Score_Date", "Depot_Number"])
    return {
        "fit": fit_time[fit_time["Score_Date"] + pd.Timedelta(days=horizon) < es_start],
        "early_stopping": fit_time[fit_time["Score_Date"] >= es_start],
        "calibration": parts["calibration"], "test": parts["test"],
    }


def test_figures(p: np.ndarray, test: pd.DataFrame, n_boot: int, seed: int) -> dict:
    from ml.metrics import evaluate

    m = evaluate(test["label"].to_numpy(), p, test["Depot_Number"].to_numpy(), n_boot=n_boot, seed=seed)
    return {"ap": m["ap"], "ap_ci": m["ci"].get("ap"), "lift_at_1": m["lift_at_1"]}


def paired_difference(test: pd.DataFrame, p_ref: np.ndarray, p: np.ndarray, n_boot: int, seed: int):
    """AP(p) - AP(p_ref) on the test rows and its 95 % interval under one depot bootstrap
    for both (the same drawn depots for both scores, so the noise of the draw cancels)."""
    from ml.metrics import average_precision, bootstrap_intervals

    y = test["label"].to_numpy()

    def diff(y_draw, rows):  # the bootstrap passes row numbers in place of scores
        i = rows.astype(int)
        return {"d": average_precision(y_draw, p[i]) - average_precision(y_draw, p_ref[i])}

    ci = bootstrap_intervals(y, np.arange(len(y), dtype="float64"), test["Depot_Number"].to_numpy(),
                             statistic=diff, n_boot=n_boot, seed=seed).get("d")
    return diff(y, np.arange(len(y)))["d"], ci


def run(trials: int, n_boot: int, variants: bool, horizons=None) -> tuple[list[dict], list[dict], dict]:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ml.config import load_settings
    from ml.dataset import FEATURES, Windows, label_horizon, matrix, load_window, score_date_range, split
    from ml.db import open_target
    from ml.runner import demo_windows
    from ml.sampling import keep_mask
    from ml.train import TrainParams, fit_horizon
    from ml.tune import SPACE, search_params, tune_horizon

    settings = load_settings()
    horizons = tuple(horizons or settings.target.horizons)
    with open_target(settings, read_only=True) as db:
        first, _ = score_date_range(db, settings)
        horizon_date = label_horizon(db, settings, settings.target.horizons)
        w = demo_windows(first, horizon_date, max(settings.target.horizons))
        windows = Windows(w["train_start"], w["train_end"], w["test_start"], w["test_end"])
        data = load_window(db, settings, windows.train_start, windows.test_end, settings.target.horizons)
    defaults = TrainParams(nthread=settings.duckdb_threads)
    keep, weight = keep_mask(data, settings.target.horizons, NEG_RATE, windows.calib_start)
    sampled = data[keep].assign(weight=weight[keep])
    rows, tuning = [], []
    for h in horizons:
        parts = split(data, windows, h, horizon_date)
        test = parts["test"]
        base = {"horizon": f"T{h}", "test_rows": len(test), "test_positives": int(test["label"].sum())}

        scores = {}

        def measure(name, parts_, params):
            t0 = time.perf_counter()
            model, info = fit_horizon(parts_, params, h)
            seconds = time.perf_counter() - t0
            p = scores[name] = model.predict(matrix(test, model.features))
            ref = scores.get(REFERENCE)
            d, d_ci = (None, None) if ref is None or name == REFERENCE else \
                paired_difference(test, ref, p, n_boot, defaults.seed)
            rows.append({**base, "variant": name, "fit_rows": len(parts_["fit"]),
                         "es_rows": len(parts_["early_stopping"]), "trees": info["best_iteration"] + 1,
                         "seconds": seconds, "d_ap": d, "d_ap_ci": d_ci,
                         **test_figures(p, test, n_boot, defaults.seed)})

        measure(REFERENCE, parts, defaults)
        measure("old split (60-day early stopping), defaults", old_split(parts, windows, h), defaults)
        if variants:
            measure(f"depot holdout, defaults, negatives sampled {NEG_RATE}",
                    split(sampled, windows, h, horizon_date), defaults)
            measure("depot holdout, defaults, monotone", parts, replace(defaults, monotone=MONOTONE))
        t0 = time.perf_counter()
        winner, table = tune_horizon(parts, defaults, FEATURES, trials)
        tune_s = time.perf_counter() - t0
        measure("depot holdout, tuned", parts, winner)
        # The same trials chosen by early-stopping log loss instead (the alternative objective).
        by_loss = min(table, key=lambda t: (t["logloss_early_stopping"], t["trees"], t["trial"]))
        measure("depot holdout, tuned by log loss", parts, replace(defaults, **{k: by_loss[k] for k in SPACE}))
        win = next(t for t in table if t["chosen"])
        tuning.append({"horizon": f"T{h}", "trials": len(table), "seconds": tune_s,
                       "chosen": search_params(winner), "defaults": search_params(defaults),
                       "es_ap_chosen": win["ap_early_stopping"], "es_ap_defaults": table[0]["ap_early_stopping"],
                       "by_loss": {k: by_loss[k] for k in SPACE}})
        print(f"tune-defaults: T{h} done", file=sys.stderr, flush=True)
    facts = {**{k: v.isoformat() for k, v in w.items()}, "data_horizon": horizon_date.isoformat(),
             "depots": int(data["Depot_Number"].nunique())}
    return rows, tuning, facts


def _f(v, spec: str) -> str:
    return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def markdown(rows: list[dict], tuning: list[dict], facts: dict) -> str:
    lines = [
        f"{facts['depots']:,} depots; training {facts['train_start']} .. {facts['train_end']}, test "
        f"{facts['test_start']} .. {facts['test_end']} (data horizon {facts['data_horizon']}).", "",
        f"Δ AP: AP minus the AP of *{REFERENCE}* on the same test rows, with a paired depot-bootstrap "
        "95 % interval (both scores on the same drawn depots).", "",
        "| horizon | variant | fit rows | ES rows | trees | test AP | AP 95 % interval | Δ AP [95 %] | Lift@1 % | fit s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def interval(ci, spec):
        return "–" if not ci else f"[{_f(ci[0], spec)}, {_f(ci[1], spec)}]"

    for r in rows:
        delta = "–" if r["d_ap"] is None else f"{r['d_ap']:+.4f} {interval(r['d_ap_ci'], '+.4f')}"
        lines.append(f"| {r['horizon']} | {r['variant']} | {r['fit_rows']:,} | {r['es_rows']:,} | {r['trees']} | "
                     f"{_f(r['ap'], '.4f')} | {interval(r['ap_ci'], '.4f')} | {delta} | "
                     f"{_f(r['lift_at_1'], '.1f')} | {r['seconds']:.1f} |")
    lines += ["", "| horizon | trials | search s | early-stopping AP defaults -> chosen | chosen (AP) | "
              "chosen by log loss |", "| --- | --- | --- | --- | --- | --- |"]

    def changed(chosen, defaults):
        return ", ".join(f"{k} {v}" for k, v in chosen.items() if v != defaults[k]) or "the defaults"

    for t in tuning:
        lines.append(f"| {t['horizon']} | {t['trials']} | {t['seconds']:.0f} | {_f(t['es_ap_defaults'], '.4f')} -> "
                     f"{_f(t['es_ap_chosen'], '.4f')} | {changed(t['chosen'], t['defaults'])} | "
                     f"{changed(t['by_loss'], t['defaults'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--no-variants", action="store_true", help="skip down-sampling and monotone constraints")
    ap.add_argument("--horizons", default=None, help="e.g. 30 or 7,14,30 [the configured ones]")
    args = ap.parse_args(argv)
    hs = [int(x) for x in args.horizons.split(",")] if args.horizons else None
    rows, tuning, facts = run(args.trials, args.n_boot, not args.no_variants, hs)
    print(markdown(rows, tuning, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
