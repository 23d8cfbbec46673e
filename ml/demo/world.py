"""Instruments, depots and the World (everything shared by all chunks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

import numpy as np
import pandas as pd

from ml.demo.calendar import build_calendar
from ml.demo.hazard import (HALF_LIFE_CASH_DAYS, HALF_LIFE_DEPOSIT_DAYS, MOMENTUM_DAYS,
                             profile)
from ml.demo.mess import build_files
from ml.demo.params import DEFAULT_HOUSE_ISINS, N_OTHER_ISINS, _rng


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
    # v2 behaviour and hazard (docs/demo_world.md "The planted signal")
    n_house: int                 # house funds: isins[n_target : n_target + n_house]
    weights: dict                # hazard weights of the profile (ml.demo.hazard)
    profile: str
    ws365: np.ndarray            # first day index of the 365-calendar-day window ending at i
    day_num: np.ndarray          # calendar day number (days since 1970-01-01) per business day
    dec_dep: np.ndarray          # decay of the deposit memory from day i-1 to day i
    dec_cash: np.ndarray         # decay of the slow cash average from day i-1 to day i
    momentum: np.ndarray         # log(P_target0[i] / P_target0[i-20])
    payday: np.ndarray           # 1.0 on the 2nd-5th business day of a month
    january: np.ndarray          # 1.0 in January
    q4: np.ndarray               # 1.0 in October-December
    open_num: np.ndarray         # calendar day number the depot was opened (old ones: before day 0)
    house_aff: np.ndarray        # bool: the depot favours the fund house's other funds
    pay_amount: np.ndarray       # monthly pay-day deposit (EUR), 0 = none
    mess: dict = field(default_factory=dict)   # forced file-level mess days, for docs/tests


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
                bad_rows: bool = True, house_isins: Sequence[str] = DEFAULT_HOUSE_ISINS,
                hazard_profile: str = "default") -> World:
    """Calendar, files, instruments, prices and depot attributes (no per-day rows yet).

    ``house_isins``: the fund house's other funds (target ISINs among them are ignored);
    ``hazard_profile``: a key of ``ml.demo.hazard.HAZARD_PROFILES`` (ValueError otherwise).
    """
    weights = profile(hazard_profile)
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
    house = [x for x in dict.fromkeys(house_isins) if x not in targets]
    others = [x for x in make_isins(rng, N_OTHER_ISINS + len(targets) + len(house))
              if x not in targets and x not in house]
    isins = np.array(targets + house + others[:N_OTHER_ISINS - len(house)], dtype=object)
    n_isin, n_target, n_house = len(isins), len(targets), len(house)
    # Zipf-like popularity; the house funds get middling ranks (8, 15, 25, ...).
    n_other = n_isin - n_target
    rank = np.arange(1, n_other + 1)
    house_rank = (np.array([8, 15, 25, 35, 45])[:n_house] if n_house <= 5
                  else np.linspace(8, n_other, n_house).astype(int))
    rest = np.setdiff1d(rank, house_rank)
    ranks = np.r_[house_rank, rest][:n_other]
    popularity = 1.0 / ranks ** 0.9
    popularity /= popularity.sum()
    # Prices: a common market factor (beta 0.5-1.2, targets 1) plus an own random walk.
    p0 = rng.uniform(20, 300, size=n_isin)
    vol = rng.uniform(0.004, 0.015, size=n_isin)
    beta = np.r_[np.ones(n_target), rng.uniform(0.5, 1.2, size=n_isin - n_target)]
    market = rng.normal(0.0002, 0.008, size=nb)
    steps = beta[:, None] * market[None, :] + rng.normal(0, 1, size=(n_isin, nb)) * vol[:, None]
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

    # v2 depot attributes (own stream): account age before the first day, fund-house
    # affinity, monthly pay-day deposits.
    rng = _rng(seed, 4)
    day_num = bdays.astype(np.int64)
    age0 = np.round(rng.lognormal(np.log(1500), 0.8, size=depots)).astype(np.int64)
    open_num = np.where(open_i == 0, day_num[0] - age0, day_num[np.minimum(open_i, nb - 1)])
    house_aff = (rng.random(depots) < 0.3) & (n_house > 0)
    pay_amount = np.where(rng.random(depots) < 0.35,
                          np.round(rng.lognormal(np.log(500), 0.6, size=depots), -1), 0.0)

    gap = np.r_[1, np.diff(day_num)].astype(float)
    prev = np.maximum(np.arange(nb) - MOMENTUM_DAYS, 0)
    momentum = np.log(prices[0] / prices[0, prev]) if n_target else np.zeros(nb)
    month_no = (months.astype(np.int64) % 12) + 1
    bdom = np.zeros(nb, np.int64)                 # business day of the month, 0-based
    for i in range(1, nb):
        bdom[i] = 0 if month_start[i] else bdom[i - 1] + 1

    return World(
        seed=seed, bad_rows=bad_rows, min_ticket=float(min_ticket), bdays=bdays,
        ymd=pd.DatetimeIndex(bdays).strftime("%Y%m%d").astype(np.int64).to_numpy(),
        files=files["files"], u_id=files["u_id"], u_sup=files["u_sup"], b_id=files["b_id"],
        b_sup=files["b_sup"], next_u=next_u, ws30=ws30, ws90=ws90, month_start=month_start,
        mid_month=mid_month, quarter_start=quarter_start, isins=isins, n_target=n_target,
        popularity=popularity, prices=prices, depot_numbers=numbers, open_i=open_i,
        close_i=close_i, activity=activity, latent=latent, sp_amount=sp_amount,
        sp_isin=sp_isin.astype(np.int64), sp_mid=sp_mid, mess=files["mess"],
        n_house=n_house, weights=dict(weights), profile=hazard_profile,
        ws365=np.searchsorted(bdays, bdays - np.timedelta64(364, "D")), day_num=day_num,
        dec_dep=0.5 ** (gap / HALF_LIFE_DEPOSIT_DAYS), dec_cash=0.5 ** (gap / HALF_LIFE_CASH_DAYS),
        momentum=momentum, payday=((bdom >= 1) & (bdom <= 4)).astype(float),
        january=(month_no == 1).astype(float), q4=(month_no >= 10).astype(float),
        open_num=open_num, house_aff=house_aff, pay_amount=pay_amount,
    )
