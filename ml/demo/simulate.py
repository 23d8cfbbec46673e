"""Day-by-day simulation of one chunk of depots, vectorised over its depots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.demo.hazard import hazard_logit, hazard_terms
from ml.demo.params import (BR_DEPOTFEE, BR_ERTRAG, BR_KEST, BR_NULL, BR_ONLINE, BR_ORDERFEE,
                            BR_SPARPLAN, BR_UEBERW, BR_ZINS, B_DEP, B_DIV, B_FEE, B_INT, B_SET,
                            B_TAX, B_WD, CHUNK_DEPOTS, MAX_SLOTS, O_PUR, O_SALE, O_SP, O_TIN,
                            O_TOUT, P_BUY, P_CANCEL_BOOKING, P_CANCEL_ORDER, P_CANCEL_TARGET,
                            P_DEPOSIT, P_DIVIDEND, P_HOUSE_BUY, P_PAYDAY_SKIP, P_SELL,
                            P_TRANSFER_IN, P_TRANSFER_OUT, P_WITHDRAW, REPEAT_TARGET_P,
                            R_FILIALE, R_NULL, R_ONLINE, R_SPARPLAN, R_TELEFON, R_UEBERTRAG,
                            _rng)
from ml.demo.world import World


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


class _NoRows:
    """A recorder that drops everything (oracle replicas need no rows)."""

    def add(self, **arrays: Any) -> None:
        pass


class DayCum:
    """Per-depot running totals by business day: ``col(k)`` = sum of increments of days < k.

    Increments of the current day go to ``today``, increments dated on a later day (a
    cancellation known when its file arrives) to ``later``; :meth:`close_day` makes column
    ``i + 1``. So a window sum over business days [a, i) is ``col(i) - col(a)``, O(1) per day.
    Stored day-major, shape (days + 1, depots), so a day's column is contiguous. A replica
    (:meth:`replicate`) shares the past columns and owns only its future ones.
    """

    def __init__(self, n: int, nb: int, later: bool = False) -> None:
        self.cum = np.zeros((nb + 1, n))
        self.base, self.past, self.rows = 0, None, None
        self.today = np.zeros(n)
        self.later = np.zeros((nb + 1, n)) if later else None

    def col(self, k: int) -> np.ndarray:
        return self.cum[k - self.base] if k >= self.base else self.past[k, self.rows]

    def window(self, start: int, i: int) -> np.ndarray:
        return self.col(i) - self.col(start)

    def add_later(self, rows: np.ndarray, k: np.ndarray, values: float) -> None:
        k = k - self.base
        keep = k < self.later.shape[0]          # replicas drop what lies beyond their horizon
        np.add.at(self.later, (k[keep], rows[keep]), values)

    def close_day(self, i: int) -> None:
        nxt = self.col(i) + self.today
        if self.later is not None:
            nxt += self.later[i - self.base]
        self.cum[i + 1 - self.base] = nxt
        self.today[:] = 0

    def replicate(self, rows: np.ndarray, day: int, width: int) -> "DayCum":
        """Rows ``rows`` of this (full-history) counter after the end of ``day``, with room
        for ``width`` more days."""
        r = object.__new__(DayCum)
        r.base, r.past, r.rows = day + 1, self.cum, rows
        r.cum = np.zeros((width + 1, len(rows)))
        r.cum[0] = self.cum[day + 1, rows]
        r.today = np.zeros(len(rows))
        r.later = None
        if self.later is not None:
            r.later = np.zeros((width + 1, len(rows)))
            part = self.later[day + 1:day + 2 + width][:, rows]
            r.later[:len(part)] = part
        return r


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


def p_effective_ticket(median: float, min_ticket: float) -> float:
    """P(a :func:`ticket` draw with this median is >= ``min_ticket``), exactly (the
    lognormal part: rounded to cents, so >= min - 0.005 before rounding)."""
    from math import erf, log, sqrt

    rounds = np.array([250.0, 500.0, 1500.0, 2000.0, 2500.0, 3000.0, 5000.0, 10000.0])
    if min_ticket <= 10.0:
        return 1.0
    if min_ticket > 250_000.0:
        return 0.0
    z = (log(max(min_ticket - 0.005, 1e-9)) - log(median)) / 0.8
    p_logn = 1 - 0.5 * (1 + erf(z / sqrt(2)))
    return float(0.10 * (1000.0 >= min_ticket) + 0.04 * (999.99 >= min_ticket)
                 + 0.26 * (rounds >= min_ticket).mean() + 0.60 * p_logn)


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
        self.chunk, self.record = chunk, True       # record=False: no rows (oracle)
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
        self.house_aff, self.pay_amount = w.house_aff[lo:hi], w.pay_amount[lo:hi]
        self.open_num = w.open_num[lo:hi]
        if w.n_house:       # most house-affine old depots hold a house fund already
            pick = nt + rng.integers(0, w.n_house, size=n)
            sel = (start & self.house_aff & (rng.random(n) < 0.6)
                   & ~(self.slot_isin == pick[:, None]).any(1))
            isin = pick[sel]
            self.slot_isin[sel, 4] = isin
            self.slot_units[sel, 4] = np.round(
                rng.lognormal(np.log(3000), 0.9, size=sel.sum()) / w.prices[isin, 0], 6)
        self.bought = np.zeros((n, len(w.isins)), bool)
        self.has_target = np.zeros(n, bool)
        self.first_day = np.full(n, -1, np.int64)
        # Running per-day hazard inputs (windows are O(1), see DayCum).
        self.c_dep, self.c_buy, self.c_new = DayCum(n, nb), DayCum(n, nb), DayCum(n, nb)
        self.c_house, self.c_canc = DayCum(n, nb), DayCum(n, nb, later=True)
        self.ew_dep = np.zeros(n)              # deposits with a 10-day half-life (EUR)
        self.last_dep = np.full(n, -np.inf)    # calendar day number of the last deposit
        self.cash_avg = self.cash.copy()       # cash with a 20-day half-life (EUR)
        self.force_cancel = chunk == 0        # guarantee one cancelled first target buy
        self.force_transfer = chunk == 0      # ... and one transfer in of the target fund
        self.oracle = None                     # set on oracle replicas (ml.demo.oracle)
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
        self.c_canc.add_later(rows[~live], cday[~live], 1.0)
        if otype == O_PUR:
            eff = live & (amount >= self.w.min_ticket)
            re, ie = rows[eff], isin[eff]
            np.add.at(self.c_buy.today, re, 1.0)
            new = ~self.bought[re, ie]
            np.add.at(self.c_new.today, re[new], 1.0)
            self.bought[re, ie] = True
            house = (ie >= self.nt) & (ie < self.nt + self.w.n_house)
            np.add.at(self.c_house.today, re[house], 1.0)
        return out

    def deposit(self, i, rows, amount, remark, cday=None) -> None:
        self.book(i, rows, B_DEP, amount, remark, cday)
        live = np.ones(len(rows), bool) if cday is None else cday < 0
        self.cash[rows[live]] += amount[live]
        np.add.at(self.c_dep.today, rows[live], amount[live])

    # ---- one business day
    def run(self, on_day_end=None) -> ChunkEvents:
        """Simulate every business day; ``on_day_end(self, i)`` (optional) is called after
        day ``i`` is complete (the oracle takes its snapshots there)."""
        for i in range(self.nb):
            self.step(i)
            if on_day_end is not None:
                on_day_end(self, i)
        return ChunkEvents(self.O.arrays(), self.B.arrays(), self.S.arrays(), self.P.arrays(),
                           self.first_day)

    def step(self, i: int) -> None:
        """Business day ``i``: the U file's events, the day's state updates, the B file."""
        w = self.w
        self.is_open = (self.open_i <= i) & (i < self.close_i)
        if w.u_id[i] >= 0:
            self.day_events(i)
        self.close_day(i)
        if w.b_id[i] >= 0:
            self.holdings(i)

    def close_day(self, i: int) -> None:
        """End of day ``i``: deposit memory, last deposit day, slow cash average, counters."""
        w = self.w
        today = self.c_dep.today
        self.ew_dep = self.ew_dep * w.dec_dep[i] + today
        self.last_dep = np.where(today > 0, float(w.day_num[i]), self.last_dep)
        self.cash_avg = self.cash_avg * w.dec_cash[i] + self.cash * (1 - w.dec_cash[i])
        for c in (self.c_dep, self.c_buy, self.c_new, self.c_house, self.c_canc):
            c.close_day(i)

    def counters(self) -> dict[str, DayCum]:
        return {"c_dep": self.c_dep, "c_buy": self.c_buy, "c_new": self.c_new,
                "c_house": self.c_house, "c_canc": self.c_canc}

    def holdings(self, i: int) -> None:
        """End-of-day saldo and positions of the open depots (B file of day i)."""
        if not self.record:                # the oracle's runs write no rows
            self.slot_isin[self.slot_units <= 0] = -1
            return
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
        dep30 = self.c_dep.window(w.ws30[e], i)
        eta = self.hazard_eta(i, pv, dep30)
        self.cash_flows(i, pv)
        self.target_buys(i, eta)
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
        # Pay-day deposits: a monthly transfer on the first business day (idle cash grows
        # for the depots that do not invest it).
        if w.month_start[i]:
            r = np.flatnonzero(self.is_open & (self.pay_amount > 0)
                               & (rng.random(n) >= P_PAYDAY_SKIP))
            self.deposit(i, r, self.pay_amount[r], BR_UEBERW)
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

    def hazard_terms(self, i: int, pv: np.ndarray, dep30: np.ndarray) -> dict[str, np.ndarray]:
        """The hazard's terms for day ``i`` from the state at the end of day ``i - 1``."""
        w, n, nt = self.w, self.n, self.nt
        e = max(i - 1, 0)
        total = self.cash + pv
        cash_share = np.divide(self.cash, total, out=np.zeros(n), where=total > 0)
        s = self.slot_isin
        house_pos = ((s >= nt) & (s < nt + w.n_house) & (self.slot_units > 0)).sum(1)
        return hazard_terms(
            dep30=dep30, cash_share=cash_share, buys30=self.c_buy.window(w.ws30[e], i),
            new90=self.c_new.window(w.ws90[e], i), canc30=self.c_canc.window(w.ws30[e], i),
            ew_dep=self.ew_dep, days_since_dep=w.day_num[e] - self.last_dep,
            buys365=self.c_buy.window(w.ws365[e], i),
            tenure_days=np.maximum(w.day_num[e] - self.open_num, 0), house_pos=house_pos,
            house_buys90=self.c_house.window(w.ws90[e], i),
            idle_growth=self.cash - self.cash_avg, momentum=w.momentum[e],
            payday=w.payday[i], january=w.january[i], q4=w.q4[i], latent=self.latent)

    def hazard_eta(self, i: int, pv: np.ndarray, dep30: np.ndarray) -> np.ndarray:
        return hazard_logit(self.hazard_terms(i, pv, dep30), self.w.weights)

    def target_buys(self, i: int, eta: np.ndarray) -> None:
        """The planted signal: first (and repeat) purchases of the target fund."""
        w, rng, n = self.w, self.rng, self.n
        p = np.where(self.has_target, REPEAT_TARGET_P, 1 / (1 + np.exp(-eta)))
        if self.oracle is not None:
            self.oracle.accumulate(self, i, p)
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
        p = P_BUY * self.act * (1 + 2 * np.minimum(dep30 / 2000, 1))
        r = np.flatnonzero(self.is_open & (self.cash >= 50) & (rng.random(n) < p))
        existing = self.slot_isin[r, rng.integers(0, MAX_SLOTS, size=len(r))]
        fresh = nt + rng.choice(len(w.isins) - nt, size=len(r), p=w.popularity)
        isin = np.where((existing >= nt) & (rng.random(len(r)) < 0.5), existing, fresh)
        if w.n_house:       # house-affine depots buy the fund house's other funds
            house = self.house_aff[r] & (rng.random(len(r)) < P_HOUSE_BUY)
            isin = np.where(house, nt + rng.integers(0, w.n_house, size=len(r)), isin)
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
        self.c_canc.add_later(r[~live], cd[~live], 1.0)

    def transfers(self, i: int) -> None:
        """Transfers move units without cash; the target fund is transferred in now and then."""
        rng, n, nt, w = self.rng, self.n, self.nt, self.w
        r = np.flatnonzero(self.is_open & (rng.random(n) < P_TRANSFER_IN * self.act))
        isin = np.where(rng.random(len(r)) < 0.2, rng.integers(0, nt, size=len(r)),
                        nt + rng.choice(len(w.isins) - nt, size=len(r), p=w.popularity))
        if self.force_transfer and len(r):
            isin[0] = 0
        amt = np.round(rng.lognormal(np.log(5000), 0.8, size=len(r)), 2)
        units = np.round(amt / w.prices[isin, i], 6)
        ok = self.room(r, isin)
        r, isin, amt, units = r[ok], isin[ok], amt[ok], units[ok]
        if (isin < nt).any():
            self.force_transfer = False
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
