"""Plain-text tables and summaries of commands (pure: rows in, text out)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (list, tuple)) and len(value) == 2 and fmt:
        lo, hi = value
        if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
            return "-"
        return f"[{format(lo, fmt)}, {format(hi, fmt)}]"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, fmt) if fmt else str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """Aligned text table. ``columns``: (key, header, format spec such as '.4f' or '')."""
    cells = [[header for _, header, _ in columns]]
    cells += [[_cell(row.get(key), fmt) for key, _, fmt in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_lines(rows: Mapping[str, Any]) -> list[str]:
    """A short aligned ``key  value`` summary, one line per key."""
    width = max((len(k) for k in rows), default=0)
    return [f"{key.ljust(width)}  {value}" for key, value in rows.items()]
