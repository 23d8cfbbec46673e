"""`orchestrate.py report`: one self-contained HTML file about the models, the data and the runs.

- :mod:`ml.report_html.data`: the one I/O function, :func:`read_report_data`.
- :mod:`ml.report_html.curves`: pure curve computations (PR, gains, calibration intervals).
- :mod:`ml.report_html.charts`: pure frames -> SVG charts (matplotlib).
- :mod:`ml.report_html.page`: pure data -> HTML (sections, tables, the self-check hook).

Rerunning the report on the same tables gives a byte-identical file.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from ml.config import Settings
from ml.errors import BadInput


def default_path(settings: Settings, day: date) -> Path:
    """FA_ART_DIR/report_<CODE>_<date>.html."""
    return settings.art_dir / f"report_{settings.target.code}_{day.isoformat()}.html"


def write_report(settings: Settings, day: date | None = None, out: Path | None = None) -> dict[str, Any]:
    """Read the tables, build the page and write it (atomically); returns a summary."""
    from ml.log import log
    from ml.report_html.data import read_report_data
    from ml.report_html.page import SECTIONS, build_page

    if out is not None and out.is_dir():
        raise BadInput(f"--out {out} is a directory; give a file name (e.g. {out / 'report.html'})")
    data = read_report_data(settings, day)
    log(f"report: {data.code} {data.day}, models " + ", ".join(
        f"T{int(m['Horizon'])}={m['Version']}" for _, m in data.models.iterrows()))
    text = build_page(data)
    path = out or default_path(settings, data.day)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInput(f"--out {path}: cannot write the report ({exc.strerror or exc})") from None
    empty = [sid for sid, _ in SECTIONS if f'<section id="{sid}"><h2>' in text
             and text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0].count('class="empty"')]
    return {"report": str(path), "score_date": data.day.isoformat(), "bytes": len(text.encode("utf-8")),
            "sections_without_data": ", ".join(empty) or "none"}
