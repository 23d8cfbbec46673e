"""A small synthetic aggregate + label table pair with a planted signal (tests only).

Independent of the demo world and of dbt: it writes dbo.CD_FA_AGG_BUY_<CODE> and
dbo.CD_FA_LABELS_<CODE> straight into a DuckDB file, with the contract's columns, so the
ML steps can be tested on their own.

Each depot has a latent propensity z ~ N(0, 1). Every day it buys the target fund for the
first time with probability sigmoid(-7.5 + 1.5 z + 3.5 [a deposit in the 30 days before]);
the features are noisy functions of z plus the 30-day deposit sum, so a model can find
the signal.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

FEATURE_TYPES = {
    "Buys_7d": "INTEGER", "Buys_30d": "INTEGER", "Last_Buy_Days": "INTEGER",
    "Avg_Ticket_90d": "DOUBLE", "Cash": "DECIMAL(18,2)", "Portfolio_Value": "DECIMAL(18,2)",
    "Cash_Ratio": "DOUBLE", "Deposit_30d_eff": "DECIMAL(18,2)", "Turnover_30d": "DECIMAL(18,2)",
    "Pos_Count": "INTEGER", "NewRefs_90d": "INTEGER", "CancelRate_30d": "DOUBLE",
}


def make_frames(depots: int = 300, days: int = 300, seed: int = 7,
                end: date = date(2025, 8, 20), horizons=(7, 14, 30)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(aggregates, labels) DataFrames: one aggregate row per depot and day."""
    rng = np.random.default_rng(seed)
    start = end - timedelta(days=days - 1)
    dates = pd.date_range(start, end, freq="D")
    z = rng.normal(size=depots)
    deposit = rng.random((depots, days)) < (0.01 + 0.02 * (z[:, None] > 0))
    amount = np.where(deposit, np.round(rng.lognormal(8, 0.5, (depots, days)), 2), 0.0)
    # A deposit raises the hazard on the 30 days after it; the 30-day deposit sum shows it.
    csum = np.cumsum(np.pad(deposit.astype(int), ((0, 0), (1, 0))), axis=1)
    recent = (csum[:, :-1] - csum[:, np.maximum(np.arange(days) - 30, 0)]) > 0
    hazard = 1 / (1 + np.exp(-(-7.5 + 1.5 * z[:, None] + 3.5 * recent)))
    acum = np.cumsum(np.pad(amount, ((0, 0), (1, 0))), axis=1)
    dep30 = acum[:, 1:] - acum[:, np.maximum(np.arange(days) + 1 - 30, 0)]
    buys = rng.random((depots, days)) < hazard
    # Index of the first target buy (days = never within the data).
    first = np.where(buys.any(axis=1), buys.argmax(axis=1), days)

    n = depots * days
    dep_idx = np.repeat(np.arange(depots), days)
    day_idx = np.tile(np.arange(days), depots)
    zz = z[dep_idx]
    buys30 = rng.poisson(np.exp(zz - 0.5))
    buys7 = rng.binomial(buys30, 0.25)
    last = np.where(buys30 > 0, rng.integers(0, 30, n), np.where(rng.random(n) < 0.5, rng.integers(30, 400, n), -1))
    cash = np.round(rng.lognormal(8 + 0.3 * zz, 1.0), 2)
    pv = np.round(rng.lognormal(9, 1.2, n), 2)
    agg = pd.DataFrame({
        "Score_Date": dates[day_idx].date,
        "Depot_Number": np.char.add("D", np.char.zfill(dep_idx.astype(str), 6)),
        "Buys_7d": buys7,
        "Buys_30d": buys30,
        "Last_Buy_Days": pd.Series(last, dtype="Int64").where(last >= 0).to_numpy(),
        "Avg_Ticket_90d": np.where(buys30 > 0, np.round(rng.lognormal(7.5, 0.5, n), 2), np.nan),
        "Cash": cash,
        "Portfolio_Value": pv,
        "Cash_Ratio": cash / (cash + pv),
        "Deposit_30d_eff": np.round(dep30.reshape(-1), 2),
        "Turnover_30d": np.round(buys30 * rng.lognormal(7, 0.5, n), 2),
        "Pos_Count": rng.integers(0, 10, n),
        "NewRefs_90d": rng.integers(0, 3, n),
        "CancelRate_30d": np.where(buys30 > 0, rng.random(n) * 0.1, np.nan),
        "Pre_First_Target": (day_idx <= first[dep_idx] - 1).astype(int),
    })
    horizon_day = days - 1
    pre = agg[agg["Pre_First_Target"] == 1].copy()
    d_idx = day_idx[agg["Pre_First_Target"].to_numpy() == 1]
    f_idx = first[dep_idx][agg["Pre_First_Target"].to_numpy() == 1]
    labels = pre[["Score_Date", "Depot_Number"]].copy()
    labels["first_buy_date"] = [dates[f].date() if f < days else None for f in f_idx]
    for h in horizons:
        pos = (f_idx >= d_idx + 1) & (f_idx <= d_idx + h) & (f_idx < days)
        known = d_idx + h <= horizon_day
        labels[f"label_T{h}"] = pd.Series(pos.astype(int), dtype="Int64").where(pos | known).to_numpy()
    return agg, labels


def write_tables(path, code: str = "DEMO", **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Create dbo.CD_FA_AGG_BUY_<code> and dbo.CD_FA_LABELS_<code> in the DuckDB file ``path``."""
    from ml.features import FEATURES

    agg, labels = make_frames(**kwargs)
    # Feature columns beyond the twelve core ones (ml/features.py, docs/rules.md §7a/§7b):
    # uninformative noise with some NULLs, so the tables have every column the model reads.
    types = dict(FEATURE_TYPES)
    noise = np.random.default_rng(11)
    for c in FEATURES:
        if c not in types:
            types[c] = "DOUBLE"
            agg[c] = np.where(noise.random(len(agg)) < 0.1, np.nan, noise.normal(size=len(agg)))
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS dbo")
        feats = ", ".join(f"CAST({c} AS {t}) AS {c}" for c, t in types.items())
        con.register("agg_df", agg)
        con.execute(
            f"CREATE OR REPLACE TABLE dbo.CD_FA_AGG_BUY_{code} AS SELECT CAST(Score_Date AS DATE) AS Score_Date, "
            f"CAST(Depot_Number AS VARCHAR) AS Depot_Number, {feats}, "
            "CAST(Pre_First_Target AS INTEGER) AS Pre_First_Target FROM agg_df"
        )
        con.register("lab_df", labels)
        label_cols = ", ".join(f"CAST({c} AS INTEGER) AS {c}" for c in labels.columns if c.startswith("label_T"))
        con.execute(
            f"CREATE OR REPLACE TABLE dbo.CD_FA_LABELS_{code} AS SELECT CAST(Score_Date AS DATE) AS Score_Date, "
            "CAST(Depot_Number AS VARCHAR) AS Depot_Number, CAST(first_buy_date AS DATE) AS first_buy_date, "
            f"{label_cols} FROM lab_df"
        )
    finally:
        con.close()
    return agg, labels
