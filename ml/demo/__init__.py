"""The demo source world: the five tables of docs/rules.md §0.2, generated, messy, with a planted signal.

Shapes and units: money in EUR (rounded to cents before DuckDB casts it to DECIMAL(18,2)),
units rounded to 6 decimals, dates as numpy ``datetime64[D]``. Depots are simulated in
chunks of ``CHUNK_DEPOTS`` (vectorised over the depots of a chunk, one Python iteration per
business day), so memory stays bounded and the result depends only on the arguments and
the seed, never on the machine. ``docs/demo_world.md`` describes every mess item and the
planted first-buy signal.

Modules, by concern: :mod:`~ml.demo.params` (constants), :mod:`~ml.demo.calendar`,
:mod:`~ml.demo.world` (instruments, depots: :func:`build_world`), :mod:`~ml.demo.hazard`
(the planted signal and its profiles), :mod:`~ml.demo.simulate` (:func:`simulate_chunk`),
:mod:`~ml.demo.mess` (file calendar, re-deliveries, bad rows), :mod:`~ml.demo.tables`
(:func:`chunk_frames`, :func:`iter_frames`, :func:`build_frames`), :mod:`~ml.demo.oracle`
(the best possible predictor). I/O: :func:`generate` only.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Any

from ml.demo.calendar import build_calendar, business_days, easter, holidays
from ml.demo.hazard import HAZARD_PROFILES, hazard_logit, hazard_terms
from ml.demo.mess import BAD_CLASSES, build_files
from ml.demo.params import BOOKING_TYPES, CHUNK_DEPOTS, DEFAULT_HOUSE_ISINS, ORDER_TYPES
from ml.demo.simulate import ChunkEvents, simulate_chunk, ticket
from ml.demo.tables import build_frames, chunk_frames, iter_frames
from ml.demo.world import World, build_world, isin_check_digit, make_isins

__all__ = ["BAD_CLASSES", "BOOKING_TYPES", "CHUNK_DEPOTS", "ChunkEvents",
           "DEFAULT_HOUSE_ISINS", "HAZARD_PROFILES", "ORDER_TYPES", "World", "build_calendar",
           "build_files", "build_frames", "build_world", "business_days", "chunk_frames",
           "easter", "generate", "hazard_logit", "hazard_terms", "holidays", "house_isins",
           "isin_check_digit", "iter_frames", "make_isins", "simulate_chunk", "ticket"]


def house_isins(settings) -> tuple[str, ...]:
    """The fund house's other funds: FA_CONFIG ``target.house_isins`` if set, else the
    default three (contracts §3)."""
    configured = getattr(settings.target, "house_isins", None)
    return tuple(configured) if configured else DEFAULT_HOUSE_ISINS


def generate(settings, depots: int, days: int, seed: int, end_date: date,
             bad_rows: bool = True, hazard_profile: str = "default") -> dict[str, Any]:
    """Write a demo world into ``settings.source_db`` (atomic replace); return a summary.

    The fund house's other funds are ``target.house_isins`` of FA_CONFIG when set, else
    ``DEFAULT_HOUSE_ISINS``; ``hazard_profile`` names the weights of the planted hazard.

    Summary: path, depots, business days, files by type (and superseded ones), rows per
    table, depots with a (simulated, never cancelled) first target purchase, seconds.
    """
    from ml.errors import BadInput
    from ml.source import write_source_db

    if depots < 1 or days < 30:
        raise BadInput("demo-data needs at least 1 depot and 30 days")
    t0 = time.monotonic()
    target = settings.target
    if hazard_profile not in HAZARD_PROFILES:
        raise BadInput(f"unknown hazard profile {hazard_profile!r} "
                       f"(choose from {', '.join(sorted(HAZARD_PROFILES))})")
    world = build_world(depots, days, seed, end_date, target.isins, target.min_ticket_eur,
                        bad_rows, house_isins(settings), hazard_profile)
    stats: dict[str, Any] = {}
    print(f"demo-data: {depots} depots x {len(world.bdays)} business days -> "
          f"{settings.source_db}", file=sys.stderr)
    path = write_source_db(settings.source_db, iter_frames(world, stats))
    files = world.files
    counting = set(world.u_id[world.u_id >= 0]) | set(world.b_id[world.b_id >= 0])
    summary: dict[str, Any] = {
        "path": str(path),
        "depots": depots,
        "business_days": len(world.bdays),
        "first_day": str(world.bdays[0]),
        "last_day": str(world.bdays[-1]),
        "files_U": int((files["Datei_Typ"] == "U").sum()),
        "files_B": int((files["Datei_Typ"] == "B").sum()),
        "files_superseded": int(((world.u_sup >= 0).sum() + (world.b_sup >= 0).sum())),
        "files_not_counting": int(len(files) - len(counting)),
    }
    for name in ("cd_Datei", "cd_Order", "cd_Buchung", "cd_Saldo", "cd_Bestand"):
        summary[f"rows_{name}"] = stats["rows"].get(name, 0)
    summary["target_first_buyers"] = stats["target_first_buyers"]
    summary["bad_rows"] = "yes" if bad_rows else "no"
    summary["hazard_profile"] = hazard_profile
    summary["seconds"] = round(time.monotonic() - t0, 1)
    return summary
