"""A tiny DSL to hand-build source worlds (the five tables of docs/rules.md §0.2) for rule tests.

    w = World(date(2025, 1, 2), date(2025, 4, 30), b_gaps={date(2025, 3, 15)})
    w.depot("CAN1")                                   # a saldo row (cash 1000) in every B file
    w.order(w.u("2025-02-10"), "CAN1-A", "CAN1", "2025-02-10", amount="2000.00")
    frames = w.frames()                               # -> ml.source.write_source_db(path, frames)

Every calendar day from first to last gets one regular U file and one regular B file
(Import_Zeit = that day 20:00), except the gap days. Extra files (corrections, ties,
bad files) are added with :meth:`World.file`. Amounts are given as strings or numbers and
written as DECIMAL by DuckDB.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Iterable

import pandas as pd

OTHER = "DE0001234567"     # a well-formed non-target ISIN
OTHER2 = "US0378331005"
OTHER3 = "IE00B4L5Y983"


def d(text: str | date) -> date:
    return text if isinstance(text, date) else date.fromisoformat(text)


class World:
    def __init__(self, first: date, last: date, b_gaps: Iterable[date] = (),
                 u_gaps: Iterable[date] = ()):
        self.first, self.last = first, last
        self.files: list[dict[str, Any]] = []
        self._u: dict[date, int] = {}
        self._b: dict[date, int] = {}
        self.rows: dict[str, list[dict[str, Any]]] = {
            "cd_Order": [], "cd_Buchung": [], "cd_Saldo": [], "cd_Bestand": []}
        self._depots: dict[str, dict[str, Any]] = {}
        self._overrides: dict[tuple[str, date], dict[str, Any] | None] = {}
        b_gaps, u_gaps = {d(x) for x in b_gaps}, {d(x) for x in u_gaps}
        day, next_id = first, 1
        while day <= last:
            if day not in u_gaps:
                self._u[day] = next_id
                self._add_file(next_id, "U", day, datetime(day.year, day.month, day.day, 20))
                next_id += 1
            if day not in b_gaps:
                self._b[day] = next_id
                self._add_file(next_id, "B", day, datetime(day.year, day.month, day.day, 20))
                next_id += 1
            day += timedelta(days=1)

    # ---- files
    def _add_file(self, fid: Any, typ: Any, day: Any, imp: Any) -> None:
        self.files.append({"Datei_ID": fid, "Datei_Typ": typ, "Datei_Datum": day,
                           "Import_Zeit": imp, "Datei_Name": f"{typ}_{day}_{fid}.csv"})

    def u(self, day: str | date) -> int:
        """Datei_ID of the regular U file of that day."""
        return self._u[d(day)]

    def b(self, day: str | date) -> int:
        return self._b[d(day)]

    def b_days(self) -> list[date]:
        return sorted(self._b)

    def file(self, fid: Any, typ: Any, day: Any, imp: Any) -> Any:
        """An extra cd_Datei row (any values, NULLs allowed); returns fid."""
        self._add_file(fid, typ, d(day) if isinstance(day, str) else day,
                       datetime.fromisoformat(imp) if isinstance(imp, str) else imp)
        return fid

    # ---- rows
    def order(self, fid: Any, tn: Any, depot: Any, order_date: Any, type: Any = "Purchase",
              isin: Any = OTHER, units: Any = "1", amount: Any = "1000.00",
              remark: Any = None) -> None:
        self.rows["cd_Order"].append({
            "Datei_ID": fid, "Transaction_Number": tn, "Depot_Number": depot,
            "Order_Date": d(order_date) if isinstance(order_date, str) else order_date,
            "OrderType": type, "ISIN": isin, "Units": units, "Amount_EUR": amount,
            "Remark": remark})

    def booking(self, fid: Any, tn: Any, depot: Any, booking_date: Any, type: Any = "Deposit",
                amount: Any = "100.00", remark: Any = None) -> None:
        self.rows["cd_Buchung"].append({
            "Datei_ID": fid, "Transaction_Number": tn, "Depot_Number": depot,
            "Booking_Date": d(booking_date) if isinstance(booking_date, str) else booking_date,
            "Booking_Type": type, "Amount_EUR": amount, "Remark": remark})

    def saldo(self, fid: Any, depot: Any, cash: Any) -> None:
        self.rows["cd_Saldo"].append({"Datei_ID": fid, "Depot_Number": depot, "Cash_EUR": cash})

    def position(self, fid: Any, depot: Any, isin: Any, units: Any, mv: Any) -> None:
        self.rows["cd_Bestand"].append({"Datei_ID": fid, "Depot_Number": depot, "ISIN": isin,
                                        "Units": units, "Market_Value_EUR": mv})

    # ---- standard holdings
    def depot(self, depot: str, cash: Any = "1000.00", positions: Iterable[tuple] = (),
              first: str | date | None = None, last: str | date | None = None) -> str:
        """A depot with the same saldo (and positions) in every regular B file of [first, last]."""
        self._depots[depot] = {"cash": cash, "positions": list(positions),
                               "first": d(first) if first else self.first,
                               "last": d(last) if last else self.last}
        return depot

    def holdings_on(self, depot: str, day: str | date, cash: Any = None,
                    positions: Iterable[tuple] = (), absent: bool = False) -> None:
        """Replace the standard rows of one depot in one regular B file (absent: no rows)."""
        self._overrides[(depot, d(day))] = None if absent else {
            "cash": cash, "positions": list(positions)}

    def frames(self) -> dict[str, pd.DataFrame]:
        rows = {k: list(v) for k, v in self.rows.items()}
        for depot, spec in self._depots.items():
            for day, fid in sorted(self._b.items()):
                if not spec["first"] <= day <= spec["last"]:
                    continue
                h = self._overrides.get((depot, day), spec) if (depot, day) in self._overrides else spec
                if h is None:
                    continue
                rows["cd_Saldo"].append({"Datei_ID": fid, "Depot_Number": depot,
                                         "Cash_EUR": h["cash"]})
                for isin, units, mv in h["positions"]:
                    rows["cd_Bestand"].append({"Datei_ID": fid, "Depot_Number": depot,
                                               "ISIN": isin, "Units": units,
                                               "Market_Value_EUR": mv})
        out = {"cd_Datei": pd.DataFrame(self.files, dtype=object)}
        for table, r in rows.items():
            out[table] = pd.DataFrame(r, dtype=object)
        return out


def known_by(frames: dict[str, pd.DataFrame], day: date) -> dict[str, pd.DataFrame]:
    """The source as a run on ``day`` would see it: files with Datei_Datum <= day.

    cd_Datei rows without a date (bad files) and data rows of unknown files are kept, so
    only the knowledge time differs between the truncated and the full source.
    """
    files = frames["cd_Datei"]
    keep = files["Datei_Datum"].map(lambda v: v is None or pd.isna(v) or v <= day)
    kept_ids = set(files.loc[keep, "Datei_ID"].dropna())
    all_ids = set(files["Datei_ID"].dropna())
    out = {"cd_Datei": files[keep].reset_index(drop=True)}
    for table, df in frames.items():
        if table == "cd_Datei":
            continue
        sel = df["Datei_ID"].map(lambda i: i in kept_ids or i not in all_ids) if len(df) else []
        out[table] = df[sel].reset_index(drop=True) if len(df) else df
    return out


def known_at(frames: dict[str, pd.DataFrame], moment: datetime) -> dict[str, pd.DataFrame]:
    """The source as loaded by ``moment``: files with Import_Zeit <= moment.

    A file without Import_Zeit is taken as loaded on its Datei_Datum (or always, without
    one). Data rows of unknown files are always kept.
    """
    files = frames["cd_Datei"]

    def loaded(row: pd.Series) -> bool:
        imp, day = row["Import_Zeit"], row["Datei_Datum"]
        if imp is not None and not pd.isna(imp):
            return pd.Timestamp(imp) <= pd.Timestamp(moment)
        return day is None or pd.isna(day) or pd.Timestamp(day) <= pd.Timestamp(moment)

    keep = files.apply(loaded, axis=1).astype(bool)
    kept_ids = set(files.loc[keep, "Datei_ID"].dropna())
    all_ids = set(files["Datei_ID"].dropna())
    out = {"cd_Datei": files[keep].reset_index(drop=True)}
    for table, df in frames.items():
        if table == "cd_Datei":
            continue
        if len(df) == 0:
            out[table] = df
            continue
        sel = df["Datei_ID"].map(lambda i: i in kept_ids or i not in all_ids).astype(bool)
        out[table] = df[sel].reset_index(drop=True)
    return out
