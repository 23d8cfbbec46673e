"""The fund is validated twice: by ml/config.py (FA_CONFIG's target block) and by the dbt
macro fund() of dbt_project/macros/fund.sql (var `fund` of a direct `dbt build`). Both
must accept and refuse the same blocks: one table of cases, read by both.

The macro is rendered with plain Jinja (no dbt): `var`, `modules.re`,
`exceptions.raise_compiler_error` and dbt's `return` are supplied here as dbt defines them.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import jinja2
import pytest

from ml.config import DBT_PROJECT_DIR, parse_target
from ml.errors import BadInput

GOOD = {"code": "DEMO", "isins": ["LU000DEMO015", "LU000DEMO023"], "min_ticket_eur": 1000,
        "horizons": [7, 14, 30]}


def _with(**changes):
    block = dict(GOOD)
    for key, value in changes.items():
        if value is _DROP:
            block.pop(key)
        else:
            block[key] = value
    return block


_DROP = object()

# (case, block, accepted?, normalised (isins, min_ticket_eur, horizons) when accepted)
CASES = [
    ("the default fund", GOOD, True, (["LU000DEMO015", "LU000DEMO023"], 1000.0, [7, 14, 30])),
    ("defaults for ticket and horizons", _with(min_ticket_eur=_DROP, horizons=_DROP), True,
     (["LU000DEMO015", "LU000DEMO023"], 1000.0, [7, 14, 30])),
    ("isins deduplicated and sorted", _with(isins=["LU000DEMO023", "LU000DEMO015", "LU000DEMO023"]),
     True, (["LU000DEMO015", "LU000DEMO023"], 1000.0, [7, 14, 30])),
    ("horizons deduplicated and sorted", _with(horizons=[30, 7, 7]), True,
     (["LU000DEMO015", "LU000DEMO023"], 1000.0, [7, 30])),
    ("fractional ticket", _with(min_ticket_eur=250.5), True,
     (["LU000DEMO015", "LU000DEMO023"], 250.5, [7, 14, 30])),
    ("horizon bounds 1 and 365", _with(horizons=[1, 365]), True,
     (["LU000DEMO015", "LU000DEMO023"], 1000.0, [1, 365])),
    ("code of 40 characters", _with(code="A" * 40), True,
     (["LU000DEMO015", "LU000DEMO023"], 1000.0, [7, 14, 30])),
    ("code missing", _with(code=_DROP), False, None),
    ("code lower case", _with(code="demo"), False, None),
    ("code with a quote", _with(code="DE'MO"), False, None),
    ("code of 41 characters", _with(code="A" * 41), False, None),
    ("code empty", _with(code=""), False, None),
    ("code a number", _with(code=12), False, None),
    ("isins missing", _with(isins=_DROP), False, None),
    ("isins a string", _with(isins="LU000DEMO015"), False, None),
    ("isins empty", _with(isins=[]), False, None),
    ("isins a mapping", _with(isins={"LU000DEMO015": 1}), False, None),
    ("ISIN lower case", _with(isins=["lu000demo015"]), False, None),
    ("ISIN with a quote", _with(isins=["LU000DEM'015"]), False, None),
    ("ISIN too short", _with(isins=["LU000DEMO01"]), False, None),
    ("ISIN without check digit", _with(isins=["LU000DEMO01X"]), False, None),
    ("ISIN a number", _with(isins=[123456789012]), False, None),
    ("ticket zero", _with(min_ticket_eur=0), False, None),
    ("ticket negative", _with(min_ticket_eur=-5), False, None),
    ("ticket a string", _with(min_ticket_eur="1000"), False, None),
    ("ticket a boolean", _with(min_ticket_eur=True), False, None),
    ("ticket infinite", _with(min_ticket_eur=math.inf), False, None),
    ("ticket NaN", _with(min_ticket_eur=math.nan), False, None),
    ("horizons empty", _with(horizons=[]), False, None),
    ("horizon zero", _with(horizons=[0]), False, None),
    ("horizon 366", _with(horizons=[366]), False, None),
    ("horizon fractional", _with(horizons=[7.5]), False, None),
    ("horizon a float with no fraction", _with(horizons=[7.0]), False, None),
    ("horizon a boolean", _with(horizons=[True]), False, None),
    ("horizon a string", _with(horizons=["7"]), False, None),
    ("horizons a string", _with(horizons="7,14"), False, None),
    ("horizons a mapping", _with(horizons={7: 1}), False, None),
]


class _Return(Exception):
    """dbt's `return(value)` inside a macro: ends the macro with that value."""

    def __init__(self, value):
        super().__init__("return")
        self.value = value


def _raise(exc):
    raise exc


def _macro_fund(block):
    """fund() of macros/fund.sql with var('fund') = block; ValueError when it refuses."""
    text = (DBT_PROJECT_DIR / "macros" / "fund.sql").read_text(encoding="utf-8")
    env = jinja2.Environment(extensions=["jinja2.ext.do"])
    module = env.from_string(text).make_module({
        "var": lambda name, default=None: block if name == "fund" else default,
        "modules": SimpleNamespace(re=re),
        "exceptions": SimpleNamespace(raise_compiler_error=lambda m: _raise(ValueError(m))),
        "return": lambda value: _raise(_Return(value)),
    })
    try:
        module.fund()
    except _Return as r:
        return r.value
    raise AssertionError("fund() ended without return()")


def _python_fund(block):
    """ml.config's reading of the same block as FA_CONFIG's target; BadInput when refused."""
    return parse_target({"target": block}, "FA_CONFIG")


@pytest.mark.parametrize("case, block, accepted, normalised", CASES, ids=[c[0] for c in CASES])
def test_python_and_dbt_macro_agree(case, block, accepted, normalised):
    if accepted:
        target = _python_fund(block)
        macro = _macro_fund(block)
        isins, ticket, horizons = normalised
        assert (list(target.isins), target.min_ticket_eur, list(target.horizons)) == normalised
        assert (macro["isins"], float(macro["min_ticket_eur"]), macro["horizons"]) == (
            isins, ticket, horizons)
        assert macro["code"] == target.code == block["code"]
        # what orchestrate.py passes to dbt is accepted by the macro unchanged
        assert _macro_fund(target.dbt_vars())["isins"] == isins
    else:
        with pytest.raises(BadInput):
            _python_fund(block)
        with pytest.raises(ValueError):
            _macro_fund(block)
