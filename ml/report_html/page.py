"""The report page: pure functions from :class:`ReportData` to one self-contained HTML text.

Every section is a ``<section id=...>`` with an ``<h2>``; every chart an ``<img>`` with alt
text inside a ``<figure>``. Nothing is loaded from outside (charts are ``data:`` URIs, the
style and the script are inline). The only date in the file is the report's data date.

Self-check hook: on ``load`` a small inline script writes a JSON object into the hidden
element ``<pre id="fa-selfcheck">``: ``{"sections": [{"id", "heading"}], "charts": [{"id",
"alt", "width", "height", "natural_width", "complete"}], "errors": [...]}`` (the rendered
size of every chart and every script or image error the page saw). A headless browser's
``--dump-dom`` then shows what actually rendered (tests/pipeline/test_report_browser.py).
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Callable, Sequence

import pandas as pd

from ml.report_html import charts
from ml.report_html.data import DRIFT_DAYS, RUN_LOG_DAYS, WINDOW_DAYS, ReportData

NO_DATA = "no data yet"
SECTIONS = (  # (id, heading): the page's sections in order
    ("models", "Active models on their test windows"),
    ("monitor", "Realized performance and label-free estimates"),
    ("drift", "Feature drift (PSI)"),
    ("scores", "Score distribution and reason codes"),
    ("qc", "QC trend"),
    ("data-quality", "Data quality"),
    ("registry", "Model registry"),
    ("run-log", "Run log"),
)

STYLE = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0;color:#1d232a;background:#f4f6f8}
header{background:#1d3557;color:#fff;padding:18px 32px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;opacity:.85;font-size:13px}
nav{background:#fff;border-bottom:1px solid #dde2e7;padding:8px 32px;font-size:13px;position:sticky;top:0}
nav a{margin-right:16px;color:#1d3557;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}
section{background:#fff;border:1px solid #dde2e7;border-radius:6px;margin:18px 0;padding:14px 20px}
h2{font-size:17px;margin:4px 0 10px;color:#1d3557}
h3{font-size:14px;margin:14px 0 6px}
figure{margin:8px 0}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:11.5px;color:#5b6670;margin-top:2px}
table{border-collapse:collapse;font-size:12px;margin:6px 0 10px}
th,td{border-bottom:1px solid #e6e9ec;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f0f3f6;font-weight:600}
td.text,th.text{text-align:left;white-space:normal}
p.empty{color:#8a949d;font-style:italic}
p.note{font-size:12px;color:#5b6670}
.bad{color:#b3261e;font-weight:600}
#fa-selfcheck{display:none}
"""

ERROR_HOOK = """window.__faErrors=[];window.addEventListener("error",function(e){var t=e.target;
window.__faErrors.push(t&&t.tagName?("failed to load "+t.tagName+" "+(t.id||"")):String(e.message||e));},true);"""

SELF_CHECK = """window.addEventListener("load",function(){var out={sections:[],charts:[],errors:window.__faErrors};
document.querySelectorAll("section[id]").forEach(function(s){var h=s.querySelector("h2");
out.sections.push({id:s.id,heading:h?h.textContent:""});});
document.querySelectorAll("figure img").forEach(function(i){var r=i.getBoundingClientRect();
out.charts.push({id:i.id,alt:i.alt,width:r.width,height:r.height,natural_width:i.naturalWidth,complete:i.complete});});
document.getElementById("fa-selfcheck").textContent=JSON.stringify(out);});"""

Column = tuple[str, str, str]  # (frame column, header, format spec or "" / "text")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def cell(value: Any, spec: str) -> str:
    """One table cell's text: '-' for missing, dates as ISO, numbers by ``spec``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if spec == "date" else value.strftime("%Y-%m-%d %H:%M:%S")
    if spec in ("", "text", "date"):
        return str(value)
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return str(value)


def table(df: pd.DataFrame, columns: Sequence[Column], row_class: Callable[[Any], str] | None = None) -> str:
    """An HTML table of ``df``'s rows; ``columns`` name, header and format of each column."""
    cols = [c for c in columns if c[0] in df.columns]
    head = "".join(f'<th class="text">{esc(h)}</th>' if f == "text" else f"<th>{esc(h)}</th>"
                   for _, h, f in cols)
    body = []
    for _, row in df.iterrows():
        cls = row_class(row) if row_class else ""
        tds = "".join(f'<td class="text">{esc(cell(row[c], f))}</td>' if f == "text"
                      else f"<td>{esc(cell(row[c], f))}</td>" for c, _, f in cols)
        body.append(f'<tr class="{cls}">{tds}</tr>' if cls else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def figure(chart: charts.Chart, caption: str = "") -> str:
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return (f'<figure><img id="{esc(chart.id)}" alt="{esc(chart.alt)}" '
            f'src="{chart.data_uri()}">{cap}</figure>')


def empty(what: str) -> str:
    return f'<p class="empty">{NO_DATA} ({esc(what)})</p>'


def metrics_of(row: pd.Series) -> dict:
    try:
        return json.loads(row["Metrics_Json"]) if isinstance(row["Metrics_Json"], str) else {}
    except ValueError:
        return {}


# Sections ------------------------------------------------------------------------------

def models_section(d: ReportData) -> str:
    parts, rows = [], []
    for _, m in d.models.iterrows():
        h, metrics = int(m["Horizon"]), metrics_of(m)
        ci = metrics.get("ci", {})

        def with_ci(key: str, spec: str) -> str:
            value = cell(metrics.get(key), spec)
            pair = ci.get(key)
            return value if not pair or pair[0] is None else f"{value} [{cell(pair[0], spec)}, {cell(pair[1], spec)}]"

        rows.append({"T": f"T{h}", "version": m["Version"],
                     "test": f"{cell(m['Test_Start'], 'date')} .. {cell(m['Test_End'], 'date')}",
                     "rows": metrics.get("rows"), "positives": metrics.get("positives"),
                     "base": metrics.get("base_rate"), "ap": with_ci("ap", ".4f"),
                     "p1": with_ci("p_at_1", ".4f"), "lift1": with_ci("lift_at_1", ".2f"),
                     "brier": with_ci("brier", ".5f"), "ece": metrics.get("ece")})
        test = d.test.get(h)
        if test is None or test.empty or test["y"].sum() == 0:
            parts.append(f"<h3>T{h}</h3>" + empty(f"no label-complete test rows of T{h} in the labels table"))
        else:
            parts.append(figure(charts.model_curves(h, test, metrics, str(m["Version"])),
                                f"T{h}, model {m['Version']}: {len(test):,} label-complete test rows, "
                                f"{int(test['y'].sum()):,} positives (recomputed from the labels table)."))
    head = table(pd.DataFrame(rows), [
        ("T", "horizon", "text"), ("version", "version", "text"), ("test", "test window", "text"),
        ("rows", "test rows", ","), ("positives", "positives", ","), ("base", "base rate", ".4f"),
        ("ap", "AP [95 % interval]", "text"), ("p1", "P@1 %", "text"), ("lift1", "Lift@1 %", "text"),
        ("brier", "Brier", "text"), ("ece", "ECE", ".4f")])
    return (head + '<p class="note">Figures and intervals as stored at training (95 % depot '
            "bootstrap); the curves are recomputed from the active models on the same test rows.</p>"
            + "".join(parts))


def monitor_section(d: ReportData) -> str:
    if d.monitor is None or d.monitor.empty:
        return empty(f"FA_MODEL_MONITOR has no rows in the {WINDOW_DAYS} days up to {d.day}")
    parts = []
    for _, m in d.models.iterrows():
        h = int(m["Horizon"])
        rows = d.monitor[d.monitor["Horizon"] == h]
        if rows.empty:
            parts.append(f"<h3>T{h}</h3>" + empty(f"no monitor rows of T{h}"))
            continue
        ap_ci = metrics_of(m).get("ci", {}).get("ap")
        parts.append(figure(charts.monitor(h, rows, m["Test_AP"], ap_ci)))
    recent = d.monitor.sort_values(["Score_Date", "Horizon"], ascending=[False, True]).head(2 * len(d.horizons))
    parts.append("<h3>Latest days</h3>" + table(recent, [
        ("Score_Date", "Score_Date", "date"), ("Horizon", "T", ""), ("Model_Version", "version", "text"),
        ("Rows_Scored", "rows", ","), ("Labels_Complete", "labels complete", ""),
        ("Positives", "positives", ".0f"), ("Expected_Positives", "expected positives", ".1f"),
        ("AP", "AP", ".4f"), ("P_At_1", "P@1 %", ".4f"), ("Expected_P_At_1", "expected P@1 %", ".4f"),
        ("Lift_At_1", "Lift@1 %", ".2f"), ("Brier", "Brier", ".5f")]))
    return "".join(parts)


def drift_section(d: ReportData) -> str:
    if d.drift is None or d.drift.empty:
        return empty(f"FA_DRIFT has no rows in the {DRIFT_DAYS} days up to {d.day}")
    days = list(pd.date_range(d.drift["Score_Date"].min(), d.drift["Score_Date"].max(), freq="D"))
    last_day = d.drift["Score_Date"].max()
    last = d.drift[d.drift["Score_Date"] == last_day].sort_values(["PSI", "Feature"], ascending=[False, True])
    return (figure(charts.drift_strip(d.drift, days), "Grey: not measured that day (no scoring).")
            + f"<h3>Largest movers on {cell(last_day, 'date')}</h3>"
            + table(last.head(10), [("Feature", "feature", "text"), ("PSI", "PSI", ".4f"),
                                    ("Level", "level", "text"), ("Model_Version", "model", "text")],
                    row_class=lambda r: "bad" if r.get("Level") == "alert" else ""))


def scores_section(d: ReportData) -> str:
    if d.today is None or d.today.empty:
        return empty(f"no scores for {d.day} in the scores table")
    out = figure(charts.score_distribution(d.today, d.test, d.horizons, d.day),
                 "Grey: the active model's scores on its test window at training; line: the day's scores.")
    if d.reasons is not None and not d.reasons.empty:
        first = d.reasons[d.reasons["Rank"] == 1]
        summary = (first.groupby("Feature")
                   .agg(depots=("Depot_Number", "size"), mean=("Contribution", "mean"),
                        up=("Contribution", lambda s: int((s > 0).sum())))
                   .reset_index().sort_values(["depots", "Feature"], ascending=[False, True]))
        summary["share"] = summary["depots"] / len(first)
        out += (f"<h3>Reason codes of {d.day}: the feature ranked first (T30 model)</h3>"
                + table(summary, [("Feature", "feature", "text"), ("depots", "depots", ","),
                                  ("share", "share", ".1%"), ("up", "pushing up", ","),
                                  ("mean", "mean contribution (log-odds)", "+.3f")]))
    else:
        out += empty(f"no reason codes for {d.day}")
    return out


def _alerts(d: ReportData) -> pd.DataFrame | None:
    """The window's alerts, one row per (day, check, subject, message): the latest run's."""
    if d.qc_alerts is None or d.qc_alerts.empty:
        return None
    a = d.qc_alerts.sort_values(["Score_Date", "Check_Name", "Subject", "Run_At"])
    return a.drop_duplicates(["Score_Date", "Check_Name", "Subject", "Message"], keep="last")


def qc_section(d: ReportData) -> str:
    if d.qc_daily is None or d.qc_daily.empty:
        return empty(f"FA_QC_DAILY has no rows in the {WINDOW_DAYS} days up to {d.day}")
    alerts = _alerts(d)
    out = figure(charts.qc_trend(d.qc_daily, d.horizons, alerts, d.pos_rate_median_days),
                 "Vertical lines: days with QC alerts (red: freshness).")
    if alerts is None:
        return out + "<h3>Alerts</h3><p>none in the window</p>"
    fresh = alerts[alerts["Check_Name"] == "freshness"]
    return (out + f"<h3>Alerts ({len(alerts)}, of which {len(fresh)} freshness)</h3>"
            + table(alerts.sort_values(["Score_Date", "Check_Name"], ascending=[False, True]).head(50), [
                ("Score_Date", "Score_Date", "date"), ("Check_Name", "check", "text"),
                ("Subject", "subject", "text"), ("Value", "value", ".4f"),
                ("Threshold", "threshold", ".4f"), ("Message", "message", "text")],
                row_class=lambda r: "bad" if r["Check_Name"] == "freshness" else ""))


def data_quality_section(d: ReportData) -> str:
    if d.data_quality is None or d.data_quality.empty:
        return empty("FA_DATA_QUALITY is missing or empty")
    dq = d.data_quality
    since = pd.Timestamp(d.day) - pd.Timedelta(days=WINDOW_DAYS - 1)
    recent = dq[(dq["Datei_Datum"] >= since) & (dq["Datei_Datum"] <= pd.Timestamp(d.day))]
    days = list(pd.date_range(since, pd.Timestamp(d.day), freq="D"))
    tables = sorted(dq["Source_Table"].unique())
    total = dq.pivot_table(index="Reason", columns="Source_Table", values="Row_Count", aggfunc="sum",
                           fill_value=0).reindex(columns=tables, fill_value=0)
    total["all"] = total.sum(axis=1)
    total["recent"] = recent.groupby("Reason")["Row_Count"].sum().reindex(total.index).fillna(0)
    total = total.reset_index().sort_values(["all", "Reason"], ascending=[False, True])
    chart = figure(charts.data_quality(recent, days)) if not recent.empty else empty(
        f"no rows left out in the {WINDOW_DAYS} days up to {d.day}")
    return (chart + "<h3>Rows left out by reason and source table (all days)</h3>"
            + table(total, [("Reason", "reason", "text"), *[(t, t, ",") for t in tables],
                            ("all", "all days", ","), ("recent", f"last {WINDOW_DAYS} days", ",.0f")])
            + '<p class="note">superseded_file counts rows of re-delivered files (informational).</p>')


def registry_section(d: ReportData) -> str:
    reg = d.registry.sort_values(["Version", "Horizon"], ascending=[False, True]).copy()
    reg["active"] = reg["Is_Active"].map(lambda v: "active" if v == 1 else "")
    out = "<h3>Registered models</h3>" + table(reg, [
        ("Version", "version", "text"), ("Horizon", "T", ""), ("Train_Start", "train from", "date"),
        ("Train_End", "train to", "date"), ("Test_Start", "test from", "date"),
        ("Test_End", "test to", "date"), ("Test_AP", "test AP", ".4f"),
        ("Test_Base_Rate", "base rate", ".4f"), ("Test_Lift_At_1", "Lift@1 %", ".2f"),
        ("Best_Iteration", "best it.", ""), ("active", "", "text")])
    if d.history is None or d.history.empty:
        return out + "<h3>History</h3>" + empty("FA_MODEL_REGISTRY_HISTORY")
    hist = d.history.sort_values(["Event_At", "Horizon", "Event_Seq"], ascending=[False, True, False])
    return out + "<h3>Activations and rollbacks</h3>" + table(hist.head(60), [
        ("Event_At", "UTC", ""), ("Horizon", "T", ""), ("Event_Seq", "#", ""), ("Action", "action", "text"),
        ("Version", "version", "text"), ("Previous_Version", "previous", "text"), ("Reason", "reason", "text")])


def run_log_section(d: ReportData) -> str:
    if d.run_log is None or d.run_log.empty:
        return empty("FA_RUN_LOG is missing or empty")
    log = d.run_log.sort_values(["Started_Utc", "Run_Id", "Step"], ascending=[False, True, True])
    failed = log[log["Exit_Code"].fillna(0) != 0]
    return (f"<p>{len(log)} entries in the {RUN_LOG_DAYS} days up to the latest logged run, "
            f"{len(failed)} with a non-zero exit code.</p>"
            + table(log.head(200), [
                ("Started_Utc", "started (UTC)", ""), ("Command", "command", "text"), ("Step", "step", "text"),
                ("Seconds", "seconds", ".1f"), ("Exit_Code", "exit", ""), ("Rows_Written", "rows", ",.0f"),
                ("Run_Id", "run", "text"), ("Message", "message", "text")],
                row_class=lambda r: "bad" if (r["Exit_Code"] or 0) != 0 else ""))


BUILDERS = {
    "models": models_section, "monitor": monitor_section, "drift": drift_section,
    "scores": scores_section, "qc": qc_section, "data-quality": data_quality_section,
    "registry": registry_section, "run-log": run_log_section,
}


def build_page(d: ReportData) -> str:
    """The whole HTML text of the report (pure: the same data gives the same bytes)."""
    versions = ", ".join(f"T{int(m['Horizon'])} {m['Version']}" for _, m in d.models.iterrows())
    nav = "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title in SECTIONS)
    body = "".join(f'<section id="{sid}"><h2>{esc(title)}</h2>{BUILDERS[sid](d)}</section>'
                   for sid, title in SECTIONS)
    title = f"First-Buy report {d.code} {d.day}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style><script>{ERROR_HOOK}</script></head>"
        f"<body><header><h1>{esc(title)}</h1><p>Score_Date {d.day} &middot; active models: {esc(versions)}</p>"
        f"<p>Horizons {', '.join(f'T{h}' for h in d.horizons)} &middot; time series over the "
        f"{WINDOW_DAYS} days up to {d.day}</p></header><nav>{nav}</nav><main>{body}</main>"
        f'<pre id="fa-selfcheck"></pre><script>{SELF_CHECK}</script></body></html>\n'
    )
