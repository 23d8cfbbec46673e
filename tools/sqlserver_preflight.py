"""First deployment on a real SQL Server: what the offline check cannot prove, asked of the server.

Run once against the production (or a test) server after ``make check-sqlserver`` wrote
``build/sqlserver/`` and after the first ``backfill`` created the dbt tables (the
statements name them). Read only: nothing is created, changed or executed.

1. The server: version (2016 SP1 or later: DROP TABLE IF EXISTS, CREATE OR ALTER VIEW,
   CONCAT, HASHBYTES over more than 8,000 bytes), the collations of the server, FA and
   the source database, and READ_COMMITTED_SNAPSHOT of FA.
2. Every compiled model SELECT and data test (``build/sqlserver/models``, ``tests``):
   ``sp_describe_first_result_set`` binds it on the server (names, types, conversions,
   permissions) without running it; its result columns go to
   ``build/sqlserver/described.json`` (compare with ``column_types.json``).
3. Every hook and incremental strategy statement (``build/sqlserver/hooks``): compiled
   with ``SET NOEXEC ON`` (parsed and compiled, not executed).

Exit 0 when everything binds and compiles, 1 otherwise (each failure listed), 2 on bad
configuration. Usage: python -m tools.sqlserver_preflight [--build build/sqlserver]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_SQL = (
    "SELECT CAST(SERVERPROPERTY('ProductMajorVersion') AS INT) AS major_version, "
    "CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(64)) AS version, "
    "CAST(SERVERPROPERTY('Collation') AS NVARCHAR(128)) AS server_collation"
)
DATABASES_SQL = (
    "SELECT name, collation_name, is_read_committed_snapshot_on AS rcsi "
    "FROM sys.databases WHERE name IN (?, ?)"
)
DESCRIBE_SQL = "EXEC sp_describe_first_result_set @tsql = ?"


def statements(build: Path) -> list[tuple[str, str, str]]:
    """[(kind, label, sql)]: 'describe' for model SELECTs and data tests, 'noexec' for hooks."""
    out = []
    for folder in ("models", "tests"):
        for path in sorted((build / folder).glob("*.sql")):
            out.append(("describe", f"{folder}/{path.name}", path.read_text(encoding="utf-8")))
    for path in sorted((build / "hooks").glob("*.sql")):
        for unit in path.read_text(encoding="utf-8").split("\n;\n"):
            body = "\n".join(l for l in unit.splitlines() if not l.startswith("-- ")).strip()
            if body:
                out.append(("noexec", f"hooks/{path.name}", body))
    return out


def preflight(db, build: Path, fa: str, source: str) -> tuple[list[str], dict]:
    """Run the checks over ``db`` (a SqlServerDatabase); (failures, report)."""
    from ml.errors import DataError

    failures: list[str] = []
    server = db.query_df(SERVER_SQL).iloc[0].to_dict()
    dbs = {r["name"]: r for r in db.query_df(DATABASES_SQL, [fa, source]).to_dict("records")}
    report: dict = {"server": server, "databases": dbs, "described": {}}
    if int(server.get("major_version") or 0) < 13:
        failures.append(f"SQL Server {server.get('version')}: 2016 SP1 (13.x) or later is needed")
    for name in (fa, source):
        if name not in dbs:
            failures.append(f"database {name} not found (or not visible to this login)")
    if fa in dbs and not int(dbs[fa]["rcsi"] or 0):
        failures.append(f"{fa}: READ_COMMITTED_SNAPSHOT is OFF (docs/sqlserver.md, DDL step 2)")
    for kind, label, sql in statements(build):
        try:
            if kind == "describe":
                cols = db.query_df(DESCRIBE_SQL, [sql])
                report["described"][label] = {
                    str(r["name"]): str(r["system_type_name"]) for r in cols.to_dict("records")
                } if not cols.empty else {}
            else:
                db.execute("SET NOEXEC ON")
                try:
                    db.execute(sql)
                finally:
                    db.execute("SET NOEXEC OFF")
        except DataError as exc:
            failures.append(f"{label}: {exc}")
    return failures, report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=str(ROOT / "build" / "sqlserver"))
    args = ap.parse_args(argv)
    from ml.config import load_settings
    from ml.db_sqlserver import open_sqlserver_target, sqlserver_config
    from ml.errors import FAError

    build = Path(args.build)
    try:
        if not (build / "models").is_dir():
            print(f"Error: {build}/models not found: run make check-sqlserver first", file=sys.stderr)
            return 2
        settings = load_settings()
        cfg = sqlserver_config()
        db = open_sqlserver_target(settings)
    except FAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        failures, report = preflight(db, build, cfg.database, cfg.source_database)
    finally:
        db.close()
    (build / "described.json").write_text(json.dumps(report, indent=1, default=str, sort_keys=True))
    for line in failures:
        print(f"FAIL {line}")
    print(f"sqlserver-preflight: {len(report['described'])} statements described, "
          f"{len(failures)} failures; server {report['server'].get('version')}, "
          f"report in {build / 'described.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
