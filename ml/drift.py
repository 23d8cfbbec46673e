"""Drift: population stability (PSI) of every model feature and of the score, per day.

At training time (:func:`write_reference`, called once per horizon from ml/train.py) the
rows of the *fit* and *calibration* parts are cut into ``BINS`` quantile bins per column
(NULL is a bin of its own) and the share of rows in each bin is stored with the model as
``drift.json`` (hashed in the registry like the other artifacts). The score column
(``p_buy_<T>d``) is binned the same way on the model's calibrated probabilities of those
rows. A scoring day then needs no history: QC bins the day's rows with the stored edges
and compares the shares (docs/operations.md, *Drift*).

PSI = sum over bins of (a - e) * ln(a / e), e the reference share, a the day's share, both
floored at ``EPS`` (an empty bin would make it infinite). Levels: ``ok`` below
``qc.psi_warning`` (0.1), ``warning`` below ``qc.psi_alert`` (0.25), ``alert`` from there.

Bins: interior edges at the weighted quantiles 1/BINS .. (BINS-1)/BINS of the non-NULL
reference values (observed values; repeated edges merged, so a column with a mass point
has fewer bins); value x falls in bin i when edges[i-1] < x <= edges[i]. Rows of a
down-sampled part carry their weights (ml/sampling.py). At most ``SAMPLE_ROWS`` reference
rows are used (a fixed-seed sample), which keeps training time and memory flat.
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ml.config import QCThresholds, Settings

BINS = 10
EPS = 1e-4
SAMPLE_ROWS = 500_000
FILE = "drift.json"
LEVELS = ("ok", "warning", "alert")


def at_model_precision(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to float32 (as float64): the precision the booster sees.

    Training reads its rows as float32 (ml/dataset.py), ``score`` and ``qc`` as float64;
    binning both at float32 puts a value in the same bin on either side (an edge taken
    from a float32 training value would otherwise sit just above the same float64 value).
    """
    return np.asarray(values, dtype="float64").astype("float32").astype("float64")


def edges_of(values: np.ndarray, weights: np.ndarray | None = None, bins: int = BINS) -> list[float]:
    """Interior bin edges: weighted quantiles k/bins (k = 1 .. bins-1) of the non-NaN values
    (at model precision, :func:`at_model_precision`)."""
    values = at_model_precision(values)
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype="float64")
    keep = ~np.isnan(values)
    v, w = values[keep], w[keep]
    if v.size == 0:
        return []
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(w[order])
    cum = cum / cum[-1]
    qs = np.arange(1, bins) / bins
    idx = np.minimum(np.searchsorted(cum, qs - 1e-12, side="left"), v.size - 1)
    return [float(x) for x in np.unique(v[idx])]


def shares_of(values: np.ndarray, edges: Sequence[float], weights: np.ndarray | None = None) -> np.ndarray:
    """Share of rows per bin: len(edges) + 1 value bins, then the NULL bin (sums to 1);
    values at model precision, as the edges."""
    values = at_model_precision(values)
    w = np.ones_like(values) if weights is None else np.asarray(weights, dtype="float64")
    n_bins = len(edges) + 2
    if values.size == 0:
        return np.zeros(n_bins)
    idx = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")
    idx = np.where(np.isnan(values), n_bins - 1, idx)
    counts = np.bincount(idx, weights=w, minlength=n_bins)
    return counts / counts.sum()


def psi(expected: Sequence[float], actual: Sequence[float], eps: float = EPS) -> float:
    """Population stability index of two share vectors over the same bins."""
    e = np.maximum(np.asarray(expected, dtype="float64"), eps)
    a = np.maximum(np.asarray(actual, dtype="float64"), eps)
    return float(np.sum((a - e) * np.log(a / e)))


def level(value: float, th: QCThresholds) -> str:
    if value >= th.psi_alert:
        return "alert"
    return "warning" if value >= th.psi_warning else "ok"


def build_reference(columns: Mapping[str, np.ndarray], weights: np.ndarray | None = None,
                    bins: int = BINS) -> dict[str, Any]:
    """{"kind", "bins", "rows", "columns": {name: {"edges", "shares"}}} of reference columns."""
    out: dict[str, Any] = {"kind": "psi_reference", "bins": bins,
                           "rows": int(len(next(iter(columns.values())))) if columns else 0,
                           "columns": {}}
    for name, values in columns.items():
        edges = edges_of(values, weights, bins)
        out["columns"][name] = {"edges": edges, "shares": [float(x) for x in shares_of(values, edges, weights)]}
    return out


def day_psi(reference: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> dict[str, float]:
    """{column: PSI of the day's values against the reference} for the columns in both."""
    out = {}
    for name, ref in reference["columns"].items():
        if name in columns:
            out[name] = psi(ref["shares"], shares_of(columns[name], ref["edges"]))
    return out


def reference_rows(parts: Mapping[str, pd.DataFrame], seed: int = 0) -> pd.DataFrame:
    """The fit + calibration rows, at most SAMPLE_ROWS of them (fixed-seed sample, in order)."""
    rows = pd.concat([parts["fit"], parts["calibration"]], ignore_index=True)
    if len(rows) > SAMPLE_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), SAMPLE_ROWS, replace=False))
        rows = rows.iloc[pick].reset_index(drop=True)
    return rows


def score_name(horizon: int) -> str:
    return f"p_buy_{int(horizon)}d"


def model_reference(model: Any, parts: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """The drift reference of one trained horizon (features and its calibrated score)."""
    rows = reference_rows(parts)
    X = rows.loc[:, list(model.features)].to_numpy(dtype="float64")
    columns = {f: X[:, i] for i, f in enumerate(model.features)}
    columns[score_name(model.horizon)] = model.predict(X)
    weights = rows["weight"].to_numpy(dtype="float64") if "weight" in rows.columns else None
    ref = build_reference(columns, weights)
    ref["score"] = score_name(model.horizon)
    return ref


def write_reference(settings: Settings, version: str, model: Any,
                    parts: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Write ``drift.json`` into the model's artifact folder; return Drift_Path / Drift_Sha256."""
    from pathlib import PurePosixPath

    from ml.registry import json_safe, sha256_file

    rel = PurePosixPath(settings.target.code, version, f"T{model.horizon}", FILE)
    path = settings.art_dir.joinpath(*rel.parts)
    tmp = path.with_name(f".{FILE}.tmp{os.getpid()}")
    text = json.dumps(json_safe(model_reference(model, parts)), indent=1, sort_keys=True, allow_nan=False)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return {"Drift_Path": str(rel), "Drift_Sha256": sha256_file(path)}


def load_reference(settings: Settings, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The verified drift reference of a registry row; None for a model trained without one."""
    from ml.registry import verified_artifact

    path = verified_artifact(settings, row, "drift")
    if path is None:
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("kind") != "psi_reference":
        return None
    return data
