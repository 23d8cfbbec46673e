"""DuckDatabase.release_cache: the buffer pool's pages of earlier reads go, nothing else."""

from __future__ import annotations

import pytest

from ml.db import DuckDatabase


def base_table_mb(db: DuckDatabase) -> float:
    return float(db.scalar("SELECT memory_usage_bytes / 2^20 FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"))


def test_release_cache_evicts_read_pages_and_keeps_limit_and_data(tmp_path):
    path = tmp_path / "fa.duckdb"
    db = DuckDatabase(str(path), memory_limit="1GB", threads=1)
    db.execute("CREATE TABLE dbo.t AS SELECT range AS i, random() AS x FROM range(12000000)")
    db.close()  # checkpointed: the pages now live in the file, read through the pool

    db = DuckDatabase(str(path), memory_limit="1GB", threads=1)
    total = db.scalar("SELECT sum(x) FROM dbo.t")  # random doubles: ~90 MB of pages, more than the 64MB it evicts down to
    assert base_table_mb(db) > 80  # the read left the table's pages in the pool
    db.release_cache()
    assert base_table_mb(db) <= 64
    assert db.scalar("SELECT current_setting('memory_limit')") == "953.6 MiB"  # 1GB again
    assert db.scalar("SELECT sum(x) FROM dbo.t") == total  # read again, from the file
    db.close()


def test_release_cache_refuses_a_limit_it_would_have_to_inline(tmp_path):
    db = DuckDatabase(str(tmp_path / "fa.duckdb"), memory_limit="1GB", threads=1)
    db._memory_limit = "1GB'; DROP TABLE x; --"
    with pytest.raises(ValueError, match="unexpected memory_limit"):
        db.release_cache()
    db.close()
