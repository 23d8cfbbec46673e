"""The report's charts: pure functions from frames to :class:`Chart` (an SVG with alt text).

matplotlib draws every chart into an SVG (no pyplot, no global state). The bytes are
reproducible: no date in the metadata, a fixed ``svg.hashsalt`` per chart (matplotlib
derives its element ids from it), glyphs as paths (no dependence on the viewer's fonts).
The page embeds each SVG as a ``data:`` image, so the file needs no network and the ids of
one chart cannot collide with another's.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ml.report_html import curves

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
LEVEL_COLORS = {"ok": "#2ca02c", "warning": "#ff7f0e", "alert": "#d62728"}
RC = {
    "svg.fonttype": "path",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7.5,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "none",
}


@dataclass(frozen=True)
class Chart:
    """One chart: element id, alt text (what it shows, in words) and the SVG text."""

    id: str
    alt: str
    svg: str

    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode("utf-8")).decode("ascii")


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False, **kw)


def render(fig, chart_id: str, alt: str) -> Chart:
    """The figure as reproducible SVG text."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"fa-report-{chart_id}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "first-buy report"})
    return Chart(chart_id, alt, buf.getvalue())


def _styled(func):
    """Draw inside the report's rc settings."""
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
    return wrapper


def _fmt(value, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def _ci_text(ci: Mapping | None, key: str, spec: str = ".4f") -> str:
    pair = (ci or {}).get(key)
    if not pair or pair[0] is None:
        return ""
    return f" [{_fmt(pair[0], spec)}, {_fmt(pair[1], spec)}]"


def gapped(days: pd.Series, values: pd.Series, max_gap_days: int = 4) -> tuple[pd.Series, pd.Series]:
    """The series with a missing point inserted after every gap longer than
    ``max_gap_days`` (pure), so a plotted line breaks there instead of bridging it."""
    d = pd.to_datetime(days).reset_index(drop=True)
    v = pd.Series(values).reset_index(drop=True).astype("float64")
    gaps = np.flatnonzero(d.diff().dt.days.to_numpy() > max_gap_days)
    if not gaps.size:
        return d, v
    extra_d = d.iloc[gaps - 1].to_numpy() + np.timedelta64(1, "D")
    both = pd.DataFrame({"d": np.r_[d.to_numpy(), extra_d], "v": np.r_[v.to_numpy(), [np.nan] * gaps.size]})
    both = both.sort_values("d", kind="stable")
    return both["d"].reset_index(drop=True), both["v"].reset_index(drop=True)


def _line(ax, days, values, *args, **kwargs) -> None:
    ax.plot(*gapped(days, values), *args, **kwargs)


def _dates_axis(ax) -> None:
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


@_styled
def model_curves(horizon: int, test: pd.DataFrame, metrics: Mapping, version: str) -> Chart:
    """PR curve, calibration by decile and cumulative gains of one horizon's test window.

    ``test``: columns y, p (see ml/report_html/data.py); ``metrics``: the registry's metrics
    with their 95 % intervals (``ci``).
    """
    y, p = test["y"].to_numpy(), test["p"].to_numpy()
    ci = metrics.get("ci", {})
    base = float(y.mean()) if y.size else math.nan
    fig, axes = _figure(11.5, 3.3, 1, 3)
    ax_pr, ax_cal, ax_gain = axes[0]
    pr = curves.thin(curves.pr_curve(y, p))
    ax_pr.step(pr["recall"], pr["precision"], where="pre", color=_color(0),
               label=f"AP {_fmt(metrics.get('ap'))}{_ci_text(ci, 'ap')}")
    ax_pr.axhline(base, color="grey", ls="--", lw=1, label=f"base rate {_fmt(base)}")
    ax_pr.set(title=f"T{horizon}: precision-recall (test window)", xlabel="recall", ylabel="precision",
              xlim=(0, 1), ylim=(0, min(1.0, max(0.05, float(pr["precision"].max()) * 1.1) if len(pr) else 1)))
    ax_pr.legend(loc="upper right")

    cal = curves.calibration_with_intervals(y, p)
    if len(cal):
        err = np.vstack([cal["observed_rate"] - cal["low"], cal["high"] - cal["observed_rate"]])
        ax_cal.errorbar(cal["mean_score"], cal["observed_rate"], yerr=err, fmt="o-", ms=3.5,
                        color=_color(1), capsize=2, label="observed rate, 95 % interval")
        top = float(max(cal["high"].max(), cal["mean_score"].max())) * 1.05 or 1.0
        ax_cal.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="perfect calibration")
        ax_cal.set(xlim=(0, top), ylim=(0, top))
    ax_cal.set(title=f"calibration by score decile (ECE {_fmt(metrics.get('ece'))})",
               xlabel="mean predicted probability", ylabel="observed rate")
    ax_cal.legend(loc="upper left")

    gains = curves.thin(curves.gains_curve(y, p))
    ax_gain.plot(gains["share_rows"] * 100, gains["share_positives"] * 100, color=_color(2),
                 label=f"model (Lift@1 % {_fmt(metrics.get('lift_at_1'), '.1f')}"
                       f"{_ci_text(ci, 'lift_at_1', '.1f')})")
    ax_gain.plot([0, 100], [0, 100], color="grey", ls="--", lw=1, label="random order")
    for k in (1, 5):
        ax_gain.axvline(k, color="grey", lw=0.6, ls=":")
    ax_gain.set(title="cumulative gains", xlabel="% of depots contacted (by score)",
                ylabel="% of first buyers reached", xlim=(0, 100), ylim=(0, 100))
    ax_gain.legend(loc="lower right")
    alt = (f"T{horizon} test window of model {version}: precision-recall curve with AP "
           f"{_fmt(metrics.get('ap'))}{_ci_text(ci, 'ap')} against base rate {_fmt(base)}; "
           f"calibration of {len(cal)} score deciles with 95 % intervals; cumulative gains, "
           f"Lift@1 % {_fmt(metrics.get('lift_at_1'), '.1f')}.")
    return render(fig, f"chart-model-t{horizon}", alt)


@_styled
def monitor(horizon: int, rows: pd.DataFrame, test_ap: float | None,
            ap_ci: Sequence[float] | None) -> Chart:
    """Realized AP and Lift@1 % per scored day against the label-free estimate.

    ``rows``: FA_MODEL_MONITOR rows of one horizon. The estimated Lift@1 % is
    Expected_P_At_1 / (Expected_Positives / Rows_Scored); the realized positives are set
    against the expected ones (the sum of the calibrated probabilities).
    """
    r = rows.sort_values("Score_Date")
    day = r["Score_Date"]
    done = r["Labels_Complete"].fillna(0).astype(int) == 1
    fig, axes = _figure(11.5, 2.9, 1, 3)
    ax_ap, ax_lift, ax_pos = axes[0]
    _line(ax_ap, day[done], r.loc[done, "AP"], "o-", ms=2.5, color=_color(0), label="realized AP")
    if test_ap is not None and not math.isnan(test_ap):
        ax_ap.axhline(test_ap, color="grey", ls="--", lw=1, label=f"test AP {_fmt(test_ap)}")
        if ap_ci and ap_ci[0] is not None:
            ax_ap.axhspan(ap_ci[0], ap_ci[1], color="grey", alpha=0.15, label="test 95 % interval")
    ax_ap.set(title=f"T{horizon}: AP per scored day (labels complete)", ylabel="AP")
    exp_base = r["Expected_Positives"] / r["Rows_Scored"].where(r["Rows_Scored"] > 0)
    exp_lift = r["Expected_P_At_1"] / exp_base.where(exp_base > 0)
    _line(ax_lift, day[done], r.loc[done, "Lift_At_1"], "o-", ms=2.5, color=_color(2), label="realized")
    _line(ax_lift, day, exp_lift, ls="--", marker="o", ms=1.5, color=_color(4), label="label-free estimate")
    ax_lift.set(title="Lift@1 %", ylabel="lift")
    _line(ax_pos, day[done], r.loc[done, "Positives"], "o-", ms=2.5, color=_color(2), label="realized")
    _line(ax_pos, day, r["Expected_Positives"], ls="--", marker="o", ms=1.5, color=_color(4),
          label="expected (sum of probabilities)")
    ax_pos.set(title=f"first buyers within {horizon} days", ylabel="depots")
    span = (day.min() - pd.Timedelta(days=1), day.max() + pd.Timedelta(days=1))
    for ax in (ax_ap, ax_lift, ax_pos):
        _dates_axis(ax)
        ax.set_xlim(*span)  # one time axis for the three panels
        ax.legend(loc="best")
    alt = (f"T{horizon}: realized AP, Lift@1 % and positives per scored day over {len(r)} days "
           f"({int(done.sum())} with complete labels) against the test AP and the label-free "
           "estimates.")
    return render(fig, f"chart-monitor-t{horizon}", alt)


@_styled
def drift_strip(drift: pd.DataFrame, days: Sequence[pd.Timestamp]) -> Chart:
    """PSI per feature (rows) and day (columns) as a heat strip; blank where not measured."""
    from matplotlib.colors import LinearSegmentedColormap

    features = list(dict.fromkeys(drift.sort_values("Feature")["Feature"]))
    if "p_buy_30d" in features:  # the score itself on top
        features.remove("p_buy_30d")
        features.insert(0, "p_buy_30d")
    grid = (drift.pivot_table(index="Feature", columns="Score_Date", values="PSI", aggfunc="max")
            .reindex(index=features, columns=list(days)))
    fig, axes = _figure(11.5, 0.9 + 0.22 * len(features))
    ax = axes[0][0]
    cmap = LinearSegmentedColormap.from_list(
        "psi", ["#f7fcf5", "#fdd49e", "#ef6548", "#7f0000"]).with_extremes(bad="#eeeeee")
    vmax = max(0.5, float(np.nanmax(grid.to_numpy())) if grid.notna().any().any() else 0.5)
    im = ax.imshow(np.ma.masked_invalid(grid.to_numpy(dtype="float64")), aspect="auto", cmap=cmap,
                   vmin=0, vmax=vmax, interpolation="nearest")
    ax.set_yticks(range(len(features)), features)
    step = max(1, len(days) // 10)
    ax.set_xticks(range(0, len(days), step), [d.strftime("%m-%d") for d in days][::step])
    ax.grid(False)
    ax.set_title("PSI per feature and day (today vs the model's training window)")
    fig.colorbar(im, ax=ax, label="PSI", fraction=0.03, pad=0.01)
    last = drift[drift["Score_Date"] == max(days)].sort_values(["PSI", "Feature"], ascending=[False, True])
    movers = ", ".join(f"{f} {v:.3f}" for f, v in zip(last["Feature"].head(3), last["PSI"].head(3)))
    alt = (f"Heat strip of PSI for {len(features)} features over {len(days)} days; "
           f"largest on the last day: {movers or 'none'}.")
    return render(fig, "chart-drift", alt)


@_styled
def score_distribution(today: pd.DataFrame, test: Mapping[int, pd.DataFrame],
                       horizons: Sequence[int], day) -> Chart:
    """Histogram of log10(probability) per horizon: the day's scores vs the test window."""
    fig, axes = _figure(11.5, 2.8, 1, len(horizons))
    for i, h in enumerate(horizons):
        ax = axes[0][i]
        now = today[f"p_buy_{h}d"].dropna().to_numpy(dtype="float64")
        ref = test[h]["p"].to_numpy() if h in test else np.zeros(0)
        both = np.r_[now, ref]
        both = both[both > 0]
        if both.size:
            # from the 0.5 % quantile: a few near-zero scores would stretch the axis
            lo, hi = float(np.quantile(both, 0.005)), float(both.max())
            edges = np.linspace(np.log10(lo), np.log10(hi) + 1e-9, 41)
            if ref.size:
                ax.hist(np.log10(np.clip(ref, lo, None)), bins=edges, density=True,
                        color="grey", alpha=0.45, label=f"test window ({ref.size:,} rows)")
            if now.size:
                ax.hist(np.log10(np.clip(now, lo, None)), bins=edges, density=True,
                        histtype="step", lw=1.4, color=_color(i), label=f"{day} ({now.size:,} rows)")
        ax.set(title=f"T{h}: score distribution", xlabel="log10 probability (lowest 0.5 % at the left edge)",
               ylabel="density")
        ax.legend(loc="upper left")
    alt = (f"Histograms of the {len(today):,} scores of {day} per horizon against the active "
           "models' scores on their test windows.")
    return render(fig, "chart-scores", alt)


@_styled
def qc_trend(qc: pd.DataFrame, horizons: Sequence[int], alerts: pd.DataFrame | None,
             median_days: int) -> Chart:
    """Rows per day; positive rates against their trailing median; NULL shares; alert days."""
    q = qc.sort_values("Score_Date").set_index("Score_Date")
    fig, axes = _figure(11.5, 2.9, 1, 3)
    ax_rows, ax_pos, ax_null = axes[0]
    for i, (col, label) in enumerate([("Agg_Rows", "aggregate rows"), ("Pre_First_Rows", "Pre_First_Target"),
                                      ("Score_Rows", "scored")]):
        if col in q:
            ax_rows.plot(q.index, q[col], color=_color(i), lw=1.2, label=label)
    ax_rows.set(title="rows per Score_Date", ylabel="rows")
    for i, h in enumerate(horizons):
        col = f"Pos_Rate_T{h}"
        if col in q and q[col].notna().any():
            ax_pos.plot(q.index, q[col], color=_color(i), lw=1.1, label=f"T{h}")
            ax_pos.plot(q.index, curves.trailing_median(q[col], median_days), color=_color(i), lw=0.9,
                        ls="--")
    ax_pos.set(title=f"positive rate (dashed: preceding {median_days}-day median)", ylabel="share")
    for i, h in enumerate(horizons):
        col = f"Null_Share_T{h}"
        if col in q and q[col].notna().any():
            ax_null.plot(q.index, q[col], color=_color(i), lw=1.1, label=f"label_T{h}")
    if "Score_Null_Share" in q and q["Score_Null_Share"].notna().any():
        ax_null.plot(q.index, q["Score_Null_Share"], "o", ms=2.5, color="black", label="scores")
    ax_null.set(title="NULL shares", ylabel="share", ylim=(-0.02, 1.02))
    n_alerts = 0
    if alerts is not None and not alerts.empty:
        for day, checks in alerts.groupby("Score_Date")["Check_Name"]:
            color = LEVEL_COLORS["alert"] if "freshness" in set(checks) else LEVEL_COLORS["warning"]
            for ax in (ax_rows, ax_pos, ax_null):
                ax.axvline(day, color=color, lw=0.8, alpha=0.7)
            n_alerts += len(checks)
    for ax in (ax_rows, ax_pos, ax_null):
        _dates_axis(ax)
        ax.legend(loc="best")
    alt = (f"QC over {len(q)} days: rows per day, positive rates of {len(horizons)} horizons against "
           f"their {median_days}-day median, NULL shares; {n_alerts} alerts marked "
           "(red: freshness, orange: other).")
    return render(fig, "chart-qc", alt)


@_styled
def data_quality(dq: pd.DataFrame, days: Sequence[pd.Timestamp]) -> Chart:
    """Source rows left out per file day, stacked by reason (superseded files excluded)."""
    d = dq[dq["Reason"] != "superseded_file"]
    grid = (d.pivot_table(index="Datei_Datum", columns="Reason", values="Row_Count", aggfunc="sum")
            .reindex(index=list(days)).fillna(0))
    grid = grid[sorted(grid.columns)]
    fig, axes = _figure(11.5, 2.6)
    ax = axes[0][0]
    bottom = np.zeros(len(grid))
    from matplotlib import colormaps

    palette = colormaps["tab20"].colors
    for i, reason in enumerate(grid.columns):
        ax.bar(grid.index, grid[reason], bottom=bottom, width=0.9, color=palette[i % len(palette)],
               label=reason)
        bottom += grid[reason].to_numpy()
    ax.set(title="source rows left out per file day (FA_DATA_QUALITY)", ylabel="rows")
    _dates_axis(ax)
    if len(grid.columns):
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.02), fontsize=7)
    alt = (f"Stacked bars of source rows left out per file day over {len(days)} days, "
           f"{int(bottom.sum()):,} rows in {len(grid.columns)} reasons.")
    return render(fig, "chart-data-quality", alt)
