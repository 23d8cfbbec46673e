"""The source tables of docs/rules.md §0.2 (``Provisionen.dbo``) as an embedded DuckDB file.

Used by the demo world generator and by tests that hand-build tiny worlds: both write
DataFrames through :func:`write_source_db`, which creates the tables with the contract's
column names and types and replaces the file atomically (a reader never sees half a world).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

# Column name -> DuckDB type, in contract order (T-SQL types in docs/rules.md §0.2).
SOURCE_TABLES: dict[str, dict[str, str]] = {
    "cd_Datei": {
        "Datei_ID": "INTEGER",
        "Datei_Typ": "VARCHAR",
        "Datei_Datum": "DATE",
        "Import_Zeit": "TIMESTAMP",
        "Datei_Name": "VARCHAR",
    },
    "cd_Order": {
        "Datei_ID": "INTEGER",
        "Transaction_Number": "VARCHAR",
        "Depot_Number": "VARCHAR",
        "Order_Date": "DATE",
        "OrderType": "VARCHAR",
        "ISIN": "VARCHAR",
        "Units": "DECIMAL(18,6)",
        "Amount_EUR": "DECIMAL(18,2)",
        "Remark": "VARCHAR",
    },
    "cd_Buchung": {
        "Datei_ID": "INTEGER",
        "Transaction_Number": "VARCHAR",
        "Depot_Number": "VARCHAR",
        "Booking_Date": "DATE",
        "Booking_Type": "VARCHAR",
        "Amount_EUR": "DECIMAL(18,2)",
        "Remark": "VARCHAR",
    },
    "cd_Saldo": {
        "Datei_ID": "INTEGER",
        "Depot_Number": "VARCHAR",
        "Cash_EUR": "DECIMAL(18,2)",
    },
    "cd_Bestand": {
        "Datei_ID": "INTEGER",
        "Depot_Number": "VARCHAR",
        "ISIN": "VARCHAR",
        "Units": "DECIMAL(18,6)",
        "Market_Value_EUR": "DECIMAL(18,2)",
    },
}


def empty_frame(table: str) -> pd.DataFrame:
    """An empty DataFrame with the table's columns (object dtype)."""
    return pd.DataFrame({c: pd.Series([], dtype="object") for c in SOURCE_TABLES[table]})


def write_source_db(
    path: str | os.PathLike[str],
    frames: Mapping[str, pd.DataFrame] | Iterable[Mapping[str, pd.DataFrame]],
) -> Path:
    """Write the five source tables into a new DuckDB file at ``path`` (schema ``dbo``).

    ``frames`` maps table name -> DataFrame holding (a subset of) the contract columns;
    missing tables are created empty, missing columns are NULL. Values are cast to the
    contract types by DuckDB. ``frames`` may also be an iterable of such mappings (parts
    appended in order), so a large world is written chunk by chunk in bounded memory.
    The file is written beside the target and renamed into place, so an existing source
    is replaced whole or not at all.
    """
    import duckdb

    parts = [frames] if isinstance(frames, Mapping) else frames
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute("CREATE SCHEMA dbo")
        for table, columns in SOURCE_TABLES.items():
            ddl = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f"CREATE TABLE dbo.{table} ({ddl})")
        for part in parts:
            unknown = set(part) - set(SOURCE_TABLES)
            if unknown:
                raise ValueError(f"unknown source tables: {sorted(unknown)}")
            for table, df in part.items():
                _insert(con, table, df)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    Path(str(target) + ".wal").unlink(missing_ok=True)
    return target


def _insert(con, table: str, df: pd.DataFrame | None) -> None:
    """Append one DataFrame to ``dbo.<table>``, cast to the contract types."""
    columns = SOURCE_TABLES[table]
    if df is None or df.empty:
        return
    extra = set(df.columns) - set(columns)
    if extra:
        raise ValueError(f"{table}: unknown columns {sorted(extra)}")
    present = [c for c in columns if c in df.columns]
    select = ", ".join(f'CAST("{c}" AS {columns[c]}) AS "{c}"' for c in present)
    con.register("_src_df", df)
    con.execute(
        f"INSERT INTO dbo.{table} ({', '.join(chr(34) + c + chr(34) for c in present)}) "
        f"SELECT {select} FROM _src_df"
    )
    con.unregister("_src_df")
