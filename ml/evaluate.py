"""Offline evaluation of registered models over an interval -> FA_MODEL_EVAL.

Every registered version of each requested horizon is scored on the label-complete
Pre_First_Target rows of [start, end] (D + T <= the data horizon) with its own calibrated
probability (not the cross-horizon clipped one: that mixes versions), after its artifacts'
hashes are verified. One row per (Target_Code, Horizon, Version, Eval_Start, Eval_End),
replaced when the same interval is evaluated again. ``Overlaps_Training`` = 1 flags an
interval that overlaps the model's training window: those figures are in-sample.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

import pandas as pd

from ml.config import Settings
from ml.dataset import check_horizons, complete, label_column, label_horizon, load_window, matrix
from ml.db import open_target
from ml.log import log
from ml.errors import BadInput, DataError
from ml.metrics import bootstrap_intervals, expected_calibration_error, headline
from ml import registry

EVAL_TABLE = "FA_MODEL_EVAL"
EVAL_COLUMNS = [
    ("Target_Code", "key"), ("Horizon", "int"), ("Version", "key"),
    ("Eval_Start", "date"), ("Eval_End", "date"),
    ("AP", "float"), ("AP_Low", "float"), ("AP_High", "float"),
    ("P_At_1", "float"), ("P_At_3", "float"), ("P_At_5", "float"),
    ("Lift_At_1", "float"), ("Lift_At_3", "float"), ("Lift_At_5", "float"),
    ("Base_Rate", "float"), ("Brier", "float"), ("ECE", "float"),
    ("Rows", "int"), ("Positives", "int"), ("Is_Active", "int"), ("Overlaps_Training", "int"),
    ("Evaluated_At", "timestamp"),
]
EVAL_KEY = ("Target_Code", "Horizon", "Version", "Eval_Start", "Eval_End")


def _overlaps(row: dict, start: date, end: date) -> int:
    lo, hi = pd.Timestamp(row["Train_Start"]).date(), pd.Timestamp(row["Train_End"]).date()
    return int(start <= hi and lo <= end)


def evaluate_models(settings: Settings, horizons: Sequence[int], start: date, end: date,
                    n_boot: int = 200, versions: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Evaluate the registered versions of ``horizons`` on [start, end] (all, or only
    ``versions``); returns the rows written."""
    if start > end:
        raise BadInput("--start must not be after --end")
    horizons = check_horizons(settings, horizons)
    code = settings.target.code
    with open_target(settings) as db:
        models = registry.list_models(db, code)
        data = load_window(db, settings, start, end, horizons)
        horizon_date = label_horizon(db, settings, horizons)
        plan = []
        for h in horizons:
            rows = models[models["Horizon"] == h]
            if versions:
                missing = sorted(set(versions) - set(rows["Version"]))
                if missing:
                    raise BadInput(f"--version {missing[0]} is not registered for {code} horizon {h}")
                rows = rows[rows["Version"].isin(list(versions))]
            if rows.empty:
                raise DataError(f"no registered model for {code} horizon {h}: run 'python orchestrate.py train' first")
            part = data[complete(data, h, horizon_date)]
            if part.empty:
                raise DataError(
                    f"no label-complete rows for T{h} in [{start}, {end}] "
                    f"(labels are complete up to D + {h} <= {horizon_date})"
                )
            plan.append((h, rows, part))
        out = []
        now = registry.utc_now()
        for h, rows, part in plan:
            y = part[label_column(h)].to_numpy()
            for _, reg in rows.iterrows():
                model = registry.load_model(settings, reg.to_dict())
                p = model.predict(matrix(part))
                figures = headline(y, p)
                ci = bootstrap_intervals(y, p, part["Depot_Number"].to_numpy(), n_boot=n_boot)
                log(f"eval: T{h} {model.version}: AP {figures['ap']:.4f} on {len(part)} rows")
                out.append({
                    "Target_Code": code, "Horizon": h, "Version": model.version,
                    "Eval_Start": start, "Eval_End": end,
                    "AP": figures["ap"], "AP_Low": ci.get("ap", (None, None))[0],
                    "AP_High": ci.get("ap", (None, None))[1],
                    "P_At_1": figures["p_at_1"], "P_At_3": figures["p_at_3"], "P_At_5": figures["p_at_5"],
                    "Lift_At_1": figures["lift_at_1"], "Lift_At_3": figures["lift_at_3"],
                    "Lift_At_5": figures["lift_at_5"], "Base_Rate": figures["base_rate"],
                    "Brier": figures["brier"], "ECE": expected_calibration_error(y, p),
                    "Rows": int(len(part)), "Positives": int(y.sum()),
                    "Is_Active": int(reg["Is_Active"]), "Overlaps_Training": _overlaps(reg, start, end),
                    "Evaluated_At": now,
                })
        db.ensure_table(EVAL_TABLE, EVAL_COLUMNS, primary_key=EVAL_KEY)
        where = " AND ".join(f"{c} = ?" for c in EVAL_KEY)
        with db.transaction():
            for row in out:
                db.replace_rows(EVAL_TABLE, pd.DataFrame([row]), where, [row[c] for c in EVAL_KEY])
    return out
