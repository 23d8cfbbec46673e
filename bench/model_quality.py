"""Model quality against the best possible predictor (benchmark, not a test; docs/model.md).

Per world (a demo world of a seed and a hazard profile): generate it into its own
FA_SOURCE_DB / FA_DUCKDB_PATH / FA_ART_DIR under build/model_quality/<world>/, backfill
it with the library (ml.pipeline.backfill), take as test window the last ``--test-days``
label-complete days (T = 30), train on everything before it (ml.runner.demo_windows:
warm-up, calibration, purge gaps as in production) and compare on the same test rows:

- ``model``: ml.train.fit_horizon with the full feature list (ml.features.FEATURES);
- ``core model``: the same with ``features=CORE_FEATURES`` (the previous feature set;
  skipped with a message while fit_horizon has no ``features`` keyword);
- ``hgb core``: scikit-learn HistGradientBoostingClassifier, default parameters, early
  stopping off, on the 12 core features, fitted on every training part but calibration;
- ``oracle``: ml.demo.oracle, P(label | the generator's whole state at D), for every
  ``--oracle-every``-th test day; all models are evaluated on exactly these rows.

Per world and horizon: rows, positives, base rate, AP and Lift@1 % with 95 % depot-block
bootstrap intervals (ml.metrics.evaluate), and AP / Lift as a share of the oracle's.
Writes bench/results/model_quality.md and .json (git-ignored) and prints the table. A
world's built databases are reused when its arguments match (``--rebuild`` redoes them),
so ``--worlds`` reruns one world cheaply.

    python -m bench.model_quality [--worlds s42,s7,alt42] [--depots 10000] [--days 730]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "model_quality"
RESULTS = ROOT / "bench" / "results"
END_DATE = date(2025, 8, 20)
WORLDS = {"s42": (42, "default"), "s7": (7, "default"), "alt42": (42, "alt")}
MODELS = ("model", "core model", "hgb core", "oracle")


def log(msg: str) -> None:
    print(f"model-quality: {msg}", file=sys.stderr, flush=True)


def world_env(name: str) -> dict[str, str]:
    d = BUILD / name
    return {**os.environ, "FA_SOURCE_DB": str(d / "source.duckdb"),
            "FA_DUCKDB_PATH": str(d / "fa.duckdb"), "FA_ART_DIR": str(d / "artifacts")}


def build(name: str, seed: int, profile: str, depots: int, days: int, rebuild: bool):
    """Generate and backfill the world (skipped when built with the same arguments)."""
    from ml.config import load_settings
    from ml.dbt import export_env
    from ml.demo import generate
    from ml.pipeline import backfill

    env = world_env(name)
    settings = load_settings(env)
    marker = BUILD / name / "built.json"
    args = {"seed": seed, "profile": profile, "depots": depots, "days": days,
            "end_date": END_DATE.isoformat()}
    if not rebuild and marker.exists() and json.loads(marker.read_text()) == args:
        log(f"{name}: reusing {marker.parent}")
        return settings
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    Path(env["FA_DUCKDB_PATH"]).unlink(missing_ok=True)
    t0 = time.monotonic()
    generate(settings, depots, days, seed, END_DATE, hazard_profile=profile)
    export_env(settings)
    backfill(settings, END_DATE - timedelta(days=days - 1), END_DATE)
    log(f"{name}: world and backfill {time.monotonic() - t0:.0f} s")
    marker.write_text(json.dumps(args))
    return settings


def windows_for(settings, days: int, test_days: int):
    """Training and test windows: the last ``test_days`` label-complete days are the test."""
    from ml.dataset import Windows, label_horizon, score_date_range
    from ml.db import open_target
    from ml.runner import demo_windows

    longest = max(settings.target.horizons)
    with open_target(settings, read_only=True) as db:
        first, _ = score_date_range(db, settings)
        horizon_date = label_horizon(db, settings, settings.target.horizons)
    first = max(first, END_DATE - timedelta(days=days - 1))
    w = demo_windows(first, horizon_date, longest)
    test_start = w["test_end"] - timedelta(days=test_days - 1)
    return Windows(w["train_start"], test_start - timedelta(days=1), test_start,
                   w["test_end"]), horizon_date


def hgb_core(train: pd.DataFrame, seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ml.features import CORE_FEATURES

    model = HistGradientBoostingClassifier(early_stopping=False, random_state=seed)
    model.fit(train[list(CORE_FEATURES)].to_numpy(dtype="float64"), train["label"].to_numpy())
    return lambda df: model.predict_proba(df[list(CORE_FEATURES)].to_numpy(dtype="float64"))[:, 1]


def has_features_keyword() -> bool:
    from ml.train import fit_horizon

    return "features" in inspect.signature(fit_horizon).parameters


def run_world(name: str, depots: int, days: int, test_days: int, oracle_every: int,
              replicas: int, n_boot: int, rebuild: bool) -> dict[str, Any]:
    from ml.dataset import load_window, split
    from ml.db import open_target
    from ml.demo import house_isins
    from ml.demo.oracle import oracle
    from ml.features import CORE_FEATURES, FEATURES
    from ml.metrics import evaluate
    from ml.train import TrainParams, fit_horizon

    seed, profile = WORLDS[name]
    settings = build(name, seed, profile, depots, days, rebuild)
    horizons = settings.target.horizons
    windows, horizon_date = windows_for(settings, days, test_days)
    log(f"{name}: train {windows.train_start}..{windows.train_end}, "
        f"test {windows.test_start}..{windows.test_end}, data horizon {horizon_date}")
    with open_target(settings, read_only=True) as db:
        data = load_window(db, settings, windows.train_start, windows.test_end, horizons)
    test_days_all = sorted(pd.to_datetime(data.loc[data["Score_Date"] >= pd.Timestamp(
        windows.test_start), "Score_Date"]).unique())
    oracle_days = test_days_all[::oracle_every]
    t0 = time.monotonic()
    orc = oracle(depots, days, seed, END_DATE, settings.target.isins, oracle_days,
                 settings.target.min_ticket_eur, house_isins(settings), profile, horizons,
                 replicas, with_se=True)
    orc["Score_Date"] = pd.to_datetime(orc["Score_Date"])
    oracle_s = time.monotonic() - t0
    log(f"{name}: oracle on {len(oracle_days)} of {len(test_days_all)} test days, "
        f"{len(orc)} rows, K={replicas}, {oracle_s:.0f} s")
    params = TrainParams(nthread=settings.duckdb_threads, n_boot=n_boot)
    core_ok = has_features_keyword()
    if not core_ok:
        log("core model skipped: ml.train.fit_horizon has no 'features' keyword yet "
            "(contracts §2, branch mlsplit)")
    out: dict[str, Any] = {"world": name, "seed": seed, "profile": profile, "depots": depots,
                           "days": days, "windows": windows.as_dict(),
                           "data_horizon": horizon_date.isoformat(),
                           "features": len(FEATURES), "oracle_days": len(oracle_days),
                           "test_days": len(test_days_all), "replicas": replicas,
                           "oracle_seconds": round(oracle_s, 1), "horizons": {}}
    for h in horizons:
        parts = split(data, windows, h, horizon_date)
        test = parts["test"].copy()
        test["Score_Date"] = pd.to_datetime(test["Score_Date"])
        rows = test.merge(orc, on=["Score_Date", "Depot_Number"], how="inner")
        missing = len(test[test["Score_Date"].isin(oracle_days)]) - len(rows)
        y, groups = rows["label"].to_numpy(), rows["Depot_Number"].to_numpy()
        log(f"{name}: T{h}: {len(rows)} rows, {int(y.sum())} positives "
            f"(test part {len(test)} rows, {int(test['label'].sum())} positives; "
            f"{missing} test rows of the oracle days without an oracle row)")
        scores: dict[str, np.ndarray] = {}
        model, info = fit_horizon(parts, params, h)
        scores["model"] = model.predict(rows[list(model.features)].to_numpy(dtype="float64"))
        if core_ok:
            core, _ = fit_horizon(parts, params, h, features=CORE_FEATURES)
            scores["core model"] = core.predict(rows[list(core.features)].to_numpy(dtype="float64"))
        train = pd.concat([p for k, p in parts.items() if k not in ("calibration", "test")])
        scores["hgb core"] = hgb_core(train)(rows)
        scores["oracle"] = rows[f"oracle_p{h}"].to_numpy()
        res = {"rows": len(rows), "positives": int(y.sum()), "base_rate": float(y.mean()),
               "missing_oracle_rows": int(missing), "trees": info["best_iteration"] + 1,
               "oracle_se_mean": float(rows[f"oracle_se_p{max(horizons)}"].mean()),
               "models": {}}
        for m, p in scores.items():
            e = evaluate(y, p, groups, n_boot=n_boot, seed=0)
            res["models"][m] = {"ap": e["ap"], "ap_ci": e["ci"].get("ap"),
                                "lift_at_1": e["lift_at_1"], "lift_ci": e["ci"].get("lift_at_1")}
        # Paired depot bootstrap of AP(model) - AP(baseline) on the same rows (one draw for
        # both, so the draw's noise cancels): the claim "better than the baseline" is this.
        from bench.tune_defaults import paired_difference

        res["delta_ap"] = {}
        for ref in ("core model", "hgb core"):
            if ref in scores:
                d, d_ci = paired_difference(rows, scores[ref], scores["model"], n_boot, 0)
                res["delta_ap"][ref] = {"d": d, "ci": d_ci}
        o = res["models"]["oracle"]
        for m, r in res["models"].items():
            r["ap_share"] = r["ap"] / o["ap"] if o["ap"] else float("nan")
            r["lift_share"] = r["lift_at_1"] / o["lift_at_1"] if o["lift_at_1"] else float("nan")
        out["horizons"][f"T{h}"] = res
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    def ci(v):
        return "–" if not v else f"[{v[0]:.4f}, {v[1]:.4f}]"

    lines = []
    for r in results:
        lines += [f"### {r['world']}: seed {r['seed']}, profile {r['profile']}, "
                  f"{r['depots']:,} depots x {r['days']} days",
                  "",
                  f"Test {r['windows']['test_start']} .. {r['windows']['test_end']}; oracle on "
                  f"{r['oracle_days']} of {r['test_days']} test days (K = {r['replicas']}, "
                  f"{r['oracle_seconds']} s); {r['features']} features in the model.",
                  "",
                  "| horizon | model | rows | positives | base rate | AP | AP 95 % | Lift@1 % | "
                  "Lift 95 % | AP / oracle | Lift / oracle |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for hz, res in r["horizons"].items():
            for m in MODELS:
                if m not in res["models"]:
                    lines.append(f"| {hz} | {m} | – | – | – | skipped | | | | | |")
                    continue
                x = res["models"][m]
                lines.append(
                    f"| {hz} | {m} | {res['rows']:,} | {res['positives']:,} | "
                    f"{res['base_rate']:.4f} | {x['ap']:.4f} | {ci(x['ap_ci'])} | "
                    f"{x['lift_at_1']:.1f} | {ci(x['lift_ci'])} | {x['ap_share']:.2f} | "
                    f"{x['lift_share']:.2f} |")
        lines += ["", "Paired Δ AP of the model (depot bootstrap, same rows):", ""]
        for hz, res in r["horizons"].items():
            for ref, x in res.get("delta_ap", {}).items():
                lines.append(f"- {hz} model − {ref}: {x['d']:+.4f} {ci(x['ci'])}")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", default=",".join(WORLDS),
                    help=f"comma-separated, from {', '.join(WORLDS)}")
    ap.add_argument("--depots", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--test-days", type=int, default=90)
    ap.add_argument("--oracle-every", type=int, default=2, help="oracle on every k-th test day")
    ap.add_argument("--replicas", type=int, default=16, help="oracle Monte Carlo replicas K")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true", help="regenerate and backfill the worlds")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    names = [w.strip() for w in args.worlds.split(",") if w.strip()]
    bad = [w for w in names if w not in WORLDS]
    if bad or not names:
        print(f"Error: --worlds: unknown world(s) {', '.join(bad) or '(none)'} "
              f"(choose from {', '.join(WORLDS)})", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    store = RESULTS / "model_quality.json"
    saved = json.loads(store.read_text()) if store.exists() else {}
    for name in names:
        r = run_world(name, args.depots, args.days, args.test_days, args.oracle_every,
                      args.replicas, args.n_boot, args.rebuild)
        saved[name] = r
        store.write_text(json.dumps(saved, indent=1, default=str))
    text = markdown([saved[n] for n in names])
    (RESULTS / "model_quality.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
