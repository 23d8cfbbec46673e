"""What a registered model was made from: code commit, library versions, training rows.

:func:`training_record` is the one call ml/train.py makes per horizon after writing the
artifacts: it writes the drift reference (ml/drift.py) and returns the registry columns
Drift_Path, Drift_Sha256, Git_Commit, Library_Versions and Train_Fingerprint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from typing import Any, Mapping

import pandas as pd

from ml.config import PROJECT_ROOT, Settings

# package -> the distribution names it may be installed under (first found wins)
LIBRARIES = {"xgboost": ("xgboost", "xgboost-cpu"), "scikit-learn": ("scikit-learn",),
             "dbt-core": ("dbt-core",), "duckdb": ("duckdb",), "pandas": ("pandas",), "numpy": ("numpy",)}
TRAINING_PARTS = ("fit", "early_stopping", "calibration")


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the project, or None outside a checkout / without git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=str(PROJECT_ROOT), capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and len(text) in (40, 64) else None


@functools.lru_cache(maxsize=1)
def library_versions() -> str:
    """JSON {package: installed version or null}."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for name, dists in LIBRARIES.items():
        found[name] = None
        for dist in dists:
            try:
                found[name] = version(dist)
                break
            except PackageNotFoundError:
                continue
    return json.dumps(found, sort_keys=True)


def fingerprint(parts: Mapping[str, pd.DataFrame], features: tuple[str, ...]) -> str:
    """sha256 over the rows the model learned from (fit, early stopping, calibration).

    Per part in that order: its name and row count, then pandas' per-row hashes of the
    keys, features, label and weight (when sampled) in row order. The same rows in the
    same order give the same fingerprint on every machine.
    """
    h = hashlib.sha256()
    for name in TRAINING_PARTS:
        part = parts[name]
        cols = ["Score_Date", "Depot_Number", *features, "label"] + (["weight"] if "weight" in part else [])
        h.update(f"{name}:{len(part)}:{','.join(cols)};".encode())
        if len(part):
            h.update(pd.util.hash_pandas_object(part[cols], index=False).to_numpy().tobytes())
    return h.hexdigest()


def training_record(settings: Settings, version: str, model: Any,
                    parts: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Write drift.json beside the model and return the registry's provenance columns."""
    from ml.drift import write_reference

    return {**write_reference(settings, version, model, parts), "Git_Commit": git_commit(),
            "Library_Versions": library_versions(),
            "Train_Fingerprint": fingerprint(parts, tuple(model.features))}
