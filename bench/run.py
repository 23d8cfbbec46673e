"""`make bench`: how fast the pipeline is, and how its cost grows with depots and history.

Every step is the real command (``python orchestrate.py ...``) run as a child process, the
way a scheduler runs it; wall time comes from the clock, peak RSS from ``os.wait4`` (the
child's ``ru_maxrss``, which includes the grandchildren it waited for, e.g. the steps of
``daily``). Each figure is the median of ``--repeats`` runs. Results are merged into
``bench/results/results.json`` (git-ignored; a rerun of a step replaces its entry) and the
tables between the markers in ``docs/performance.md`` are regenerated from it.

Steps (``--steps``, default all), per world of N depots x 24 months (``--days 730``):
  backfill  ``backfill --months 24`` into a fresh target DB: wall, peak RSS, rows/s
  seed      the seed-style per-day loop (bench/seed_loop.py) on N <= 10k, compared row for
            row with the dbt tables; speed ratio
  train     ``train`` per horizon (rows, trees, seconds, peak RSS), then all horizons
  score     ``score`` of the last day: rows/s, plus the compute/write split (bench/probe.py)
  daily     ``daily`` after 3, 12 and 24 months of history (truncated copies of the world)
  sampling  training on all rows vs negative down-sampling (AP effect), on 10k only

Steps build on each other per world: backfill first (a fresh target DB), then seed and
train, then score, daily and sampling (they need the trained, active models). A full
`make bench` (3 runs of everything) takes about an hour on 2 cores, most of it at 50k.

Usage: python -m bench.run [--sizes 2000,10000,50000] [--repeats 3] [--quick]
                           [--steps backfill,seed,...] [--deadline 22:35] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "results.json"
DOC = ROOT / "docs" / "performance.md"
PY = sys.executable
STEPS = ("backfill", "chunks", "seed", "train", "score", "daily", "sampling")
SEED = 42
END_DATE = date(2025, 8, 20)


def log(msg: str) -> None:
    print(f"[bench {datetime.now(timezone.utc):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


class DeadlinePassed(RuntimeError):
    pass


# ----------------------------------------------------------------------- measuring


def measure(cmd: Sequence[str], env: dict[str, str], out_dir: Path, name: str,
            deadline: datetime | None, ok_codes: Sequence[int] = (0,)) -> dict[str, Any]:
    """Run ``cmd`` as a child (own process group); return wall seconds, peak RSS (MB),
    exit code, stdout text and the 1-minute load average at the start.

    The child is killed (with its group) when ``deadline`` passes; raises DeadlinePassed
    then, RuntimeError for an exit code not in ``ok_codes``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = out_dir / f"{name}.out", out_dir / f"{name}.err"
    load1 = os.getloadavg()[0]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.monotonic()
        # through bench/launch.py: the child's own peak RSS and CPU, not the bench's
        usage_path = out_dir / f"{name}.usage.json"
        usage_path.unlink(missing_ok=True)
        proc = subprocess.Popen([PY, "-m", "bench.launch", str(usage_path), *cmd], stdout=out,
                                stderr=err, env=env, cwd=str(ROOT), start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline and datetime.now(timezone.utc) > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                raise DeadlinePassed(f"{name}: killed at the deadline {deadline:%H:%M} UTC")
            time.sleep(0.2)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    stdout = out_path.read_text()
    if proc.returncode not in ok_codes:
        tail = err_path.read_text()[-1500:]
        raise RuntimeError(f"{name}: exit code {proc.returncode}\n{tail}")
    child = json.loads(usage_path.read_text())
    return {"seconds": round(wall, 2), "rss_mb": round(child["maxrss_kb"] / 1024, 1),
            "cpu_seconds": round(child["user_s"] + child["sys_s"], 1),
            "exit_code": proc.returncode, "load1": round(load1, 2), "stdout": stdout,
            "stderr_path": str(err_path)}


def summary_values(stdout: str) -> dict[str, str]:
    """The ``key  value`` lines orchestrate.py prints as a command summary."""
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)\s{2,}(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in runs), 2)


# ------------------------------------------------------------------------- results


def load_results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def use_results(path: Path) -> None:
    """Read and write results at ``path`` instead (``--results``: e.g. the 200k scale run
    in its own file, whose tables go into their own block of docs/performance.md)."""
    global RESULTS
    RESULTS = path


def save_result(key: str, value: dict[str, Any]) -> None:
    """Merge one entry into results.json (a rerun of the same step replaces it)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    res = load_results()
    value = {**value, "measured_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    res[key] = value
    res["machine"] = machine()
    RESULTS.write_text(json.dumps(res, indent=1, default=str))


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
               if l.startswith("MemTotal"))
    vers = {}
    for pkg in ("duckdb", "dbt-core", "dbt-duckdb", "xgboost-cpu", "xgboost", "pandas",
                "numpy", "scikit-learn"):
        try:
            vers[pkg] = version(pkg)
        except Exception:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem / 1024 / 1024, 1),
            "os": platform.platform(), "python": platform.python_version(), "versions": vers}


# --------------------------------------------------------------------------- worlds


class World:
    """One demo world of N depots: its source DB, a target DB, artifacts, logs."""

    def __init__(self, data_dir: Path, depots: int, days: int) -> None:
        self.depots, self.days = depots, days
        self.dir = data_dir / f"w{depots}_{days}d"
        self.source = self.dir / "source.duckdb"
        self.target = self.dir / "fa.duckdb"
        self.art = self.dir / "artifacts"
        self.logs = self.dir / "logs"

    @property
    def label(self) -> str:
        return f"{self.depots // 1000}k" if self.depots % 1000 == 0 else str(self.depots)

    def env(self, source: Path | None = None, target: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "FA_SOURCE_DB": str(source or self.source),
            "FA_DUCKDB_PATH": str(target or self.target),
            "FA_ART_DIR": str(self.art),
            "OMP_WAIT_POLICY": "PASSIVE",   # xgboost: no busy-waiting OpenMP threads
            # dbt's target/ and logs/ of our own: colleagues run dbt in the project too
            "DBT_TARGET_PATH": str(self.dir / "dbt_target"),
            "DBT_LOG_PATH": str(self.dir / "dbt_logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        })
        return env

    def ensure_source(self, deadline) -> None:
        if self.source.exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        log(f"{self.label}: generating the demo world ({self.depots} depots x {self.days} days)")
        r = measure([PY, "orchestrate.py", "demo-data", "--depots", str(self.depots),
                     "--days", str(self.days), "--seed", str(SEED),
                     "--end-date", END_DATE.isoformat()], self.env(), self.logs, "demo-data", deadline)
        s = summary_values(r["stdout"])
        save_result(f"world/{self.label}", {"depots": self.depots, "days": self.days,
                                            **{k: s.get(k) for k in s if k.startswith("rows_")},
                                            "seconds": r["seconds"], "rss_mb": r["rss_mb"]})

    def orchestrate(self, args: Sequence[str], name: str, deadline, env=None,
                    ok_codes=(0,)) -> dict[str, Any]:
        return measure([PY, "orchestrate.py", *map(str, args)], env or self.env(), self.logs,
                       name, deadline, ok_codes)


def horizon_of(world: World) -> date:
    """The data horizon of the world (latest counting U file)."""
    sys.path.insert(0, str(ROOT))
    from ml.config import load_settings
    from ml.pipeline import data_horizon

    os.environ["FA_SOURCE_DB"] = str(world.source)
    return data_horizon(load_settings())


def query(db: Path, sql: str, params: Sequence = ()) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------------- steps


def backfill_source(w: World, day_before: bool) -> Path:
    """The source the backfill step runs on: the world, or (``day_before``) the world
    without the files of its last day, so that the backfilled target is the state the
    24-month ``daily`` starts from (step_daily reuses it instead of a second backfill)."""
    return truncated_source(w, 24, horizon_of(w), before_h=True) if day_before else w.source


def chunk_months_of(stderr_path: str) -> int | None:
    """Months per dbt run, as the backfill logged it (None: one `dbt build` for all)."""
    m = re.search(r"(\d+) month\(s\) per dbt run", Path(stderr_path).read_text())
    return int(m.group(1)) if m else None


def memory_limit_of(env: dict[str, str]) -> str:
    """DuckDB's memory_limit the steps run with: FA_CONFIG's ``duckdb.memory_limit`` (the
    one setting; orchestrate.py exports it to dbt's profile, so FA_DUCKDB_MEMORY_LIMIT in
    the bench's environment would be overwritten)."""
    sys.path.insert(0, str(ROOT))
    from ml.config import load_settings

    return load_settings(env).duckdb_memory_limit


def step_backfill(w: World, repeats: int, deadline, day_before: bool = False) -> None:
    runs = []
    env = w.env(backfill_source(w, day_before))
    for i in range(repeats):
        for p in (w.target, Path(str(w.target) + ".wal")):
            p.unlink(missing_ok=True)
        log(f"{w.label}: backfill --months 24 (run {i + 1}/{repeats})")
        r = w.orchestrate(["backfill", "--months", "24"], f"backfill-{i}", deadline, env)
        r["chunk_months"] = chunk_months_of(r["stderr_path"])
        s = summary_values(r["stdout"])
        r["rows"] = int(s["aggregate_rows"]) + int(s["label_rows"])
        r["aggregate_rows"], r["label_rows"] = int(s["aggregate_rows"]), int(s["label_rows"])
        runs.append(r)
        log(f"{w.label}: backfill {r['seconds']} s, {r['rss_mb']} MB, {r['rows']} rows")
    save_result(f"backfill/{w.label}", {
        "depots": w.depots, "runs": len(runs), "seconds": median_of(runs, "seconds"),
        "cpu_seconds": median_of(runs, "cpu_seconds"),
        "rss_mb": median_of(runs, "rss_mb"), "aggregate_rows": runs[0]["aggregate_rows"],
        "label_rows": runs[0]["label_rows"],
        "rows_per_second": round(runs[0]["rows"] / median_of(runs, "seconds")),
        "all_seconds": [r["seconds"] for r in runs], "load1": [r["load1"] for r in runs],
        "all_cpu_seconds": [r["cpu_seconds"] for r in runs],
        "chunk_months": runs[0]["chunk_months"], "day_before": day_before,
        "memory_limit": memory_limit_of(env),
    })


def sample_days(lo: date, hi: date) -> list[date]:
    """Days to compare two backfills on: the last and first day of every month boundary in
    [lo, hi] (where chunks of different sizes start and end), plus lo and hi."""
    days = {lo, hi}
    d = lo
    while d < hi:
        nxt = (d.replace(day=1) + timedelta(days=32)).replace(day=1)
        if nxt <= hi:
            days |= {nxt - timedelta(days=1), nxt}
        d = nxt
    return sorted(days)


def table_fingerprints(db: Path, days: Sequence[date],
                       days_of: Mapping[str, Sequence[date]] | None = None) -> dict[str, tuple[int, int]]:
    """{table: (rows, sum of row hashes)} of every table in schema dbo: the rows of ``days``
    (or of ``days_of[table]``) where the table has a Score_Date column, all rows otherwise.
    An order-independent fingerprint of the multiset of rows (DuckDB's hash of the whole
    row)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t, cols in _dbo_tables(con).items():
            where = "WHERE Score_Date IN (SELECT unnest(?::DATE[]))" if "Score_Date" in cols else ""
            its_days = (days_of or {}).get(t, days)
            args = [[d.isoformat() for d in its_days]] if where else []
            n, h = con.execute(f'SELECT count(*), coalesce(sum(hash(x)::HUGEINT), 0) '
                               f'FROM dbo."{t}" x {where}', args).fetchall()[0]
            out[t] = (int(n), int(h))
        return out
    finally:
        con.close()


def _dbo_tables(con) -> dict[str, set[str]]:
    """{table: its column names} of the base tables of schema dbo."""
    out: dict[str, set[str]] = {}
    for t, c in con.execute(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_schema, table_name) "
            "WHERE c.table_schema = 'dbo' AND t.table_type = 'BASE TABLE' "
            "ORDER BY 1").fetchall():
        out.setdefault(t, set()).add(c)
    return out


def run_scoped_tables(db: Path) -> tuple[set[date], set[str]]:
    """The Score_Dates of the last dbt run (int_score_dates) and the tables that hold
    exactly those days: the models rebuilt by every run over the run's days (int_holdings,
    int_cooc_rates, ...), which after a backfill hold its last chunk only. Two backfills
    with other chunk sizes agree on them only on the days both last chunks cover."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = _dbo_tables(con)
        if "int_score_dates" not in tables:
            return set(), set()
        run = {d for (d,) in con.execute("SELECT Score_Date FROM dbo.int_score_dates").fetchall()}
        scoped = set()
        for t, cols in tables.items():
            if "Score_Date" in cols:
                lo, hi, n = con.execute(f'SELECT min(Score_Date), max(Score_Date), '
                                        f'count(DISTINCT Score_Date) FROM dbo."{t}"').fetchall()[0]
                if run and (lo, hi, n) == (min(run), max(run), len(run)):
                    scoped.add(t)
        return run, scoped
    finally:
        con.close()


# tables whose rows record when or how a run happened, not what it computed
RUN_TABLES = re.compile(r"^(FA_RUN_LOG|FA_MODEL_|FA_QC|FA_LOCK|FA_FUND_DEFINITION)", re.I)


def step_chunks(w: World, deadline, months: int, day_before: bool = False) -> None:
    """The self-check of issue 14: a second backfill of the same world into a fresh DB with
    ``months`` months per dbt run must give the backfill step's tables, compared on the
    days where chunks of different sizes meet (sample_days) and whole for tables without
    Score_Date (every table of schema dbo but the run-record tables)."""
    res = load_results().get(f"backfill/{w.label}")
    if res is None:
        raise RuntimeError("run the backfill step first (this compares with its target DB)")
    if res.get("chunk_months") == months:
        raise RuntimeError(f"--check-chunk-months {months} is the backfill's own chunk size")
    other = w.dir / "fa_chunks.duckdb"
    for p in (other, Path(str(other) + ".wal")):
        p.unlink(missing_ok=True)
    log(f"{w.label}: backfill --months 24 --chunk-months {months} (chunk self-check)")
    env = w.env(backfill_source(w, day_before), other)
    r = w.orchestrate(["backfill", "--months", "24", "--chunk-months", str(months)],
                      "backfill-chunks", deadline, env)
    check = compare_backfills(w.target, other)
    save_result(f"chunks/{w.label}", {
        "depots": w.depots, "chunk_months": [res.get("chunk_months"), months],
        "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"], "rss_mb": r["rss_mb"],
        "memory_limit": memory_limit_of(env), **check, "load1": r["load1"],
    })
    log(f"{w.label}: chunk self-check "
        f"{'equal' if check['equal'] else 'DIFFERS: ' + ', '.join(check['differ'])} "
        f"({check['tables']} tables, {check['sample_days']} sample days; "
        f"{len(check['run_scoped'])} tables of the last run on {check['run_days_compared']} days)")
    if check["equal"]:   # a differing DB stays for a look (it is overwritten by the next run)
        other.unlink(missing_ok=True)


def compare_backfills(reference: Path, chunked: Path) -> dict[str, Any]:
    """Fingerprints of every table the chunked backfill built (but the run records), on
    the sample days, against the reference DB. Tables of the last run (run_scoped_tables,
    in both DBs) are compared on the days both last runs cover. Tables only in the
    reference were written by later steps (scores, reasons, the bench's scratch: the bench
    runs train and score on that DB) and are listed as skipped; a table missing from the
    reference differs."""
    lo, hi = query(reference, "SELECT min(Score_Date), max(Score_Date) FROM dbo.CD_FA_AGG_BUY_DEMO")[0]
    days = sample_days(lo, hi)
    (run_a, scoped_a), (run_b, scoped_b) = run_scoped_tables(reference), run_scoped_tables(chunked)
    overlap = sorted(run_a & run_b)
    days_of = {t: overlap for t in scoped_a & scoped_b}
    a, b = table_fingerprints(reference, days, days_of), table_fingerprints(chunked, days, days_of)
    compared = sorted(t for t in b if not RUN_TABLES.match(t))
    differ = [t for t in compared if a.get(t) != b[t]]
    return {"sample_days": len(days), "tables": len(compared),
            "rows_compared": sum(b[t][0] for t in compared),
            "equal": not differ, "differ": differ, "skipped": sorted(set(a) - set(compared)),
            "run_scoped": sorted(days_of), "run_days_compared": len(overlap)}


def step_seed(w: World, every: int, deadline) -> None:
    from bench.seed_loop import compare

    res = load_results().get(f"backfill/{w.label}")
    if res is None:
        raise RuntimeError("run the backfill step first (the loop is compared with its tables)")
    from ml.pipeline import add_months

    h = horizon_of(w)
    start = add_months(h, -24) + timedelta(days=1)  # the range of `backfill --months 24`
    out = w.dir / "seed_loop.duckdb"
    log(f"{w.label}: seed-style loop {start}..{h} every {every} day(s)")
    r = measure([PY, "-m", "bench.seed_loop", "--source", str(w.source), "--out", str(out),
                 "--start", start.isoformat(), "--end", h.isoformat(), "--every", str(every)],
                w.env(), w.logs, "seed-loop", deadline)
    s = json.loads(r["stdout"].strip().splitlines()[-1])
    days = (h - start).days + 1
    est_loop = s["seconds_per_day"] * days
    diff = compare(out, w.target, "DEMO", (7, 14, 30))
    equal = all(set(v) == {"rows"} for v in diff.values())
    save_result(f"seed/{w.label}", {
        "depots": w.depots, "days_run": s["days"], "every": every, "range_days": days,
        "prepare_seconds": s["prepare_seconds"], "seconds_per_day": s["seconds_per_day"],
        "loop_seconds_measured": s["loop_seconds"], "loop_seconds_full": round(est_loop, 1),
        "rss_mb": r["rss_mb"], "dbt_seconds": res["seconds"],
        "ratio_loop_only": round(est_loop / res["seconds"], 1),
        "ratio_with_prepare": round((est_loop + s["prepare_seconds"]) / res["seconds"], 1),
        "equal": equal, "compare": diff, "load1": r["load1"],
    })
    log(f"{w.label}: seed loop {s['seconds_per_day']} s/day -> {est_loop:.0f} s for {days} days; "
        f"equal to dbt: {equal} {diff}")


def train_windows(w: World) -> dict[str, date]:
    """The demo's windows (ml.runner.demo_windows) for this world's backfilled range (its
    last Score_Date is the data horizon the backfill saw)."""
    from ml.runner import demo_windows

    lo, hi = query(w.target, "SELECT min(Score_Date), max(Score_Date) FROM dbo.CD_FA_AGG_BUY_DEMO")[0]
    return demo_windows(lo, hi, 30)


def train_args(win: dict[str, date], horizons: str, extra: Sequence[str] = ()) -> list[str]:
    args = ["train", "--horizons", horizons, "--promote"]
    for k, v in win.items():
        args += [f"--{k.replace('_', '-')}", v.isoformat()]
    return args + list(extra)


def registry_rows(db: Path, version: str) -> list[tuple]:
    return query(db, "SELECT Horizon, Train_Rows, Best_Iteration, Test_AP, Metrics_Json "
                     "FROM dbo.FA_MODEL_REGISTRY WHERE Version = ? ORDER BY Horizon", [version])


def latest_version(db: Path) -> str:
    return query(db, "SELECT Version FROM dbo.FA_MODEL_REGISTRY ORDER BY Created_At DESC LIMIT 1")[0][0]


def step_train(w: World, repeats: int, deadline, extra: Sequence[str] = ()) -> None:
    """``train --horizons 7,14,30`` (as ``demo`` runs it); per horizon from the registry:
    fit rows, trees kept, booster fit seconds, test AP (of the first run)."""
    win = train_windows(w)
    runs, per_h = [], []
    for i in range(repeats):
        log(f"{w.label}: train 7,14,30 {' '.join(extra)} (run {i + 1}/{repeats})")
        r = w.orchestrate(train_args(win, "7,14,30", extra), f"train-{i}", deadline)
        runs.append(r)
        if i == 0:
            for h, rows, best, ap, metrics in registry_rows(w.target, latest_version(w.target)):
                m = json.loads(metrics)
                per_h.append({"horizon": h, "fit_rows": rows, "trees": best + 1, "test_ap": ap,
                              "fit_seconds": m.get("train_seconds"), "parts": m.get("parts")})
        log(f"{w.label}: train {r['seconds']} s, {r['rss_mb']} MB")
    save_result(f"train/{w.label}", {
        "depots": w.depots, "windows": {k: v.isoformat() for k, v in win.items()},
        "per_horizon": per_h, "all_seconds": median_of(runs, "seconds"),
        "all_rss_mb": median_of(runs, "rss_mb"), "runs": len(runs), "extra_args": list(extra),
        "load1": [r["load1"] for r in runs],
    })


def step_score(w: World, repeats: int, deadline) -> None:
    day = query(w.target, "SELECT max(Score_Date) FROM dbo.CD_FA_AGG_BUY_DEMO")[0][0]
    runs, probes = [], []
    for i in range(repeats):
        r = w.orchestrate(["score", "--date", day.isoformat()], f"score-{i}", deadline)
        r["rows"] = int(summary_values(r["stdout"])["rows_scored"])
        runs.append(r)
        p = measure([PY, "-m", "bench.probe", day.isoformat()], w.env(), w.logs,
                    f"score-probe-{i}", deadline)
        probes.append(json.loads(p["stdout"].strip().splitlines()[-1]))
    rows = runs[0]["rows"]
    med = {k: round(statistics.median(p[k] for p in probes), 3) for k in probes[0] if k != "rows"}
    save_result(f"score/{w.label}", {
        "depots": w.depots, "rows": rows, "seconds": median_of(runs, "seconds"),
        "rss_mb": median_of(runs, "rss_mb"), "rows_per_second": round(rows / median_of(runs, "seconds")),
        "phases": med,
        "compute_rows_per_second": round(rows / max(med["predict_seconds"], 1e-9)),
        "write_rows_per_second": round(rows / max(med["write_seconds"], 1e-9)),
        "runs": len(runs), "load1": [r["load1"] for r in runs],
    })
    log(f"{w.label}: score {rows} rows in {median_of(runs, 'seconds')} s; phases {med}")


def truncated_source(w: World, months: int, h: date, before_h: bool = False) -> Path:
    """A copy of the world keeping only files of the last ``months`` months (same depots).

    before_h: also without the files of day ``h`` itself: the source as the daily run of
    ``h`` finds it stored from the day before, so that the run has a day's files to add.
    """
    import duckdb

    path = w.dir / f"source_{months}m{'_before' if before_h else ''}.duckdb"
    if path.exists():
        return path
    cutoff = date(h.year - (months // 12) - (1 if (h.month - months % 12) < 1 else 0),
                  (h.month - months % 12 - 1) % 12 + 1, h.day)
    if not before_h and query(w.source, "SELECT min(Datei_Datum) FROM dbo.cd_Datei")[0][0] > cutoff:
        return w.source  # nothing to cut: no copy of the whole world (3.7 GB at 200k)
    last = h - timedelta(days=1) if before_h else date(9999, 12, 31)
    con = duckdb.connect(str(path))
    con.execute(f"ATTACH '{w.source}' AS s (READ_ONLY)")
    con.execute("CREATE SCHEMA IF NOT EXISTS dbo")
    con.execute("CREATE TABLE dbo.cd_Datei AS SELECT * FROM s.dbo.cd_Datei "
                "WHERE (Datei_Datum > ? AND Datei_Datum <= ?) OR Datei_Datum IS NULL",
                [cutoff, last])
    for t in ("cd_Order", "cd_Buchung", "cd_Saldo", "cd_Bestand"):
        # rows of dropped files go; rows naming no file at all (bad rows) stay
        con.execute(f"CREATE TABLE dbo.{t} AS SELECT * FROM s.dbo.{t} WHERE Datei_ID NOT IN "
                    "(SELECT Datei_ID FROM s.dbo.cd_Datei WHERE (Datei_Datum <= ? OR Datei_Datum > ?) "
                    "AND Datei_ID IS NOT NULL)", [cutoff, last])
    con.close()
    return path


def copy_registry(src_db: Path, dst_db: Path) -> None:
    import duckdb

    con = duckdb.connect(str(dst_db))
    con.execute(f"ATTACH '{src_db}' AS m (READ_ONLY)")
    for t in ("FA_MODEL_REGISTRY", "FA_MODEL_REGISTRY_HISTORY"):
        con.execute(f"CREATE OR REPLACE TABLE dbo.{t} AS SELECT * FROM m.dbo.{t}")
    con.close()


def step_daily(w: World, repeats: int, deadline, histories: Sequence[int] = (3, 12, 24),
               day_before: bool = False) -> None:
    """``daily --date h`` after 3, 12 and 24 months, each run on a fresh copy of the state
    of the day before: a backfill up to h-1 on the source without day h's files, then the
    daily run on the source with them (so it has a day's new files to classify, as in
    production; a rerun on an unchanged source would have nothing new to do).

    ``day_before``: the backfill step already ran on that source (backfill_source), so its
    target, with the trained models and the last day scored, is the 24-month state.
    """
    h = horizon_of(w)
    for months in histories:
        source = truncated_source(w, months, h)
        target = w.dir / f"fa_{months}m.duckdb"
        if day_before and months == 24:
            prepared = w.target
            log(f"{w.label}: the backfill step's target is the state of the day before {h}")
        else:
            before = truncated_source(w, months, h, before_h=True)
            prepared = w.dir / f"fa_{months}m_before.duckdb"
            for p in (prepared, Path(str(prepared) + ".wal")):
                p.unlink(missing_ok=True)
            log(f"{w.label}: backfill of {months} months before {h} for the daily run")
            first = query(before, "SELECT min(Datei_Datum) FROM dbo.cd_Datei")[0][0]
            w.orchestrate(["backfill", "--start-date", first.isoformat(), "--end-date",
                           (h - timedelta(days=1)).isoformat()], f"daily-prep-{months}m", deadline,
                          w.env(before, prepared))
            copy_registry(w.target, prepared)
        env = w.env(source, target)
        runs = []
        for i in range(repeats):
            shutil.copyfile(prepared, target)
            Path(str(target) + ".wal").unlink(missing_ok=True)
            log(f"{w.label}: daily --date {h} after {months} months (run {i + 1}/{repeats})")
            # exit 5 = QC alert: the run completed, the demo world may well alert
            r = w.orchestrate(["daily", "--date", h.isoformat()], f"daily-{months}m-{i}", deadline,
                              env, ok_codes=(0, 5))
            err = Path(r["stderr_path"]).read_text()
            r["steps"] = {m.group(1): float(m.group(2))
                          for m in re.finditer(r"<== (\w+): (?:ok|exit \d+) in ([\d.]+) s", err)}
            runs.append(r)
            log(f"{w.label}: daily {months}m: {r['seconds']} s {r['steps']} exit {r['exit_code']}")
        target.unlink(missing_ok=True)  # 8.8 GB at 200k
        steps = {k: round(statistics.median(r["steps"].get(k, float('nan')) for r in runs), 1)
                 for k in ("dbt", "score", "qc")}
        save_result(f"daily/{w.label}/{months}m", {
            "depots": w.depots, "months": months, "seconds": median_of(runs, "seconds"),
            "cpu_seconds": median_of(runs, "cpu_seconds"),
            "rss_mb": median_of(runs, "rss_mb"), "steps": steps, "runs": len(runs),
            "exit_codes": [r["exit_code"] for r in runs], "load1": [r["load1"] for r in runs],
        })


def step_sampling(w: World, deadline, rate: float) -> None:
    """AP of training on all rows (the train step's run) vs negative down-sampling at ``rate``."""
    base = load_results().get(f"train/{w.label}")
    if base is None or base.get("extra_args"):
        raise RuntimeError("run the train step (all rows) first")
    win = train_windows(w)
    log(f"{w.label}: sampling comparison: train with --neg-sample-rate {rate}")
    r = w.orchestrate(train_args(win, "7,14,30", ["--neg-sample-rate", str(rate)]), "sampling", deadline)
    rows = registry_rows(w.target, latest_version(w.target))
    save_result(f"sampling/{w.label}", {
        "depots": w.depots, "rate": rate,
        "all": {"seconds": base["all_seconds"], "rss_mb": base["all_rss_mb"],
                "per_horizon": base["per_horizon"], "load1": base["load1"]},
        f"neg{rate}": {"seconds": r["seconds"], "rss_mb": r["rss_mb"], "load1": r["load1"],
                       "per_horizon": [{"horizon": hz, "fit_rows": n, "trees": best + 1, "test_ap": ap,
                                        "fit_seconds": json.loads(m).get("train_seconds")}
                                       for hz, n, best, ap, m in rows]},
    })


# ------------------------------------------------------------------------------ main


def parse_deadline(text: str | None) -> datetime | None:
    if not text:
        return None
    hh, mm = map(int, text.split(":"))
    now = datetime.now(timezone.utc)
    return now.replace(hour=hh, minute=mm, second=0, microsecond=0)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="2000,10000,50000")
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="2k depots, 1 repeat (harness check)")
    p.add_argument("--steps", default=",".join(STEPS))
    p.add_argument("--seed-every", type=int, default=0,
                   help="seed loop on every N-th day (0: 7 below 5k depots, else 30)")
    p.add_argument("--seed-max-depots", type=int, default=10_000,
                   help="run the seed loop only up to this size (larger: estimated)")
    p.add_argument("--sample-rate", type=float, default=0.1,
                   help="negative sampling rate: the sampling step, and train at 50k")
    p.add_argument("--histories", default="3,12,24", help="months of history for the daily step")
    p.add_argument("--train-repeats", type=int, default=0, help="train runs (0: --repeats)")
    p.add_argument("--deadline", default=None, help="HH:MM UTC: kill any run still going then")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FA_BENCH_DIR", ROOT / "data" / "bench")))
    p.add_argument("--docs-only", action="store_true", help="only regenerate docs/performance.md")
    p.add_argument("--no-docs", action="store_true",
                   help="leave docs/performance.md alone (points for another file's results, "
                        "e.g. the growth fit of docs/scale.md)")
    p.add_argument("--results", type=Path, default=None,
                   help="results file (default bench/results/results.json); sizes of 100k and "
                        "more go into the scale block of docs/performance.md")
    p.add_argument("--depot-sample-rate", type=float, default=0.25,
                   help="train on this share of the depots above 50k (train --depot-sample-rate)")
    p.add_argument("--check-chunk-months", type=int, default=2,
                   help="months per dbt run of the chunks step's second backfill")
    p.add_argument("--day-before", choices=("auto", "yes", "no"), default="auto",
                   help="backfill on the world without its last day's files and start the "
                        "24-month daily from that state (auto: from 100k depots; saves a backfill)")
    a = p.parse_args(argv)
    if a.results is not None:
        use_results(a.results)
    if a.docs_only:
        from bench.report import write_doc

        results = load_results()
        if not results:
            # the results are not in git (bench/results/): an empty file would wipe the tables
            print(f"Error: no results in {RESULTS}: run the bench first", file=sys.stderr)
            return 1
        write_doc(results, DOC)
        return 0
    sizes = [2000] if a.quick else [int(x) for x in a.sizes.split(",")]
    repeats = 1 if a.quick else a.repeats
    steps = [s for s in a.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        p.error(f"unknown steps: {', '.join(sorted(unknown))}")
    deadline = parse_deadline(a.deadline)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from bench.report import write_doc as write_report

    def write_doc(results, doc) -> None:
        if not a.no_docs:
            write_report(results, doc)

    try:
        for n in sizes:
            w = World(a.data_dir, n, a.days)
            w.ensure_source(deadline)
            day_before = a.day_before == "yes" or (a.day_before == "auto" and n >= 100_000)
            for step in steps:
                if step == "seed" and n > a.seed_max_depots:
                    continue  # estimated from 2k and 10k in the report
                if step == "sampling" and n > 10_000:
                    continue
                t0 = time.monotonic()
                if step == "backfill":
                    step_backfill(w, repeats, deadline, day_before)
                elif step == "chunks":
                    step_chunks(w, deadline, a.check_chunk_months, day_before)
                elif step == "seed":
                    step_seed(w, a.seed_every or (7 if n < 5000 else 30 if n <= 10_000 else 61), deadline)
                elif step == "train":
                    # 50k: all rows would not fit the 6 GB budget (docs/performance.md)
                    extra = ["--neg-sample-rate", str(a.sample_rate)] if n >= 50_000 else []
                    if n > 50_000 and a.depot_sample_rate < 1:
                        # 200k: calibration + test alone are ~23M rows x 40 features
                        extra += ["--depot-sample-rate", str(a.depot_sample_rate)]
                    step_train(w, a.train_repeats or repeats, deadline, extra)
                elif step == "score":
                    step_score(w, repeats, deadline)
                elif step == "daily":
                    step_daily(w, repeats, deadline, [int(x) for x in a.histories.split(",")],
                               day_before)
                elif step == "sampling":
                    step_sampling(w, deadline, a.sample_rate)
                log(f"{w.label}: step {step} done in {time.monotonic() - t0:.0f} s")
                write_doc(load_results(), DOC)
    except DeadlinePassed as exc:
        log(str(exc))
        write_doc(load_results(), DOC)
        return 7
    return 0


if __name__ == "__main__":
    sys.exit(main())
