"""`make docs`: dbt's documentation site (lineage) and the HTML report of the demo world.

1. When the DuckDB target has no trained demo world yet (no FA database, or no active
   model), a tiny one is built first: ``orchestrate.py demo --depots 300 --days 400``
   (about a minute; it writes the report too). An existing world is used as it is.
2. ``dbt docs generate --static`` on the DuckDB target, offline (it reads the catalog of
   the local FA database): ``dbt_project/target/index.html`` for ``dbt docs serve`` and
   ``dbt_project/target/static_index.html``, one file that opens straight from disk.
3. ``orchestrate.py report`` for the latest scored day: FA_ART_DIR/report_<CODE>_<date>.html.

Usage: python -m tools.docs      (paths from the environment, as orchestrate.py)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ml.errors import EXIT_QC_ALERT  # noqa: E402

TINY_WORLD = ["--depots", "300", "--days", "400", "--seed", "7", "--n-boot", "20"]


def has_world(settings) -> bool:
    """True when the FA database holds aggregates and an active model."""
    from ml import registry
    from ml.db import open_target

    if not settings.duckdb_path.exists():
        return False
    with open_target(settings, read_only=True) as db:
        if not (db.table_exists(settings.agg_table) and db.table_exists(registry.REGISTRY)):
            return False
        return bool(db.scalar(f"SELECT COUNT(*) FROM dbo.{registry.REGISTRY} "
                              "WHERE Target_Code = ? AND Is_Active = 1", [settings.target.code]))


def orchestrate(*args: str) -> None:
    """Run ``orchestrate.py ARGS`` as a child (its output passes through); exit on failure.

    Exit 5 (QC raised an alert; the run itself completed and wrote everything) is no
    failure here: the docs only need the world.
    """
    code = subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), *args], cwd=str(ROOT)).returncode
    if code == EXIT_QC_ALERT:
        print(f"docs: orchestrate.py {args[0]} raised QC alerts (exit 5); continuing", file=sys.stderr)
    elif code != 0:
        print(f"Error: orchestrate.py {' '.join(args)} failed with exit code {code}", file=sys.stderr)
        sys.exit(code)


def main() -> int:
    from ml.config import load_settings
    from ml.dbt import dbt_vars, run_dbt
    from ml.log import log
    from ml.errors import FAError

    os.environ["FA_ENGINE"] = "duckdb"  # the lineage is engine-independent; DuckDB is offline
    try:
        settings = load_settings()
        built = not has_world(settings)
        if built:
            log(f"docs: no trained world in {settings.duckdb_path}: building a tiny demo world")
            orchestrate("demo", *TINY_WORLD)  # ends by writing the report
        log("docs: dbt docs generate --static (DuckDB target)")
        run_dbt(settings, ["docs", "generate", "--static", "--target", "duckdb"], vars_=dbt_vars(settings))
    except FAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not built:
        orchestrate("report")
    target = ROOT / "dbt_project" / "target"
    print(f"lineage  {target / 'static_index.html'}  (or: cd dbt_project && dbt docs serve)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
