"""No credentials in the repository, in logs or in error messages.

The SQL Server password (FA_SQLSERVER_PASSWORD) is set to a recognisable value and a
connection failure is forced: through a stand-in DBAPI module whose error message echoes
the whole ODBC connection string (as drivers may), and through the real CLI in a child
process. Neither the error line, nor stdout/stderr, nor any log record may contain it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml.config import load_settings
from ml.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
SECRET = "S3cr3t!pw;x}"
ENV = {
    "FA_ENGINE": "sqlserver",
    "FA_SQLSERVER_HOST": "127.0.0.1",
    "FA_SQLSERVER_PORT": "1",
    "FA_SQLSERVER_USER": "fa_writer",
    "FA_SQLSERVER_PASSWORD": SECRET,
    "FA_SQLSERVER_LOGIN_TIMEOUT": "1",
}


def fake_pyodbc() -> types.ModuleType:
    """A DBAPI module whose connect() fails quoting the full connection string."""
    mod = types.ModuleType("pyodbc")
    mod.version = "5.2.0"
    mod.paramstyle = "qmark"
    mod.apilevel = "2.0"
    mod.threadsafety = 1
    mod.Cursor = type("Cursor", (), {"nextset": lambda self: None})
    mod.Binary = bytes
    mod.SQL_VARCHAR, mod.SQL_WVARCHAR, mod.SQL_DBMS_VER = 12, -9, 18

    class Error(Exception):
        pass

    mod.Error = Error
    for name in ("Warning", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
                 "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        setattr(mod, name, type(name, (Error,), {}))

    def connect(*args, **kwargs):
        logging.getLogger("fake.pyodbc").info("connect(%r)", args)
        raise mod.OperationalError(f"('08001', '[08001] Login failed; connection string was {args[0]}')")

    mod.connect = connect
    return mod


@pytest.fixture
def sqlserver_env(monkeypatch, tmp_path):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FA_DUCKDB_PATH", str(tmp_path / "fa.duckdb"))
    monkeypatch.delenv("FA_LOCK_OWNER_PID", raising=False)
    monkeypatch.delenv("FA_DBT_TARGET", raising=False)  # left by an earlier in-process dbt run
    fake = fake_pyodbc()
    monkeypatch.setitem(sys.modules, "pyodbc", fake)
    import sqlalchemy

    real = sqlalchemy.create_engine
    monkeypatch.setattr(sqlalchemy, "create_engine", lambda url, **kw: real(url, **{**kw, "module": fake}))
    return fake


def test_fake_driver_really_echoes_the_password(sqlserver_env):
    """Control: without masking the secret would leak (the test can fail)."""
    from ml.db_sqlserver import _engine, sqlserver_config

    cfg = sqlserver_config()
    with pytest.raises(Exception) as err:
        _engine(cfg, cfg.database).raw_connection()
    assert SECRET in str(err.value)


def test_connection_failure_message_and_logs_hide_the_password(sqlserver_env, caplog):
    from ml.db_sqlserver import open_sqlserver_target

    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy").setLevel(logging.DEBUG)
    with pytest.raises(DataError) as err:
        open_sqlserver_target(load_settings())
    message = str(err.value)
    assert message.startswith("cannot connect to SQL Server 127.0.0.1 database FA: ")
    assert SECRET not in message and "S3cr3t" not in message
    assert "PWD=***" in message
    assert caplog.records  # the fake driver and sqlalchemy did log
    leaked = [r.getMessage() for r in caplog.records
              if "S3cr3t" in r.getMessage() and r.name != "fake.pyodbc"]
    assert leaked == []


@pytest.mark.parametrize("debug", ["", "1"])
@pytest.mark.parametrize("args", [["score"], ["registry", "rollback"], ["daily", "--date", "2025-08-20"]])
def test_cli_error_line_hides_the_password(sqlserver_env, monkeypatch, args, debug):
    from orchestrate import cli

    monkeypatch.setenv("FA_DEBUG", debug)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: cannot connect to SQL Server 127.0.0.1 database FA: ")
    assert "S3cr3t" not in result.output


def test_real_child_process_without_a_driver_hides_the_password(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("FA_LOCK_OWNER_PID", "FA_CONFIG", "FA_DBT_TARGET")}
    env.update(ENV, FA_DUCKDB_PATH=str(tmp_path / "fa.duckdb"), FA_DEBUG="1")
    out = subprocess.run([sys.executable, str(ROOT / "orchestrate.py"), "score"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "S3cr3t" not in out.stdout + out.stderr


# ---- the repository ----------------------------------------------------------------------
ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|api[_-]?key|access[_-]?key|token)\b[\"']?\s*[:=]\s*"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s,;)}]+)")
ALLOWED_VALUE = re.compile(
    r"""^["']?(|\*+|None|null|""|''|\{\{.*env_var\(.*|<[^>]*>|\$\{?[A-Z_]+\}?|%\(?[A-Z_]+\)?s?)["']?$""")
KNOWN_KEYS = re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / p for p in out.stdout.splitlines()]


def scanned(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return not (rel.endswith(".example") or rel.startswith(("docs/", "tests/")) or rel.endswith(".md"))


def test_no_credentials_in_the_repository():
    files = [p for p in tracked_files() if p.is_file()]
    assert len(files) > 20
    findings = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        rel = path.relative_to(ROOT).as_posix()
        findings += [f"{rel}: private key or token" for _ in KNOWN_KEYS.finditer(text)]
        if not scanned(path):
            continue
        for m in ASSIGNMENT.finditer(text):
            value = m.group("value")
            quoted = value[:1] in "\"'"
            # Python passes values along in variables (password=cfg.password): only a
            # quoted literal is a credential there; in config files any value is
            if path.suffix == ".py" and not quoted:
                continue
            if not ALLOWED_VALUE.match(value):
                findings.append(f"{rel}: {m.group(0)}")
    assert findings == []


def test_no_environment_files_or_tracked_databases():
    names = [p.relative_to(ROOT).as_posix() for p in tracked_files()]
    assert not [n for n in names if re.search(r"(^|/)\.env$|\.duckdb$|\.pem$|\.key$|profiles\.yml\.local", n)]


@pytest.mark.parametrize("text, leaks", [
    ("password: hunter2\n", True), ("PWD=abc123;", True), ('x = {"password": "S3cr3t"}', True),
    ("password: \"{{ env_var('FA_SQLSERVER_PASSWORD', '') }}\"", False), ('password=""', False),
    ("PWD=***", False), ("password: ${FA_SQLSERVER_PASSWORD}", False),
])
def test_the_scanner_finds_literals(text, leaks):
    """Control: the repository scan would catch a committed password."""
    found = [m for m in ASSIGNMENT.finditer(text) if not ALLOWED_VALUE.match(m.group("value"))]
    assert bool(found) == leaks
