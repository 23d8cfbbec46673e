"""The demo source world: the five tables of SPEC §2, generated, messy, with a planted signal.

Shapes and units: money in EUR (rounded to cents before DuckDB casts it to DECIMAL(18,2)),
units rounded to 6 decimals, dates as numpy ``datetime64[D]``. Depots are simulated in
chunks of ``CHUNK_DEPOTS`` (vectorised over the depots of a chunk, one Python iteration per
business day), so memory stays bounded and the result depends only on the arguments and
the seed, never on the machine. ``docs/demo_world.md`` describes every mess item and the
planted first-buy signal.

Pure part: :func:`build_world` (calendar, files, instruments, depots), :func:`simulate_chunk`
(events of one chunk of depots), :func:`chunk_frames` (rows of the five tables for one chunk),
:func:`iter_frames` / :func:`build_frames`. I/O: :func:`generate` only.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

CHUNK_DEPOTS = 5000          # part of the determinism contract: do not change casually
MAX_SLOTS = 8                # positions a depot can hold at once
N_OTHER_ISINS = 60           # non-target instruments
MIN_BUSINESS_DAYS = 12       # below this the forced mess items do not fit

ORDER_TYPES = ("Purchase", "Sale", "SavingsPlan", "TransferIn", "TransferOut")
BOOKING_TYPES = ("Deposit", "Withdrawal", "Fee", "Dividend", "Settlement", "Interest", "Tax")
O_PUR, O_SALE, O_SP, O_TIN, O_TOUT = range(5)
B_DEP, B_WD, B_FEE, B_DIV, B_SET, B_INT, B_TAX = range(7)

# Remarks; code -1 is NULL. None of the ordinary remarks contains "storn".
ORDER_REMARKS = ("Online", "Sparplan", "Filiale", "Depotübertrag", "Telefon")
R_NULL, R_ONLINE, R_SPARPLAN, R_FILIALE, R_UEBERTRAG, R_TELEFON = range(-1, 5)
BOOKING_REMARKS = ("Online", "Sparplan", "Überweisung", "Ordergebühr", "Kapitalertragsteuer",
                   "Zinsgutschrift", "Ertragsausschüttung", "Depotgebühr")
(BR_NULL, BR_ONLINE, BR_SPARPLAN, BR_UEBERW, BR_ORDERFEE, BR_KEST, BR_ZINS,
 BR_ERTRAG, BR_DEPOTFEE) = range(-1, 8)
CANCEL_REMARKS = ("Storno", "STORNO Kauf", "storniert", "Stornierung", "storno wg. Fehler",
                  "STORNO")
# Values of bad rows (docs/rules.md §4); none of them is valid after trim/upper-case.
BAD_ISINS = ("DE000A0D9PT", "XX12345678901", "1E00B4L5Y983", "DE000A0D9PT!", "LU-00DEMO015")
BAD_ORDER_TYPES = ("Kauf", "Buy", "Switch")
BAD_BOOKING_TYPES = ("Gutschrift", "Transfer")
BLANK_DEPOT = "   "

# Planted first-buy hazard (per business day, logistic): see docs/demo_world.md.
HAZARD = {
    "intercept": -7.9,
    "log_deposit_30d": 0.9,     # x log1p(deposits of the last 30 days / 1000 EUR)
    "cash_share": 1.2,          # x cash / (cash + portfolio value)
    "buys_30d": 0.3,            # x min(effective buys in 30 days, 5)
    "new_isins_90d": 0.4,       # x min(ISINs bought for the first time in 90 days, 4)
    "cancels_30d": -0.8,        # x min(order cancellations known in 30 days, 3)
    "latent": 0.8,              # x z, z ~ N(0, 1) per depot, never observable
}
REPEAT_TARGET_P = 0.004         # per business day, after the first target purchase

# Per business day probabilities (scaled by the depot's activity, mean 1).
P_DEPOSIT, P_WITHDRAW, P_BUY, P_SELL = 0.012, 0.004, 0.010, 0.006
P_TRANSFER_IN, P_TRANSFER_OUT, P_DIVIDEND = 0.0006, 0.0004, 0.003
P_CANCEL_ORDER, P_CANCEL_TARGET, P_CANCEL_BOOKING = 0.025, 0.08, 0.01

# File calendar mess (per business day).
P_MISSING_B, P_MISSING_U, P_LATE_U = 0.012, 0.006, 0.02
P_CORR_LATER, P_CORR_TIE = 0.02, 0.006


# --------------------------------------------------------------------------- calendar


def easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * l_) // 433
    month = (h + l_ - 7 * m + 90) // 25
    day = (h + l_ - 7 * m + 33 * month + 19) % 32
    return date(year, month, day)


def holidays(year: int) -> set[date]:
    """Bank holidays without files (German/Luxembourg banking calendar, simplified)."""
    e = easter(year)
    return {date(year, 1, 1), e - timedelta(days=2), e + timedelta(days=1), date(year, 5, 1),
            date(year, 12, 24), date(year, 12, 25), date(year, 12, 26), date(year, 12, 31)}


def business_days(start: date, end: date) -> np.ndarray:
    """Mon-Fri minus holidays in [start, end], as datetime64[D] (ascending)."""
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    weekday = (days.astype("int64") + 3) % 7          # 1970-01-01 was a Thursday
    hol = set()
    for y in range(start.year, end.year + 1):
        hol |= holidays(y)
    hol_arr = np.array(sorted(hol), dtype="datetime64[D]")
    return days[(weekday < 5) & ~np.isin(days, hol_arr)]


# --------------------------------------------------------------------------- instruments


def isin_check_digit(body: str) -> int:
    """ISO 6166 check digit of the first 11 characters (letters as 10..35, then Luhn)."""
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return (10 - total % 10) % 10


def make_isins(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid ISINs from a few European/US countries."""
    countries = np.array(["DE", "LU", "IE", "FR", "NL", "AT", "US"])
    alnum = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
    out: list[str] = []
    while len(out) < n:
        c = countries[rng.integers(len(countries))]
        nsin = "".join(alnum[rng.integers(len(alnum), size=9)])
        body = c + nsin
        isin = body + str(isin_check_digit(body))
        if isin not in out:
            out.append(isin)
    return out


# --------------------------------------------------------------------------- world


@dataclass(frozen=True)
class World:
    """Everything shared by all chunks; arrays indexed by business day ``i`` or depot ``d``."""

    seed: int
    bad_rows: bool
    min_ticket: float
    bdays: np.ndarray            # datetime64[D], (nb,)
    ymd: np.ndarray              # int64 yyyymmdd, (nb,)
    files: pd.DataFrame          # cd_Datei rows
    u_id: np.ndarray             # counting U file per day, -1 none, (nb,)
    u_sup: np.ndarray            # superseded U file per day, -1 none
    b_id: np.ndarray
    b_sup: np.ndarray
    next_u: np.ndarray           # first day >= i with a U file, -1 none, (nb + 12,)
    ws30: np.ndarray             # first day index of the 30-calendar-day window ending at i
    ws90: np.ndarray
    month_start: np.ndarray      # bool: first business day of its month
    mid_month: np.ndarray        # bool: first business day on or after the 15th
    quarter_start: np.ndarray
    isins: np.ndarray            # object (n_isin,), targets first
    n_target: int
    popularity: np.ndarray       # purchase weights of the non-target ISINs
    prices: np.ndarray           # (n_isin, nb) EUR per unit
    depot_numbers: np.ndarray    # object (n_depots,)
    open_i: np.ndarray           # first business day the depot is open
    close_i: np.ndarray          # first business day it is closed (nb = never)
    activity: np.ndarray
    latent: np.ndarray
    sp_amount: np.ndarray        # savings plan per execution, 0 = none
    sp_isin: np.ndarray
    sp_mid: np.ndarray           # executes mid-month instead of at the month start
    mess: dict = field(default_factory=dict)   # forced file-level mess days, for docs/tests


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible stream per purpose (and per chunk)."""
    return np.random.default_rng([seed, *stream])


def build_calendar(days: int, end_date: date) -> np.ndarray:
    """Business days of the ``days`` calendar days ending on ``end_date``."""
    return business_days(end_date - timedelta(days=days - 1), end_date)


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


def make_depot_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct depot numbers as strings, mostly 8 digits with leading zeros, some 6 or 10."""
    values = 1000 + np.cumsum(rng.integers(1, 120, size=n))        # ascending, distinct
    values = values[rng.permutation(n)]
    width = np.where(rng.random(n) < 0.08, 10, np.where(rng.random(n) < 0.05, 6, 8))
    out = np.empty(n, dtype=object)
    for w in (6, 8, 10):
        sel = width == w
        out[sel] = pd.Series(values[sel]).astype(str).str.zfill(w).to_numpy(dtype=object)
    return out


def build_world(depots: int, days: int, seed: int, end_date: date,
                target_isins: Sequence[str], min_ticket: float = 1000.0,
                bad_rows: bool = True) -> World:
    """Calendar, files, instruments, prices and depot attributes (no per-day rows yet)."""
    bdays = build_calendar(days, end_date)
    nb = len(bdays)
    if nb < 2:
        raise ValueError("the demo world needs at least two business days")
    files = build_files(_rng(seed, 1), bdays, bad_rows)

    u_exists = files["u_id"] >= 0
    next_u = np.full(nb + 12, -1, np.int64)
    nxt = -1
    for i in range(nb - 1, -1, -1):
        nxt = i if u_exists[i] else nxt
        next_u[i] = nxt
    ws30 = np.searchsorted(bdays, bdays - np.timedelta64(29, "D"))
    ws90 = np.searchsorted(bdays, bdays - np.timedelta64(89, "D"))
    months = bdays.astype("datetime64[M]")
    month_start = np.r_[True, months[1:] != months[:-1]]
    dom = (bdays - months.astype("datetime64[D]")).astype(np.int64) + 1
    mid = dom >= 15
    mid_month = mid & ~np.r_[False, mid[:-1] & (months[1:] == months[:-1])]
    quarter = (months.astype(np.int64) // 3)
    quarter_start = np.r_[True, quarter[1:] != quarter[:-1]]

    rng = _rng(seed, 2)
    targets = list(dict.fromkeys(target_isins))
    others = [x for x in make_isins(rng, N_OTHER_ISINS + len(targets)) if x not in targets]
    isins = np.array(targets + others[:N_OTHER_ISINS], dtype=object)
    n_isin, n_target = len(isins), len(targets)
    popularity = 1.0 / np.arange(1, n_isin - n_target + 1) ** 0.9
    popularity /= popularity.sum()
    p0 = rng.uniform(20, 300, size=n_isin)
    vol = rng.uniform(0.005, 0.02, size=n_isin)
    steps = rng.normal(0.0002, 1, size=(n_isin, nb)) * vol[:, None]
    prices = np.round(p0[:, None] * np.exp(np.cumsum(steps, axis=1)), 4)

    rng = _rng(seed, 3)
    numbers = make_depot_numbers(rng, depots)
    open_i = np.where(rng.random(depots) < 0.6, 0, rng.integers(0, nb, size=depots))
    closes = rng.random(depots) < 0.08
    close_i = np.where(closes, rng.integers(0, nb, size=depots), nb)
    close_i = np.where(close_i <= open_i + 20, nb, close_i)       # open at least ~a month
    activity = rng.lognormal(0, 0.8, size=depots)
    activity *= np.where(rng.random(depots) < 0.2, 0.2, 1.0)       # dormant depots
    activity /= activity.mean()
    latent = rng.normal(size=depots)
    has_sp = rng.random(depots) < 0.25
    sp_amount = np.where(has_sp, rng.choice([25, 50, 100, 150, 200, 250, 500], size=depots), 0)
    sp_isin = np.where(rng.random(depots) < 0.15, rng.integers(0, n_target, size=depots),
                       n_target + rng.choice(n_isin - n_target, size=depots, p=popularity))
    sp_mid = rng.random(depots) < 0.5

    return World(
        seed=seed, bad_rows=bad_rows, min_ticket=float(min_ticket), bdays=bdays,
        ymd=pd.DatetimeIndex(bdays).strftime("%Y%m%d").astype(np.int64).to_numpy(),
        files=files["files"], u_id=files["u_id"], u_sup=files["u_sup"], b_id=files["b_id"],
        b_sup=files["b_sup"], next_u=next_u, ws30=ws30, ws90=ws90, month_start=month_start,
        mid_month=mid_month, quarter_start=quarter_start, isins=isins, n_target=n_target,
        popularity=popularity, prices=prices, depot_numbers=numbers, open_i=open_i,
        close_i=close_i, activity=activity, latent=latent, sp_amount=sp_amount,
        sp_isin=sp_isin.astype(np.int64), sp_mid=sp_mid, mess=files["mess"],
    )


# --------------------------------------------------------------------------- simulation


class _Rows:
    """Column lists of events, concatenated once at the end (no per-row Python work)."""

    def __init__(self, **dtypes: Any) -> None:
        self.dtypes = dtypes                       # compact dtypes keep big chunks small
        self.cols: dict[str, list[np.ndarray]] = {n: [] for n in dtypes}

    def add(self, **arrays: Any) -> None:
        n = np.size(arrays["dep"])      # scalars broadcast to the depot rows
        if n == 0:
            return
        for name, values in self.cols.items():
            a, dt = arrays[name], self.dtypes[name]
            values.append(np.asarray(a, dtype=dt) if np.ndim(a) else np.full(n, a, dtype=dt))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name in list(self.cols):
            parts = self.cols.pop(name)
            out[name] = np.concatenate(parts) if parts else np.empty(0, self.dtypes[name])
            del parts
        return out


@dataclass
class ChunkEvents:
    """Simulated rows of one chunk (local depot index ``dep``; day index ``day``).

    orders: day, dep, otype, isin, units, amount, remark, cday (cancel day, -1 none);
    bookings: day, dep, btype, amount, remark, cday; saldo: day, dep, cash;
    bestand: day, dep, isin, units, mv.
    """

    orders: dict[str, np.ndarray]
    bookings: dict[str, np.ndarray]
    saldo: dict[str, np.ndarray]
    bestand: dict[str, np.ndarray]
    first_buy_day: np.ndarray    # per depot, -1 = never (truth of the simulation)


def ticket(rng: np.random.Generator, n: int, median: float) -> np.ndarray:
    """Purchase tickets (EUR): exact 1000.00 and 999.99 regularly, round sums, lognormal."""
    kind = rng.random(n)
    logn = np.round(rng.lognormal(np.log(median), 0.8, size=n), 2)
    rounds = rng.choice([250.0, 500.0, 1500.0, 2000.0, 2500.0, 3000.0, 5000.0, 10000.0], size=n)
    out = np.where(kind < 0.10, 1000.0, np.where(kind < 0.14, 999.99,
                   np.where(kind < 0.40, rounds, logn)))
    return np.clip(out, 10.0, 250_000.0)


def hazard_logit(dep30: np.ndarray, cash_share: np.ndarray, buys30: np.ndarray,
                 new90: np.ndarray, canc30: np.ndarray, latent: np.ndarray) -> np.ndarray:
    """Log-odds of a first target purchase on a business day (the planted signal)."""
    h = HAZARD
    return (h["intercept"] + h["log_deposit_30d"] * np.log1p(np.maximum(dep30, 0) / 1000)
            + h["cash_share"] * cash_share + h["buys_30d"] * np.minimum(buys30, 5)
            + h["new_isins_90d"] * np.minimum(new90, 4)
            + h["cancels_30d"] * np.minimum(canc30, 3) + h["latent"] * latent)


class _ChunkSim:
    """State of one chunk of depots (cash, position slots, hazard inputs) and its events.

    Cash never goes negative: purchases are capped by cash (a target purchase is funded by
    a same-day deposit when needed), fees and withdrawals by what is there. Cancelled
    transactions are not applied to cash and positions.
    """

    def __init__(self, world: World, chunk: int) -> None:
        w = self.w = world
        lo = chunk * CHUNK_DEPOTS
        hi = min(lo + CHUNK_DEPOTS, len(w.depot_numbers))
        self.n, self.nb, self.nt = hi - lo, len(w.bdays), w.n_target
        n, nb, nt = self.n, self.nb, self.nt
        self.rng = rng = _rng(w.seed, 10, chunk)
        self.open_i, self.close_i = w.open_i[lo:hi], w.close_i[lo:hi]
        self.act, self.latent = w.activity[lo:hi], w.latent[lo:hi]
        self.sp_amount, self.sp_isin, self.sp_mid = (w.sp_amount[lo:hi], w.sp_isin[lo:hi],
                                                     w.sp_mid[lo:hi])
        start = self.open_i == 0
        self.cash = np.where(start, np.round(rng.lognormal(np.log(4000), 1.0, size=n), 2), 0.0)
        self.slot_isin = np.full((n, MAX_SLOTS), -1, np.int64)
        self.slot_units = np.zeros((n, MAX_SLOTS))
        # Depots open at the start hold 0-4 distinct non-target positions already.
        k0 = np.where(start, rng.integers(0, 5, size=n), 0)
        band = (len(w.isins) - nt) // 4
        for k in range(4):
            sel = k0 > k
            isin = nt + k * band + rng.integers(0, band, size=sel.sum())
            self.slot_isin[sel, k] = isin
            self.slot_units[sel, k] = np.round(
                rng.lognormal(np.log(3000), 0.9, size=sel.sum()) / w.prices[isin, 0], 6)
        self.bought = np.zeros((n, len(w.isins)), bool)
        self.has_target = np.zeros(n, bool)
        self.first_day = np.full(n, -1, np.int64)
        # Cumulative per-day hazard inputs (column k = sum over days < k): windows are O(1).
        self.c_dep, self.c_buy = np.zeros((n, nb + 1)), np.zeros((n, nb + 1))
        self.c_new, self.c_canc = np.zeros((n, nb + 1)), np.zeros((n, nb + 1))
        self.m_canc = np.zeros((n, nb + 1))   # cancellations counted on the day they are known
        self.force_cancel = chunk == 0        # guarantee one cancelled first target buy
        i32, i16, f8 = np.int32, np.int16, np.float64
        self.O = _Rows(day=i32, dep=i32, otype=i16, isin=i16, units=f8, amount=f8, remark=i16,
                       cday=i32)
        self.B = _Rows(day=i32, dep=i32, btype=i16, amount=f8, remark=i16, cday=i32)
        self.S = _Rows(day=i32, dep=i32, cash=f8)
        self.P = _Rows(day=i32, dep=i32, isin=i16, units=f8, mv=f8)

    # ---- event helpers
    def cancel_day(self, i: int, p: np.ndarray | float, size: int) -> np.ndarray:
        """Day index of the U file that cancels each event (0-10 business days on), -1 none."""
        rng = self.rng
        hit = rng.random(size) < p
        lag = np.where(rng.random(size) < 0.3, 0, rng.integers(1, 11, size=size))
        j = self.w.next_u[np.minimum(i + lag, self.nb)]
        return np.where(hit, j, -1)

    def book(self, i, rows, btype, amount, remark, cday=None) -> None:
        cday = np.full(len(rows), -1) if cday is None else cday
        self.B.add(day=i, dep=rows, btype=btype, amount=np.round(amount, 2), remark=remark,
                   cday=cday)

    def order(self, i, rows, otype, isin, units, amount, remark, cday) -> None:
        self.O.add(day=i, dep=rows, otype=otype, isin=isin, units=np.round(units, 6),
                   amount=np.round(amount, 2), remark=remark, cday=cday)

    def room(self, rows: np.ndarray, isin: np.ndarray) -> np.ndarray:
        """The depot holds the ISIN already or has a free slot."""
        s = self.slot_isin[rows]
        return ((s == isin[:, None]) | (s == -1)).any(1)

    def add_units(self, rows, isin, units) -> None:
        s_isin = self.slot_isin[rows]
        held = s_isin == isin[:, None]
        slot = np.where(held.any(1), held.argmax(1), (s_isin == -1).argmax(1))
        self.slot_isin[rows, slot] = isin
        self.slot_units[rows, slot] += units

    def buy(self, i, rows, isin, amount, otype, remark, p_cancel) -> np.ndarray:
        """Orders with their settlement (and sometimes a fee); cancel day per input row.

        Rows without a free slot are not placed (cancel day -2).
        """
        out = np.full(len(rows), -2, np.int64)
        ok = self.room(rows, isin)
        p_cancel = np.broadcast_to(p_cancel, (len(rows),))[ok]
        rows, isin, amount = rows[ok], isin[ok], amount[ok]
        remark = np.broadcast_to(remark, ok.shape)[ok]
        units = np.round(amount / self.w.prices[isin, i], 6)
        cday = self.cancel_day(i, p_cancel, len(rows))
        out[ok] = cday
        self.order(i, rows, otype, isin, units, amount, remark, cday)
        self.book(i, rows, B_SET, -amount, BR_NULL, cday)
        live = cday < 0
        r = rows[live]
        self.cash[r] -= amount[live]
        self.add_units(r, isin[live], units[live])
        fee = np.round(np.clip(amount * 0.0025, 4.9, 49.9), 2)
        pays = live & (self.rng.random(len(rows)) < 0.5) & (self.cash[rows] >= fee)
        self.book(i, rows[pays], B_FEE, -fee[pays], BR_ORDERFEE)
        self.cash[rows[pays]] -= fee[pays]
        np.add.at(self.m_canc, (rows[~live], cday[~live]), 1.0)
        if otype == O_PUR:
            eff = live & (amount >= self.w.min_ticket)
            re, ie = rows[eff], isin[eff]
            self.c_buy[re, i + 1] += 1
            new = ~self.bought[re, ie]
            np.add.at(self.c_new, (re[new], i + 1), 1.0)
            self.bought[re, ie] = True
        return out

    def deposit(self, i, rows, amount, remark, cday=None) -> None:
        self.book(i, rows, B_DEP, amount, remark, cday)
        live = np.ones(len(rows), bool) if cday is None else cday < 0
        self.cash[rows[live]] += amount[live]
        self.c_dep[rows[live], i + 1] += amount[live]

    # ---- one business day
    def run(self) -> ChunkEvents:
        w = self.w
        for i in range(self.nb):
            for c in (self.c_dep, self.c_buy, self.c_new):
                c[:, i + 1] = c[:, i]
            self.is_open = (self.open_i <= i) & (i < self.close_i)
            if w.u_id[i] >= 0:
                self.day_events(i)
            self.c_canc[:, i + 1] = self.c_canc[:, i] + self.m_canc[:, i]
            if w.b_id[i] >= 0:
                self.holdings(i)
        return ChunkEvents(self.O.arrays(), self.B.arrays(), self.S.arrays(), self.P.arrays(),
                           self.first_day)

    def holdings(self, i: int) -> None:
        """End-of-day saldo and positions of the open depots (B file of day i)."""
        r, s = np.nonzero((self.slot_isin >= 0) & self.is_open[:, None])
        self.S.add(day=i, dep=np.flatnonzero(self.is_open), cash=np.round(self.cash[self.is_open], 2))
        units = self.slot_units[r, s]
        isin = self.slot_isin[r, s]
        self.P.add(day=i, dep=r, isin=isin, units=np.round(units, 6),
                   mv=np.round(units * self.w.prices[isin, i], 2))
        # A sold-out position shows once with 0 units, then leaves the B files.
        self.slot_isin[self.slot_units <= 0] = -1

    def day_events(self, i: int) -> None:
        """All orders and bookings of business day ``i`` (its U file exists)."""
        e = max(i - 1, 0)
        w = self.w
        held = self.slot_isin >= 0
        pv = (self.slot_units * np.where(held, w.prices[np.maximum(self.slot_isin, 0), e], 0)).sum(1)
        dep30 = self.c_dep[:, i] - self.c_dep[:, w.ws30[e]]
        self.cash_flows(i, pv)
        self.target_buys(i, pv, dep30)
        self.other_buys(i, dep30)
        self.sales(i)
        self.transfers(i)
        self.dividends(i)

    def cash_flows(self, i: int, pv: np.ndarray) -> None:
        """Opening deposits, savings plans, deposits, withdrawals, interest, custody fees."""
        w, rng, n, cash = self.w, self.rng, self.n, self.cash
        new = np.flatnonzero(self.open_i == i) if i > 0 else np.empty(0, np.int64)
        new = new[self.is_open[new]]
        self.deposit(i, new, np.round(rng.lognormal(np.log(3000), 0.9, size=len(new)), 2),
                     BR_ONLINE)
        # Savings plans: a 'Sparplan' deposit funds a SavingsPlan order of the same amount.
        due = self.is_open & (self.sp_amount > 0) & np.where(self.sp_mid, w.mid_month[i],
                                                             w.month_start[i])
        r = np.flatnonzero(due)
        amt = self.sp_amount[r].astype(float)
        self.deposit(i, r, amt, BR_SPARPLAN)
        self.buy(i, r, self.sp_isin[r], amt, O_SP, R_SPARPLAN, 0.0)
        # Deposits (some cancelled: never credited) and withdrawals.
        r = np.flatnonzero(self.is_open & (rng.random(n) < P_DEPOSIT * self.act))
        amt = np.where(rng.random(len(r)) < 0.5,
                       rng.choice([500.0, 1000.0, 2000.0, 5000.0, 10000.0], size=len(r)),
                       np.round(rng.lognormal(np.log(2000), 1.0, size=len(r)), 2))
        self.deposit(i, r, amt, rng.choice([BR_NULL, BR_ONLINE, BR_UEBERW], size=len(r)),
                     self.cancel_day(i, P_CANCEL_BOOKING, len(r)))
        r = np.flatnonzero(self.is_open & (cash > 100) & (rng.random(n) < P_WITHDRAW * self.act))
        amt = np.round(cash[r] * rng.uniform(0.1, 0.8, size=len(r)), 2)
        cd = self.cancel_day(i, P_CANCEL_BOOKING, len(r))
        self.book(i, r, B_WD, -amt, rng.choice([BR_NULL, BR_UEBERW], size=len(r)), cd)
        cash[r[cd < 0]] -= amt[cd < 0]
        if w.month_start[i]:
            r = np.flatnonzero(self.is_open & (cash >= 1000))
            amt = np.round(cash[r] * 0.005 / 12, 2)
            self.book(i, r, B_INT, amt, BR_ZINS)
            cash[r] += amt
        if w.quarter_start[i]:
            r = np.flatnonzero(self.is_open & (pv > 0) & (cash > 0))
            amt = np.minimum(np.round(pv[r] * 0.0005 + 2.5, 2), cash[r])
            self.book(i, r, B_FEE, -amt, BR_DEPOTFEE)
            cash[r] -= amt

    def target_buys(self, i: int, pv: np.ndarray, dep30: np.ndarray) -> None:
        """The planted signal: first (and repeat) purchases of the target fund."""
        w, rng, n = self.w, self.rng, self.n
        e = max(i - 1, 0)
        total = self.cash + pv
        cash_share = np.divide(self.cash, total, out=np.zeros(n), where=total > 0)
        eta = hazard_logit(dep30, cash_share,
                           self.c_buy[:, i] - self.c_buy[:, w.ws30[e]],
                           self.c_new[:, i] - self.c_new[:, w.ws90[e]],
                           self.c_canc[:, i] - self.c_canc[:, w.ws30[e]], self.latent)
        p = np.where(self.has_target, REPEAT_TARGET_P, 1 / (1 + np.exp(-eta)))
        r = np.flatnonzero(self.is_open & (rng.random(n) < p))
        if len(r) == 0:
            return
        amt = ticket(rng, len(r), 3000)
        isin = rng.integers(0, self.nt, size=len(r))
        top = np.ceil(np.maximum(amt - self.cash[r], 0) / 100) * 100
        f = top > 0
        self.deposit(i, r[f], top[f], np.full(f.sum(), BR_ONLINE))
        pre = ~self.has_target[r]
        p_cancel = np.where(pre, P_CANCEL_TARGET, P_CANCEL_ORDER)
        first = np.flatnonzero(pre & (amt >= w.min_ticket) & self.room(r, isin))
        forced = first[0] if self.force_cancel and len(first) else None
        if forced is not None:
            p_cancel[forced] = 1.0
        cday = self.buy(i, r, isin, amt, O_PUR,
                        rng.choice([R_NULL, R_ONLINE, R_FILIALE], size=len(r)), p_cancel)
        if forced is not None and cday[forced] >= 0:   # near the end no later file may exist
            self.force_cancel = False
        eff = pre & (cday == -1) & (amt >= w.min_ticket)
        self.has_target[r[eff]] = True
        self.first_day[r[eff]] = i

    def other_buys(self, i: int, dep30: np.ndarray) -> None:
        """Purchases of other funds: more likely with fresh money in the account."""
        rng, n, nt, w = self.rng, self.n, self.nt, self.w
        p = P_BUY * self.act * (1 + 2 * (dep30 > 0))
        r = np.flatnonzero(self.is_open & (self.cash >= 50) & (rng.random(n) < p))
        existing = self.slot_isin[r, rng.integers(0, MAX_SLOTS, size=len(r))]
        fresh = nt + rng.choice(len(w.isins) - nt, size=len(r), p=w.popularity)
        isin = np.where((existing >= nt) & (rng.random(len(r)) < 0.5), existing, fresh)
        amt = ticket(rng, len(r), 2000)
        amt = np.where(amt > self.cash[r], np.floor(self.cash[r] * 0.95), amt)
        ok = amt >= 25
        self.buy(i, r[ok], isin[ok], amt[ok], O_PUR,
                 rng.choice([R_NULL, R_ONLINE, R_FILIALE, R_TELEFON], size=int(ok.sum())),
                 P_CANCEL_ORDER)

    def pick_slot(self, rows: np.ndarray) -> np.ndarray:
        """A random slot with units > 0 per row."""
        return (self.rng.random((len(rows), MAX_SLOTS)) * (self.slot_units[rows] > 0)).argmax(1)

    def sales(self, i: int) -> None:
        """Sales of (part of) a random position; the cash leg is positive."""
        rng, n = self.rng, self.n
        has_pos = (self.slot_units > 0).any(1)
        r = np.flatnonzero(self.is_open & has_pos & (rng.random(n) < P_SELL * self.act))
        s = self.pick_slot(r)
        frac = np.where(rng.random(len(r)) < 0.4, 1.0, rng.uniform(0.2, 0.8, size=len(r)))
        units = np.round(self.slot_units[r, s] * frac, 6)
        isin = self.slot_isin[r, s]
        amt = np.round(units * self.w.prices[isin, i], 2)
        ok = amt >= 0.01
        r, s, units, isin, amt = r[ok], s[ok], units[ok], isin[ok], amt[ok]
        cd = self.cancel_day(i, P_CANCEL_ORDER, len(r))
        self.order(i, r, O_SALE, isin, units, amt,
                   rng.choice([R_NULL, R_ONLINE, R_TELEFON], size=len(r)), cd)
        self.book(i, r, B_SET, amt, BR_NULL, cd)
        live = cd < 0
        rl, sl = r[live], s[live]
        self.slot_units[rl, sl] = np.round(self.slot_units[rl, sl] - units[live], 6)
        self.cash[rl] += amt[live]
        np.add.at(self.m_canc, (r[~live], cd[~live]), 1.0)

    def transfers(self, i: int) -> None:
        """Transfers move units without cash; the target fund is transferred in now and then."""
        rng, n, nt, w = self.rng, self.n, self.nt, self.w
        r = np.flatnonzero(self.is_open & (rng.random(n) < P_TRANSFER_IN * self.act))
        isin = np.where(rng.random(len(r)) < 0.2, rng.integers(0, nt, size=len(r)),
                        nt + rng.choice(len(w.isins) - nt, size=len(r), p=w.popularity))
        amt = np.round(rng.lognormal(np.log(5000), 0.8, size=len(r)), 2)
        units = np.round(amt / w.prices[isin, i], 6)
        ok = self.room(r, isin)
        r, isin, amt, units = r[ok], isin[ok], amt[ok], units[ok]
        self.order(i, r, O_TIN, isin, units, amt, R_UEBERTRAG, -1)
        self.add_units(r, isin, units)
        has_pos = (self.slot_units > 0).any(1)
        r = np.flatnonzero(self.is_open & has_pos & (rng.random(n) < P_TRANSFER_OUT * self.act))
        s = self.pick_slot(r)
        isin, units = self.slot_isin[r, s], self.slot_units[r, s]
        self.order(i, r, O_TOUT, isin, units, np.round(units * w.prices[isin, i], 2),
                   R_UEBERTRAG, -1)
        self.slot_units[r, s] = 0.0

    def dividends(self, i: int) -> None:
        """Dividends on a random position, with withholding tax for some."""
        rng, n = self.rng, self.n
        has_pos = (self.slot_units > 0).any(1)
        r = np.flatnonzero(self.is_open & has_pos & (rng.random(n) < P_DIVIDEND))
        s = self.pick_slot(r)
        mv = self.slot_units[r, s] * self.w.prices[self.slot_isin[r, s], i]
        amt = np.round(mv * rng.uniform(0.003, 0.015, size=len(r)), 2)
        ok = amt >= 0.01
        r, amt = r[ok], amt[ok]
        self.book(i, r, B_DIV, amt, BR_ERTRAG)
        self.cash[r] += amt
        taxed = rng.random(len(r)) < 0.5
        tax = np.round(amt * 0.26375, 2)
        t = taxed & (tax >= 0.01)
        self.book(i, r[t], B_TAX, -tax[t], BR_KEST)
        self.cash[r[t]] -= tax[t]


def simulate_chunk(world: World, chunk: int) -> ChunkEvents:
    """Day-by-day events of depots [chunk*CHUNK_DEPOTS, ...), vectorised over the depots."""
    return _ChunkSim(world, chunk).run()


# --------------------------------------------------------------------------- frames
#
# Rows are kept as "coded tables" (dict column -> numpy array; strings as codes into a
# vocabulary, -1 = NULL) until the very end, so copies for re-deliveries and bad rows are
# cheap array operations. ``_to_frame`` turns them into DataFrames with categorical
# string columns (compact; DuckDB casts them to VARCHAR).

Coded = dict


def _take(t: Coded, idx: np.ndarray) -> Coded:
    return {k: v[idx] for k, v in t.items()}


def _concat(parts: Sequence[Coded]) -> Coded:
    """Row-wise concatenation; empty tables keep their columns, ``{}`` means no table."""
    parts = [p for p in parts if p]
    full = [p for p in parts if _nrows(p)]
    if not full:
        return parts[0] if parts else {}
    return {k: np.concatenate([p[k] for p in full]) for k in full[0]}


def _nrows(t: Coded) -> int:
    return len(next(iter(t.values()))) if t else 0


def _with(t: Coded, **cols: Any) -> Coded:
    """A copy of ``t`` with some columns replaced (scalars broadcast)."""
    out = {k: v.copy() for k, v in t.items()}
    for k, v in cols.items():
        out[k] = np.broadcast_to(np.asarray(v, dtype=out[k].dtype), (_nrows(t),)).copy()
    return out


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
        other = {"orders": "units", "bestand": "units"}.get(name, money)
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


BLANK_CODE = -2   # placeholder for the blank depot; resolved per chunk in _to_frames


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
                 bad_rows: bool = True) -> dict[str, pd.DataFrame]:
    """The whole world in memory (small worlds, tests): table name -> DataFrame."""
    world = build_world(depots, days, seed, end_date, target_isins, min_ticket, bad_rows)
    parts: dict[str, list] = {}
    for frames in iter_frames(world):
        for name, df in frames.items():
            parts.setdefault(name, []).append(df)
    return {name: (pd.concat(dfs, ignore_index=True) if len(dfs) > 1 else dfs[0])
            for name, dfs in parts.items()}


# --------------------------------------------------------------------------- I/O


def generate(settings, depots: int, days: int, seed: int, end_date: date,
             bad_rows: bool = True) -> dict[str, Any]:
    """Write a demo world into ``settings.source_db`` (atomic replace); return a summary.

    Summary: path, depots, business days, files by type (and superseded ones), rows per
    table, depots with a (simulated, never cancelled) first target purchase, seconds.
    """
    from ml.errors import BadInput
    from ml.source import write_source_db

    if depots < 1 or days < 30:
        raise BadInput("demo-data needs at least 1 depot and 30 days")
    t0 = time.monotonic()
    target = settings.target
    world = build_world(depots, days, seed, end_date, target.isins, target.min_ticket_eur,
                        bad_rows)
    stats: dict[str, Any] = {}
    print(f"demo-data: {depots} depots x {len(world.bdays)} business days -> "
          f"{settings.source_db}", file=sys.stderr)
    path = write_source_db(settings.source_db, iter_frames(world, stats))
    files = world.files
    counting = set(world.u_id[world.u_id >= 0]) | set(world.b_id[world.b_id >= 0])
    summary: dict[str, Any] = {
        "path": str(path),
        "depots": depots,
        "business_days": len(world.bdays),
        "first_day": str(world.bdays[0]),
        "last_day": str(world.bdays[-1]),
        "files_U": int((files["Datei_Typ"] == "U").sum()),
        "files_B": int((files["Datei_Typ"] == "B").sum()),
        "files_superseded": int(((world.u_sup >= 0).sum() + (world.b_sup >= 0).sum())),
        "files_not_counting": int(len(files) - len(counting)),
    }
    for name in ("cd_Datei", "cd_Order", "cd_Buchung", "cd_Saldo", "cd_Bestand"):
        summary[f"rows_{name}"] = stats["rows"].get(name, 0)
    summary["target_first_buyers"] = stats["target_first_buyers"]
    summary["bad_rows"] = "yes" if bad_rows else "no"
    summary["seconds"] = round(time.monotonic() - t0, 1)
    return summary
