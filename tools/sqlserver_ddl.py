"""The CREATE TABLE statements the Python side runs on SQL Server, for a DBA to run once.

The pipeline creates the tables it owns (registry, registry history, scores, evaluation,
QC) itself on first use (``Database.ensure_table``); that needs CREATE TABLE permission in
the FA database. Where the service account must not have it, a DBA runs these statements
once instead. They are produced by the very code path the pipeline uses (ensure_table on a
recording connection that reports every table as missing), so they cannot drift from it.

Usage: python -m tools.sqlserver_ddl      (the fund from FA_CONFIG; one statement each,
                                           separated by blank lines, no GO batches)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def python_owned_ddl(settings=None) -> list[tuple[str, str]]:
    """[(owner, CREATE TABLE ...)] for every table ml/ creates, in T-SQL."""
    from ml.config import load_settings
    from ml.db_sqlserver import SqlServerDatabase
    from tools.fake_dbapi import FakeConnection

    settings = settings or load_settings()
    con = FakeConnection()  # answers no rows: every table "does not exist yet"
    db = SqlServerDatabase(con)
    owners: list[str] = []

    def run(owner: str, step) -> None:
        before = len(con.statements)
        try:
            step()
        except (ImportError, AttributeError) as exc:  # a module not written yet
            print(f"sqlserver_ddl: skipped {owner}: {exc}", file=sys.stderr)
        owners.extend([owner] * (len(con.statements) - before))

    def registry() -> None:
        from ml import registry as reg
        reg.ensure_tables(db)

    def scores() -> None:
        from ml.score import ensure_reasons_table, ensure_scores_table
        ensure_scores_table(db, settings)
        ensure_reasons_table(db, settings)

    def evaluation() -> None:
        from ml.evaluate import EVAL_COLUMNS, EVAL_KEY, EVAL_TABLE
        db.ensure_table(EVAL_TABLE, EVAL_COLUMNS, primary_key=EVAL_KEY)

    def qc() -> None:
        from ml.qc import ALERT_COLUMNS, QC_ALERTS, QC_DAILY, daily_columns
        db.ensure_table(QC_DAILY, daily_columns(settings.target.horizons),
                        primary_key=("Target_Code", "Score_Date"))
        db.ensure_table(QC_ALERTS, ALERT_COLUMNS)

    for owner, step in (("ml/registry.py", registry), ("ml/score.py", scores),
                        ("ml/evaluate.py", evaluation), ("ml/qc.py", qc)):
        run(owner, step)
    return [(owner, call.sql) for owner, call in zip(owners, con.statements)
            if call.sql.startswith("CREATE TABLE")]


def main() -> int:
    for owner, ddl in python_owned_ddl():
        print(f"-- created by {owner} on first use\n{ddl};\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
