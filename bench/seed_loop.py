"""The seed's way of building aggregates and labels, as the baseline for the dbt backfill.

The seed (the user's design document) computes one Score_Date at a time: select the day's
inputs, compute the day's aggregates in pandas, DELETE + INSERT the day. This module does
exactly that, written as a user of the seed would, so ``bench.run`` can time it against
``orchestrate.py backfill`` and check that both give the same rows.

The rules are not re-implemented here: the day's computation is the per-day function of
the test engineer's independent reference (tests/dbt/reference.py: ``features_for_day``,
``labels_for``, and its row classifier for the as-of B file). Only what a per-day loop
cannot select by itself is prepared once before the loop (and timed with it): the cleaned
order and booking transactions (their bad-row classes, repeated transactions and
cancellation dates need every earlier file), written to DuckDB tables the loop then
queries per day with the window pushed down into SQL.

Usage (a child process of bench.run; progress on stderr, one JSON summary line on stdout):
    python -m bench.seed_loop --source SRC.duckdb --out SEED.duckdb --start D --end D [--every N]
--every N runs the loop on every N-th day only (a sample: per-day cost x days estimates the
full loop, and the sampled days are compared with dbt's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests/ is not a package on the default path
    sys.path.insert(0, str(ROOT))

from tests.dbt import reference as ref  # noqa: E402  (the rules, per day)

AGG = "SEED_AGG"
LABELS = "SEED_LABELS"
# Columns the loop keeps of the reference's cleaned transactions.
TX_COLS = ["tn", "depot", "date", "type", "isin", "amount", "known_from", "cancelled_from"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare(con, fund) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Once: classify the source's files, clean orders and bookings into tables seed_orders,
    seed_bookings (reference.classify_rows + transactions). Returns (files, data horizon)."""
    datei = con.sql("SELECT * FROM src.dbo.cd_Datei").df()
    files = ref.classify_files(ref._complete(datei, "cd_Datei"))
    for table, name in (("cd_Order", "seed_orders"), ("cd_Buchung", "seed_bookings")):
        raw = ref._complete(con.sql(f"SELECT * FROM src.dbo.{table}").df(), table)
        tx = ref.transactions(ref.classify_rows(raw, table, files))
        tx = tx.reindex(columns=TX_COLS)
        tx["amount"] = tx["amount"].astype("int64")  # cents; valid rows have no NULL amount
        con.register("tx_frame", tx)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM tx_frame")
        con.unregister("tx_frame")
    b_files = files[(files["status"] == "counting") & (files["typ"] == "B")]
    con.register("b_frame", b_files[["Datei_ID", "datum"]].astype({"Datei_ID": "int64"}))
    con.execute("CREATE OR REPLACE TABLE seed_b_files AS SELECT * FROM b_frame")
    con.unregister("b_frame")
    return files, ref.data_horizon(files)


def day_inputs(con, d: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The inputs of Score_Date d, selected in SQL: the as-of B file's valid cash and
    positions, orders known by d, deposits known by d in its 30-day window."""
    day = d.date()
    asof = con.execute("SELECT Datei_ID, datum FROM seed_b_files WHERE datum <= ? "
                       "ORDER BY datum DESC LIMIT 1", [day]).df()
    out = {"b_files": asof}
    for table in ("cd_Saldo", "cd_Bestand"):
        if asof.empty:
            out[table] = pd.DataFrame()
            continue
        fid = int(asof["Datei_ID"].iloc[0])
        raw = con.execute(f"SELECT * FROM src.dbo.{table} WHERE Datei_ID = ?", [fid]).df()
        out[table] = clean_file_rows(ref._complete(raw, table), table, fid)
    # Orders: all known by d (NewRefs_90d and Pre_First_Target need the depot's whole
    # known history); deposits: only the 30-day window.
    out["orders"] = con.execute("SELECT * FROM seed_orders WHERE known_from <= ?", [day]).df()
    out["bookings"] = con.execute(
        "SELECT * FROM seed_bookings WHERE known_from <= ? AND type = 'Deposit' "
        "AND date BETWEEN ? AND ?", [day, day - timedelta(days=29), day]).df()
    return out


def clean_file_rows(raw: pd.DataFrame, table: str, datei_id: int) -> pd.DataFrame:
    """The valid rows of one counting B file (rules §4) with the reference's normaliser and
    row judge; duplicates and conflicts vectorised (reference.classify_rows does the same
    with per-cell lookups, too slow to call once per day)."""
    normalise, judge, key, cols = ref.TABLE_RULES[table]
    rows = normalise(raw)
    rows.insert(0, "Datei_ID", datei_id)
    ok = [judge(r) is None for r in rows.to_dict("records")]
    valid = rows[ok]
    valid = valid[~valid.duplicated(subset=cols, keep="first")]      # duplicate_row
    return valid[~valid.duplicated(subset=key, keep=False)]          # conflicting_duplicate


def replace_day(con, table: str, day: date, frame: pd.DataFrame) -> None:
    """DELETE + INSERT of one Score_Date in one transaction (the seed's idempotent write)."""
    con.execute("BEGIN")
    con.execute(f"DELETE FROM {table} WHERE Score_Date = ?", [day])
    if len(frame):
        con.register("day_frame", frame)
        con.execute(f"INSERT INTO {table} SELECT * FROM day_frame")
        con.unregister("day_frame")
    con.execute("COMMIT")


def create_tables(con, horizons) -> None:
    con.execute(f"""CREATE TABLE IF NOT EXISTS {AGG} (
        Score_Date DATE, Depot_Number VARCHAR, Buys_7d INT, Buys_30d INT, Last_Buy_Days INT,
        Avg_Ticket_90d DOUBLE, Cash DECIMAL(18,2), Portfolio_Value DECIMAL(18,2),
        Cash_Ratio DOUBLE, Deposit_30d_eff DECIMAL(18,2), Turnover_30d DECIMAL(18,2),
        Pos_Count INT, NewRefs_90d INT, CancelRate_30d DOUBLE, Pre_First_Target INT)""")
    labels = ", ".join(f"label_T{h} INT" for h in horizons)
    con.execute(f"CREATE TABLE IF NOT EXISTS {LABELS} (Score_Date DATE, Depot_Number VARCHAR, "
                f"first_buy_date DATE, {labels})")


def run(source: Path, out: Path, start: date, end: date, fund, every: int = 1) -> dict:
    """Prepare, then loop over every ``every``-th day of [start, end]; returns timings."""
    import duckdb

    t0 = time.monotonic()
    con = duckdb.connect(str(out))
    con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
    create_tables(con, fund.horizons)
    files, horizon = prepare(con, fund)
    t_prep = time.monotonic() - t0
    log(f"seed loop: prepared cleaned transactions in {t_prep:.1f}s")
    isins, min_cents = set(fund.isins), int(round(fund.min_ticket_eur * 100))
    all_orders = con.sql("SELECT * FROM seed_orders").df()  # labels use all knowledge
    rows = n_days = 0
    t_loop = time.monotonic()
    d = pd.Timestamp(start)
    while d <= pd.Timestamp(end):
        inp = day_inputs(con, d)
        agg = ref.features_for_day(d, inp["orders"], inp["bookings"], inp["cd_Saldo"],
                                   inp["cd_Bestand"], inp["b_files"], isins, min_cents)
        labels = ref.labels_for(agg, all_orders, isins, min_cents, fund.horizons, horizon)
        replace_day(con, AGG, d.date(), agg)
        replace_day(con, LABELS, d.date(), labels)
        rows += len(agg) + len(labels)
        n_days += 1
        if n_days % 30 == 0:
            log(f"seed loop: {d.date()} ({n_days} days, {time.monotonic() - t0:.0f}s)")
        d += pd.Timedelta(days=every)
    loop = time.monotonic() - t_loop
    con.close()
    return {"days": n_days, "every": every, "rows": rows, "prepare_seconds": round(t_prep, 1),
            "loop_seconds": round(loop, 1), "seconds_per_day": round(loop / max(n_days, 1), 4),
            "seconds": round(time.monotonic() - t0, 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--source", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--start", required=True, type=date.fromisoformat)
    p.add_argument("--end", required=True, type=date.fromisoformat)
    p.add_argument("--every", type=int, default=1, help="only every N-th day (a sample)")
    a = p.parse_args(argv)
    from ml.config import load_settings

    a.out.unlink(missing_ok=True)
    print(json.dumps(run(a.source, a.out, a.start, a.end, load_settings().target, a.every)))


if __name__ == "__main__":
    main()


def compare(seed_db: Path, fa_db: Path, code: str, horizons, tol: float = 1e-6) -> dict:
    """Row-for-row check of the loop's tables against dbt's, on the loop's Score_Dates.

    Keys must match exactly (full outer join on Score_Date, Depot_Number); every value equal
    within ``tol`` (NULLs in the same places). Returns {table: {rows, missing, extra,
    differing cells per column}} with only non-zero columns listed.
    """
    import duckdb

    con = duckdb.connect(str(seed_db), read_only=True)
    con.execute(f"ATTACH '{fa_db}' AS fa (READ_ONLY)")
    agg_cols = [c for c in ref.AGG_COLUMNS if c not in ("Score_Date", "Depot_Number")]
    label_cols = ["first_buy_date"] + [f"label_T{h}" for h in horizons]
    out = {}
    for mine, theirs, cols in ((AGG, f"CD_FA_AGG_BUY_{code}", agg_cols),
                               (LABELS, f"CD_FA_LABELS_{code}", label_cols)):
        def differs(c: str) -> str:
            if c == "first_buy_date":
                return f"(s.{c} IS DISTINCT FROM d.{c})"
            return (f"((s.{c} IS NULL) <> (d.{c} IS NULL) OR "
                    f"abs(CAST(s.{c} AS DOUBLE) - CAST(d.{c} AS DOUBLE)) > {tol})")
        checks = ", ".join(f"count(*) FILTER (WHERE s.Depot_Number IS NOT NULL AND "
                           f"d.Depot_Number IS NOT NULL AND {differs(c)}) AS {c}" for c in cols)
        sql = f"""
            WITH d AS (SELECT * FROM fa.dbo.{theirs}
                       WHERE Score_Date IN (SELECT DISTINCT Score_Date FROM {AGG}))
            SELECT count(*) AS rows,
                   count(*) FILTER (WHERE d.Depot_Number IS NULL) AS only_in_loop,
                   count(*) FILTER (WHERE s.Depot_Number IS NULL) AS only_in_dbt, {checks}
            FROM {mine} s FULL OUTER JOIN d
              ON s.Score_Date = d.Score_Date AND s.Depot_Number = d.Depot_Number"""
        row = con.execute(sql).df().iloc[0].to_dict()
        out[theirs] = {k: int(v) for k, v in row.items() if k == "rows" or int(v)}
    con.close()
    return out
