"""Freshness: is the latest counting U and B file recent enough for the day being run?

Every business day (Monday to Friday, minus FA_CONFIG ``qc.holidays``) should deliver one
U and one B file (docs/rules.md §1). For a run day D the *age* of a file type is the number
of business days in (latest counting file of that type with Datei_Datum <= D, D]; QC
raises the alert ``freshness`` when the age exceeds ``qc.max_file_age_business_days``
(default 1: one business day may still be on its way, e.g. a B file that loads after the
run). Weekends and configured holidays never count as missing; a holiday that is not
configured does (docs/operations.md, *Freshness*).

Pure part: :func:`business_days`, :func:`missing_days`, :func:`check`. I/O:
:func:`latest_files` (one aggregate over cd_Datei, which holds one row per file).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable, Mapping

from ml.config import QCThresholds, Settings

CHECK = "freshness"
TYPES = ("U", "B")
SHOWN_DAYS = 10  # days named in one message at most


def business_days(start: date, end: date, holidays: Iterable[date] = ()) -> list[date]:
    """Mon-Fri in [start, end] minus ``holidays``, ascending."""
    skip = set(holidays)
    out, day = [], start
    while day <= end:
        if day.weekday() < 5 and day not in skip:
            out.append(day)
        day += timedelta(days=1)
    return out


def missing_days(latest: date, day: date, holidays: Iterable[date] = ()) -> list[date]:
    """Business days after ``latest`` up to and including ``day``: the files still owed."""
    return business_days(latest + timedelta(days=1), day, holidays)


def _days_text(days: list[date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:SHOWN_DAYS])
    return shown if len(days) <= SHOWN_DAYS else f"{shown} ... ({len(days)} business days)"


def check(latest: Mapping[str, date | None], day: date, th: QCThresholds) -> list[dict[str, Any]]:
    """Alerts (QC alert dicts) for every file type whose latest counting file is too old.

    ``latest``: {"U": date or None, "B": ...}, the latest Datei_Datum <= ``day`` per type.
    Value = age in business days (None when the type has no file at all).
    """
    alerts = []
    for typ in TYPES:
        last = latest.get(typ)
        if last is None:
            alerts.append({"Score_Date": day, "Check_Name": CHECK, "Subject": typ, "Value": None,
                           "Threshold": float(th.max_file_age_business_days),
                           "Message": f"no {typ} file up to {day.isoformat()}"})
            continue
        owed = missing_days(last, day, th.holidays)
        if len(owed) > th.max_file_age_business_days:
            alerts.append({"Score_Date": day, "Check_Name": CHECK, "Subject": typ,
                           "Value": float(len(owed)), "Threshold": float(th.max_file_age_business_days),
                           "Message": f"no {typ} file for {_days_text(owed)} (latest {last.isoformat()})"})
    return alerts


LATEST_SQL = (
    "SELECT upper(ltrim(rtrim(Datei_Typ))) AS typ, max(Datei_Datum) AS latest FROM dbo.cd_Datei "
    "WHERE Datei_ID IS NOT NULL AND Datei_Datum IS NOT NULL "
    "AND upper(ltrim(rtrim(Datei_Typ))) IN ('U', 'B') AND Datei_Datum <= CAST('{day}' AS DATE) "
    "GROUP BY upper(ltrim(rtrim(Datei_Typ)))"
)


def latest_files(settings: Settings, day: date) -> dict[str, date | None]:
    """{"U": latest Datei_Datum <= day of a counting U file, "B": ...} from the source.

    A (type, day) with at least one valid cd_Datei row has a counting file (rules §1), so
    the max over valid rows is enough. Raises DataError when the source cannot be read.
    """
    from ml.pipeline import source_rows

    rows = source_rows(settings, LATEST_SQL.format(day=day.isoformat()), "cd_Datei")
    out: dict[str, date | None] = {t: None for t in TYPES}
    for typ, value in rows:
        if value is not None:
            out[str(typ)] = value if isinstance(value, date) and not hasattr(value, "hour") \
                else date.fromisoformat(str(value)[:10])
    return out


def summary_line(latest: Mapping[str, date | None] | None, day: date, th: QCThresholds,
                 note: str | None = None) -> str:
    if latest is None:
        return f"  freshness: not checked ({note})"
    parts = []
    for typ in TYPES:
        last = latest.get(typ)
        if last is None:
            parts.append(f"{typ} none")
        else:
            parts.append(f"{typ} {last.isoformat()} ({len(missing_days(last, day, th.holidays))} "
                         "business days behind)")
    return (f"  freshness: latest files {', '.join(parts)}; at most "
            f"{th.max_file_age_business_days} allowed")
