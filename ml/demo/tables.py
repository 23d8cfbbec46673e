"""Rows of the five tables from simulated events: coded tables -> DataFrames, chunk by chunk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from ml.demo.coded import Coded, _concat, _nrows, _take
from ml.demo.mess import _bad_rows, _file_type_mess, _superseded
from ml.demo.params import (BAD_BOOKING_TYPES, BAD_ISINS, BAD_ORDER_TYPES, BLANK_CODE,
                            BLANK_DEPOT, BOOKING_REMARKS, BOOKING_TYPES, CANCEL_REMARKS,
                            CHUNK_DEPOTS, DEFAULT_HOUSE_ISINS, ORDER_REMARKS, ORDER_TYPES,
                            _rng)
from ml.demo.simulate import ChunkEvents, simulate_chunk
from ml.demo.world import World, build_world


@dataclass(frozen=True)
class _Vocab:
    depots: np.ndarray     # chunk depot numbers + blank
    isins: np.ndarray      # world ISINs + bad ones
    otypes: tuple
    btypes: tuple
    oremarks: tuple
    bremarks: tuple


def _vocab(world: World, lo: int, hi: int) -> _Vocab:
    return _Vocab(
        depots=np.append(world.depot_numbers[lo:hi], BLANK_DEPOT),
        isins=np.concatenate([world.isins, np.array(BAD_ISINS, dtype=object)]),
        otypes=ORDER_TYPES + BAD_ORDER_TYPES, btypes=BOOKING_TYPES + BAD_BOOKING_TYPES,
        oremarks=ORDER_REMARKS + CANCEL_REMARKS, bremarks=BOOKING_REMARKS + CANCEL_REMARKS,
    )


def _coded_tables(world: World, chunk: int, ev: ChunkEvents, rng: np.random.Generator):
    """Counting-file rows of the chunk (originals and cancellation rows), coded."""
    w = world
    o, b = ev.orders, ev.bookings
    base_tn = w.ymd * 10**10 + chunk * 10**7
    orders = {
        "file": w.u_id[o["day"]], "tn": base_tn[o["day"]] + np.arange(len(o["day"])),
        "dep": o["dep"].astype(np.int64), "date": w.bdays[o["day"]],
        "type": o["otype"].astype(np.int64), "isin": o["isin"].astype(np.int64),
        "units": o["units"], "amount": o["amount"],
        "remark": o["remark"].astype(np.int64), "cday": o["cday"].astype(np.int64),
    }
    bookings = {
        "file": w.u_id[b["day"]], "tn": base_tn[b["day"]] + np.arange(len(b["day"])),
        "dep": b["dep"].astype(np.int64), "date": w.bdays[b["day"]],
        "type": b["btype"].astype(np.int64), "amount": b["amount"],
        "remark": b["remark"].astype(np.int64), "cday": b["cday"].astype(np.int64),
    }
    # Cancellation rows: same number, in the U file of the cancel day; orders repeat the
    # amount, bookings mostly negate it (value date = the cancel day).
    oc = _take(orders, np.flatnonzero(orders["cday"] >= 0))
    oc["file"] = w.u_id[oc["cday"]]
    oc["remark"] = len(ORDER_REMARKS) + rng.integers(0, len(CANCEL_REMARKS), _nrows(oc))
    bc = _take(bookings, np.flatnonzero(bookings["cday"] >= 0))
    bc["file"] = w.u_id[bc["cday"]]
    bc["date"] = w.bdays[bc["cday"]]
    bc["amount"] = np.where(rng.random(_nrows(bc)) < 0.7, -bc["amount"], bc["amount"])
    bc["remark"] = len(BOOKING_REMARKS) + rng.integers(0, len(CANCEL_REMARKS), _nrows(bc))
    # The big holdings tables keep the simulation's compact arrays (no copies).
    saldo = {"file": w.b_id[ev.saldo["day"]], "dep": ev.saldo["dep"], "cash": ev.saldo["cash"]}
    p = ev.bestand
    bestand = {"file": w.b_id[p["day"]], "dep": p["dep"], "isin": p["isin"],
               "units": p["units"], "mv": p["mv"]}
    return (_concat([orders, oc]), _concat([bookings, bc]), saldo, bestand)


def _cat(codes: np.ndarray, vocab: Sequence, blank: int | None = None) -> pd.Categorical:
    codes = np.asarray(codes, dtype=np.int64)
    if blank is not None:
        codes = np.where(codes == BLANK_CODE, blank, codes)
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(vocab), dtype=object))


def _tn_strings(tn: np.ndarray, prefix: str) -> pd.Series:
    s = prefix + pd.Series(tn, dtype="int64").astype(str)
    return s.where(tn >= 0, None)


def _to_frames(tables: dict[str, Coded], v: _Vocab) -> dict[str, pd.DataFrame]:
    """Coded tables -> the contract's DataFrames."""
    blank = len(v.depots) - 1
    o, b, s, p = (tables[k] for k in ("orders", "bookings", "saldo", "bestand"))
    frames = {}
    if o:
        frames["cd_Order"] = pd.DataFrame({
            "Datei_ID": o["file"], "Transaction_Number": _tn_strings(o["tn"], ""),
            "Depot_Number": _cat(o["dep"], v.depots, blank),
            "Order_Date": o["date"].astype("datetime64[s]"),
            "OrderType": _cat(o["type"], v.otypes), "ISIN": _cat(o["isin"], v.isins),
            "Units": o["units"], "Amount_EUR": o["amount"],
            "Remark": _cat(o["remark"], v.oremarks)}, copy=False)
    if b:
        frames["cd_Buchung"] = pd.DataFrame({
            "Datei_ID": b["file"], "Transaction_Number": _tn_strings(b["tn"], "B"),
            "Depot_Number": _cat(b["dep"], v.depots, blank),
            "Booking_Date": b["date"].astype("datetime64[s]"),
            "Booking_Type": _cat(b["type"], v.btypes), "Amount_EUR": b["amount"],
            "Remark": _cat(b["remark"], v.bremarks)}, copy=False)
    if s:
        frames["cd_Saldo"] = pd.DataFrame({
            "Datei_ID": s["file"], "Depot_Number": _cat(s["dep"], v.depots, blank),
            "Cash_EUR": s["cash"]}, copy=False)
    if p:
        frames["cd_Bestand"] = pd.DataFrame({
            "Datei_ID": p["file"], "Depot_Number": _cat(p["dep"], v.depots, blank),
            "ISIN": _cat(p["isin"], v.isins), "Units": p["units"], "Market_Value_EUR": p["mv"]},
            copy=False)
    return frames


def chunk_frames(world: World, chunk: int, events: ChunkEvents) -> list[dict[str, pd.DataFrame]]:
    """Rows of cd_Order, cd_Buchung, cd_Saldo, cd_Bestand contributed by one chunk.

    Returned as parts (counting files; superseded first deliveries; bad rows), appended in
    this order by write_source_db, so the big holdings arrays are never copied to merge.
    """
    lo = chunk * CHUNK_DEPOTS
    hi = min(lo + CHUNK_DEPOTS, len(world.depot_numbers))
    rng = _rng(world.seed, 20, chunk)
    orders, bookings, saldo, bestand = _coded_tables(world, chunk, events, rng)
    tables = {"orders": orders, "bookings": bookings, "saldo": saldo, "bestand": bestand}
    parts = [tables, _superseded(world, chunk, tables, rng)]
    if world.bad_rows:
        parts.append(_bad_rows(world, chunk, tables, hi - lo, rng))
        if chunk == 0:
            parts.append(_file_type_mess(world, tables))
    vocab = _vocab(world, lo, hi)
    out = []
    for part in parts:
        for name in ("orders", "bookings"):
            t = part.get(name)
            if t:
                t.pop("cday", None)
                part[name] = _take(t, np.argsort(t["file"], kind="stable"))  # grouped by file
        out.append(_to_frames({k: part.get(k, {}) for k in tables}, vocab))
    return out


def iter_frames(world: World, stats: dict | None = None) -> Iterator[dict[str, pd.DataFrame]]:
    """cd_Datei, then the four row tables chunk by chunk, part by part (for write_source_db).

    ``stats`` (optional) is filled with rows per table and the simulated first buyers.
    """
    stats = {} if stats is None else stats
    stats.setdefault("target_first_buyers", 0)
    stats["rows"] = {"cd_Datei": len(world.files)}
    yield {"cd_Datei": world.files}
    n_chunks = -(-len(world.depot_numbers) // CHUNK_DEPOTS)
    for chunk in range(n_chunks):
        events = simulate_chunk(world, chunk)
        stats["target_first_buyers"] += int((events.first_buy_day >= 0).sum())
        parts = chunk_frames(world, chunk, events)
        del events
        while parts:
            frames = parts.pop(0)
            for name, df in frames.items():
                stats["rows"][name] = stats["rows"].get(name, 0) + len(df)
            yield frames
            del frames


def build_frames(depots: int, days: int, seed: int, end_date: date,
                 target_isins: Sequence[str], min_ticket: float = 1000.0,
                 bad_rows: bool = True, house_isins: Sequence[str] = DEFAULT_HOUSE_ISINS,
                 hazard_profile: str = "default") -> dict[str, pd.DataFrame]:
    """The whole world in memory (small worlds, tests): table name -> DataFrame."""
    world = build_world(depots, days, seed, end_date, target_isins, min_ticket, bad_rows,
                        house_isins, hazard_profile)
    parts: dict[str, list] = {}
    for frames in iter_frames(world):
        for name, df in frames.items():
            parts.setdefault(name, []).append(df)
    return {name: (pd.concat(dfs, ignore_index=True) if len(dfs) > 1 else dfs[0])
            for name, dfs in parts.items()}
