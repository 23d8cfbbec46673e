"""Run dbt in-process (dbtRunner) against dbt_project/ with the fund's vars.

Every call passes the fund from FA_CONFIG as the ``fund`` var, so dbt and Python always
agree on the code, ISINs, minimum ticket and horizons. Paths for the embedded DuckDB
profile are exported as absolute environment variables first, so the current directory
does not matter. dbtRunner is not safe for concurrent calls: one call at a time.
"""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any, Mapping, Sequence

from ml.config import DBT_PROJECT_DIR, Settings
from ml.errors import DbtFailed
from ml.log import log


def dbt_vars(settings: Settings, start: date | None = None, end: date | None = None,
             extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The vars dict for one dbt call: the fund plus an optional Score_Date range."""
    out: dict[str, Any] = {"fund": settings.target.dbt_vars()}
    if settings.engine == "sqlserver":  # the source database is named by FA_SQLSERVER_SOURCE_DATABASE
        from ml.db_sqlserver import source_database_name

        out["source_database"] = source_database_name()
    if start is not None:
        out["start_date"] = start.isoformat()
    if end is not None:
        out["end_date"] = end.isoformat()
    out.update(extra or {})
    return out


def export_env(settings: Settings) -> None:
    """Set the variables dbt_project/profiles.yml reads (absolute paths).

    DuckDB's memory limit and threads are FA_CONFIG's ``duckdb:`` block (one setting for
    dbt and Python); a different FA_DUCKDB_MEMORY_LIMIT / FA_DUCKDB_THREADS in the
    environment (meant for a hand-run dbt) is replaced, and said so on stderr, because a
    limit that silently does not apply misleads whoever sized the machine by it.
    """
    os.environ["FA_SOURCE_DB"] = str(settings.source_db)
    os.environ["FA_DUCKDB_PATH"] = str(settings.duckdb_path)
    for name, value, key in (("FA_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit, "memory_limit"),
                             ("FA_DUCKDB_THREADS", str(settings.duckdb_threads), "threads")):
        given = os.environ.get(name, "").strip()
        if given and given != value:
            log(f"warning: {name}={given} is replaced by FA_CONFIG duckdb.{key} = {value} "
                "(set it there; docs/operations.md)")
        os.environ[name] = value
    os.environ["FA_DBT_TARGET"] = settings.engine  # load_settings refused a contradicting one
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in-process after a dbt call.

    Without this, opening the FA file again in this process (ml.db.open_target, e.g. to
    score right after the daily dbt build) fails with "different configuration".
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed (SQL Server only)
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()


def parse_manifest(settings: Settings, vars_: Mapping[str, Any] | None = None) -> Any:
    """``dbt parse`` once; the Manifest can be passed to several run_dbt calls.

    Saves the full re-parse dbt does whenever --vars change (a few seconds per call, e.g.
    per backfill chunk). Only for calls whose vars differ in values read at run time
    (start_date/end_date), not in anything rendered while parsing (the fund).
    ``vars_`` defaults to the fund's vars alone (``dbt_vars(settings)``, no dates): they
    stay the same from day to day, so dbt's partial parsing reuses the last parse
    (target/partial_parse.msgpack) unless a file, the profile or the fund changed:
    0.14 s instead of 1.6-3.1 s per daily run (docs/performance.md, section 10).
    """
    from dbt.cli.main import dbtRunner

    export_env(settings)
    cli = ["parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
           "--profiles-dir", str(DBT_PROJECT_DIR),
           "--vars", json.dumps(dbt_vars(settings) if vars_ is None else vars_)]
    try:
        res = dbtRunner().invoke(cli)
    finally:
        release_duckdb()
    if not res.success or res.result is None:
        raise DbtFailed(f"dbt parse failed: {res.exception or 'see dbt_project/logs/dbt.log'}")
    return res.result


def run_dbt(settings: Settings, args: Sequence[str], vars_: Mapping[str, Any] | None = None,
            quiet: bool = True, manifest: Any = None) -> list[dict[str, Any]]:
    """Invoke ``dbt <args>`` in-process; return one dict per node result.

    Raises DbtFailed (exit code 4) naming the failing nodes when dbt reports any error or
    failing test. ``manifest`` (from parse_manifest) skips parsing.
    """
    from dbt.cli.main import dbtRunner  # ~1.5 s import: only when dbt really runs

    export_env(settings)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    cli = list(args) + [
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
    ]
    if vars_ is not None:
        cli += ["--vars", json.dumps(vars_)]
    flags = ["--quiet"] if quiet else []
    try:
        from ml.faults import dbt_callbacks  # test-only fault points; none unless FA_FAULT_AT

        res = dbtRunner(manifest=manifest, callbacks=dbt_callbacks()).invoke(flags + ["--log-format", "text", "--no-use-colors"] + cli)
    finally:
        release_duckdb()
    results = []
    if res.result is not None and hasattr(res.result, "results"):
        for r in res.result.results:
            results.append({
                "node": getattr(r.node, "unique_id", str(r.node)),
                "status": str(r.status),
                "message": r.message,
                "failures": getattr(r, "failures", None),
                "seconds": r.execution_time,
            })
    from ml import runlog

    runlog.note(dbt_results=results)  # counts by status in FA_RUN_LOG
    if not res.success:
        bad = [r for r in results if r["status"] in ("error", "fail", "runtime error")]
        if bad:
            detail = "; ".join(f"{r['node']}: {r['status']} {r['message'] or ''}".strip() for r in bad[:5])
        else:
            detail = str(res.exception) if res.exception else "see dbt_project/logs/dbt.log"
        raise DbtFailed(f"dbt {' '.join(args[:1])} failed: {detail}")
    return results
