"""Harness for the dbt tests: write a hand-built source world, run dbt, read the tables.

One dbt invocation per scenario world (each costs ~1-3 s); dbt runs in-process and is not
safe concurrently, so everything here is sequential. Environment variables are set through
pytest's MonkeyPatch (restored afterwards), dbt's target/ and logs/ go to the test's
tmp directory so parallel work in the shared dbt_project/ is not disturbed.

Both "engines" give the same shape (reference.Tables), so a rule test can be run against
dbt and against tests/dbt/reference.py with the same hand-computed expectations.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import pytest

from ml.config import DBT_PROJECT_DIR, DEFAULT_CONFIG, load_settings
from ml.source import write_source_db

from tests.dbt import reference

MARTS_DIR = DBT_PROJECT_DIR / "models" / "marts"


def fund_models() -> set[str]:
    """The models dbt_project.yml tags `fund`: their tables are <model>_<CODE>."""
    import yaml

    found: set[str] = set()

    def walk(block: Any) -> None:
        for key, value in (block or {}).items():
            if isinstance(value, dict):
                if "fund" in (value.get("+tags") or []):
                    found.add(key)
                walk(value)

    walk(yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))["models"])
    return found


def table_of(model: str, code: str = "DEMO") -> str:
    """The table of intermediate model ``model`` for fund ``code`` (docs/dbt.md, *Per fund*;
    the marts have their own aliases)."""
    return f"{model}_{code}" if model in fund_models() else model


def dbt_models_present() -> bool:
    return MARTS_DIR.is_dir() and any(MARTS_DIR.rglob("*.sql"))


class DbtHarness:
    """A source file, a target file and dbt pointed at them (env via ``mp``)."""

    def __init__(self, root: Path, mp: pytest.MonkeyPatch, config: Path | None = None,
                 source_db: Path | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.source_db = Path(source_db) if source_db else self.root / "provisionen.duckdb"
        self.target_db = self.root / "fa.duckdb"
        self.mp = mp
        env = {
            "FA_SOURCE_DB": str(self.source_db),
            "FA_DUCKDB_PATH": str(self.target_db),
            "FA_ART_DIR": str(self.root / "artifacts"),
            "FA_CONFIG": str(config or DEFAULT_CONFIG),
            # dbt's own output: keep it out of the shared project directory.
            "DBT_TARGET_PATH": str(self.root / "dbt_target"),
            "DBT_LOG_PATH": str(self.root / "dbt_logs"),
        }
        for k, v in env.items():
            mp.setenv(k, v)
        # ml.dbt.export_env writes these into os.environ: register them with mp so they are
        # restored after the test too.
        for k in ("FA_DUCKDB_MEMORY_LIMIT", "FA_DUCKDB_THREADS", "FA_DBT_TARGET",
                  "DBT_SEND_ANONYMOUS_USAGE_STATS", "FA_ENGINE"):
            mp.delenv(k, raising=False)
        self.settings = load_settings()

    def use_target(self, path: Path) -> None:
        """Point FA_DUCKDB_PATH at another target file (e.g. daily vs backfill)."""
        self.target_db = Path(path)
        self.mp.setenv("FA_DUCKDB_PATH", str(self.target_db))
        self.settings = load_settings()

    def write_source(self, frames: Mapping[str, pd.DataFrame]) -> None:
        write_source_db(self.source_db, frames)

    def dbt(self, start: date | None, end: date | None, command: str = "run") -> None:
        """One dbt call (``run`` or ``build``) for Score_Dates start..end."""
        from ml.dbt import dbt_vars, run_dbt

        try:
            run_dbt(self.settings, [command], dbt_vars(self.settings, start, end))
        finally:
            release_dbt_duckdb()

    def read(self) -> reference.Tables:
        """The three output tables as DataFrames (read-only connection, closed again)."""
        import duckdb

        s = self.settings
        con = duckdb.connect(str(self.target_db), read_only=True)
        try:
            agg = con.sql(f"SELECT * FROM dbo.{s.agg_table} ORDER BY Score_Date, Depot_Number").df()
            labels = con.sql(
                f"SELECT * FROM dbo.{s.labels_table} ORDER BY Score_Date, Depot_Number").df()
            dq = con.sql("SELECT * FROM dbo.FA_DATA_QUALITY").df()
            types = {}
            for table in (s.agg_table, s.labels_table, "FA_DATA_QUALITY"):
                rows = con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'dbo' AND table_name = ? ORDER BY ordinal_position",
                    [table]).fetchall()
                types[table] = dict(rows)
        finally:
            con.close()
        self.column_types = types
        return reference.Tables(agg=agg, labels=labels, dq=dq, horizon=None)

    def reference(self, start: date, end: date) -> reference.Tables:
        """The reference implementation on the same source file."""
        return reference.build(reference.read_source(self.source_db), self.settings.target,
                               start, end)


def release_dbt_duckdb() -> None:
    """Close the DuckDB instance dbt-duckdb keeps open in this process after a run.

    ml.dbt.run_dbt does this itself since 57c59b8 (ml.dbt.release_duckdb); calling it again
    is harmless and keeps the harness working should that ever change: otherwise reading
    the target file here fails with "... different configuration than existing connections".
    """
    from ml.dbt import release_duckdb

    release_duckdb()


def decimal_tolerances(column_types: Mapping[str, str]) -> dict[str, float]:
    """Per column: half a unit of the last decimal place for DECIMAL(p,s) columns.

    A DECIMAL(18,2) Avg_Ticket_90d is a legitimate storage choice (brief: DOUBLE/DECIMAL);
    the reference keeps full precision, so the comparison allows the rounding.
    """
    out = {}
    for col, typ in column_types.items():
        t = typ.upper()
        if t.startswith("DECIMAL") and "," in t:
            scale = int(t.split(",")[1].rstrip(")").strip())
            out[col] = 0.5 * 10 ** (-scale) + 1e-9
    return out


def require_dbt_models() -> None:
    if not dbt_models_present():
        pytest.skip(f"no dbt models yet in {MARTS_DIR}")


def engine_result(engine: str, root: Path, frames: Mapping[str, pd.DataFrame], start: date,
                  end: date) -> "Result":
    """A hand-built world's output tables for Score_Dates start..end, computed by ``engine``:
    "reference" (tests/dbt/reference.py) or "dbt" (`dbt build`: models, data tests and
    unit tests). The rule tests run every test against both."""
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        h.write_source(frames)
        if engine == "reference":
            return Result(h.reference(start, end))
        require_dbt_models()
        h.dbt(start, end, command="build")
        return Result(h.read(), h.column_types)


class Result:
    """Output tables indexed for lookups in tests (values as plain Python: None = NULL)."""

    def __init__(self, tables: reference.Tables, column_types: Mapping[str, Mapping[str, str]]
                 | None = None):
        self.tables = tables
        self.column_types = column_types     # dbt only: {table: {column: type}}
        self._agg = {(r["Score_Date"], r["Depot_Number"]): r for r in reference.records(tables.agg)}
        self._lab = {(r["Score_Date"], r["Depot_Number"]): r
                     for r in reference.records(tables.labels)}
        self._dq: dict[tuple, int] = {}
        for r in reference.records(tables.dq):
            key = (r["Datei_Datum"], str(r["Source_Table"]).lower(), r["Reason"])
            self._dq[key] = self._dq.get(key, 0) + int(r["Row_Count"])

    def agg(self, score_date: str, depot: str) -> dict[str, Any] | None:
        """The aggregate row of (Score_Date, Depot_Number), None if there is none."""
        return self._agg.get((date.fromisoformat(score_date), depot))

    def label(self, score_date: str, depot: str) -> dict[str, Any] | None:
        return self._lab.get((date.fromisoformat(score_date), depot))

    def dq(self, datei_datum: str | None, table: str, reason: str) -> int:
        """Row_Count of one FA_DATA_QUALITY cell, 0 when the row is absent.

        Source_Table is compared case-insensitively (docs/rules.md §0.2: names compare so).
        """
        day = None if datei_datum is None else date.fromisoformat(datei_datum)
        return self._dq.get((day, table.lower(), reason), 0)

    def dq_cells(self) -> dict[tuple, int]:
        return dict(self._dq)

    def agg_rows(self) -> dict[tuple, dict[str, Any]]:
        """All aggregate rows by (Score_Date, Depot_Number)."""
        return dict(self._agg)

    def label_rows(self) -> dict[tuple, dict[str, Any]]:
        return dict(self._lab)

    def agg_dates(self, depot: str) -> list[date]:
        return sorted(k[0] for k in self._agg if k[1] == depot)
