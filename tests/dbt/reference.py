"""A second, independent implementation of docs/rules.md in plain pandas (no SQL).

Written from docs/rules.md (§0.2–§9) only, without reading the dbt models, so the
two can check each other row for row (tests/dbt/test_reference_agreement.py). Clear over
fast: everything is computed per Score_Date with ordinary pandas filters; it is meant for
small worlds (a few hundred depots x a few hundred days).

Money is handled as integer cents and units as integer micro-units, so every threshold
comparison (999.99 vs 1000.00, 10,000,000.00 vs 10,000,000.01) is exact.

Entry points:
    read_source(path) -> {table: DataFrame}       the five source tables of a DuckDB file
    build(frames, fund, start, end) -> Tables     agg, labels, data_quality (+ horizon)

Decisions the rules leave open (the report lists them; change them here only with a
reason from docs/rules.md):
  * A data row whose Datei_ID names a cd_Datei row that is a `bad_file` is left out and
    counted as `bad_file` under its own Source_Table and that file's Datei_Datum.
  * File-level classes of a data row, first that applies: unknown_file, bad_file,
    wrong_file_type, superseded_file; only then cancellation rows and rules §4 classes.
    (wrong_file_type before superseded_file is what the dbt models do; the rules do not
    say, both are defensible; tests/dbt/test_rules_edges.py pins it.)
  * `superseded_file` is counted per data row (cd_Order, cd_Buchung, cd_Saldo,
    cd_Bestand), not per cd_Datei row. `bad_file` is counted per cd_Datei row.
  * A NULL Import_Zeit sorts as the oldest delivery.
  * "identical in every column" compares the normalised values (trimmed keys, upper ISIN,
    canonical types) and the Remark trimmed and lower-cased, blank = NULL (rules §9);
    NULLs compare equal.
  * duplicate_row first (each further exact copy), then conflicting_duplicate over the
    remaining distinct rows of a key (all of them), then repeated_transaction over what
    survived (the earliest surviving delivery is the transaction).
  * FA_DATA_QUALITY covers every file of the source, whatever the Score_Date range.
  * Score_Dates are every calendar day of [start, end].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
ORDER_TYPES = ("Purchase", "Sale", "SavingsPlan", "TransferIn", "TransferOut")
BOOKING_TYPES = ("Deposit", "Withdrawal", "Fee", "Dividend", "Settlement", "Interest", "Tax")
DATA_TABLES = ("cd_Order", "cd_Buchung", "cd_Saldo", "cd_Bestand")
# Which file type each data table belongs in.
TABLE_FILE_TYPE = {"cd_Order": "U", "cd_Buchung": "U", "cd_Saldo": "B", "cd_Bestand": "B"}

MAX_ORDER_CENTS = 10_000_000 * 100          # absurd above 10,000,000 EUR
MAX_BALANCE_CENTS = 10_000_000_000 * 100    # absurd above 10,000,000,000 EUR
STALE_DAYS = 366

AGG_COLUMNS = [
    "Score_Date", "Depot_Number", "Buys_7d", "Buys_30d", "Last_Buy_Days", "Avg_Ticket_90d",
    "Cash", "Portfolio_Value", "Cash_Ratio", "Deposit_30d_eff", "Turnover_30d", "Pos_Count",
    "NewRefs_90d", "CancelRate_30d", "Pre_First_Target",
]
# docs/rules.md §7a: features v2 from orders and bookings, after AGG_COLUMNS.
TRANSACTION_V2_COLUMNS = [
    "Deposit_7d", "Deposit_14d", "Deposit_90d", "Days_Since_Deposit", "Deposit_Decay",
    "Withdrawal_30d", "Sales_Proceeds_30d", "Orders_90d", "Orders_365d", "Buys_90d",
    "Buys_365d", "Sales_90d", "Sales_365d", "Distinct_Isins_Bought_90d",
    "Distinct_Isins_Bought_365d", "Target_SavingsPlan_365d", "Target_TransferIn_365d",
    "Days_Since_Target_SavingsPlan",
]
DQ_COLUMNS = ["Datei_Datum", "Source_Table", "Reason", "Row_Count"]
# docs/rules.md §7b, after the columns above (and after other v2 families) in the table.
HOLDINGS_V2_COLUMNS = [
    "Tenure_Days", "Cash_Change_7d", "Cash_Change_30d", "Portfolio_Change_7d",
    "Portfolio_Change_30d", "Max_Position_Share", "House_Positions", "House_Value",
    "House_Buys_365d", "Cooc_Score",
]
COOC_PRIOR = 20          # m of rules §7b: the prior strength of the smoothed rate, in depots


@dataclass(frozen=True)
class Fund:
    """The part of ml.config.TargetFund the rules need (duck-typed: either works)."""

    code: str
    isins: tuple[str, ...]
    min_ticket_eur: float
    horizons: tuple[int, ...]


class Tables(NamedTuple):
    agg: pd.DataFrame       # AGG_COLUMNS, one row per (Score_Date, Depot_Number)
    labels: pd.DataFrame    # Score_Date, Depot_Number, first_buy_date, label_T{h}...
    dq: pd.DataFrame        # DQ_COLUMNS
    horizon: date | None    # data horizon: latest counting U file's Datei_Datum


# ----------------------------------------------------------------------------- reading

def read_source(path: str | Path) -> dict[str, pd.DataFrame]:
    """The five source tables of a source DuckDB file (schema dbo), as DataFrames."""
    import duckdb

    from ml.source import SOURCE_TABLES

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for t in ("cd_Datei",) + DATA_TABLES:
            df = con.sql(f"SELECT * FROM dbo.{t}").df()
            # Column names compare case-insensitively (docs/rules.md §0.2): use the contract spelling.
            canon = {c.lower(): c for c in SOURCE_TABLES[t]}
            out[t] = df.rename(columns={c: canon.get(c.lower(), c) for c in df.columns})
        return out
    finally:
        con.close()


# ----------------------------------------------------------------------- value helpers

def _complete(df: pd.DataFrame | None, table: str) -> pd.DataFrame:
    """The frame with every contract column (missing ones NULL), fresh index."""
    from ml.source import SOURCE_TABLES

    cols = list(SOURCE_TABLES[table])
    if df is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    out = df.reset_index(drop=True).copy()
    for c in cols:
        if c not in out.columns:
            out[c] = None
    return out[cols]


def _text(series: pd.Series) -> pd.Series:
    """Strings as Python objects, None for NULL (independent of pandas' string dtype)."""
    return pd.Series([None if _isnull(v) else str(v) for v in series],
                     index=series.index, dtype=object)


def _isnull(v: Any) -> bool:
    return v is None or (not isinstance(v, str) and bool(pd.isna(v)))


def _omap(series: pd.Series, fn: Any) -> pd.Series:
    """Element-wise fn over a text column, keeping None as None (object dtype)."""
    return pd.Series([fn(v) for v in _text(series)], index=series.index, dtype=object)


def _trim(series: pd.Series) -> pd.Series:
    """Trimmed text; NULL stays NULL (blank is judged by _blank)."""
    return _omap(series, lambda v: None if v is None else v.strip())


def _remark(series: pd.Series) -> pd.Series:
    """rules §9: the Remark as compared: stripped of blanks, lower-case, blank -> None."""
    return _omap(series, lambda v: None if v is None or not v.strip(" ") else v.strip(" ").lower())


def _upper_trim(series: pd.Series) -> pd.Series:
    return _omap(series, lambda v: None if v is None else v.strip().upper())


def _blank(series: pd.Series) -> pd.Series:
    return pd.Series([_isnull(v) or v == "" for v in series], index=series.index, dtype=bool)


def _scaled(series: pd.Series, scale: int) -> pd.Series:
    """Decimal column -> nullable Int64 in units of 10**-scale (exact for DECIMAL(18,s))."""
    def conv(v: Any) -> Any:
        if _isnull(v):
            return pd.NA
        return int(round(float(v) * 10 ** scale)) if not isinstance(v, str) else int(
            round(float(v.strip()) * 10 ** scale))
    return pd.Series([conv(v) for v in series], index=series.index, dtype="Int64")


def _dates(series: pd.Series) -> pd.Series:
    """Date column -> datetime64 (NaT for NULL)."""
    return pd.to_datetime(series, errors="coerce").astype("datetime64[ns]").dt.normalize()


def _canonical(series: pd.Series, known: Sequence[str]) -> pd.Series:
    """Case-insensitive (and trimmed) match against the known list; None if unknown."""
    lookup = {k.lower(): k for k in known}
    return _omap(series, lambda v: None if v is None else lookup.get(v.strip().lower()))


def _is_cancellation(series: pd.Series) -> pd.Series:
    """rules §3: lower(Remark) contains 'storn'."""
    return pd.Series([v is not None and "storn" in v.lower() for v in _text(series)],
                     index=series.index, dtype=bool)


# ------------------------------------------------------------------------------ files

def classify_files(datei: pd.DataFrame) -> pd.DataFrame:
    """cd_Datei -> one row per file row: Datei_ID, typ, datum, status.

    status: 'counting' | 'superseded' | 'bad' (rules §1).
    """
    f = pd.DataFrame({
        "Datei_ID": pd.array([pd.NA if _isnull(v) else int(v) for v in datei["Datei_ID"]],
                             dtype="Int64"),
        "typ": _upper_trim(datei["Datei_Typ"]),
        "datum": _dates(datei["Datei_Datum"]),
        "import": pd.to_datetime(datei["Import_Zeit"], errors="coerce"),
    })
    bad = f["Datei_ID"].isna() | f["datum"].isna() | ~f["typ"].isin(["U", "B"])
    f["status"] = np.where(bad, "bad", "superseded")
    good = f[~bad].copy()
    # Latest Import_Zeit wins (NULL = oldest), tie: highest Datei_ID.
    good["no_import"] = good["import"].isna()
    good = good.sort_values(["typ", "datum", "no_import", "import", "Datei_ID"],
                            ascending=[True, True, True, False, False])
    winners = good.groupby(["typ", "datum"], sort=False).head(1).index
    f.loc[winners, "status"] = "counting"
    return f[["Datei_ID", "typ", "datum", "status"]]


def data_horizon(files: pd.DataFrame) -> pd.Timestamp | None:
    """Latest Datei_Datum of a counting U file."""
    u = files[(files["status"] == "counting") & (files["typ"] == "U")]
    return None if u.empty else u["datum"].max()


# ---------------------------------------------------------------------- normalisation

def _attach_files(rows: pd.DataFrame, files: pd.DataFrame) -> pd.DataFrame:
    """Add file_typ, file_datum, file_status ('unknown' when the Datei_ID is not in cd_Datei)."""
    ids = pd.array([pd.NA if _isnull(v) else int(v) for v in rows["Datei_ID"]], dtype="Int64")
    by_id = files.dropna(subset=["Datei_ID"]).drop_duplicates("Datei_ID").set_index("Datei_ID")
    out = rows.copy()
    out["Datei_ID"] = ids
    known = pd.Series([(not pd.isna(i)) and int(i) in by_id.index for i in ids], index=rows.index)
    out["file_status"] = [by_id.at[int(i), "status"] if k else "unknown" for i, k in zip(ids, known)]
    out["file_typ"] = [by_id.at[int(i), "typ"] if k else None for i, k in zip(ids, known)]
    out["file_datum"] = pd.Series(
        [by_id.at[int(i), "datum"] if k else pd.NaT for i, k in zip(ids, known)],
        index=rows.index, dtype="datetime64[ns]")
    return out


def _file_reason(rows: pd.DataFrame, table: str) -> pd.Series:
    """File-level class of each row, None when its file counts and has the right type."""
    want = TABLE_FILE_TYPE[table]

    def one(status: str, typ: Any) -> Any:
        if status == "unknown":
            return "unknown_file"
        if status == "bad":
            return "bad_file"
        if typ != want:
            return "wrong_file_type"
        if status == "superseded":
            return "superseded_file"
        return None
    return pd.Series([one(s, t) for s, t in zip(rows["file_status"], rows["file_typ"])],
                     index=rows.index, dtype=object)


def normalise_orders(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "tn": _trim(raw["Transaction_Number"]),
        "depot": _trim(raw["Depot_Number"]),
        "date": _dates(raw["Order_Date"]),
        "type_raw": _text(raw["OrderType"]),
        "type": _canonical(raw["OrderType"], ORDER_TYPES),
        "isin": _upper_trim(raw["ISIN"]),
        "units": _scaled(raw["Units"], 6),
        "amount": _scaled(raw["Amount_EUR"], 2),
        "remark": _remark(raw["Remark"]),
        "cancel": _is_cancellation(raw["Remark"]),
    }, index=raw.index)


def normalise_bookings(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "tn": _trim(raw["Transaction_Number"]),
        "depot": _trim(raw["Depot_Number"]),
        "date": _dates(raw["Booking_Date"]),
        "type_raw": _text(raw["Booking_Type"]),
        "type": _canonical(raw["Booking_Type"], BOOKING_TYPES),
        "amount": _scaled(raw["Amount_EUR"], 2),
        "remark": _remark(raw["Remark"]),
        "cancel": _is_cancellation(raw["Remark"]),
    }, index=raw.index)


def normalise_saldo(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "depot": _trim(raw["Depot_Number"]),
        "cash": _scaled(raw["Cash_EUR"], 2),
    }, index=raw.index)


def normalise_bestand(raw: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "depot": _trim(raw["Depot_Number"]),
        "isin": _upper_trim(raw["ISIN"]),
        "units": _scaled(raw["Units"], 6),
        "mv": _scaled(raw["Market_Value_EUR"], 2),
    }, index=raw.index)


# ------------------------------------------------------------------------- bad rows

def _valid_isin(v: Any) -> bool:
    return v is not None and bool(ISIN_RE.match(v))


def _lt(a: Any, b: Any) -> bool:
    """a < b with NULL -> False."""
    return not (pd.isna(a) or pd.isna(b)) and a < b


def _date_reasons(r: Mapping[str, Any]) -> Any:
    if pd.isna(r["date"]):
        return None
    if r["date"] > r["file_datum"]:
        return "future_date"
    if r["date"] < r["file_datum"] - pd.Timedelta(days=STALE_DAYS):
        return "stale_date"
    return None


def order_reason(r: Mapping[str, Any]) -> Any:
    """First class of rules §4 for a non-cancellation cd_Order row, None if valid."""
    if r["tn"] in (None, "") or r["depot"] in (None, ""):
        return "null_key"
    if pd.isna(r["date"]):
        return "null_date"
    if r["type"] is None:
        return "unknown_type"
    if not _valid_isin(r["isin"]):
        return "bad_isin"
    if pd.isna(r["amount"]) or pd.isna(r["units"]):
        return "null_amount"
    if r["amount"] < 0:
        return "negative_amount"
    if r["amount"] > MAX_ORDER_CENTS:
        return "absurd_amount"
    return _date_reasons(r)


def booking_reason(r: Mapping[str, Any]) -> Any:
    if r["tn"] in (None, "") or r["depot"] in (None, ""):
        return "null_key"
    if pd.isna(r["date"]):
        return "null_date"
    if r["type"] is None:
        return "unknown_type"
    if pd.isna(r["amount"]):
        return "null_amount"
    if abs(r["amount"]) > MAX_ORDER_CENTS:
        return "absurd_amount"
    return _date_reasons(r)


def saldo_reason(r: Mapping[str, Any]) -> Any:
    if r["depot"] in (None, ""):
        return "null_key"
    if pd.isna(r["cash"]):
        return "null_amount"
    if abs(r["cash"]) > MAX_BALANCE_CENTS:
        return "absurd_amount"
    return None


def bestand_reason(r: Mapping[str, Any]) -> Any:
    if r["depot"] in (None, "") or r["isin"] in (None, ""):
        return "null_key"
    if not _valid_isin(r["isin"]):
        return "bad_isin"
    if pd.isna(r["units"]) or pd.isna(r["mv"]):
        return "null_amount"
    if r["units"] < 0:
        return "negative_amount"
    if abs(r["mv"]) > MAX_BALANCE_CENTS:
        return "absurd_amount"
    return None


# Per table: normaliser, row classifier, duplicate key, all compared columns.
TABLE_RULES = {
    "cd_Order": (normalise_orders, order_reason, ["tn"],
                 ["tn", "depot", "date", "type", "isin", "units", "amount", "remark"]),
    "cd_Buchung": (normalise_bookings, booking_reason, ["tn"],
                   ["tn", "depot", "date", "type", "amount", "remark"]),
    "cd_Saldo": (normalise_saldo, saldo_reason, ["depot"], ["depot", "cash"]),
    "cd_Bestand": (normalise_bestand, bestand_reason, ["depot", "isin"],
                   ["depot", "isin", "units", "mv"]),
}


def _hashable(v: Any) -> Any:
    """NULLs compare equal inside a duplicate check."""
    return None if (v is None or (not isinstance(v, str) and pd.isna(v))) else v


def classify_rows(raw: pd.DataFrame, table: str, files: pd.DataFrame) -> pd.DataFrame:
    """Normalised rows of one data table with file info, `reason` and `is_cancel`.

    reason None = valid (rules §4); is_cancel = a cancellation row of a counting file of
    the right type that carries a Transaction_Number (it cancels, it is not judged).
    """
    normalise, judge, key, cols = TABLE_RULES[table]
    rows = _attach_files(raw[["Datei_ID"]], files)
    norm = normalise(raw)
    rows = pd.concat([rows, norm], axis=1)
    rows["reason"] = _file_reason(rows, table)
    rows["is_cancel"] = False
    open_ = rows["reason"].isna()
    if "cancel" in rows:
        canc = open_ & rows["cancel"]
        no_tn = canc & _blank(rows["tn"])
        rows.loc[no_tn, "reason"] = "null_key"
        rows.loc[canc & ~no_tn, "is_cancel"] = True
        open_ = open_ & ~canc
    rows.loc[open_, "reason"] = [judge(r) for r in rows.loc[open_].to_dict("records")]

    # Duplicates and conflicts within one file, among valid rows.
    valid = rows["reason"].isna() & ~rows["is_cancel"]
    v = rows[valid]
    sig = [tuple(_hashable(x) for x in t) for t in v[cols].itertuples(index=False)]
    keys = [tuple(_hashable(x) for x in t) for t in v[key].itertuples(index=False)]
    seen: set = set()
    distinct_per_key: dict = {}
    for idx, fid, s, k in zip(v.index, v["Datei_ID"], sig, keys):
        if (fid, s) in seen:
            rows.at[idx, "reason"] = "duplicate_row"
            continue
        seen.add((fid, s))
        distinct_per_key.setdefault((fid, k), []).append(idx)
    for idxs in distinct_per_key.values():
        if len(idxs) > 1:
            rows.loc[idxs, "reason"] = "conflicting_duplicate"

    # Repeated transactions: the earliest surviving delivery of a number is the transaction.
    if table in ("cd_Order", "cd_Buchung"):
        valid = rows["reason"].isna() & ~rows["is_cancel"]
        v = rows[valid].sort_values(["file_datum", "Datei_ID"], kind="stable")
        later = v.index[v.duplicated(subset=["tn"], keep="first")]
        rows.loc[later, "reason"] = "repeated_transaction"
    return rows


def quality_counts(files: pd.DataFrame, classified: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """FA_DATA_QUALITY: (Datei_Datum, Source_Table, Reason) -> Row_Count."""
    parts = []
    bad = files[files["status"] == "bad"]
    if not bad.empty:
        parts.append(pd.DataFrame({"Datei_Datum": bad["datum"], "Source_Table": "cd_Datei",
                                   "Reason": "bad_file"}))
    for table, rows in classified.items():
        r = rows[rows["reason"].notna()]
        parts.append(pd.DataFrame({"Datei_Datum": r["file_datum"], "Source_Table": table,
                                   "Reason": r["reason"]}))
    if not parts:
        return pd.DataFrame(columns=DQ_COLUMNS)
    allr = pd.concat(parts, ignore_index=True)
    allr["Datei_Datum"] = allr["Datei_Datum"].astype("datetime64[ns]")
    out = (allr.groupby(["Datei_Datum", "Source_Table", "Reason"], dropna=False)
           .size().reset_index(name="Row_Count"))
    out["Datei_Datum"] = [None if pd.isna(d) else d.date() for d in out["Datei_Datum"]]
    out["Row_Count"] = out["Row_Count"].astype("int64")
    return out[DQ_COLUMNS].sort_values(["Datei_Datum", "Source_Table", "Reason"],
                                       key=_null_first_key).reset_index(drop=True)


def _null_first_key(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if v is None else str(v))


# ---------------------------------------------------------------------- transactions

def transactions(rows: pd.DataFrame) -> pd.DataFrame:
    """Valid originals with known_from and cancelled_from (rules §3, §5)."""
    canc = rows[rows["is_cancel"]]
    cancelled_from = canc.groupby("tn")["file_datum"].min()
    t = rows[rows["reason"].isna() & ~rows["is_cancel"]].copy()
    t["known_from"] = t["file_datum"]
    t["cancelled_from"] = pd.Series([cancelled_from.get(tn, pd.NaT) for tn in t["tn"]],
                                    index=t.index, dtype="datetime64[ns]")
    return t


# -------------------------------------------------------------------------- features

def _in_window(dates: pd.Series, d: pd.Timestamp, n: int) -> pd.Series:
    """[D-n+1, D]."""
    return (dates >= d - pd.Timedelta(days=n - 1)) & (dates <= d)


def _active(t: pd.DataFrame, d: pd.Timestamp) -> pd.DataFrame:
    """Known by D and not cancelled as of D."""
    cancelled = t["cancelled_from"].notna() & (t["cancelled_from"] <= d)
    return t[(t["known_from"] <= d) & ~cancelled]


def _effective(orders: pd.DataFrame, min_cents: int) -> pd.Series:
    return (orders["type"] == "Purchase") & (orders["amount"] >= min_cents)


DECAY_HALF_LIFE_DAYS = 10     # rules §7a Deposit_Decay


def transaction_features_v2(d: pd.Timestamp, act: pd.DataFrame, eff: pd.DataFrame,
                            dep: pd.DataFrame, isins: set[str]) -> dict[str, dict[str, Any]]:
    """rules §7a for one Score_Date: {depot: {column: value}} for depots with any input.

    act: orders active as of D; eff: their effective buys; dep: bookings active as of D.
    Depots missing from the result take :func:`transaction_v2_empty`.
    """
    out: dict[str, dict[str, Any]] = {}

    def put(col: str, values: Mapping[str, Any]) -> None:
        for depot, v in values.items():
            out.setdefault(depot, transaction_v2_empty())[col] = v

    deposits = dep[dep["type"] == "Deposit"]
    for n in (7, 14, 90):
        w = deposits[_in_window(deposits["date"], d, n)]
        put(f"Deposit_{n}d", {k: int(v) / 100.0 for k, v in w.groupby("depot")["amount"].sum().items()})
    put("Days_Since_Deposit", {k: (d - v).days for k, v in deposits.groupby("depot")["date"].max().items()})
    w90 = deposits[_in_window(deposits["date"], d, 90)]
    decay: dict[str, float] = {}
    for depot, cents, day in zip(w90["depot"], w90["amount"], w90["date"]):
        decay[depot] = decay.get(depot, 0.0) + int(cents) / 100.0 * 0.5 ** (
            (d - day).days / DECAY_HALF_LIFE_DAYS)
    put("Deposit_Decay", decay)
    wd = dep[(dep["type"] == "Withdrawal") & _in_window(dep["date"], d, 30)]
    put("Withdrawal_30d", {k: sum(abs(int(c)) for c in g) / 100.0
                           for k, g in wd.groupby("depot")["amount"]})
    sales = act[act["type"] == "Sale"]
    s30 = sales[_in_window(sales["date"], d, 30)]
    put("Sales_Proceeds_30d", {k: int(v) / 100.0 for k, v in s30.groupby("depot")["amount"].sum().items()})
    target_sp = act[(act["type"] == "SavingsPlan") & act["isin"].isin(isins)]
    target_ti = act[(act["type"] == "TransferIn") & act["isin"].isin(isins)]
    for n in (90, 365):
        put(f"Orders_{n}d", act[_in_window(act["date"], d, n)].groupby("depot").size().to_dict())
        put(f"Buys_{n}d", eff[_in_window(eff["date"], d, n)].groupby("depot").size().to_dict())
        put(f"Sales_{n}d", sales[_in_window(sales["date"], d, n)].groupby("depot").size().to_dict())
        put(f"Distinct_Isins_Bought_{n}d",
            eff[_in_window(eff["date"], d, n)].groupby("depot")["isin"].nunique().to_dict())
    put("Target_SavingsPlan_365d",
        target_sp[_in_window(target_sp["date"], d, 365)].groupby("depot").size().to_dict())
    put("Target_TransferIn_365d",
        target_ti[_in_window(target_ti["date"], d, 365)].groupby("depot").size().to_dict())
    put("Days_Since_Target_SavingsPlan",
        {k: (d - v).days for k, v in target_sp.groupby("depot")["date"].max().items()})
    return out


def transaction_v2_empty() -> dict[str, Any]:
    """rules §7a on an empty history: counts and sums 0, recencies NULL."""
    return {c: (None if c.startswith("Days_Since") else 0.0 if c in (
        "Deposit_7d", "Deposit_14d", "Deposit_90d", "Deposit_Decay", "Withdrawal_30d",
        "Sales_Proceeds_30d") else 0) for c in TRANSACTION_V2_COLUMNS}


def features_for_day(d: pd.Timestamp, orders: pd.DataFrame, bookings: pd.DataFrame,
                     saldo: pd.DataFrame, bestand: pd.DataFrame, b_files: pd.DataFrame,
                     isins: set[str], min_cents: int) -> pd.DataFrame:
    """The aggregate rows of one Score_Date (rules §6, §7); empty if no B file <= D."""
    earlier = b_files[b_files["datum"] <= d]
    if earlier.empty:
        return pd.DataFrame(columns=AGG_COLUMNS + TRANSACTION_V2_COLUMNS)
    asof = earlier.sort_values("datum").iloc[-1]["Datei_ID"]
    sal = saldo[saldo["Datei_ID"] == asof].set_index("depot")
    pos = bestand[bestand["Datei_ID"] == asof]
    depots = list(sal.index)

    act = _active(orders, d)
    eff = act[_effective(act, min_cents)]
    known = orders[orders["known_from"] <= d]
    dep = _active(bookings, d)

    def count(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("depot").size()

    buys7 = count(eff[_in_window(eff["date"], d, 7)])
    buys30 = count(eff[_in_window(eff["date"], d, 30)])
    last = eff[eff["date"] <= d].groupby("depot")["date"].max()
    e90 = eff[_in_window(eff["date"], d, 90)]
    avg90_sum = e90.groupby("depot")["amount"].sum()
    avg90_n = count(e90)
    pv = pos.groupby("depot")["mv"].sum()
    npos = pos[pos["units"] > 0].groupby("depot").size()
    deps = dep[(dep["type"] == "Deposit") & _in_window(dep["date"], d, 30)]
    dep30 = deps.groupby("depot")["amount"].sum()
    turn = act[act["type"].isin(["Purchase", "Sale"]) & _in_window(act["date"], d, 30)]
    turn30 = turn.groupby("depot")["amount"].sum()
    first_by_isin = eff.groupby(["depot", "isin"])["date"].min().reset_index()
    newrefs = count(first_by_isin[_in_window(first_by_isin["date"], d, 90)])
    k30 = known[_in_window(known["date"], d, 30)]
    k30_all = k30.groupby("depot")["tn"].nunique()
    k30_canc = (k30[k30["cancelled_from"].notna() & (k30["cancelled_from"] <= d)]
                .groupby("depot")["tn"].nunique())
    target = eff[eff["isin"].isin(isins) & (eff["date"] <= d)]
    has_target = set(target["depot"])
    v2 = transaction_features_v2(d, act, eff, dep, isins)

    out = []
    for depot in depots:
        cash = int(sal.at[depot, "cash"])
        pvc = int(pv.get(depot, 0))
        n90 = int(avg90_n.get(depot, 0))
        n30 = int(k30_all.get(depot, 0))
        out.append({
            "Score_Date": d.date(),
            "Depot_Number": depot,
            "Buys_7d": int(buys7.get(depot, 0)),
            "Buys_30d": int(buys30.get(depot, 0)),
            "Last_Buy_Days": (d - last[depot]).days if depot in last.index else None,
            "Avg_Ticket_90d": (int(avg90_sum[depot]) / n90 / 100.0) if n90 else None,
            "Cash": cash / 100.0,
            "Portfolio_Value": pvc / 100.0,
            "Cash_Ratio": (cash / (cash + pvc)) if cash + pvc > 0 else None,
            "Deposit_30d_eff": int(dep30.get(depot, 0)) / 100.0,
            "Turnover_30d": int(turn30.get(depot, 0)) / 100.0,
            "Pos_Count": int(npos.get(depot, 0)),
            "NewRefs_90d": int(newrefs.get(depot, 0)),
            "CancelRate_30d": (int(k30_canc.get(depot, 0)) / n30) if n30 else None,
            "Pre_First_Target": 0 if depot in has_target else 1,
            **v2.get(depot, transaction_v2_empty()),
        })
    return pd.DataFrame(out, columns=AGG_COLUMNS + TRANSACTION_V2_COLUMNS)


# ------------------------------------------------------------- features v2: holdings

def _as_of_file(b_files: pd.DataFrame, day: pd.Timestamp) -> Any:
    """Datei_ID of the counting B file with the latest Datei_Datum <= day, None if none."""
    earlier = b_files[b_files["datum"] <= day]
    return None if earlier.empty else earlier.sort_values("datum").iloc[-1]["Datei_ID"]


def _file_state(saldo: pd.DataFrame, bestand: pd.DataFrame, fid: Any) -> dict[str, tuple]:
    """depot -> (cash cents, portfolio value cents) of the universe of one B file."""
    if fid is None:
        return {}
    sal = saldo[saldo["Datei_ID"] == fid]
    pv = bestand[bestand["Datei_ID"] == fid].groupby("depot")["mv"].sum()
    return {dep: (int(c), int(pv.get(dep, 0))) for dep, c in zip(sal["depot"], sal["cash"])}


def holdings_v2_for_day(d: pd.Timestamp, orders: pd.DataFrame, saldo: pd.DataFrame,
                        bestand: pd.DataFrame, b_files: pd.DataFrame, isins: set[str],
                        house: set[str], min_cents: int) -> pd.DataFrame:
    """rules §7b for the universe of D: one row per depot, HOLDINGS_V2_COLUMNS.

    saldo/bestand: the valid rows (of counting B files) with file_datum; orders: the
    valid originals with known_from/cancelled_from.
    """
    asof = _as_of_file(b_files, d)
    now = _file_state(saldo, bestand, asof)
    ago = {n: _file_state(saldo, bestand, _as_of_file(b_files, d - pd.Timedelta(days=n)))
           for n in (7, 30)}
    known_sal = saldo[saldo["file_datum"] <= d]
    tenure_from = known_sal.groupby("depot")["file_datum"].min()
    pos = bestand[bestand["Datei_ID"] == asof]
    held_now = pos[pos["units"] > 0]

    # Co-occurrence: first holding of each ISIN (and of a saldo row, '-') known by D, the
    # first target purchase F active as of D, buyers who held i before F, holders by D.
    known_pos = bestand[(bestand["file_datum"] <= d) & (bestand["units"] > 0)]
    first_held = pd.concat([
        known_pos.groupby(["depot", "isin"])["file_datum"].min().reset_index(),
        tenure_from.rename("file_datum").reset_index().assign(isin="-"),
    ], ignore_index=True)
    act = _active(orders, d)
    tp = act[_effective(act, min_cents) & act["isin"].isin(isins) & (act["date"] <= d)]
    first_buy = tp.groupby("depot")["date"].min()
    fh = first_held.assign(F=pd.to_datetime(first_held["depot"].map(first_buy.to_dict())))
    buyers = fh[fh["F"].notna() & (fh["file_datum"] < fh["F"])].groupby("isin").size()
    holders = first_held.groupby("isin").size()
    a0, n0 = int(buyers.get("-", 0)), int(holders.get("-", 0))

    def lift(isin: str) -> Any:
        if a0 == 0:
            return None
        p0 = a0 / n0
        r = (int(buyers.get(isin, 0)) + COOC_PRIOR * p0) / (int(holders.get(isin, 0)) + COOC_PRIOR)
        return r / p0

    hb = act[_effective(act, min_cents) & act["isin"].isin(house)
             & _in_window(act["date"], d, 365)].groupby("depot").size()
    out = []
    for depot, (cash, pvc) in now.items():
        mine = pos[pos["depot"] == depot]
        mine_held = held_now[held_now["depot"] == depot]
        lifts = [v for v in (lift(i) for i in mine_held["isin"]) if v is not None]
        row = {
            "Depot_Number": depot,
            "Tenure_Days": (d - tenure_from[depot]).days,
            "Max_Position_Share": (int(mine["mv"].max()) / pvc) if pvc > 0 else None,
            "House_Positions": None, "House_Value": None, "House_Buys_365d": None,
            "Cooc_Score": max(lifts) if lifts else None,
        }
        for n in (7, 30):
            before = ago[n].get(depot)
            row[f"Cash_Change_{n}d"] = None if before is None else (cash - before[0]) / 100.0
            row[f"Portfolio_Change_{n}d"] = None if before is None else (pvc - before[1]) / 100.0
        if house:
            hp = mine_held[mine_held["isin"].isin(house)]
            row.update(House_Positions=len(hp), House_Value=int(hp["mv"].sum()) / 100.0,
                       House_Buys_365d=int(hb.get(depot, 0)))
        out.append(row)
    return pd.DataFrame(out, columns=["Depot_Number"] + HOLDINGS_V2_COLUMNS)


# ------------------------------------------------------------------------------ labels

def labels_for(agg: pd.DataFrame, orders: pd.DataFrame, isins: set[str], min_cents: int,
               horizons: Sequence[int], horizon: pd.Timestamp | None) -> pd.DataFrame:
    """rules §8: one row per aggregate row with Pre_First_Target = 1."""
    never_cancelled = orders[orders["cancelled_from"].isna()]
    tp = never_cancelled[_effective(never_cancelled, min_cents) & never_cancelled["isin"].isin(isins)]
    first = tp.groupby("depot")["date"].min()
    cols = ["Score_Date", "Depot_Number", "first_buy_date"] + [f"label_T{h}" for h in horizons]
    out = []
    for r in agg[agg["Pre_First_Target"] == 1].itertuples(index=False):
        d = pd.Timestamp(r.Score_Date)
        fb = first.get(r.Depot_Number)
        row = {"Score_Date": r.Score_Date, "Depot_Number": r.Depot_Number,
               "first_buy_date": None if fb is None or pd.isna(fb) else fb.date()}
        for h in horizons:
            end = d + pd.Timedelta(days=h)
            if fb is not None and not pd.isna(fb) and d + pd.Timedelta(days=1) <= fb <= end:
                row[f"label_T{h}"] = 1
            elif horizon is not None and end <= horizon:
                row[f"label_T{h}"] = 0
            else:
                row[f"label_T{h}"] = None
        out.append(row)
    return pd.DataFrame(out, columns=cols)


# ------------------------------------------------------------------------------- build

def build(frames: Mapping[str, pd.DataFrame], fund: Any, start: date, end: date) -> Tables:
    """All three output tables for Score_Dates start..end (inclusive) from the source frames.

    ``fund`` has .isins, .min_ticket_eur, .horizons (ml.config.TargetFund or Fund).
    """
    frames = {t: _complete(frames.get(t), t) for t in ("cd_Datei",) + DATA_TABLES}
    files = classify_files(frames["cd_Datei"])
    classified = {t: classify_rows(frames[t], t, files) for t in DATA_TABLES}
    dq = quality_counts(files, classified)
    horizon = data_horizon(files)

    orders = transactions(classified["cd_Order"])
    bookings = transactions(classified["cd_Buchung"])
    valid = {t: classified[t][classified[t]["reason"].isna()] for t in ("cd_Saldo", "cd_Bestand")}
    b_files = files[(files["status"] == "counting") & (files["typ"] == "B")][["Datei_ID", "datum"]]
    isins = set(fund.isins)
    min_cents = int(round(float(fund.min_ticket_eur) * 100))

    house = set(getattr(fund, "house_isins", ()) or ())
    days = []
    d = pd.Timestamp(start)
    while d <= pd.Timestamp(end):
        day = features_for_day(d, orders, bookings, valid["cd_Saldo"],
                               valid["cd_Bestand"], b_files, isins, min_cents)
        if not day.empty:
            v2 = holdings_v2_for_day(d, orders, valid["cd_Saldo"], valid["cd_Bestand"],
                                     b_files, isins, house, min_cents)
            day = day.merge(v2, on="Depot_Number", how="left")
        days.append(day)
        d += pd.Timedelta(days=1)
    days = [x for x in days if not x.empty]
    agg = (pd.concat(days, ignore_index=True) if days
           else pd.DataFrame(columns=AGG_COLUMNS + TRANSACTION_V2_COLUMNS + HOLDINGS_V2_COLUMNS))
    agg = agg.sort_values(["Score_Date", "Depot_Number"]).reset_index(drop=True)
    labels = labels_for(agg, orders, isins, min_cents, fund.horizons, horizon)
    return Tables(agg=agg, labels=labels, dq=dq,
                  horizon=None if horizon is None else horizon.date())


# --------------------------------------------------------------------------- compare

def plain(v: Any) -> Any:
    """A cell as a plain Python value: None for any NULL, date for dates, int/float/str."""
    if v is None or isinstance(v, str):
        return v
    try:
        if pd.isna(v):          # None, NaN, NaT, pd.NA (NaT is also a datetime instance)
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(v).date()
    if isinstance(v, datetime):
        return v.date() if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0) else v
    if isinstance(v, date):
        return v
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame -> list of {column: plain value}."""
    return [{c: plain(v) for c, v in zip(df.columns, row)} for row in df.itertuples(index=False)]


def diff_tables(expected: pd.DataFrame, got: pd.DataFrame, keys: Sequence[str],
                tolerances: Mapping[str, float] | None = None, limit: int = 15) -> list[str]:
    """Row-for-row differences, as readable lines (empty list = equal).

    Keys must match exactly; integers and strings must be equal; floats within the
    column's tolerance (default 1e-6, relative 1e-12 for large values); NULLs must be in
    the same places. Only the columns of ``expected`` are compared.
    """
    tolerances = tolerances or {}
    out: list[str] = []
    exp = {tuple(r[k] for k in keys): r for r in records(expected)}
    gotr = {tuple(r[k] for k in keys): r for r in records(got)}
    if len(exp) != len(expected):
        out.append(f"expected has duplicate keys ({len(expected) - len(exp)})")
    if len(gotr) != len(got):
        out.append(f"got has duplicate keys ({len(got) - len(gotr)})")
    missing = sorted(set(exp) - set(gotr), key=str)
    extra = sorted(set(gotr) - set(exp), key=str)
    for k in missing[:limit]:
        out.append(f"missing row {dict(zip(keys, k))}: expected {exp[k]}")
    for k in extra[:limit]:
        out.append(f"unexpected row {dict(zip(keys, k))}: got {gotr[k]}")
    if missing or extra:
        out.append(f"({len(missing)} missing, {len(extra)} unexpected rows in all)")
    n_diff = 0
    for k in sorted(set(exp) & set(gotr), key=str):
        e, g = exp[k], gotr[k]
        for c in expected.columns:
            if c in keys:
                continue
            if c not in g:
                out.append(f"column {c} missing in got")
                return out
            ev, gv = e[c], g[c]
            if _same(ev, gv, tolerances.get(c, 1e-6)):
                continue
            n_diff += 1
            if n_diff <= limit:
                out.append(f"{dict(zip(keys, k))} {c}: expected {ev!r}, got {gv!r}")
    if n_diff > limit:
        out.append(f"... {n_diff} differing cells in all")
    return out


def _same(a: Any, b: Any, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) <= tol + 1e-12 * max(abs(float(a)), abs(float(b)))
    return a == b
