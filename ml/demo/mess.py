"""The deliberate mess: file calendar (missing, late, re-delivered files), superseded
first deliveries, bad rows of every class of docs/rules.md §1/§4."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml.demo.coded import Coded, _concat, _nrows, _take, _with
from ml.demo.params import (BAD_BOOKING_TYPES, BAD_ISINS, BAD_ORDER_TYPES, BLANK_CODE,
                            BOOKING_REMARKS, BOOKING_TYPES, MIN_BUSINESS_DAYS, ORDER_REMARKS,
                            ORDER_TYPES, P_CORR_LATER, P_CORR_TIE, P_LATE_U, P_MISSING_B,
                            P_MISSING_U)


def _file_states(rng: np.random.Generator, nb: int):
    """Per business day: U state (0 ok, 1 missing, 2 late), B missing, corrections (0 none,
    1 later, 2 same Import_Zeit) per type, and the days the seven items were forced on."""
    u_state = np.where(rng.random(nb) < P_MISSING_U, 1, 0)
    u_state = np.where((u_state == 0) & (rng.random(nb) < P_LATE_U), 2, u_state)
    b_missing = rng.random(nb) < P_MISSING_B
    r = rng.random((2, nb))
    u_corr = np.where(r[0] < P_CORR_TIE, 2, np.where(r[0] < P_CORR_TIE + P_CORR_LATER, 1, 0))
    b_corr = np.where(r[1] < P_CORR_TIE, 2, np.where(r[1] < P_CORR_TIE + P_CORR_LATER, 1, 0))
    mess: dict[str, int] = {}
    if nb >= MIN_BUSINESS_DAYS:
        names = ["missing_u", "late_u", "missing_b", "corr_u_later", "corr_u_tie",
                 "corr_b_later", "corr_b_tie"]
        mess = {n: int(i) for n, i in zip(names, rng.permutation(np.arange(1, nb - 5))[:7])}
        u_state[mess["missing_u"]] = 1
        u_state[mess["late_u"]] = 2
        b_missing[mess["missing_b"]] = True
        u_corr[mess["corr_u_later"]], u_corr[mess["corr_u_tie"]] = 1, 2
        b_corr[mess["corr_b_later"]], b_corr[mess["corr_b_tie"]] = 1, 2
        # A re-delivered day is delivered on time (so the forced items do not cancel out).
        u_state[[mess["corr_u_later"], mess["corr_u_tie"]]] = 0
        b_missing[[mess["corr_b_later"], mess["corr_b_tie"]]] = False
    tail = slice(max(nb - 5, 0), nb)
    u_state[tail], b_missing[tail], u_corr[tail], b_corr[tail] = 0, False, 0, 0
    u_corr[u_state == 1] = 0
    b_corr[b_missing] = 0
    return u_state, b_missing, u_corr, b_corr, mess


def build_files(rng: np.random.Generator, bdays: np.ndarray, bad_rows: bool) -> dict[str, Any]:
    """cd_Datei and the per-day file ids, with missing, late and re-delivered files.

    Every mess item is forced on at least one day (when the calendar is long enough), so a
    small world shows all of them. The last five days are delivered cleanly. Returns
    ``files`` (DataFrame) and per-day ``u_id``, ``u_sup``, ``b_id``, ``b_sup`` (-1 none).
    """
    nb = len(bdays)
    u_state, b_missing, u_corr, b_corr, mess = _file_states(rng, nb)
    # U files load the next night from 01:00, B files from 04:00; late U files days later.
    base = bdays.astype("datetime64[s]") + np.timedelta64(1, "D")
    minutes = rng.integers(0, 180, size=(2, nb)) * 60 + rng.integers(0, 60, size=(2, nb))
    u_time = base + np.timedelta64(1, "h") + minutes[0].astype("timedelta64[s]")
    late_days = rng.integers(2, 7, size=nb).astype("timedelta64[D]")
    u_time = np.where(u_state == 2, u_time + late_days + np.timedelta64(8, "h"), u_time)
    b_time = base + np.timedelta64(4, "h") + minutes[1].astype("timedelta64[s]")
    gap = (rng.integers(2 * 3600, 30 * 3600, size=(2, nb))).astype("timedelta64[s]")

    loads = []   # (Import_Zeit, type, version, day); version 1 = the correction
    for typ, present, corr, t0, g in (("U", u_state != 1, u_corr, u_time, gap[0]),
                                      ("B", ~b_missing, b_corr, b_time, gap[1])):
        for i in np.flatnonzero(present):
            loads.append((t0[i], typ, 0, i))
            if corr[i]:
                later = g[i] if corr[i] == 1 else np.timedelta64(0, "s")
                loads.append((t0[i] + later, typ, 1, i))
    # Ids are handed out in load order; on a tie the first delivery keeps the lower id.
    loads.sort(key=lambda x: (x[0], x[2], x[1], x[3]))
    ids = {t: (np.full(nb, -1, np.int32), np.full(nb, -1, np.int32)) for t in "UB"}
    corr_of = {"U": u_corr, "B": b_corr}
    recs = []
    for k, (t, typ, version, i) in enumerate(loads):
        fid = 1001 + k
        counting, superseded = ids[typ]
        (superseded if version == 0 and corr_of[typ][i] else counting)[i] = fid
        name = f"FA_{typ}_{str(bdays[i]).replace('-', '')}{'_korr' if version else ''}.csv"
        recs.append((fid, typ, bdays[i], t, name))
    files = pd.DataFrame(recs, columns=["Datei_ID", "Datei_Typ", "Datei_Datum", "Import_Zeit",
                                        "Datei_Name"])
    files["Datei_Datum"] = files["Datei_Datum"].astype("datetime64[s]")
    files["Import_Zeit"] = files["Import_Zeit"].astype("datetime64[s]")
    if bad_rows:
        files = pd.concat([files, _bad_files(bdays, 1001 + len(loads))], ignore_index=True)
    return {"files": files, "u_id": ids["U"][0], "u_sup": ids["U"][1], "b_id": ids["B"][0],
            "b_sup": ids["B"][1], "mess": mess}


def _bad_files(bdays: np.ndarray, first_id: int) -> pd.DataFrame:
    """File rows that never count (rules §1 bad_file): NULL date, unknown type."""
    day = bdays[len(bdays) // 2].astype("datetime64[s]")
    return pd.DataFrame({
        "Datei_ID": [first_id, first_id + 1],
        "Datei_Typ": ["U", "X"],
        "Datei_Datum": np.array(["NaT", day], dtype="datetime64[s]"),
        "Import_Zeit": np.array([day + np.timedelta64(30, "h")] * 2, dtype="datetime64[s]"),
        "Datei_Name": ["FA_U_unbekannt.csv", "FA_X_test.csv"],
    })


def _superseded(world: World, chunk: int, tables: dict[str, Coded],
                rng: np.random.Generator) -> dict[str, Coded]:
    """First deliveries of re-delivered days: the corrected file's rows with a few changes.

    Per re-delivered day and table: one amount differs (the correction fixes it), one row
    is missing (the correction adds it), and orders/bookings carry one extra row with its
    own number (the correction removes it).
    """
    w = world
    out: dict[str, list] = {k: [] for k in tables}
    bogus = 0
    for typ, ids, sups in (("U", w.u_id, w.u_sup), ("B", w.b_id, w.b_sup)):
        for i in np.flatnonzero(sups >= 0):
            names = ("orders", "bookings") if typ == "U" else ("saldo", "bestand")
            for name in names:
                t = tables[name]
                if not _nrows(t):
                    continue
                rows = np.flatnonzero(t["file"] == ids[i])
                if len(rows) == 0:
                    continue
                copy = _with(_take(t, rows), file=sups[i])
                money = "amount" if "amount" in copy else ("cash" if "cash" in copy else "mv")
                k = rng.integers(len(rows))
                copy[money][k] = np.round(copy[money][k] * 1.1 + 10, 2)
                if len(rows) > 1:
                    copy = _take(copy, np.delete(np.arange(len(rows)), rng.integers(len(rows))))
                if "tn" in copy:
                    extra = _take(copy, np.array([rng.integers(_nrows(copy))]))
                    extra["tn"] = np.array([w.ymd[i] * 10**10 + chunk * 10**7 + 9_500_000
                                            + bogus])
                    extra["remark"][:] = -1
                    bogus += 1
                    copy = _concat([copy, extra])
                out[name].append(copy)
    return {k: _concat(v) for k, v in out.items()}


BAD_CLASSES = {
    "orders": ("null_key", "null_date", "unknown_type", "bad_isin", "null_amount",
               "negative_amount", "absurd_amount", "future_date", "stale_date",
               "duplicate_row", "conflicting_duplicate", "repeated_transaction"),
    "bookings": ("null_key", "null_date", "unknown_type", "null_amount", "absurd_amount",
                 "future_date", "stale_date", "duplicate_row", "conflicting_duplicate",
                 "repeated_transaction"),
    "saldo": ("null_key", "null_amount", "absurd_amount", "duplicate_row",
              "conflicting_duplicate"),
    "bestand": ("null_key", "bad_isin", "null_amount", "negative_amount", "absurd_amount",
                "duplicate_row", "conflicting_duplicate"),
}


def _bad_rows(world: World, chunk: int, tables: dict[str, Coded], n_depots: int,
              rng: np.random.Generator) -> dict[str, Coded]:
    """A few rows of every bad class of docs/rules.md §4 per table, in counting files.

    Each is a modified copy of a clean row (not cancelled, not of the target fund) so the
    clean rows keep their meaning; only the duplicate classes share the original's key.
    """
    w = world
    out: dict[str, list] = {k: [] for k in tables}
    fresh = 0
    for name, classes in BAD_CLASSES.items():
        per_class = 1 + rng.poisson(0.5 * n_depots / 1000, size=len(classes))
        t = tables[name]
        pool = np.ones(_nrows(t), bool)
        if "cday" in t:
            pool &= (t["cday"] < 0) & (t["remark"] < len(ORDER_REMARKS if name == "orders"
                                                        else BOOKING_REMARKS))
        if "isin" in t:
            pool &= t["isin"] >= w.n_target
        pool = np.flatnonzero(pool)
        if len(pool) == 0:
            continue
        for c, cls in enumerate(classes):
            k = int(per_class[c])
            src = _take(t, rng.choice(pool, size=k))
            bad = _bad_variant(w, name, cls, src, rng)
            if bad is None:
                continue
            if "tn" in bad and cls not in ("duplicate_row", "conflicting_duplicate",
                                           "repeated_transaction", "null_key"):
                bad["tn"] = w.ymd[0] * 10**10 + chunk * 10**7 + 9_000_000 + fresh + np.arange(k)
                fresh += k
            out[name].append(bad)
    return {k: _concat(v) for k, v in out.items()}


def _file_date(world: World, file_ids: np.ndarray) -> np.ndarray:
    """Datei_Datum of counting U files by id (for date-relative bad rows)."""
    f = world.files
    lookup = pd.Series(f["Datei_Datum"].to_numpy(dtype="datetime64[D]"), index=f["Datei_ID"])
    return lookup.reindex(file_ids).to_numpy(dtype="datetime64[D]")


def _bad_variant(w: World, name: str, cls: str, src: Coded,
                 rng: np.random.Generator) -> Coded | None:
    """A copy of ``src`` turned into rows of class ``cls``."""
    k = _nrows(src)
    half = rng.random(k) < 0.5
    if cls == "null_key":
        if name in ("orders", "bookings"):
            # NULL number, NULL depot or a blank depot.
            tn = np.where(half, -1, src["tn"])
            dep = np.where(half, src["dep"], np.where(rng.random(k) < 0.5, -1, BLANK_CODE))
            return _with(src, tn=tn, dep=dep)
        if name == "bestand":
            return _with(src, dep=np.where(half, -1, src["dep"]),
                         isin=np.where(half, src["isin"], -1))
        return _with(src, dep=np.where(half, -1, BLANK_CODE))
    if cls == "null_date":
        return _with(src, date=np.datetime64("NaT", "D"))
    if cls == "unknown_type":
        bad = len(ORDER_TYPES if name == "orders" else BOOKING_TYPES)
        nbad = len(BAD_ORDER_TYPES if name == "orders" else BAD_BOOKING_TYPES)
        return _with(src, type=np.where(half, -1, bad + rng.integers(0, nbad, k)))
    if cls == "bad_isin":
        return _with(src, isin=len(w.isins) + rng.integers(0, len(BAD_ISINS), k))
    if cls == "null_amount":
        money = {"orders": "amount", "bookings": "amount", "saldo": "cash", "bestand": "mv"}[name]
        other = {"orders": "units", "bestand": "units"}.get(name)
        if other is None:        # one money column: every copy gets the NULL
            return _with(src, **{money: np.nan})
        return _with(src, **{money: np.where(half, np.nan, src[money]),
                             other: np.where(half, src[other], np.nan)})
    if cls == "negative_amount":
        if name == "bestand":
            return _with(src, units=-np.maximum(src["units"], 1.0))
        return _with(src, amount=-np.maximum(src["amount"], 1.0))
    if cls == "absurd_amount":
        col, val = {"orders": ("amount", 2.5e8), "bookings": ("amount", -4.0e7),
                    "saldo": ("cash", 5.0e10), "bestand": ("mv", 7.5e10)}[name]
        return _with(src, **{col: val})
    if cls == "future_date":
        return _with(src, date=_file_date(w, src["file"]) + rng.integers(1, 30, k))
    if cls == "stale_date":
        return _with(src, date=_file_date(w, src["file"]) - rng.integers(400, 900, k))
    if cls == "duplicate_row":
        return _with(src)
    if cls == "conflicting_duplicate":
        col = {"orders": "amount", "bookings": "amount", "saldo": "cash", "bestand": "mv"}[name]
        return _with(src, **{col: np.round(src[col] + 123.45, 2)})
    if cls == "repeated_transaction":
        day = np.searchsorted(w.bdays, src["date"])
        later = w.next_u[np.minimum(day + rng.integers(1, 6, k), len(w.bdays))]
        ok = later >= 0
        return _with(_take(src, np.flatnonzero(ok)), file=w.u_id[later[ok]]) if ok.any() else None
    raise ValueError(cls)


def _file_type_mess(world: World, tables: dict[str, Coded]) -> dict[str, Coded]:
    """Rules §1: an order in a B file, a saldo row in a U file, an order of an unknown file."""
    w = world
    o, s = tables["orders"], tables["saldo"]
    if not _nrows(o) or not _nrows(s):
        return {}
    b_day = np.flatnonzero(w.b_id >= 0)[-1]
    u_day = np.flatnonzero(w.u_id >= 0)[-1]
    wrong = _with(_take(o, np.array([0, 0])), file=np.array([w.b_id[b_day], 99_999_999]),
                  tn=o["tn"][0] + np.array([9_800_000, 9_800_001]), remark=-1)
    return {"orders": wrong, "saldo": _with(_take(s, np.array([0])), file=w.u_id[u_day])}
