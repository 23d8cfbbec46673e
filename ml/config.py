"""One typed, validated settings object: environment variables plus the FA_CONFIG YAML.

``load_settings()`` is the only entry point; nothing is read at import time. Every value
that ends up inside SQL (fund code, ISINs) is validated here against a strict pattern, so
no SQL is ever built from unvalidated text.
"""

from __future__ import annotations

import os
import re
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from ml.errors import BadInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "fund.yml"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

CODE_RE = re.compile(r"^[A-Z0-9_]{1,40}$")
# ISO 6166: two letters, nine alphanumerics, one check digit.
ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
ENGINES = ("duckdb", "sqlserver")


@dataclass(frozen=True)
class TargetFund:
    """The fund whose first purchase is predicted."""

    code: str
    isins: tuple[str, ...]
    min_ticket_eur: float = 1000.0
    horizons: tuple[int, ...] = (7, 14, 30)
    # The fund house's other funds (docs/rules.md §7b); empty = the house features are NULL.
    house_isins: tuple[str, ...] = ()

    def dbt_vars(self) -> dict[str, Any]:
        """The ``fund`` var as dbt_project.yml expects it."""
        return {
            "code": self.code,
            "isins": list(self.isins),
            "min_ticket_eur": self.min_ticket_eur,
            "horizons": list(self.horizons),
            "house_isins": list(self.house_isins),
        }


@dataclass(frozen=True)
class QCThresholds:
    pos_rate_deviation: float = 0.5
    pos_rate_median_days: int = 14
    null_share_max: float = 0.98
    # Freshness (docs/operations.md): business days are Mon-Fri minus these holidays.
    holidays: tuple[date, ...] = ()
    max_file_age_business_days: int = 1
    # Realized performance (FA_MODEL_MONITOR) against the active model's test figures.
    monitor_days: int = 14
    min_ap_share: float = 0.5
    min_lift_share: float = 0.5
    # Drift (FA_DRIFT): PSI levels.
    psi_warning: float = 0.1
    psi_alert: float = 0.25


@dataclass(frozen=True)
class Settings:
    """Everything a step needs to know about where things are and what the fund is."""

    target: TargetFund
    config_path: Path
    # Every fund of FA_CONFIG (`targets:`, or the one `target:`), in config order; `target`
    # is the one this Settings is for (the first unless chosen with for_fund).
    targets: tuple[TargetFund, ...] = ()
    engine: str = "duckdb"
    source_db: Path = PROJECT_ROOT / "data" / "provisionen.duckdb"
    duckdb_path: Path = PROJECT_ROOT / "data" / "fa.duckdb"
    art_dir: Path = PROJECT_ROOT / "artifacts"
    qc: QCThresholds = field(default_factory=QCThresholds)
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 2
    write_chunk_size: int = 10_000
    # backfill: at most this many aggregate rows (universe depots x days) per dbt run
    backfill_chunk_rows: int = 4_000_000
    timeouts: Mapping[str, int] = field(
        default_factory=lambda: {"dbt": 3600, "score": 900, "qc": 300}
    )

    @property
    def fund_codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.targets) or (self.target.code,)

    def for_fund(self, code: str) -> "Settings":
        """The Settings of fund ``code`` (its ``target``); BadInput for an unknown code."""
        for t in self.targets or (self.target,):
            if t.code == code:
                return replace(self, target=t)
        raise BadInput(f"--fund: no fund {code!r} in FA_CONFIG (funds: {', '.join(self.fund_codes)})")

    def funds(self, codes: tuple[str, ...] | list[str] = ()) -> list["Settings"]:
        """The Settings of each fund in ``codes`` (all funds of FA_CONFIG when empty)."""
        return [self.for_fund(c) for c in dict.fromkeys(codes or self.fund_codes)]

    # Output table names (the code is validated, so these are safe identifiers).
    @property
    def agg_table(self) -> str:
        return f"CD_FA_AGG_BUY_{self.target.code}"

    @property
    def labels_table(self) -> str:
        return f"CD_FA_LABELS_{self.target.code}"

    @property
    def scores_table(self) -> str:
        return f"CD_FA_BUY_{self.target.code}_ML"


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls``: the one place every default lives.

    load_settings, the CLI's option defaults and the library's keyword defaults read it
    here instead of repeating the value (tests/unit/test_defaults.py checks the copies
    that dbt's profiles and config/fund.yml must keep).
    """
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
            break
    raise KeyError(f"{cls.__name__}.{name} has no default")


def _resolve(path_text: str) -> Path:
    """Relative paths are taken from the project root, so cwd does not matter."""
    p = Path(path_text).expanduser()
    return p if p.is_absolute() else (PROJECT_ROOT / p)


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise BadInput(f"{where}: missing key '{key}'")
    return mapping[key]


def parse_targets(raw: Any, where: str) -> tuple[TargetFund, ...]:
    """The funds of FA_CONFIG: ``targets:`` (a list of target blocks) or one ``target:``.

    Fund codes must be unique; BadInput otherwise (or when both keys or neither are given).
    """
    if isinstance(raw, Mapping) and "targets" in raw:
        if "target" in raw:
            raise BadInput(f"{where}: give either 'target' or 'targets', not both")
        blocks = raw["targets"]
        if isinstance(blocks, (str, Mapping)) or not isinstance(blocks, (list, tuple)) or not blocks:
            raise BadInput(f"{where}: 'targets' must be a non-empty list of target blocks")
        funds = tuple(parse_target({"target": b}, f"{where} targets[{i}]") for i, b in enumerate(blocks))
    else:
        funds = (parse_target(raw, where),)
    codes = [t.code for t in funds]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise BadInput(f"{where}: fund code {', '.join(dup)} appears more than once in 'targets'")
    return funds


def parse_target(raw: Any, where: str) -> TargetFund:
    """Validate the ``target:`` block of FA_CONFIG."""
    block = _require(raw, "target", where)
    code = _require(block, "code", f"{where} target")
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise BadInput(f"{where}: target.code must match [A-Z0-9_]+ (got {code!r})")
    isins = _require(block, "isins", f"{where} target")
    if isinstance(isins, str) or not isinstance(isins, (list, tuple)) or not isins:
        raise BadInput(f"{where}: target.isins must be a non-empty list")
    for isin in isins:
        if not isinstance(isin, str) or not ISIN_RE.match(isin):
            raise BadInput(f"{where}: malformed ISIN {isin!r} in target.isins")
    ticket = block.get("min_ticket_eur", default_of(TargetFund, "min_ticket_eur"))
    # 0 < ticket < 10^16 (a decimal(18,2) in SQL; NaN fails both comparisons)
    if isinstance(ticket, bool) or not isinstance(ticket, (int, float)) or not 0 < ticket < 1e16:
        raise BadInput(f"{where}: target.min_ticket_eur must be a positive number")
    horizons = block.get("horizons", default_of(TargetFund, "horizons"))
    # a list of whole numbers here (parse_horizons also reads the CLI's "7,14,30")
    if not isinstance(horizons, (list, tuple)) or any(
            isinstance(h, bool) or not isinstance(h, int) for h in horizons):
        raise BadInput(f"{where}: target.horizons must be a list of whole numbers of days")
    return TargetFund(
        code=code,
        isins=tuple(sorted(set(isins))),
        min_ticket_eur=float(ticket),
        horizons=parse_horizons(horizons, where=f"{where}: target.horizons"),
        house_isins=parse_house_isins(block.get("house_isins"), set(isins), where),
    )


def parse_house_isins(value: Any, target_isins: set[str], where: str) -> tuple[str, ...]:
    """``target.house_isins``: optional list of ISINs of the fund house's other funds.

    Absent, null or [] -> (); every item must be an ISIN and none a target ISIN.
    """
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise BadInput(f"{where}: target.house_isins must be a list of ISINs")
    for isin in value:
        if not isinstance(isin, str) or not ISIN_RE.match(isin):
            raise BadInput(f"{where}: malformed ISIN {isin!r} in target.house_isins")
    overlap = sorted(set(value) & target_isins)
    if overlap:
        raise BadInput(f"{where}: target.house_isins must not contain target ISINs "
                       f"({', '.join(overlap)})")
    return tuple(sorted(set(value)))


def parse_horizons(value: Any, where: str = "--horizons") -> tuple[int, ...]:
    """Horizons as a sorted tuple of distinct positive day counts.

    Accepts a list of ints or a comma-separated string ("7,14,30").
    """
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise BadInput(f"{where} must be a non-empty list of day counts")
    out = []
    for item in items:
        text = str(item).strip()
        if isinstance(item, bool) or not text.isdigit() or not 1 <= int(text) <= 365:
            raise BadInput(f"{where}: {item!r} is not a horizon between 1 and 365 days")
        out.append(int(text))
    return tuple(sorted(set(out)))


def parse_date(text: str, what: str) -> date:
    """An ISO date (YYYY-MM-DD) or a BadInput naming the option."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(text)):  # fromisoformat also takes 20250820
            raise ValueError(text)
        return date.fromisoformat(str(text))
    except ValueError:
        raise BadInput(f"{what}: '{text}' is not a date (expected YYYY-MM-DD)") from None


def read_config_file(path: Path) -> Mapping[str, Any]:
    """Load FA_CONFIG as a mapping, with a readable error for every way it can be wrong."""
    if not path.is_file():
        raise BadInput(f"FA_CONFIG: no such file: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise BadInput(f"FA_CONFIG: {path} is not valid YAML{at}") from None
    except UnicodeDecodeError:
        raise BadInput(f"FA_CONFIG: {path} is not UTF-8 text") from None
    except ValueError as exc:  # YAML reads 2025-13-01 as a date and fails on it
        raise BadInput(f"FA_CONFIG: {path} holds an impossible date ({exc})") from None
    if not isinstance(raw, Mapping):
        raise BadInput(f"FA_CONFIG: {path} must hold a mapping with a 'target' block")
    return raw


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BadInput(f"{where} must be a positive whole number (got {value!r})")
    return value


def _non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{where} must be a whole number >= 0 (got {value!r})")
    return value


def _positive_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BadInput(f"{where} must be a positive number (got {value!r})")
    return float(value)


def parse_holidays(value: Any, where: str = "qc.holidays") -> tuple[date, ...]:
    """A list of ISO dates (YAML dates or 'YYYY-MM-DD' strings) as a sorted tuple."""
    if value is None:
        return ()
    if isinstance(value, (str, date)) or not isinstance(value, (list, tuple)):
        raise BadInput(f"{where} must be a list of dates (YYYY-MM-DD)")
    out = set()
    for item in value:
        out.add(item if isinstance(item, date) else parse_date(str(item), where))
    return tuple(sorted(out))


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise BadInput(f"{where} must be a number between 0 and 1 (got {value!r})")
    return float(value)


def _optional_block(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    block = raw.get(key) or {}
    if not isinstance(block, Mapping):
        raise BadInput(f"FA_CONFIG: '{key}' must be a mapping")
    return block


def _memory_limit(value: Any, where: str) -> str:
    text = str(value)
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text):
        raise BadInput(f"{where} must look like 4GB (got {text!r})")
    return text


Check = Callable[[Any, str], Any]

# FA_CONFIG's optional blocks: key -> (field, check). A key that is absent keeps the
# dataclass field's default (QCThresholds, Settings): no default is written twice.
QC_CHECKS: dict[str, tuple[str, Check]] = {
    "pos_rate_deviation": ("pos_rate_deviation", _fraction),
    "pos_rate_median_days": ("pos_rate_median_days", _positive_int),
    "null_share_max": ("null_share_max", _fraction),
    "holidays": ("holidays", parse_holidays),
    "max_file_age_business_days": ("max_file_age_business_days", _non_negative_int),
    "monitor_days": ("monitor_days", _positive_int),
    "min_ap_share": ("min_ap_share", _fraction),
    "min_lift_share": ("min_lift_share", _fraction),
    "psi_warning": ("psi_warning", _positive_number),
    "psi_alert": ("psi_alert", _positive_number),
}
SETTINGS_CHECKS: dict[str, dict[str, tuple[str, Check]]] = {
    "duckdb": {"memory_limit": ("duckdb_memory_limit", _memory_limit),
               "threads": ("duckdb_threads", _positive_int)},
    "sqlserver": {"write_chunk_size": ("write_chunk_size", _positive_int)},
    "backfill": {"chunk_rows": ("backfill_chunk_rows", _positive_int)},
}
# Environment variables of the paths (docs/rules.md §11) -> Settings field.
PATH_VARS = {"FA_SOURCE_DB": "source_db", "FA_DUCKDB_PATH": "duckdb_path", "FA_ART_DIR": "art_dir"}


def _given(block: Mapping[str, Any], where: str, spec: Mapping[str, tuple[str, Check]]) -> dict[str, Any]:
    """The keys of ``block`` that ``spec`` names, checked, as dataclass keyword arguments."""
    return {name: check(block[key], f"{where}.{key}") for key, (name, check) in spec.items()
            if key in block}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment (docs/rules.md §11) and the FA_CONFIG file."""
    env = os.environ if env is None else env
    config_path = _resolve(env.get("FA_CONFIG") or str(DEFAULT_CONFIG))
    raw = read_config_file(config_path)
    targets = parse_targets(raw, "FA_CONFIG")

    qc = QCThresholds(**_given(_optional_block(raw, "qc"), "qc", QC_CHECKS))
    if qc.psi_alert < qc.psi_warning:
        raise BadInput("qc.psi_alert must not be below qc.psi_warning")
    given: dict[str, Any] = {}
    for block, spec in SETTINGS_CHECKS.items():
        given.update(_given(_optional_block(raw, block), block, spec))
    timeouts = dict(default_of(Settings, "timeouts"))
    for step, value in _optional_block(raw, "timeouts_seconds").items():
        timeouts[str(step)] = _positive_int(value, f"timeouts_seconds.{step}")

    engine = (env.get("FA_ENGINE") or default_of(Settings, "engine")).strip().lower()
    if engine not in ENGINES:
        raise BadInput(f"FA_ENGINE must be one of {', '.join(ENGINES)} (got {engine!r})")
    # FA_DBT_TARGET picks dbt's profile output (dbt_project/profiles.yml). A value left over
    # from another shell would send dbt to one engine and Python to the other: refuse it.
    dbt_target = (env.get("FA_DBT_TARGET") or "").strip()
    if dbt_target and dbt_target != engine:
        raise BadInput(
            f"FA_DBT_TARGET={dbt_target} does not match FA_ENGINE={engine}: unset FA_DBT_TARGET "
            "(orchestrate.py sets it from FA_ENGINE) or make the two agree"
        )

    return Settings(
        target=targets[0],
        targets=targets,
        config_path=config_path,
        engine=engine,
        # FA_SOURCE_DB, FA_DUCKDB_PATH, FA_ART_DIR: unset or empty -> the field's default
        **{name: _resolve(env[var]) for var, name in PATH_VARS.items() if env.get(var)},
        qc=qc,
        **given,
        timeouts=timeouts,
    )
