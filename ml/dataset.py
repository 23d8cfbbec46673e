"""Model data: aggregate rows with their labels for a window, and the splits with purge gaps.

Reading (I/O) is :func:`load_window` and :func:`load_day`; everything else is pure.

Splits (docs/model.md, with a diagram): the training window [train_start, train_end] is cut
in time into the *fit time* and the *calibration* part (its last 90 days), followed by the
*test* window. Inside the fit time, whole depots are held out for early stopping: a share
(EARLY_STOPPING_SHARE) of the depots, chosen by a hash of Depot_Number and a seed, forms the
*early_stopping* part, the others the *fit* part, on the same days (no depot on both sides).
A row of Score_Date D and horizon T has its label window [D+1, D+T]. A row whose label
window reaches into the start of the next part in time is dropped (the purge gap), so no
label used in one part depends on days that belong to a later part, and every label the
model learned from was known before the test begins.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Sequence

import numpy as np
import pandas as pd

from ml.config import Settings
from ml.db import SCHEMA, Database
from ml.errors import BadInput, DataError
from ml.features import FEATURES  # the one list (re-exported for callers)

KEYS = ("Score_Date", "Depot_Number")
CALIBRATION_DAYS = 90
# Share of the depots whose fit-time rows form the early-stopping part (whole depots).
EARLY_STOPPING_SHARE = 0.2
# The fit time must keep at least this many days of label-complete rows after its purge gap.
MIN_FIT_DAYS = 28


def label_column(horizon: int) -> str:
    return f"label_T{int(horizon)}"


def check_horizons(settings: Settings, horizons: Sequence[int]) -> tuple[int, ...]:
    """Horizons must be among the configured ones (the labels table has only those)."""
    configured = settings.target.horizons
    unknown = [h for h in horizons if h not in configured]
    if unknown:
        raise BadInput(
            f"--horizons: {', '.join(map(str, unknown))} not configured "
            f"(FA_CONFIG target.horizons: {', '.join(map(str, configured))})"
        )
    return tuple(sorted(horizons))


def _numeric(df: pd.DataFrame, dtype: str = "float64") -> pd.DataFrame:
    """Features as ``dtype`` (DECIMAL arrives as Decimal objects from pyodbc), dates as dates."""
    out = df.copy()
    for col in FEATURES:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(dtype)
    out["Score_Date"] = pd.to_datetime(out["Score_Date"]).dt.normalize()
    out["Depot_Number"] = out["Depot_Number"].astype(str)
    return out


def load_window(db: Database, settings: Settings, start: date, end: date,
                horizons: Sequence[int], dtype: str = "float64") -> pd.DataFrame:
    """Pre_First_Target rows with Score_Date in [start, end] and their labels.

    Returns one row per (Score_Date, Depot_Number): KEYS, FEATURES (as ``dtype``; training
    reads float32, the precision XGBoost stores, at half the memory), label_T<h> per
    horizon (float: 1.0 / 0.0 / NaN for censored), ordered by Score_Date, Depot_Number.
    """
    db.require_table(settings.agg_table, "run 'python orchestrate.py backfill' first")
    db.require_table(settings.labels_table, "run 'python orchestrate.py backfill' first")
    feats = ", ".join(f"a.{c}" for c in FEATURES)
    labels = ", ".join(f"l.{label_column(h)}" for h in horizons)
    sql = (
        f"SELECT a.Score_Date, a.Depot_Number, {feats}, {labels} "
        f"FROM {SCHEMA}.{settings.agg_table} a "
        f"JOIN {SCHEMA}.{settings.labels_table} l "
        "ON l.Score_Date = a.Score_Date AND l.Depot_Number = a.Depot_Number "
        "WHERE a.Pre_First_Target = 1 AND a.Score_Date >= ? AND a.Score_Date <= ? "
        "ORDER BY a.Score_Date, a.Depot_Number"
    )
    df = _numeric(db.query_df(sql, [start, end]), dtype)
    for h in horizons:
        df[label_column(h)] = pd.to_numeric(df[label_column(h)], errors="coerce").astype("float64")
    return df


def load_day(db: Database, settings: Settings, day: date) -> pd.DataFrame:
    """The Pre_First_Target rows of one Score_Date: KEYS + FEATURES, by Depot_Number."""
    db.require_table(settings.agg_table, "run 'python orchestrate.py backfill' first")
    feats = ", ".join(FEATURES)
    sql = (
        f"SELECT Score_Date, Depot_Number, {feats} FROM {SCHEMA}.{settings.agg_table} "
        "WHERE Pre_First_Target = 1 AND Score_Date = ? ORDER BY Depot_Number"
    )
    return _numeric(db.query_df(sql, [day]))


def score_date_range(db: Database, settings: Settings) -> tuple[date, date]:
    """First and last Score_Date of the aggregate table, or DataError when it is empty."""
    db.require_table(settings.agg_table, "run 'python orchestrate.py backfill' first")
    row = db.query_df(
        f"SELECT MIN(Score_Date) AS lo, MAX(Score_Date) AS hi FROM {SCHEMA}.{settings.agg_table}"
    )
    if row.empty or pd.isna(row.iloc[0]["lo"]):
        raise DataError(f"table {SCHEMA}.{settings.agg_table} is empty: run 'python orchestrate.py backfill' first")
    return pd.Timestamp(row.iloc[0]["lo"]).date(), pd.Timestamp(row.iloc[0]["hi"]).date()


def min_training_days(horizon: int, calibration_days: int = CALIBRATION_DAYS) -> int:
    """Shortest training window for ``horizon``: MIN_FIT_DAYS of fit rows + purge + calibration."""
    return MIN_FIT_DAYS + int(horizon) + calibration_days


@dataclass(frozen=True)
class Windows:
    """Training and test windows (inclusive dates) of one training run, and the holdout.

    ``early_stopping_share`` of the depots (hash of Depot_Number and ``holdout_seed``) form
    the early-stopping part inside the fit time (:func:`early_stopping_depots`).
    """

    train_start: date
    train_end: date
    test_start: date
    test_end: date
    calibration_days: int = CALIBRATION_DAYS
    early_stopping_share: float = EARLY_STOPPING_SHARE
    holdout_seed: int = 42

    def __post_init__(self) -> None:
        if self.train_start > self.train_end:
            raise BadInput("--train-start must not be after --train-end")
        if self.test_start > self.test_end:
            raise BadInput("--test-start must not be after --test-end")
        if self.test_start <= self.train_end:
            raise BadInput("the test window must start after the training window ends (--test-start > --train-end)")
        if not 0 < self.early_stopping_share < 1:
            raise BadInput("the early-stopping share must be in (0, 1)")
        if self.span <= self.calibration_days:
            raise BadInput(
                f"the training window has {self.span} days; it needs more than "
                f"{self.calibration_days} (the calibration part is its last {self.calibration_days})"
            )

    @property
    def span(self) -> int:
        """Days of the training window."""
        return (self.train_end - self.train_start).days + 1

    def require_fit_days(self, horizons: Sequence[int]) -> None:
        """BadInput unless the fit time keeps MIN_FIT_DAYS of rows after each horizon's purge gap."""
        for h in sorted(horizons, reverse=True):
            need = min_training_days(h, self.calibration_days)
            if self.span < need:
                raise BadInput(
                    f"the training window has {self.span} days; horizon {h} needs at least {need} "
                    f"({MIN_FIT_DAYS} fit + {h} purge + {self.calibration_days} calibration)"
                )

    @property
    def calib_start(self) -> date:
        return self.train_end - timedelta(days=self.calibration_days - 1)

    def parts(self) -> list[tuple[str, date, date]]:
        """(name, first day, last day) of fit, early_stopping, calibration, test in order.

        fit and early_stopping share their days (other depots).
        """
        fit_end = self.calib_start - timedelta(days=1)
        return [
            ("fit", self.train_start, fit_end),
            ("early_stopping", self.train_start, fit_end),
            ("calibration", self.calib_start, self.train_end),
            ("test", self.test_start, self.test_end),
        ]

    def as_dict(self) -> dict[str, str]:
        out = {name: [lo.isoformat(), hi.isoformat()] for name, lo, hi in self.parts()}
        return {
            "train_start": self.train_start.isoformat(),
            "train_end": self.train_end.isoformat(),
            "test_start": self.test_start.isoformat(),
            "test_end": self.test_end.isoformat(),
            "parts": out,
            "early_stopping": {"share": self.early_stopping_share, "seed": self.holdout_seed,
                               "by": "Depot_Number"},
        }


def early_stopping_depots(depots: pd.Series, share: float, seed: int | str) -> np.ndarray:
    """Which rows belong to held-out (early-stopping) depots: bool array of len(depots).

    A depot is held out when the first 8 bytes of sha256("<seed>:<Depot_Number>"), read as
    an unsigned integer, fall below share * 2**64: whole depots, the same on every machine
    and run, independent of the other depots and of the rows' order.
    """
    codes, uniques = pd.factorize(depots.astype(str), sort=False)
    limit = int(share * 2**64)
    held = np.fromiter(
        (int.from_bytes(hashlib.sha256(f"{seed}:{d}".encode()).digest()[:8], "big") < limit for d in uniques),
        dtype=bool, count=len(uniques),
    )
    return held[codes] if len(codes) else np.zeros(0, dtype=bool)


def label_horizon(db: Database, settings: Settings, horizons: Sequence[int]) -> date | None:
    """The last day labels are known up to (the data horizon H), as the labels show it.

    A 0 label of Score_Date D and horizon T exists only when D + T <= H, so
    max(D + T) over 0 labels is a lower bound of H, equal to H as soon as one depot of
    day H - T did not buy (always, on real data). Being a lower bound it is safe: it can
    only leave out complete rows, never let in incomplete ones. None when no 0 label exists.
    Read from the labels table itself, so it needs neither the source nor dbt.
    """
    db.require_table(settings.labels_table, "run 'python orchestrate.py backfill' first")
    best = None
    for h in horizons:
        col = label_column(h)
        hi = db.query_df(
            f"SELECT MAX(Score_Date) AS d FROM {SCHEMA}.{settings.labels_table} WHERE {col} = 0"
        ).iloc[0]["d"]
        if not pd.isna(hi):
            cand = pd.Timestamp(hi).date() + timedelta(days=int(h))
            best = cand if best is None else max(best, cand)
    return best


def complete(df: pd.DataFrame, horizon: int, horizon_date: date | None) -> pd.Series:
    """Rows whose label for ``horizon`` is complete: D + T <= the data horizon.

    Positive labels are known early (the buy happened) but 0s only once D + T has passed:
    keeping the early positives would leave only 1s near the horizon and bias every figure.
    """
    if horizon_date is None:
        return pd.Series(False, index=df.index)
    col = label_column(horizon)
    return df[col].notna() & (df["Score_Date"] + pd.Timedelta(days=horizon) <= pd.Timestamp(horizon_date))


def split_masks(df: pd.DataFrame, windows: Windows, horizon: int,
                horizon_date: date | None) -> dict[str, pd.Series]:
    """The rows of each part of :func:`split` as boolean Series over ``df``'s index (pure).

    Masks, not copies, so a caller can keep a part's rows (e.g. the test rows until the
    registry decision) at 1 byte a row and cut them from ``df`` when it needs them.
    """
    # masks over df itself: a filtered copy of df first would hold its rows twice
    known = complete(df, horizon, horizon_date)
    day, end = df["Score_Date"], df["Score_Date"] + pd.Timedelta(days=horizon)
    ts = pd.Timestamp
    fit_time = known & (day >= ts(windows.train_start)) & (end < ts(windows.calib_start))
    held = pd.Series(False, index=df.index)
    held[fit_time] = early_stopping_depots(df.loc[fit_time, "Depot_Number"],
                                           windows.early_stopping_share, windows.holdout_seed)
    return {
        "fit": fit_time & ~held,
        "early_stopping": fit_time & held,
        "calibration": known & (day >= ts(windows.calib_start)) & (day <= ts(windows.train_end))
                       & (end < ts(windows.test_start)),
        "test": known & (day >= ts(windows.test_start)) & (day <= ts(windows.test_end)),
    }


def part_of(df: pd.DataFrame, mask: pd.Series, horizon: int) -> pd.DataFrame:
    """The rows of ``mask`` (a copy) with a column ``label`` (int 0/1) for ``horizon``."""
    part = df[mask].copy()
    part["label"] = part[label_column(horizon)].astype("int64")
    return part


def split(df: pd.DataFrame, windows: Windows, horizon: int,
          horizon_date: date | None) -> dict[str, pd.DataFrame]:
    """Cut label-complete rows into fit / early_stopping / calibration / test with purge gaps.

    ``df`` as from :func:`load_window`; ``horizon_date`` the data horizon (see
    :func:`label_horizon`). Keeps rows with D + horizon <= horizon_date; a row of the fit
    time is kept only when D + horizon < calib_start, a calibration row only when
    D + horizon < test_start. The fit-time rows of held-out depots
    (:func:`early_stopping_depots`) are the early_stopping part, the others the fit part.
    Returns a dict of DataFrames (copies) with a column ``label`` (int 0/1).
    """
    return {name: part_of(df, mask, horizon)
            for name, mask in split_masks(df, windows, horizon, horizon_date).items()}


def check_features(features: Sequence[str] | None) -> tuple[str, ...]:
    """The feature list of a training run: None = FEATURES; otherwise a non-empty subset of
    FEATURES without repeats, in the caller's order (only columns load_window reads)."""
    if features is None:
        return FEATURES
    features = tuple(features)
    unknown = [f for f in features if f not in FEATURES]
    if not features or unknown or len(set(features)) != len(features):
        raise BadInput(
            "features must be a non-empty list of distinct columns of ml.features.FEATURES"
            + (f"; unknown: {', '.join(map(str, unknown))}" if unknown else "")
        )
    return features


def matrix(df: pd.DataFrame, features: Sequence[str] = FEATURES) -> np.ndarray:
    """The feature matrix (rows x len(features), float32, NaN for missing).

    float32 is what XGBoost stores and predicts from (a float64 matrix is converted), so
    the booster sees the same values either way; float32 halves the copy.
    """
    return df.loc[:, list(features)].to_numpy(dtype="float32")
