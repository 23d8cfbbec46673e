"""Model artifacts on disk and the model registry tables.

Artifacts of one version and horizon live in ``FA_ART_DIR/<CODE>/<version>/T<h>/``:
``booster.ubj`` (XGBoost's own format), ``calibrator.json`` (isotonic knots),
``features.json``, ``metrics.json``. Paths are stored relative to FA_ART_DIR with forward
slashes (the directory can move between machines, Linux and Windows alike); each file's
sha256 is stored beside it and checked before a model is used. No pickle is ever written
or read.

Tables (Python-owned, created on first use, never dropped):

- ``FA_MODEL_REGISTRY``: one row per (Target_Code, Horizon, Version). Rows are only ever
  inserted; the one column that changes is ``Is_Active`` (a cached flag).
- ``FA_MODEL_REGISTRY_HISTORY``: append-only log of every activation, promotion and
  rollback, and of every champion/challenger decision that kept the champion (action
  ``keep``). It is the source of truth for which model is active and what a rollback
  returns to. ``Decision_Json`` holds the figures of both models on the same test rows
  when a training run decided (NULL for manual promotes and rollbacks).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, Sequence

import pandas as pd

from ml.config import Settings
from ml.db import SCHEMA, TYPES, Database, ident
from ml.errors import BadInput, DataError
from ml.faults import fault_point
from ml.model import Calibrator, Model

REGISTRY = "FA_MODEL_REGISTRY"
HISTORY = "FA_MODEL_REGISTRY_HISTORY"

REGISTRY_COLUMNS = [
    ("Target_Code", "key"),
    ("Horizon", "int"),
    ("Version", "key"),
    ("Train_Start", "date"),
    ("Train_End", "date"),
    ("Test_Start", "date"),
    ("Test_End", "date"),
    ("Windows_Json", "text"),
    ("Features_Json", "text"),
    ("Features_Sha256", "key"),
    ("Params_Json", "text"),
    ("Metrics_Json", "text"),
    ("Test_AP", "float"),
    ("Test_Base_Rate", "float"),
    ("Test_Lift_At_1", "float"),
    ("Train_Rows", "int"),
    ("Test_Rows", "int"),
    ("Best_Iteration", "int"),
    ("Booster_Path", "text"),
    ("Booster_Sha256", "key"),
    ("Calibrator_Path", "text"),
    ("Calibrator_Sha256", "key"),
    ("Features_Path", "text"),
    ("Features_File_Sha256", "key"),
    ("Metrics_Path", "text"),
    ("Metrics_Sha256", "key"),
    ("Created_At", "timestamp"),
    ("Is_Active", "int"),
]
# Added by a later release (issue 11): created with new tables, appended to older ones.
ADDED_REGISTRY_COLUMNS = [
    ("Drift_Path", "text"),          # drift.json (ml/drift.py); NULL for older models
    ("Drift_Sha256", "key"),
    ("Git_Commit", "key"),           # git rev-parse HEAD of the training code, when known
    ("Library_Versions", "text"),    # JSON {package: version}
    ("Train_Fingerprint", "key"),    # sha256 of the rows the model learned from (ml/provenance.py)
]
REGISTRY_COLUMNS = REGISTRY_COLUMNS + ADDED_REGISTRY_COLUMNS
HISTORY_COLUMNS = [
    ("Target_Code", "key"),
    ("Horizon", "int"),
    ("Event_Seq", "int"),
    ("Event_At", "timestamp"),
    ("Action", "key"),
    ("Version", "key"),
    ("Previous_Version", "key"),
    ("Reason", "text"),
    ("Decision_Json", "text"),  # added later: ensure_tables adds it to older tables
]
ARTIFACTS = {  # role -> (file name, path column, hash column)
    "booster": ("booster.ubj", "Booster_Path", "Booster_Sha256"),
    "calibrator": ("calibrator.json", "Calibrator_Path", "Calibrator_Sha256"),
    "features": ("features.json", "Features_Path", "Features_File_Sha256"),
    "metrics": ("metrics.json", "Metrics_Path", "Metrics_Sha256"),
}
# Verified like the others when used, but not needed to score (older models have none).
OPTIONAL_ARTIFACTS = {"drift": ("drift.json", "Drift_Path", "Drift_Sha256")}
ACTIVATING = ("activate", "promote")
KEEP = "keep"  # a decision event that changes nothing: the active model stays


def _add_missing_columns(db: Database, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """Upgrade a table created by an older version: ALTER TABLE ... ADD each missing column
    (nullable; the same statement on DuckDB and SQL Server)."""
    have = {c.lower() for c in db.query_df(f"SELECT * FROM {SCHEMA}.{ident(table)} WHERE 1 = 0").columns}
    if not have:  # no column information (a driver without a result description): leave it
        return
    for name, kind in columns:
        if name.lower() not in have:
            db.execute(f"ALTER TABLE {SCHEMA}.{ident(table)} ADD {ident(name)} {TYPES[db.dialect][kind]}")


def ensure_tables(db: Database) -> None:
    db.ensure_table(REGISTRY, REGISTRY_COLUMNS, primary_key=("Target_Code", "Horizon", "Version"))
    db.ensure_columns(REGISTRY, ADDED_REGISTRY_COLUMNS)
    db.ensure_table(HISTORY, HISTORY_COLUMNS, primary_key=("Target_Code", "Horizon", "Event_Seq"))


def utc_now() -> datetime:
    """Naive UTC timestamp (both engines store timestamps without zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_version(created_at: datetime, payload: Mapping[str, Any]) -> str:
    """Sortable version id: UTC time to the millisecond, plus 6 hex of a hash of the run.

    Milliseconds, not seconds: two trainings on a small world can finish within one second,
    and their order must not then depend on the hash ("newest" = the greatest id).
    """
    digest = hashlib.sha256(
        (created_at.isoformat() + json.dumps(payload, sort_keys=True, default=str)).encode()
    ).hexdigest()[:6]
    return f"{created_at:%Y%m%dT%H%M%S}{created_at.microsecond // 1000:03d}Z-{digest}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def features_hash(features: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(features)).encode()).hexdigest()


def json_safe(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (strict JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(value: Any) -> str:
    return json.dumps(json_safe(value), sort_keys=True, allow_nan=False)


def write_artifacts(settings: Settings, version: str, model: Model,
                    metrics: Mapping[str, Any]) -> dict[str, str]:
    """Write the four files of one horizon; return the registry's path and hash columns."""
    rel_dir = PurePosixPath(settings.target.code, version, f"T{model.horizon}")
    final = settings.art_dir.joinpath(*rel_dir.parts)
    if final.exists():
        raise DataError(f"artifact folder {final} exists already")
    # Write into a temporary sibling, then rename: a crash never leaves a half-written
    # folder under the version's name (a leftover .tmp folder is never read).
    folder = final.with_name(f".{final.name}.tmp{os.getpid()}")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_booster(folder / ARTIFACTS["booster"][0])
    fault_point("artifacts.write")  # test-only: a crash with some files written
    (folder / ARTIFACTS["calibrator"][0]).write_text(model.calibrator.to_json(), encoding="utf-8")
    (folder / ARTIFACTS["features"][0]).write_text(
        json.dumps({"features": list(model.features)}, indent=1), encoding="utf-8")
    (folder / ARTIFACTS["metrics"][0]).write_text(
        json.dumps(json_safe(metrics), indent=1, sort_keys=True, allow_nan=False), encoding="utf-8")
    out = {}
    for file_name, path_col, hash_col in ARTIFACTS.values():
        out[path_col] = str(rel_dir / file_name)
        out[hash_col] = sha256_file(folder / file_name)
    os.replace(folder, final)
    return out


def _verified_path(settings: Settings, row: Mapping[str, Any], role: str) -> Path:
    file_name, path_col, hash_col = {**ARTIFACTS, **OPTIONAL_ARTIFACTS}[role]
    rel = PurePosixPath(str(row[path_col]))
    if rel.is_absolute() or ".." in rel.parts:
        raise DataError(f"registry path {rel} of model {row['Version']} leaves FA_ART_DIR")
    path = settings.art_dir.joinpath(*rel.parts)
    label = f"model {row['Version']} T{int(row['Horizon'])}"
    if not path.is_file():
        raise DataError(f"artifact {path} of {label} is missing; restore it or retrain")
    if sha256_file(path) != row[hash_col]:
        raise DataError(
            f"artifact {path} of {label} was altered (sha256 differs from the registry); "
            "restore it or retrain"
        )
    return path


def verified_artifact(settings: Settings, row: Mapping[str, Any], role: str) -> Path | None:
    """The hash-checked path of an optional artifact, None when the model has none."""
    value = row.get(OPTIONAL_ARTIFACTS[role][1])
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _verified_path(settings, row, role)


def load_model(settings: Settings, row: Mapping[str, Any]) -> Model:
    """Load a registered model after verifying every artifact's sha256 and feature list."""
    from ml.dataset import FEATURES

    paths = {role: _verified_path(settings, row, role) for role in ARTIFACTS}
    features = tuple(json.loads(paths["features"].read_text(encoding="utf-8"))["features"])
    if features != FEATURES:
        raise DataError(
            f"model {row['Version']} T{int(row['Horizon'])} was trained on features "
            f"{list(features)}, this code provides {list(FEATURES)}; retrain"
        )
    try:
        calibrator = Calibrator.from_json(paths["calibrator"].read_text(encoding="utf-8"))
    except (ValueError, KeyError) as exc:
        raise DataError(f"calibrator {paths['calibrator']} is unreadable: {exc}") from None
    booster = Model.load_booster(paths["booster"], nthread=settings.duckdb_threads)
    return Model(booster, calibrator, features, int(row["Horizon"]), str(row["Version"]))


# Registry tables -----------------------------------------------------------------------

def list_models(db: Database, code: str) -> pd.DataFrame:
    """All registry rows of a target code, by Version then Horizon."""
    ensure_tables(db)
    df = db.query_df(
        f"SELECT * FROM {SCHEMA}.{REGISTRY} WHERE Target_Code = ? ORDER BY Version, Horizon", [code]
    )
    for col in ("Train_Start", "Train_End", "Test_Start", "Test_End"):
        df[col] = pd.to_datetime(df[col]).dt.date
    return df


def get_model_row(db: Database, code: str, horizon: int, version: str) -> dict | None:
    df = db.query_df(
        f"SELECT * FROM {SCHEMA}.{REGISTRY} WHERE Target_Code = ? AND Horizon = ? AND Version = ?",
        [code, int(horizon), version],
    )
    return None if df.empty else df.iloc[0].to_dict()


def active_row(db: Database, code: str, horizon: int) -> dict | None:
    """The active model row of a horizon, or None."""
    ensure_tables(db)
    df = db.query_df(
        f"SELECT * FROM {SCHEMA}.{REGISTRY} WHERE Target_Code = ? AND Horizon = ? AND Is_Active = 1",
        [code, int(horizon)],
    )
    if len(df) > 1:
        raise DataError(f"registry has {len(df)} active models for {code} T{horizon}")
    return None if df.empty else df.iloc[0].to_dict()


def require_active(db: Database, code: str, horizon: int) -> dict:
    row = active_row(db, code, horizon)
    if row is None:
        raise DataError(
            f"no active model for {code} horizon {horizon}: run 'python orchestrate.py train' first"
        )
    return row


def register(db: Database, rows: pd.DataFrame) -> None:
    """Insert new model rows (Is_Active = 0); an existing (code, horizon, version) is an error."""
    ensure_tables(db)
    for _, r in rows.iterrows():
        if get_model_row(db, r["Target_Code"], r["Horizon"], r["Version"]) is not None:
            raise DataError(f"model version {r['Version']} T{r['Horizon']} is already registered")
    db.append_rows(REGISTRY, rows.assign(Is_Active=0))


def history(db: Database, code: str) -> pd.DataFrame:
    ensure_tables(db)
    return db.query_df(
        f"SELECT * FROM {SCHEMA}.{HISTORY} WHERE Target_Code = ? ORDER BY Horizon, Event_Seq", [code]
    )


def active_stack(events: pd.DataFrame) -> list[str]:
    """Versions activated and not rolled back, oldest first (pure; events of one horizon).

    An activation pushes its version, a rollback pops the top: the top is the active model,
    the one below it is what the next rollback returns to.
    """
    stack: list[str] = []
    for _, ev in events.sort_values("Event_Seq").iterrows():
        if ev["Action"] in ACTIVATING:
            stack.append(str(ev["Version"]))
        elif ev["Action"] == "rollback" and stack:
            stack.pop()
    return stack


def _set_active(db: Database, code: str, horizon: int, version: str | None,
                action: str, reason: str, previous: str | None,
                decision: Mapping[str, Any] | None = None) -> None:
    """Flip Is_Active (not for a ``keep``) and append the history event, in one transaction.

    Only writers upgrade an older history table (score and eval only read the registry,
    so they never need ALTER permission).
    """
    with db.transaction():
        _add_missing_columns(db, HISTORY, HISTORY_COLUMNS)
        seq = db.query_df(
            f"SELECT MAX(Event_Seq) AS s FROM {SCHEMA}.{HISTORY} WHERE Target_Code = ? AND Horizon = ?",
            [code, int(horizon)],
        ).iloc[0]["s"]
        next_seq = 1 if pd.isna(seq) else int(seq) + 1
        if action != KEEP:
            db.execute(
                f"UPDATE {SCHEMA}.{REGISTRY} SET Is_Active = 0 WHERE Target_Code = ? AND Horizon = ? "
                "AND Is_Active = 1", [code, int(horizon)],
            )
        if version is not None and action != KEEP:
            db.execute(
                f"UPDATE {SCHEMA}.{REGISTRY} SET Is_Active = 1 WHERE Target_Code = ? AND Horizon = ? AND Version = ?",
                [code, int(horizon), version],
            )
        fault_point("registry.set_active")  # test-only: a crash between the UPDATEs and the event
        event = pd.DataFrame([{
            "Target_Code": code, "Horizon": int(horizon), "Event_Seq": next_seq,
            "Event_At": utc_now(), "Action": action, "Version": version,
            "Previous_Version": previous, "Reason": reason,
            "Decision_Json": None if decision is None else dumps(decision),
        }])
        db.insert_df(HISTORY, event)


def activate(db: Database, code: str, horizon: int, version: str, action: str, reason: str,
             decision: Mapping[str, Any] | None = None) -> None:
    """Make ``version`` the active model of a horizon (action: 'activate' or 'promote').

    ``decision``: the champion/challenger figures behind it (Decision_Json), or None.
    """
    if action not in ACTIVATING:
        raise ValueError(action)
    ensure_tables(db)
    if get_model_row(db, code, horizon, version) is None:
        raise BadInput(f"no registered model {version} for {code} horizon {horizon}")
    current = active_row(db, code, horizon)
    previous = None if current is None else str(current["Version"])
    if previous == version:  # already active: no event, so a rollback still means "the one before"
        return
    _set_active(db, code, horizon, version, action, reason, previous, decision)


def keep(db: Database, code: str, horizon: int, challenger: str, reason: str,
         decision: Mapping[str, Any] | None) -> None:
    """Record that a training run's ``challenger`` was not activated (a ``keep`` event)."""
    ensure_tables(db)
    current = active_row(db, code, horizon)
    _set_active(db, code, horizon, challenger, KEEP, reason,
                None if current is None else str(current["Version"]), decision)


def promote(db: Database, code: str, version: str, reason: str = "manual promote") -> list[int]:
    """Activate every horizon registered under ``version``; returns those horizons."""
    ensure_tables(db)
    rows = db.query_df(
        f"SELECT Horizon FROM {SCHEMA}.{REGISTRY} WHERE Target_Code = ? AND Version = ? ORDER BY Horizon",
        [code, version],
    )
    if rows.empty:
        raise BadInput(f"no registered model version {version} for {code} (see 'registry list')")
    horizons = [int(h) for h in rows["Horizon"]]
    with db.transaction():  # all horizons or none: a crash cannot leave them on mixed versions
        for h in horizons:
            activate(db, code, h, version, "promote", reason)
    return horizons


def rollback(db: Database, code: str, horizons: Sequence[int]) -> dict[int, str]:
    """Return each horizon to the model active before the current one.

    Raises DataError when a horizon has nothing to roll back to (checked for all horizons
    before anything changes). Returns {horizon: version now active}.
    """
    ensure_tables(db)
    events = history(db, code)
    plan = {}
    for h in horizons:
        stack = active_stack(events[events["Horizon"] == h])
        if len(stack) < 2:
            raise DataError(f"nothing to roll back to for {code} horizon {h} (no earlier active model)")
        plan[h] = (stack[-1], stack[-2])
    with db.transaction():  # all horizons or none: a rerun after a crash must not roll back twice
        for h, (current, previous) in plan.items():
            _set_active(db, code, h, previous, "rollback", f"rollback from {current}", current)
    return {h: prev for h, (_, prev) in plan.items()}
