"""The data horizon read from SQL Server: a connection failure is exit 3, password masked."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

import ml.db_sqlserver as mssql
from ml.config import load_settings
from ml.errors import DataError
from ml.pipeline import data_horizon


class RefusingEngine:
    disposed = False

    def connect(self):
        raise OperationalError("SELECT 1", {}, Exception("Login failed; PWD=S3cr3t!x;"))

    def dispose(self):
        RefusingEngine.disposed = True


def test_unreachable_source_is_a_data_error_without_the_password(monkeypatch):
    for key, value in {"FA_ENGINE": "sqlserver", "FA_SQLSERVER_HOST": "db.example",
                       "FA_SQLSERVER_USER": "fa", "FA_SQLSERVER_PASSWORD": "S3cr3t!x",
                       "FA_SQLSERVER_DATABASE": "FA"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FA_DBT_TARGET", raising=False)  # left by an earlier in-process dbt run
    monkeypatch.setattr(mssql, "get_engine_source", lambda env=None: RefusingEngine())
    with pytest.raises(DataError) as exc:
        data_horizon(load_settings())
    message = str(exc.value)
    assert message.startswith("cannot read cd_Datei from SQL Server db.example database Provisionen: ")
    assert "S3cr3t!x" not in message
    assert RefusingEngine.disposed
