"""The dbt part of the pipeline: backfill ranges and the daily build of aggregates and labels.

``backfill`` rebuilds CD_FA_AGG_BUY_<CODE> and CD_FA_LABELS_<CODE> for a Score_Date range
in chunks of whole months sized by ``backfill.chunk_rows`` (one ``dbt run`` each, so memory stays bounded and progress is
visible), then runs the data tests once over the whole range. ``build_day`` is the dbt step
of the daily run: ``dbt build`` for one Score_Date (its aggregates, plus the refresh of every
earlier label that can have changed; see docs/dbt.md). Progress goes to stderr.
"""

from __future__ import annotations

import calendar
import time
from datetime import date, timedelta
from typing import Any

from ml.config import Settings
from ml.dbt import dbt_vars, parse_manifest, run_dbt
from ml.log import log
from ml.errors import BadInput, DataError

CHUNK_MONTHS = 3  # months per `dbt run` of a backfill when the universe cannot be estimated

# Production runs leave dbt's unit tests out: they test the SQL on fixed given/expect rows,
# not the data, so they belong to development and CI (`make test` runs them with every
# dbt build of tests/dbt), as dbt's documentation recommends.
NO_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]

# The daily build also leaves out the few data tests that read the whole history (tag
# full_history: the staging views' dq_reason values, unique transaction numbers), so its
# cost does not grow with the history; backfills and CI run them.
DAILY_EXCLUDE = [*NO_UNIT_TESTS, "--exclude", "tag:full_history"]

# The data horizon (docs/rules.md §1): latest day of a counting U file. A (type, day) with
# at least one valid file row has a counting file, so the max over valid U rows is enough.
# The data horizon (rules §1); the dbt macro data_horizon_literal and the model
# int_data_horizon compute the same (tests/dbt/test_rules.py checks that all three agree).
HORIZON_SQL = (
    "SELECT max(Datei_Datum) FROM {table} "
    "WHERE Datei_ID IS NOT NULL AND Datei_Datum IS NOT NULL "
    "AND upper(ltrim(rtrim(Datei_Typ))) = 'U'"
)


def add_months(day: date, months: int) -> date:
    """``day`` shifted by ``months`` calendar months (negative: back), clamped to month end."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


# Depots in the universe of one day, estimated by the cd_Saldo rows of the latest B file:
# sizes backfill chunks (a rough count is enough; bad rows make it a little larger).
UNIVERSE_SQL = (
    "SELECT count(*) FROM {saldo} WHERE Datei_ID = ("
    "SELECT max(Datei_ID) FROM {datei} "
    "WHERE Datei_ID IS NOT NULL AND upper(ltrim(rtrim(Datei_Typ))) = 'B')"
)


def data_horizon(settings: Settings) -> date:
    """The latest Datei_Datum of a counting U file in the source (read-only).

    Raises DataError when the source is missing or holds no U file.
    """
    value = source_scalar(settings, HORIZON_SQL.format(table="dbo.cd_Datei"), "cd_Datei")
    if value is None:
        raise DataError("the source has no counting U file (cd_Datei): no data horizon")
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def universe_estimate(settings: Settings) -> int:
    """Depots of one day's universe, estimated from the latest B file (0: no B file)."""
    sql = UNIVERSE_SQL.format(saldo="dbo.cd_Saldo", datei="dbo.cd_Datei")
    value = source_scalar(settings, sql, "cd_Saldo")
    return int(value or 0)


def chunk_months_for(depots: int, chunk_rows: int) -> int:
    """Whole months per backfill chunk so that depots x days stays within ``chunk_rows``.

    At least one month; a 2k-depot world fits 24 months in one dbt run, 50k takes three
    months at a time (each run has a fixed cost of a few seconds, each row costs memory).
    """
    if depots <= 0:
        return CHUNK_MONTHS
    return max(1, chunk_rows // (depots * 31))


def source_scalar(settings: Settings, sql: str, what: str) -> Any:
    """The single value of a read-only query on the source (DuckDB file or SQL Server).

    Raises DataError when the source (or the table ``what``) cannot be read.
    """
    rows = source_rows(settings, sql, what)
    return rows[0][0] if rows else None


def source_rows(settings: Settings, sql: str, what: str) -> list[tuple]:
    """All rows of a read-only query on the source; DataError when it cannot be read."""
    if settings.engine == "sqlserver":
        return _sqlserver_rows(sql, what)
    return _duckdb_rows(settings, sql, what)


def _duckdb_rows(settings: Settings, sql: str, what: str) -> list[tuple]:
    import duckdb

    if not settings.source_db.is_file():
        raise DataError(
            f"source database {settings.source_db} does not exist: "
            "run 'python orchestrate.py demo-data' first"
        )
    con = duckdb.connect(str(settings.source_db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    except duckdb.Error as exc:
        raise DataError(f"cannot read {what} from {settings.source_db}: {exc}") from None
    finally:
        con.close()


def _sqlserver_rows(sql: str, what: str) -> list[tuple]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from ml.db_sqlserver import get_engine_source, mask_secrets, sqlserver_config

    cfg = sqlserver_config()
    engine = get_engine_source()
    try:
        with engine.connect() as con:
            return [tuple(r) for r in con.execute(text(sql)).fetchall()]
    except SQLAlchemyError as exc:  # unreachable server, login, missing table: exit 3
        detail = mask_secrets(str(getattr(exc, "orig", exc)), [cfg.password])
        raise DataError(
            f"cannot read {what} from SQL Server {cfg.host} database {cfg.source_database}: {detail}"
        ) from None
    finally:
        engine.dispose()


def resolve_backfill_range(settings: Settings, months: int | None, start: date | None,
                           end: date | None) -> tuple[date, date]:
    """The Score_Date range of a backfill: ``--months N`` or ``--start-date`` + ``--end-date``.

    months: the last N calendar months up to the data horizon, i.e.
    [horizon - N months + 1 day, horizon]. Raises BadInput for any other combination or when
    end < start; DataError when the source is missing (months only).
    """
    if months is not None and (start is not None or end is not None):
        raise BadInput("give either --months or --start-date/--end-date, not both")
    if months is not None:
        if months < 1:
            raise BadInput("--months must be at least 1")
        horizon = data_horizon(settings)
        return add_months(horizon, -months) + timedelta(days=1), horizon
    if start is None or end is None:
        raise BadInput("give --months N, or both --start-date and --end-date")
    if end < start:
        raise BadInput(f"--end-date {end.isoformat()} is before --start-date {start.isoformat()}")
    return start, end


def chunk_range(start: date, end: date, months: int = CHUNK_MONTHS) -> list[tuple[date, date]]:
    """[start, end] cut into consecutive chunks of ``months`` calendar months (last one shorter)."""
    chunks = []
    lo = start
    while lo <= end:
        hi = min(add_months(lo, months) - timedelta(days=1), end)
        chunks.append((lo, hi))
        lo = hi + timedelta(days=1)
    return chunks


# dbt selection of a further fund's run: its own models (tag fund, named <model>_<CODE>)
# over the shared models the first fund's run has built (docs/dbt.md, *Per fund*).
FUND_MODELS = ["--select", "tag:fund"]


def chunk_threads(engine: str) -> list[str]:
    """dbt arguments for the thread count of a backfill chunk's ``dbt run`` on ``engine``.

    On DuckDB a chunk runs its models one at a time (the profile's two dbt threads stay for
    the data tests and the daily run): a chunk's models are large queries that each use
    every DuckDB thread and share the one memory limit of the process, so two at once
    oversubscribe the cores and spill. At 50k depots x 24 months the first chunk took
    79.8 s with two dbt threads (int_transaction_rows 35.0 s beside
    int_holdings_file_quality, which spilled 5.5 GB) and 61.5 s with one (3.7 s); the whole
    backfill 180.8 -> 160.4 s; at 10k 32-33 s either way (docs/performance.md, section
    10). SQL Server keeps the profile's threads: the server, not this process, has the cores
    and the memory.
    """
    return ["--threads", "1"] if engine == "duckdb" else []


def chunk_args(index: int, total: int, fund_only: bool = False) -> list[str]:
    """dbt arguments of backfill chunk ``index`` (1-based) of ``total``.

    The first chunk builds everything but FA_DATA_QUALITY; later chunks only the models
    that depend on the Score_Date range (int_score_dates and its descendants: the source,
    and so every other model, cannot change during a backfill, which holds the pipeline
    lock). FA_DATA_QUALITY does not depend on the range: it is built once, with the last
    chunk. ``fund_only`` (a further fund): the fund's own models, plus the shared models of
    the chunk's range (the first fund's chunks left them at its last chunk).
    """
    if fund_only:
        return ["run", "--select", "tag:fund", "int_score_dates+", "--exclude", "fa_data_quality"]
    args = ["run"]
    if index > 1:
        args += ["--select", "int_score_dates+"]
    if index == total:
        args += (["fa_data_quality"] if index > 1 else [])
    else:
        args += ["--exclude", "fa_data_quality"]
    return args


def count_rows(settings: Settings, start: date, end: date) -> dict[str, int]:
    """Rows of the aggregate and label tables with Score_Date in [start, end]."""
    from ml.db import open_target

    out = {}
    with open_target(settings, read_only=True) as db:
        for key, table in (("aggregate_rows", settings.agg_table),
                           ("label_rows", settings.labels_table)):
            if not db.table_exists(table):
                out[key] = 0
                continue
            out[key] = int(db.scalar(
                f"SELECT count(*) FROM dbo.{table} WHERE Score_Date BETWEEN ? AND ?",
                [start, end],
            ))
    return out


def backfill(settings: Settings, start: date, end: date,
             chunk_months: int | None = None, fund_only: bool = False) -> dict[str, Any]:
    """Rebuild aggregates and labels for every Score_Date in [start, end], then test them.

    One ``dbt run`` per chunk of ``chunk_months`` months (default: as many months as fit
    ``backfill.chunk_rows`` aggregate rows; each run replaces its whole Score_Dates), then
    one ``dbt test`` (data tests) over the full range. Returns a summary dict: range, days,
    aggregate_rows, label_rows, seconds. Raises DbtFailed on any dbt error.
    ``fund_only``: a further fund of a several-fund backfill, whose first fund's run has
    built the shared models for the same range: only the fund's own models (tag fund).
    """
    if end < start:
        raise BadInput(f"end date {end.isoformat()} is before start date {start.isoformat()}")
    t0 = time.monotonic()
    if chunk_months is None:
        depots = universe_estimate(settings)
        chunk_months = chunk_months_for(depots, settings.backfill_chunk_rows)
        log(f"backfill: ~{depots} depots a day, {chunk_months} month(s) per dbt run")
    chunks = chunk_range(start, end, chunk_months)
    if len(chunks) == 1:
        # one chunk: models and data tests in one `dbt build` (one dbt start less)
        run_dbt(settings, ["build", *NO_UNIT_TESTS, *(FUND_MODELS if fund_only else [])],
                dbt_vars(settings, start, end), manifest=parse_manifest(settings))
        log(f"backfill {start.isoformat()}..{end.isoformat()} (1/1, with tests) "
            f"{time.monotonic() - t0:.1f}s")
    else:
        _backfill_chunks(settings, start, end, chunks, fund_only)
    counts = count_rows(settings, start, end)
    return {
        "range": f"{start.isoformat()}..{end.isoformat()}",
        "days": (end - start).days + 1,
        **counts,
        "seconds": round(time.monotonic() - t0, 1),
    }


def _backfill_chunks(settings: Settings, start: date, end: date,
                     chunks: list[tuple[date, date]], fund_only: bool = False) -> None:
    """One ``dbt run`` per chunk (parsed once), then the data tests over [start, end]."""
    # one parse for all chunks: they differ only in start/end, which are read at run time
    manifest = parse_manifest(settings)
    for i, (lo, hi) in enumerate(chunks, 1):
        t1 = time.monotonic()
        run_dbt(settings, [*chunk_args(i, len(chunks), fund_only), *chunk_threads(settings.engine)],
                dbt_vars(settings, lo, hi), manifest=manifest)
        log(f"backfill {lo.isoformat()}..{hi.isoformat()} ({i}/{len(chunks)}) "
            f"{time.monotonic() - t1:.1f}s")
    t1 = time.monotonic()
    run_dbt(settings, ["test", *NO_UNIT_TESTS, *(FUND_MODELS if fund_only else [])],
            dbt_vars(settings, start, end), manifest=manifest)
    log(f"backfill tests {start.isoformat()}..{end.isoformat()} {time.monotonic() - t1:.1f}s")


def build_day(settings: Settings, day: date, fund_only: bool = False) -> dict[str, Any]:
    """The dbt step of the daily run: ``dbt build`` for Score_Date ``day``.

    Builds the day's aggregates and labels and refreshes every earlier label that can have
    changed (censored rows, depots whose first_buy_date changed), with the data tests but
    those of tag full_history (see DAILY_EXCLUDE). Returns {score_date, aggregate_rows,
    label_rows, seconds}. ``fund_only``: only the fund's own models (tag fund), over the
    shared models another fund's build of the same day has made.
    """
    t0 = time.monotonic()
    manifest = parse_manifest(settings)  # the day is read at run time
    run_dbt(settings, ["build", *DAILY_EXCLUDE, *(FUND_MODELS if fund_only else [])],
            dbt_vars(settings, day, day), manifest=manifest)
    counts = count_rows(settings, day, day)
    seconds = round(time.monotonic() - t0, 1)
    log(f"dbt build {day.isoformat()} {seconds:.1f}s")
    return {"score_date": day.isoformat(), **counts, "seconds": seconds}
