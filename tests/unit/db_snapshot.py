"""Content hashes of every table of an FA DuckDB file (tests: "the tables are identical")."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

# Columns holding wall-clock times: they differ between two runs by design.
WALL_CLOCK = {"scored_at", "created_at", "event_at", "computed_at", "run_at", "evaluated_at", "checked_at"}
# FA_RUN_LOG is a log of the runs themselves: every run adds its row, by design.
NOT_STATE = {"FA_RUN_LOG"}


def table_hashes(db_file: Path) -> dict[str, tuple[int, str]]:
    """{table: (rows, sha256 of its rows in sorted order)} for every table in dbo."""
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dbo' "
            "AND table_type = 'BASE TABLE' AND table_catalog = current_database() ORDER BY 1"
        ).fetchall()]
        out = {}
        for t in tables:
            if t in NOT_STATE:
                continue
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'dbo' "
                "AND table_name = ? AND table_catalog = current_database() ORDER BY ordinal_position",
                [t]).fetchall()]
            keep = ", ".join(f'"{c}"' for c in cols if c.lower() not in WALL_CLOCK)
            rows = con.execute(f'SELECT {keep} FROM dbo."{t}" ORDER BY ALL').fetchall()
            out[t] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()
