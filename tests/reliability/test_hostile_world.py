"""Hostile source data: every class of bad row is counted exactly and changes nothing else.

Two source worlds go through the same backfill:

- *clean*: ``ml.demo.build_frames(..., bad_rows=False)`` (it keeps the generator's
  other mess: corrections, cancellations, leading zeros);
- *hostile*: the same frames plus injected rows of every bad-row class of docs/rules.md §4,
  an empty U file, cd_Datei rows with no rows at all, and rows in an unknown file.

What "equal" means here. Injected rows never change a clean row: they carry NEW transaction
numbers (or, for the duplicate classes, are extra copies of a clean row, of which the rules
keep the first), and the saldo rows that are bad belong to depots that have no valid saldo
row (so the universe does not change). A B file missing for weeks is a delivery gap, not a
bad row: it changes the carried-forward holdings of the days it covers, so it is removed
from BOTH worlds. With that, the hostile world must give exactly the clean world's
aggregates and labels (every column, every row), and FA_DATA_QUALITY must differ from the
clean world's by exactly the injected counts, class by class.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ml.demo import build_frames
from ml.source import write_source_db

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

END = date(2025, 8, 20)
DAYS = 88                                  # one backfill chunk
START = END - timedelta(days=DAYS - 1)      # 2025-05-25
GAP = (date(2025, 6, 16), date(2025, 7, 6))  # three weeks without any B file
DAY = date(2025, 7, 15)                    # the U and B file the bad rows are injected into
LATER = date(2025, 7, 22)                  # a later U file (re-delivered transaction)
EMPTY_U_DAY = date(2025, 7, 19)            # a Saturday: no file in the clean world
TARGET = ["LU000DEMO015", "LU000DEMO023"]
ISIN = "DE0005190003"                      # a well-formed ISIN (not a target)


def run(home: Path, source: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FA_LOCK_OWNER_PID", "FA_FAULT_AT", "FA_CONFIG", "FA_ENGINE")}
    env.update({"FA_DUCKDB_PATH": str(home / "fa.duckdb"), "FA_ART_DIR": str(home / "artifacts"),
                "FA_SOURCE_DB": str(source), "DBT_TARGET_PATH": str(home / "dbt_target"),
                "DBT_LOG_PATH": str(home / "dbt_logs")})
    return subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)


def _plain(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Categoricals -> object, so new values can be appended."""
    return {n: df.astype({c: object for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)})
            for n, df in frames.items()}


def without_b_gap(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Drop every B file dated in GAP (cd_Datei rows and their saldo/position rows)."""
    f = dict(frames)
    d = f["cd_Datei"]
    gap = (d["Datei_Typ"] == "B") & d["Datei_Datum"].between(pd.Timestamp(GAP[0]), pd.Timestamp(GAP[1]))
    ids = set(d.loc[gap, "Datei_ID"])
    assert len(ids) >= 14  # weeks, not a day
    f["cd_Datei"] = d[~gap].reset_index(drop=True)
    for t in ("cd_Saldo", "cd_Bestand"):
        f[t] = f[t][~f[t]["Datei_ID"].isin(ids)].reset_index(drop=True)
    return f


def file_id(frames, typ: str, day: date) -> int:
    """The counting file of (typ, day): latest Import_Zeit, then highest id."""
    d = frames["cd_Datei"]
    d = d[(d["Datei_Typ"] == typ) & (d["Datei_Datum"] == pd.Timestamp(day))]
    assert not d.empty, (typ, day)
    return int(d.sort_values(["Import_Zeit", "Datei_ID"]).iloc[-1]["Datei_ID"])


def plain_row(frames, table: str, fids) -> dict:
    """A clean, uncancelled row of ``table`` in one of the files ``fids`` whose
    transaction number occurs once in the table."""
    t = frames[table]
    storn = t["Remark"].astype("string").str.lower().str.contains("storn").fillna(False)
    once = t.groupby("Transaction_Number")["Transaction_Number"].transform("size") == 1
    ok = t[t["Datei_ID"].isin(list(fids)) & ~storn & once & t["Remark"].notna()]
    assert not ok.empty, (table, fids)
    return ok.iloc[0].to_dict()


def inject(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], Counter]:
    """The hostile world: clean frames + bad rows; returns it and the expected counts."""
    f = dict(frames)
    u, later, b = file_id(f, "U", DAY), file_id(f, "U", LATER), file_id(f, "B", DAY)
    depot = str(f["cd_Saldo"].loc[f["cd_Saldo"]["Datei_ID"] == b, "Depot_Number"].iloc[0])
    day = pd.Timestamp(DAY)
    expected: Counter = Counter()

    def order(reason, n=1, **kw):
        row = {"Datei_ID": u, "Transaction_Number": f"HX-O-{sum(expected.values()):04d}",
               "Depot_Number": depot, "Order_Date": day, "OrderType": "Purchase", "ISIN": ISIN,
               "Units": 10.0, "Amount_EUR": 2500.0, "Remark": None}
        row.update(kw)
        orders.append(row)
        expected[("cd_Order", reason)] += n

    def booking(reason, n=1, **kw):
        row = {"Datei_ID": u, "Transaction_Number": f"HX-B-{sum(expected.values()):04d}",
               "Depot_Number": depot, "Booking_Date": day, "Booking_Type": "Deposit",
               "Amount_EUR": 2500.0, "Remark": None}
        row.update(kw)
        bookings.append(row)
        expected[("cd_Buchung", reason)] += n

    orders: list[dict] = []
    bookings: list[dict] = []
    order("null_key", Transaction_Number=None)
    order("null_key", Depot_Number=None)
    order("null_key", Depot_Number="   ")
    order("null_date", Order_Date=None)
    order("unknown_type", OrderType="Tausch")
    order("unknown_type", OrderType=None)
    order("bad_isin", ISIN="XX12345")
    order("bad_isin", ISIN="DE000519000X")
    order("null_amount", Amount_EUR=None)
    order("null_amount", Units=None)
    order("negative_amount", Amount_EUR=-2500.0)
    order("absurd_amount", Amount_EUR=99_000_000.0)
    order("future_date", Order_Date=day + pd.Timedelta(days=400))
    order("future_date", Order_Date=pd.Timestamp("2099-12-31"))
    order("stale_date", Order_Date=day - pd.Timedelta(days=400))
    order("stale_date", Order_Date=pd.Timestamp("1900-01-01"))
    order("conflicting_duplicate", Transaction_Number="HX-O-CONFLICT")
    order("conflicting_duplicate", Transaction_Number="HX-O-CONFLICT", Amount_EUR=2600.0)
    order("wrong_file_type", Datei_ID=b)
    order("unknown_file", Datei_ID=99_999)
    d = f["cd_Datei"]
    days_before = d.loc[(d["Datei_Typ"] == "U") & d["Datei_Datum"].between(
        pd.Timestamp(DAY - timedelta(days=10)), pd.Timestamp(DAY - timedelta(days=1))), "Datei_Datum"]
    earlier = [file_id(f, "U", x.date()) for x in sorted(set(days_before))]
    orders.append(plain_row(f, "cd_Order", [u]))                       # exact copy in the same file
    expected[("cd_Order", "duplicate_row")] += 1
    orders.append({**plain_row(f, "cd_Order", earlier),
                   "Datei_ID": later})             # the same transaction again, a week later
    expected[("cd_Order", "repeated_transaction")] += 1

    booking("null_key", Transaction_Number=None)
    booking("null_date", Booking_Date=None)
    booking("unknown_type", Booking_Type="Bonus")
    booking("null_amount", Amount_EUR=None)
    booking("absurd_amount", Amount_EUR=-20_000_000.0)
    booking("future_date", Booking_Date=day + pd.Timedelta(days=30))
    booking("stale_date", Booking_Date=pd.Timestamp("1990-01-01"))
    booking("conflicting_duplicate", Transaction_Number="HX-B-CONFLICT")
    booking("conflicting_duplicate", Transaction_Number="HX-B-CONFLICT", Amount_EUR=-2500.0)
    bookings.append(plain_row(f, "cd_Buchung", [u]))
    expected[("cd_Buchung", "duplicate_row")] += 1
    bookings.append({**plain_row(f, "cd_Buchung", earlier),
                     "Datei_ID": later})
    expected[("cd_Buchung", "repeated_transaction")] += 1

    # saldo: bad rows only for depots without a valid saldo row (the universe stays as is)
    saldo = [
        {"Datei_ID": b, "Depot_Number": None, "Cash_EUR": 100.0},
        {"Datei_ID": b, "Depot_Number": "GHOST01", "Cash_EUR": None},
        {"Datei_ID": b, "Depot_Number": "GHOST02", "Cash_EUR": 2e10},
        {"Datei_ID": b, "Depot_Number": "GHOST03", "Cash_EUR": 10.0},
        {"Datei_ID": b, "Depot_Number": "GHOST03", "Cash_EUR": 20.0},
        {"Datei_ID": u, "Depot_Number": "GHOST04", "Cash_EUR": 10.0},
    ]
    saldo.append(f["cd_Saldo"][f["cd_Saldo"]["Datei_ID"] == b].iloc[1].to_dict())
    expected.update({("cd_Saldo", "null_key"): 1, ("cd_Saldo", "null_amount"): 1,
                     ("cd_Saldo", "absurd_amount"): 1, ("cd_Saldo", "conflicting_duplicate"): 2,
                     ("cd_Saldo", "wrong_file_type"): 1, ("cd_Saldo", "duplicate_row"): 1})
    pos = dict(Datei_ID=b, Depot_Number=depot, ISIN=ISIN, Units=5.0, Market_Value_EUR=500.0)
    bestand = [
        {**pos, "ISIN": None}, {**pos, "Depot_Number": None}, {**pos, "ISIN": "DE-0005190003"},
        {**pos, "Units": None}, {**pos, "Market_Value_EUR": None}, {**pos, "Units": -5.0},
        {**pos, "Market_Value_EUR": 5e10},
        f["cd_Bestand"][f["cd_Bestand"]["Datei_ID"] == b].iloc[2].to_dict(),
    ]
    expected.update({("cd_Bestand", "null_key"): 2, ("cd_Bestand", "bad_isin"): 1,
                     ("cd_Bestand", "null_amount"): 2, ("cd_Bestand", "negative_amount"): 1,
                     ("cd_Bestand", "absurd_amount"): 1, ("cd_Bestand", "duplicate_row"): 1})

    # files: an empty U file on a Saturday; cd_Datei rows that hold no rows at all: a
    # re-delivery superseded by the real one, a file of unknown type, a file without a date
    d = f["cd_Datei"]
    real_b = d[d["Datei_ID"] == b].iloc[0]
    files = [
        {"Datei_ID": 9001, "Datei_Typ": "U", "Datei_Datum": pd.Timestamp(EMPTY_U_DAY),
         "Import_Zeit": pd.Timestamp(EMPTY_U_DAY) + pd.Timedelta(hours=27), "Datei_Name": "FA_U_empty.csv"},
        {"Datei_ID": 9002, "Datei_Typ": "B", "Datei_Datum": real_b["Datei_Datum"],
         "Import_Zeit": real_b["Import_Zeit"] - pd.Timedelta(hours=1), "Datei_Name": "FA_B_early_empty.csv"},
        {"Datei_ID": 9003, "Datei_Typ": "X", "Datei_Datum": day,
         "Import_Zeit": day + pd.Timedelta(hours=30), "Datei_Name": "FA_X.csv"},
        {"Datei_ID": 9004, "Datei_Typ": "U", "Datei_Datum": None,
         "Import_Zeit": day + pd.Timedelta(hours=31), "Datei_Name": "FA_U_nodate.csv"},
    ]
    expected[("cd_Datei", "bad_file")] += 2

    add = {"cd_Order": orders, "cd_Buchung": bookings, "cd_Saldo": saldo, "cd_Bestand": bestand,
           "cd_Datei": files}
    for table, rows in add.items():
        f[table] = pd.concat([f[table], pd.DataFrame(rows, columns=f[table].columns)],
                             ignore_index=True)
    return f, expected


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    clean = without_b_gap(_plain(build_frames(70, DAYS, 23, END, TARGET, 1000.0, bad_rows=False)))
    hostile, expected = inject(clean)
    out = {}
    for name, frames in (("clean", clean), ("hostile", hostile)):
        home = root / name
        home.mkdir()
        write_source_db(home / "src.duckdb", frames)
        proc = run(home, home / "src.duckdb", "backfill", "--start-date", START.isoformat(),
                   "--end-date", END.isoformat())
        out[name] = (home, proc)
    return out, expected


def fetch(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "fa.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_both_runs_complete(worlds):
    out, _ = worlds
    for name, (home, proc) in out.items():
        assert proc.returncode == 0, (name, proc.stderr[-3000:])


def test_data_quality_counts_each_injected_class_exactly(worlds):
    out, expected = worlds
    sql = ("SELECT Source_Table, Reason, sum(Row_Count) FROM dbo.FA_DATA_QUALITY "
           "WHERE Reason <> 'superseded_file' GROUP BY ALL")
    clean = Counter({(t, r): int(n) for t, r, n in fetch(out["clean"][0], sql)})
    hostile = Counter({(t, r): int(n) for t, r, n in fetch(out["hostile"][0], sql)})
    assert hostile - clean == expected
    assert not clean - hostile  # nothing counted in the clean world went away
    classes = {r for _, r in expected}
    assert classes >= {"null_key", "null_date", "unknown_type", "bad_isin", "null_amount",
                       "negative_amount", "absurd_amount", "future_date", "stale_date",
                       "duplicate_row", "conflicting_duplicate", "repeated_transaction",
                       "unknown_file", "wrong_file_type", "bad_file"}


def test_superseded_files_count_only_rows(worlds):
    """The empty superseded re-delivery adds no superseded_file rows (it has none)."""
    out, _ = worlds
    sql = ("SELECT Source_Table, sum(Row_Count) FROM dbo.FA_DATA_QUALITY "
           "WHERE Reason = 'superseded_file' GROUP BY ALL ORDER BY ALL")
    assert fetch(out["hostile"][0], sql) == fetch(out["clean"][0], sql)


@pytest.mark.parametrize("table", ["CD_FA_AGG_BUY_DEMO", "CD_FA_LABELS_DEMO"])
def test_aggregates_and_labels_equal_the_clean_world(worlds, table):
    out, _ = worlds
    clean = fetch(out["clean"][0], f"SELECT * FROM dbo.{table} ORDER BY ALL")
    hostile = fetch(out["hostile"][0], f"SELECT * FROM dbo.{table} ORDER BY ALL")
    assert len(clean) > 1000
    assert hostile == clean


def test_the_b_gap_is_carried_forward(worlds):
    """Days in the gap use the last B file before it (same holdings every day of the gap)."""
    out, _ = worlds
    rows = fetch(out["hostile"][0], (
        "SELECT count(DISTINCT (Cash, Portfolio_Value, Pos_Count)), count(DISTINCT Score_Date) "
        "FROM dbo.CD_FA_AGG_BUY_DEMO WHERE Score_Date BETWEEN DATE '2025-06-16' AND DATE '2025-07-06' "
        "GROUP BY Depot_Number"))
    assert rows and all(n_states == 1 and n_days == 21 for n_states, n_days in rows)
