"""The ISIN form check of the staging views (rules §4, class bad_isin) on DuckDB.

dbt_project/macros/cross_db.sql has a regular-expression version (default__) and, for
speed, a GLOB version (duckdb__isin_is_valid, about 20x faster; docs/performance.md,
section 9). Both are rendered from the macro file and evaluated by DuckDB on edge cases
and on random strings, and compared with Python's reading of the rule as docs/rules.md
writes it (the pattern in the bad_isin row of §4), so none of the three can drift.
"""

from __future__ import annotations

import random
import re
import string

import duckdb
import pytest

from ml.config import DBT_PROJECT_DIR, PROJECT_ROOT

MACROS = DBT_PROJECT_DIR / "macros" / "cross_db.sql"
RULES = PROJECT_ROOT / "docs" / "rules.md"

EDGE_CASES = [
    "DE0001234567", "LU000DEMO015", "XS12345678Z9", "DE000123456X", "DE00012345677",
    "DE000123456", "de0001234567", "D10001234567", "1E0001234567", "ÄE0001234567",
    "DE00012345Ä7", "D*0001234567", "DE00012345?7", "DE00012345[7", "DE 001234567",
    "", "DE0001234567\n", "DE0001234567 ", "ABCDEFGHIJK0", "AB!DEFGHIJK0",
]


def macro_body(name: str) -> str:
    """The SQL of macro `name` in cross_db.sql with its argument `expr` as column x."""
    text = MACROS.read_text(encoding="utf-8")
    m = re.search(r"{%\s*macro " + name + r"\(expr\)\s*-?%}(.*?){%-?\s*endmacro\s*%}", text, re.S)
    assert m, f"macro {name} not found in {MACROS}"
    return m.group(1).replace("{{ expr }}", "x").strip()


def rule_pattern() -> str:
    """The ISIN pattern as docs/rules.md §4 writes it in the bad_isin row."""
    row = next(line for line in RULES.read_text(encoding="utf-8").splitlines()
               if line.startswith("| `bad_isin`"))
    return re.search(r"`(\[A-Z\][^`]*)`", row).group(1)


def random_strings(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    likely = string.ascii_uppercase + string.digits
    odd = likely + string.ascii_lowercase + "ÄÖÜßé*?[]!-_ .\t"
    out = []
    for _ in range(n):
        length = rng.choice([0, 1, 10, 11, 12, 12, 12, 12, 13])
        out.append("".join(rng.choice(odd if rng.random() < 0.15 else likely) for _ in range(length)))
    return out


@pytest.fixture(scope="module")
def verdicts() -> list[tuple[str, bool, bool]]:
    values = EDGE_CASES + random_strings(50_000)
    con = duckdb.connect()
    con.execute("create table t as select unnest(?) as i, unnest(?) as x",
                [list(range(len(values))), values])
    rows = con.execute(
        f"select x, coalesce({macro_body('default__isin_is_valid')}, false), "
        f"coalesce({macro_body('duckdb__isin_is_valid')}, false) from t order by i").fetchall()
    con.close()
    return rows


def test_glob_and_regex_versions_agree_with_the_rule(verdicts):
    rule = re.compile(rule_pattern())
    wrong = [(x, regex, glob) for x, regex, glob in verdicts
             if not (regex == glob == bool(rule.fullmatch(x)))]
    assert wrong == []


def test_the_sample_holds_both_verdicts(verdicts):
    # a check that accepted or refused everything would agree trivially on one side
    valid = sum(1 for _, regex, _ in verdicts if regex)
    assert 500 < valid < len(verdicts) - 500


@pytest.mark.parametrize("value,expected", [
    ("DE0001234567", True), ("LU000DEMO015", True), ("DE000123456X", False),
    ("DE00012345677", False), ("de0001234567", False), ("ÄE0001234567", False),
    ("D*0001234567", False), ("DE00012345?7", False),
])
def test_hand_picked_cases(verdicts, value, expected):
    got = {x: (regex, glob) for x, regex, glob in verdicts}[value]
    assert got == (expected, expected)
