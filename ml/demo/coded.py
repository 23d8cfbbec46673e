"""Coded tables: dict column -> numpy array (strings as vocabulary codes, -1 = NULL)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

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
