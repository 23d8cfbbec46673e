"""FA_ENGINE=sqlserver through the CLI without a server: one clear Error line and exit 2."""

from __future__ import annotations

import sys
import uuid

import pytest
from click.testing import CliRunner

from orchestrate import cli


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.setenv("FA_ART_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("FA_ENGINE", "sqlserver")
    for name in ("FA_SQLSERVER_HOST", "FA_SQLSERVER_USER", "FA_SQLSERVER_PASSWORD",
                 "FA_SQLSERVER_TRUSTED_CONNECTION", "FA_DEBUG", "FA_DBT_TARGET"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_missing_host_is_a_bad_input(env):
    result = CliRunner().invoke(cli, ["qc"])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: FA_SQLSERVER_HOST is not set (FA_ENGINE=sqlserver needs the server name)")


def test_missing_odbc_driver_is_a_bad_input_without_the_password(env):
    env.setenv("FA_SQLSERVER_HOST", "sql01")
    env.setenv("FA_SQLSERVER_USER", "fa")
    env.setenv("FA_SQLSERVER_PASSWORD", "hunter2-secret")
    env.setitem(sys.modules, "pyodbc", None)  # as on a machine without unixODBC
    result = CliRunner().invoke(cli, ["qc"])
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: pyodbc cannot be loaded (")
    assert last.endswith("see docs/sqlserver.md")
    assert "hunter2" not in result.output


@pytest.mark.parametrize("engine, target", [("duckdb", "sqlserver"), ("sqlserver", "duckdb"),
                                            (None, "sqlserver"), ("duckdb", "prod")])
def test_a_stale_dbt_target_that_contradicts_the_engine_is_refused(env, engine, target):
    """FA_DBT_TARGET picks dbt's profile output; left over from another shell it would
    send dbt to one engine and Python to the other."""
    if engine is None:
        env.delenv("FA_ENGINE")
    else:
        env.setenv("FA_ENGINE", engine)
    env.setenv("FA_DBT_TARGET", target)
    result = CliRunner().invoke(cli, ["qc"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: FA_DBT_TARGET={target} ")
    assert f"FA_ENGINE={engine or 'duckdb'}" in lines[0]


def test_a_dbt_target_equal_to_the_engine_is_accepted():
    from ml.config import load_settings

    assert load_settings({"FA_ENGINE": "sqlserver", "FA_DBT_TARGET": "sqlserver"}).engine == "sqlserver"
    assert load_settings({"FA_DBT_TARGET": "duckdb"}).engine == "duckdb"
    assert load_settings({"FA_DBT_TARGET": ""}).engine == "duckdb"


# ---- the real Microsoft ODBC Driver 18 (from a wheel), no server -------------------------
def _real_driver():
    """The path of msodbcsql18 as shipped by the mssql-python-odbc wheel, or a skip."""
    from pathlib import Path

    try:
        import pyodbc  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"pyodbc cannot be loaded ({exc}): install unixODBC (apt-get install unixodbc)")
    try:
        import mssql_python_odbc
    except ImportError:
        pytest.skip("mssql-python-odbc (Microsoft ODBC Driver 18 in a wheel) is not installed")
    lib = Path(mssql_python_odbc.get_libs_dir()) / "linux" / "debian_ubuntu" / "x86_64" / "lib"
    found = sorted(lib.glob("libmsodbcsql-18*.so*"))
    if not found:
        pytest.skip(f"no libmsodbcsql-18 for this platform in {lib}")
    return found[0]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: a connection is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_driver_refused_connection_is_one_error_line_without_the_password(env):
    """Our connection string through the real driver: ';', '}' and '=' in the password
    are braced correctly (else the driver manager, not the driver, would answer), and a
    refused connection ends in one Error line with the password nowhere."""
    driver = _real_driver()
    # A random value made at run time (no credential in the repository) holding the
    # characters ODBC must brace (; } = {), sent only to a closed port on 127.0.0.1 to show
    # it is masked in the Error line.
    token = uuid.uuid4().hex[:12]
    secret = f"{token};}}={{x"
    env.setenv("FA_SQLSERVER_HOST", "127.0.0.1")
    env.setenv("FA_SQLSERVER_PORT", str(_closed_port()))
    env.setenv("FA_SQLSERVER_USER", "fa_writer")
    env.setenv("FA_SQLSERVER_PASSWORD", secret)
    env.setenv("FA_SQLSERVER_DRIVER", str(driver))
    env.setenv("FA_SQLSERVER_LOGIN_TIMEOUT", "1")
    result = CliRunner().invoke(cli, ["qc"])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: cannot connect to SQL Server 127.0.0.1 database FA: ")
    assert "[Microsoft][ODBC Driver 18 for SQL Server]" in lines[0]  # the driver itself answered
    assert "s3cr" not in result.output and "pw={x" not in result.output
    assert secret not in result.output and token not in result.output
