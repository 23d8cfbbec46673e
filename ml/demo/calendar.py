"""Business-day calendar of the demo world (German/Luxembourg bank holidays, simplified)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np


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


def build_calendar(days: int, end_date: date) -> np.ndarray:
    """Business days of the ``days`` calendar days ending on ``end_date``."""
    return business_days(end_date - timedelta(days=days - 1), end_date)
