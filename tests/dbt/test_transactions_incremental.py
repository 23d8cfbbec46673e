"""int_transaction_rows kept between runs stays right (slow).

The row table (cd_Order and cd_Buchung rows) is incremental: a run classifies again only
the transaction numbers that occur in a file whose state in their table changed
(docs/dbt.md, *Incremental design*).
After a first build, the source changes in every way that must make a run redo rows:
a correction supersedes an old U file, a late cancellation arrives, a cd_Datei row arrives
for rows that were unknown_file, an earlier-dated delivery turns a stored first delivery
into a repeated_transaction, a row is removed from a stored file, rows without a Datei_ID
or a Transaction_Number appear. The incremental run must give the same row table as a
build from scratch on the changed source, and the marts must agree with the reference.
The transactions, the feature delta families and the feature state, kept per depot, must
equal the build from scratch too.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.dbt import reference
from tests.dbt.harness import DbtHarness, require_dbt_models, table_of
from tests.dbt.test_rules import T1, rule_world

pytestmark = pytest.mark.slow

DAY = date(2025, 4, 30)
ROW_TABLES = ("int_transaction_rows",)
# kept between runs per depot (macros/incremental/depot_signatures.sql)
DEPOT_TABLES = ("int_order_transactions", "int_booking_transactions", "int_deltas_order_windows",
                "int_deltas_booking_windows", "int_deltas_recency", "int_deltas_new_refs",
                "int_deltas_distinct_isins", "int_feature_state")


def _rows(db: Path) -> dict[str, pd.DataFrame]:
    """The incremental tables, every column as text (NULL as "NULL"), sorted: comparable as
    multisets."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in ROW_TABLES + DEPOT_TABLES:
            df = con.sql(f"SELECT * FROM dbo.{table_of(table)}").df()
            df = df.astype(object).where(df.notna(), "NULL").astype(str)
            out[table] = df.sort_values(list(df.columns)).reset_index(drop=True)
        return out
    finally:
        con.close()


def _table(rows: pd.DataFrame, source_table: str) -> pd.DataFrame:
    """The rows of one source table (cd_Order / cd_Buchung) of int_transaction_rows."""
    return rows[rows["Source_Table"] == source_table]


def _reasons(rows: pd.DataFrame, number: str) -> list[str]:
    return sorted(rows.loc[rows["Transaction_Number"] == number, "dq_reason"].tolist())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    require_dbt_models()
    root = tmp_path_factory.mktemp("transactions_incremental")
    w = rule_world()
    u = w.u
    # rows of a file cd_Datei does not know yet (unknown_file on the first build)
    w.order(9950, "LATEFILE-1", "SUP1", "2025-04-10", amount="1200.00")
    w.booking(9950, "LATEFILE-B", "SUP1", "2025-04-10", amount="300.00")
    # a first delivery that an earlier-dated file will turn into a repeat
    w.order(u("2025-03-20"), "REPEAT-1", "SUP1", "2025-03-18", amount="1100.00")
    # a row that will be removed from its file
    w.order(u("2025-03-21"), "GONE-1", "SUP1", "2025-03-21", amount="1300.00")
    w.order(u("2025-03-21"), "STAY-1", "SUP1", "2025-03-21", amount="1400.00")
    # one number in both tables: two transactions, each changed on its own
    w.order(u("2025-03-21"), "SHARED-1", "SUP1", "2025-03-21", amount="1600.00")
    w.booking(u("2025-03-21"), "SHARED-1", "SUP1", "2025-03-21", amount="600.00")
    # an order whose later cancellation row names no depot
    w.depot("CXL9")
    w.order(u("2025-04-01"), "NODEP-CXL", "CXL9", "2025-04-01", amount="1500.00")
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        h.write_source(w.frames())
        h.dbt(DAY, DAY)                                       # first build: every file
        out["first"] = _rows(h.target_db)
        # --- changes after the first build
        fix = w.file(9901, "U", "2025-03-03", "2025-03-05 08:00")      # supersedes u(03-03)
        w.order(fix, "FIX-1", "SUP1", "2025-03-03", isin=T1, amount="2500.00")
        w.order(u("2025-04-29"), "CAN2-A", "CAN2", "2025-02-10", isin=T1, amount="3000.00",
                remark="Storno")                              # a second, later cancellation
        w.order(u("2025-04-29"), "LATE-CAN", "CAN1", "2025-04-01", amount="1000.00",
                remark="Storno")                              # cancels nothing known
        w.file(9950, "U", "2025-04-10", "2025-04-11 09:00")   # the unknown file becomes known
        #                                                     (a correction of u(04-10))
        early = w.file(9960, "U", "2025-03-19", "2025-03-21 07:00")   # a late correction
        w.order(early, "REPEAT-1", "SUP1", "2025-03-18", amount="1100.00")
        w.order(u("2025-04-29"), "NODEP-CXL", None, "2025-04-01", amount="1500.00",
                remark="Storno")                              # no depot: CXL9's transaction changes
        w.order(None, "NOFILE-1", "SUP1", "2025-04-01", amount="1000.00")
        w.order(u("2025-04-28"), None, "SUP1", "2025-04-28", amount="1000.00")
        w.booking(u("2025-04-28"), "DEP-NEW", "SUP1", "2025-04-28", amount="700.00")
        w.booking(u("2025-04-29"), "SHARED-1", "SUP1", "2025-04-29", amount="600.00",
                  remark="Storno")                    # cancels the booking, not the order
        frames = w.frames()
        orders = frames["cd_Order"]
        frames["cd_Order"] = orders[orders["Transaction_Number"] != "GONE-1"].reset_index(drop=True)
        h.write_source(frames)
        h.dbt(DAY, DAY)                                       # incremental run
        out["second"] = _rows(h.target_db)
        out["marts"] = (h.read(), h.reference(DAY, DAY))
        h.use_target(root / "scratch.duckdb")
        h.dbt(DAY, DAY)                                       # from scratch, same source
        out["scratch"] = _rows(h.target_db)
    return out


def test_changes_are_visible(runs):
    """The changes reclassify rows, or the test below proves nothing."""
    first, second = (_table(runs[run]["int_transaction_rows"], "cd_Order") for run in ("first", "second"))
    assert _reasons(first, "LATEFILE-1") == ["unknown_file"]
    assert _reasons(second, "LATEFILE-1") == ["NULL"]
    assert _reasons(first, "REPEAT-1") == ["NULL"]
    assert _reasons(second, "REPEAT-1") == ["NULL", "repeated_transaction"]
    assert "GONE-1" in set(first["Transaction_Number"])
    assert "GONE-1" not in set(second["Transaction_Number"])
    # u(03-03), u(03-19) and u(04-10) were corrected by later deliveries
    assert (second["dq_reason"] == "superseded_file").sum() > (first["dq_reason"] == "superseded_file").sum()
    tx_first, tx = runs["first"]["int_order_transactions"], runs["second"]["int_order_transactions"]
    cancelled = {t: frame.loc[frame["Transaction_Number"] == "NODEP-CXL", "cancelled_from"].tolist()
                 for t, frame in (("first", tx_first), ("second", tx))}
    assert cancelled == {"first": ["NULL"], "second": ["2025-04-29 00:00:00"]}
    bookings = _table(runs["second"]["int_transaction_rows"], "cd_Buchung")
    assert _reasons(bookings, "LATEFILE-B") == ["NULL"]
    assert "DEP-NEW" in set(bookings["Transaction_Number"])
    # the same number in both tables: the booking's cancellation leaves the order alone
    assert _reasons(second, "SHARED-1") == ["NULL"]
    assert _reasons(bookings, "SHARED-1") == ["NULL", "NULL"]
    shared = {t: runs["second"][t].loc[runs["second"][t]["Transaction_Number"] == "SHARED-1",
                                       "cancelled_from"].tolist()
              for t in ("int_order_transactions", "int_booking_transactions")}
    assert shared == {"int_order_transactions": ["NULL"],
                      "int_booking_transactions": ["2025-04-29 00:00:00"]}


@pytest.mark.parametrize("table", ROW_TABLES + DEPOT_TABLES)
def test_incremental_tables_equal_build_from_scratch(runs, table):
    got, scratch = runs["second"][table], runs["scratch"][table]
    assert len(got) == len(scratch)
    pd.testing.assert_frame_equal(got, scratch)


def test_marts_after_incremental_run_agree_with_reference(runs):
    got, expected = runs["marts"]
    keys = ["Score_Date", "Depot_Number"]
    assert not reference.diff_tables(expected.agg, got.agg, keys)
    assert not reference.diff_tables(expected.labels, got.labels, keys)
