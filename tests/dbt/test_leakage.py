"""Leakage property: rows known only after D never change a feature of a Score_Date <= D.

A seeded random property loop (hypothesis is not installed): each iteration picks a day D
of a generated demo world (ml.demo_data.generate: every kind of mess the rules know) and
builds the aggregates twice with dbt,

  * on the source as known on D: the files with Datei_Datum <= D (bad files without a day
    and rows of unknown files kept, so only knowledge time differs), Score_Dates
    [START, D];
  * on that source plus everything delivered after D, Score_Dates [START, last day]: the
    world's own later U and B files (new orders, late deliveries of old business days,
    cancellations of earlier transactions, new holdings) and random extra files dated
    after D: a U file with late orders of old days (target purchases by holders of the
    world's ISINs, buys of the fund house's ISINs), a U file cancelling random
    transactions known by D (target purchases first), a B file with new depots and new
    positions and new cash for existing depots.

Every column of the aggregates table except the keys (read from the table, so columns
added later are covered too) must be identical on every (Score_Date <= D, Depot_Number),
and both builds must have the same rows there. "Delivered after D" means Datei_Datum > D:
by the rules' knowledge time (§1, §5) a later delivery for day D itself (same Datei_Datum,
later Import_Zeit) is a correction of what is known on D.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.dbt.harness import DbtHarness, require_dbt_models

pytestmark = pytest.mark.slow

DEPOTS, DAYS, SEED, END_DATE = 80, 100, 20251202, date(2025, 8, 20)
ITERATIONS = 3
KEYS = ["Score_Date", "Depot_Number"]
TARGET = "LU000DEMO015"
HOUSE = "LU000DEMO031"


def _day(v) -> pd.Timestamp:
    return pd.Timestamp(v).normalize()


def known_by(frames: dict[str, pd.DataFrame], d: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Files with Datei_Datum <= d (and cd_Datei rows without a day); data rows of those
    files and of Datei_IDs cd_Datei does not know (or NULL)."""
    files = frames["cd_Datei"]
    day = pd.to_datetime(files["Datei_Datum"])
    keep = day.isna() | (day <= d)
    later_ids = set(files.loc[~keep, "Datei_ID"].dropna().astype(int))
    out = {"cd_Datei": files[keep].reset_index(drop=True)}
    for table, df in frames.items():
        if table != "cd_Datei":
            ids = df["Datei_ID"]
            out[table] = df[~ids.isin(later_ids) | ids.isna()].reset_index(drop=True)
    return out


def later_rows(frames: dict[str, pd.DataFrame], d: pd.Timestamp, last: pd.Timestamp,
               rng: random.Random) -> dict[str, pd.DataFrame]:
    """Extra files dated in (d, last] with rows that would move D's features if leaked."""
    files = frames["cd_Datei"]
    next_id = int(files["Datei_ID"].max()) + 1000
    orders, saldo, bestand = frames["cd_Order"], frames["cd_Saldo"], frames["cd_Bestand"]
    depots = sorted(set(saldo["Depot_Number"].dropna().astype(str).str.strip()) - {""})
    isins = sorted(set(bestand["ISIN"].dropna().astype(str).str.strip()) - {""})
    new_files, new_orders, new_saldo, new_bestand = [], [], [], []

    def add_file(typ: str) -> int:
        nonlocal next_id
        next_id += 1
        day = d + pd.Timedelta(days=rng.randint(1, max(1, (last - d).days)))
        new_files.append({"Datei_ID": next_id, "Datei_Typ": typ, "Datei_Datum": day.date(),
                          # loaded after the world's own file of that day: it counts
                          "Import_Zeit": day + pd.Timedelta(days=30, hours=rng.randint(1, 40)),
                          "Datei_Name": f"late_{typ}_{next_id}.csv"})
        return next_id

    # late orders of old business days (Order_Date <= D), delivered after D
    fid = add_file("U")
    for k in range(25):
        isin = rng.choice([TARGET, TARGET, HOUSE] + isins[:5])
        new_orders.append({
            "Datei_ID": fid, "Transaction_Number": f"LEAK-{fid}-{k}",
            "Depot_Number": rng.choice(depots),
            "Order_Date": (d - pd.Timedelta(days=rng.randint(0, 60))).date(),
            "OrderType": rng.choice(["Purchase", "Purchase", "Sale", "SavingsPlan"]),
            "ISIN": isin, "Units": "1", "Amount_EUR": f"{rng.randint(500, 9000)}.00",
            "Remark": None})
    # cancellations, delivered after D, of transactions known by D (target purchases first)
    fid = add_file("U")
    known = orders[orders["Datei_ID"].isin(set(files.loc[pd.to_datetime(files["Datei_Datum"]) <= d, "Datei_ID"]))]
    known = known[known["Transaction_Number"].notna()]
    target = known[known["ISIN"].astype(str).str.strip().str.upper() == TARGET]
    picks = list(target["Transaction_Number"].head(10)) + rng.sample(
        list(known["Transaction_Number"]), min(15, len(known)))
    for tn in picks:
        new_orders.append({"Datei_ID": fid, "Transaction_Number": tn, "Depot_Number": None,
                           "Order_Date": None, "OrderType": None, "ISIN": None, "Units": None,
                           "Amount_EUR": None, "Remark": "Storno"})
    # a B file with new depots, new positions, other cash
    fid = add_file("B")
    for k, depot in enumerate(rng.sample(depots, min(20, len(depots))) + ["LEAK-NEW-1", "LEAK-NEW-2"]):
        new_saldo.append({"Datei_ID": fid, "Depot_Number": depot,
                          "Cash_EUR": f"{rng.randint(0, 50000)}.00"})
        for isin in rng.sample(isins + [TARGET, HOUSE], 3):
            new_bestand.append({"Datei_ID": fid, "Depot_Number": depot, "ISIN": isin,
                                "Units": str(rng.randint(1, 50)),
                                "Market_Value_EUR": f"{rng.randint(100, 20000)}.00"})
    extra = {"cd_Datei": new_files, "cd_Order": new_orders, "cd_Saldo": new_saldo,
             "cd_Bestand": new_bestand}
    return {t: pd.concat([frames[t], pd.DataFrame(rows)], ignore_index=True)
            if rows else frames[t] for t, rows in {**{t: [] for t in frames}, **extra}.items()}


def _agg(h: DbtHarness, until: pd.Timestamp, after: bool = False) -> pd.DataFrame:
    """Aggregate rows with Score_Date <= until (after=True: > until)."""
    import duckdb

    con = duckdb.connect(str(h.target_db), read_only=True)
    try:
        return con.execute(
            f"SELECT * FROM dbo.{h.settings.agg_table} "
            f"WHERE Score_Date {'>' if after else '<='} ? "
            "ORDER BY Score_Date, Depot_Number", [until.date()]).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require_dbt_models()
    from ml.demo import generate
    from tests.dbt import reference

    root = tmp_path_factory.mktemp("leakage_world")
    with pytest.MonkeyPatch.context() as mp:
        h = DbtHarness(root, mp)
        generate(h.settings, DEPOTS, DAYS, SEED, END_DATE, bad_rows=True)
        return reference.read_source(h.source_db)


@pytest.mark.parametrize("iteration", range(ITERATIONS))
def test_rows_known_after_d_change_no_feature_of_d_or_before(world, tmp_path, iteration):
    rng = random.Random(SEED + iteration)
    days = pd.to_datetime(world["cd_Datei"]["Datei_Datum"]).dropna()
    first, last = days.min(), days.max()
    d = first + pd.Timedelta(days=rng.randint(40, (last - first).days - 10))
    start = (d - pd.Timedelta(days=rng.randint(5, 30))).date()
    before = known_by(world, d)
    after = later_rows(world, d, last, rng)

    tables = {}
    for name, source, end in (("known", before, d), ("later", after, last)):
        with pytest.MonkeyPatch.context() as mp:
            h = DbtHarness(tmp_path / name, mp)
            h.write_source(source)
            h.dbt(start, end.date(), command="run")
            tables[name] = _agg(h, d)
            if name == "later":
                tables["after_d"] = _agg(h, d, after=True)
    a, b = tables["known"], tables["later"]
    # the later rows are not inert: the new depots of the late B file appear after D
    assert tables["after_d"]["Depot_Number"].str.startswith("LEAK-NEW").any()

    assert len(a) > DEPOTS, "the day range has rows"
    assert list(a.columns) == list(b.columns)
    features = [c for c in a.columns if c not in KEYS]
    assert len(features) >= 22, features          # 12 core + Pre_First_Target + v2
    a, b = a.set_index(KEYS), b.set_index(KEYS)
    assert a.index.equals(b.index), (
        f"D={d.date()}: rows differ: {sorted(set(a.index) ^ set(b.index))[:10]}")
    diffs = []
    for col in features:
        x, y = a[col], b[col]
        same = (x.isna() & y.isna()) | (x == y)
        if not same.all():
            bad = same[~same].index[:3]
            diffs.append(f"{col}: {[(k, x[k], y[k]) for k in bad]}")
    assert not diffs, f"D={d.date()} (Score_Dates {start}..{d.date()}): " + "; ".join(diffs)
