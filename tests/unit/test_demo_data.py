"""The demo world generator (ml/demo/): determinism, schema, every mess item, the
bad-row switch and the planted signal, on tiny worlds.

The bad-row classifier below is written from docs/rules.md §1 and §4 alone (plain pandas),
independent of the generator's own bookkeeping.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import demo as dd
from ml.config import load_settings
from ml.source import SOURCE_TABLES

TARGETS = ("LU000DEMO015", "LU000DEMO023")
END = date(2025, 8, 20)
ISIN_RE = r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$"
ORDER_TYPES = {"purchase", "sale", "savingsplan", "transferin", "transferout"}
BOOKING_TYPES = {"deposit", "withdrawal", "fee", "dividend", "settlement", "interest", "tax"}
TABLE_KEY = {"cd_Order": ["Transaction_Number"], "cd_Buchung": ["Transaction_Number"],
             "cd_Saldo": ["Depot_Number"], "cd_Bestand": ["Depot_Number", "ISIN"]}


def world(depots=300, days=200, seed=7, bad_rows=True):
    return dd.build_frames(depots, days, seed, END, TARGETS, 1000.0, bad_rows)


@pytest.fixture(scope="module")
def default_world():
    return world()


@pytest.fixture(scope="module")
def clean_world():
    return world(bad_rows=False)


# ----------------------------------------------------------------- independent rules


def counting_files(files: pd.DataFrame) -> pd.DataFrame:
    """Files that count (rules §1): latest Import_Zeit per (type, day), ties: highest id."""
    f = files.copy()
    f["typ"] = f["Datei_Typ"].astype(str).str.strip().str.upper()
    f = f[f["Datei_ID"].notna() & f["Datei_Datum"].notna() & f["typ"].isin(["U", "B"])]
    f = f.sort_values(["typ", "Datei_Datum", "Import_Zeit", "Datei_ID"])
    return f.groupby(["typ", "Datei_Datum"], as_index=False).tail(1)


def is_blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def is_cancel(df: pd.DataFrame) -> pd.Series:
    return df["Remark"].astype("string").str.lower().str.contains("storn").fillna(False).astype(bool)


def classify(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, int]]:
    """Counts of bad rows per table and class (rules §1 file classes and §4 row classes)."""
    files = frames["cd_Datei"]
    out: dict[str, dict[str, int]] = {}
    bad_file = len(files) - len(files[files["Datei_ID"].notna() & files["Datei_Datum"].notna()
                                      & files["Datei_Typ"].astype(str).str.strip().str.upper()
                                      .isin(["U", "B"])])
    out["cd_Datei"] = {"bad_file": bad_file} if bad_file else {}
    cf = counting_files(files)
    for table, typ in (("cd_Order", "U"), ("cd_Buchung", "U"), ("cd_Saldo", "B"),
                       ("cd_Bestand", "B")):
        df = frames[table].copy()
        counts: dict[str, int] = {}
        known = df["Datei_ID"].isin(files["Datei_ID"])
        counts["unknown_file"] = int((~known).sum())
        all_types = files.set_index("Datei_ID")["Datei_Typ"]
        wrong = known & (df["Datei_ID"].map(all_types).astype(str).str.strip().str.upper() != typ)
        counts["wrong_file_type"] = int(wrong.sum())
        mine = cf[cf["typ"] == typ].set_index("Datei_ID")["Datei_Datum"]
        df = df[df["Datei_ID"].isin(mine.index)].copy()
        df["_datum"] = df["Datei_ID"].map(mine)
        if "Remark" in df:
            df = df[~is_cancel(df)]
        cls = pd.Series(pd.NA, index=df.index, dtype="object")

        def flag(name, mask):
            nonlocal cls
            cls = cls.where(cls.notna() | ~mask.fillna(False).astype(bool), name)

        if table in ("cd_Order", "cd_Buchung"):
            date_col = "Order_Date" if table == "cd_Order" else "Booking_Date"
            type_col, types = (("OrderType", ORDER_TYPES) if table == "cd_Order"
                               else ("Booking_Type", BOOKING_TYPES))
            flag("null_key", is_blank(df["Transaction_Number"]) | is_blank(df["Depot_Number"]))
            flag("null_date", df[date_col].isna())
            flag("unknown_type", ~df[type_col].astype("string").str.strip().str.lower()
                 .isin(types).fillna(False).astype(bool))
            if table == "cd_Order":
                flag("bad_isin", ~df["ISIN"].astype("string").str.strip().str.upper()
                     .str.match(ISIN_RE).fillna(False).astype(bool))
                flag("null_amount", df["Amount_EUR"].isna() | df["Units"].isna())
                flag("negative_amount", df["Amount_EUR"] < 0)
                flag("absurd_amount", df["Amount_EUR"] > 10_000_000)
            else:
                flag("null_amount", df["Amount_EUR"].isna())
                flag("absurd_amount", df["Amount_EUR"].abs() > 10_000_000)
            d = pd.to_datetime(df[date_col])
            datum = pd.to_datetime(df["_datum"])
            flag("future_date", d > datum)
            flag("stale_date", d < datum - pd.Timedelta(days=366))
        elif table == "cd_Saldo":
            flag("null_key", is_blank(df["Depot_Number"]))
            flag("null_amount", df["Cash_EUR"].isna())
            flag("absurd_amount", df["Cash_EUR"].abs() > 10_000_000_000)
        else:
            flag("null_key", is_blank(df["Depot_Number"]) | is_blank(df["ISIN"]))
            flag("bad_isin", ~df["ISIN"].astype("string").str.strip().str.upper()
                 .str.match(ISIN_RE).fillna(False).astype(bool))
            flag("null_amount", df["Units"].isna() | df["Market_Value_EUR"].isna())
            flag("negative_amount", df["Units"] < 0)
            flag("absurd_amount", df["Market_Value_EUR"].abs() > 10_000_000_000)
        for name, n in cls.value_counts().items():
            counts[str(name)] = int(n)
        valid = df[cls.isna()].drop(columns="_datum")
        as_text = valid.astype("string").fillna("<NULL>")
        dup = as_text.duplicated(keep="first")
        counts["duplicate_row"] = int(dup.sum())
        distinct = as_text[~dup]
        key = ["Datei_ID"] + TABLE_KEY[table]
        conflict = distinct.duplicated(subset=key, keep=False)
        counts["conflicting_duplicate"] = int(
            as_text.set_index(key).index.isin(distinct[conflict].set_index(key).index).sum())
        if table in ("cd_Order", "cd_Buchung"):
            v = valid[~as_text.set_index(key).index.isin(distinct[conflict].set_index(key).index)]
            v = v.assign(_d=v["Datei_ID"].map(mine)).sort_values(["_d", "Datei_ID"])
            first_file = v.groupby("Transaction_Number")["Datei_ID"].transform("first")
            counts["repeated_transaction"] = int((v["Datei_ID"] != first_file).sum())
        out[table] = {k: n for k, n in counts.items() if n}
    return out


# ----------------------------------------------------------------- tests


def test_same_seed_same_frames_other_seed_differs():
    a, b, c = world(80, 90, seed=3), world(80, 90, seed=3), world(80, 90, seed=4)
    assert set(a) == set(SOURCE_TABLES)
    for name in SOURCE_TABLES:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["cd_Order"].equals(c["cd_Order"])
    assert not a["cd_Saldo"].equals(c["cd_Saldo"])


def test_written_file_is_identical_for_the_same_seed(tmp_path, monkeypatch):
    contents = []
    for name in ("a", "b"):
        monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / f"{name}.duckdb"))
        summary = dd.generate(load_settings(), depots=60, days=70, seed=11, end_date=END)
        con = duckdb.connect(summary["path"], read_only=True)
        contents.append({t: con.sql(f"select * from dbo.{t}").fetchall() for t in SOURCE_TABLES})
        con.close()
    assert contents[0] == contents[1]
    assert all(contents[0][t] for t in SOURCE_TABLES)


def test_schema_and_leading_zeros_survive_the_duckdb_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FA_SOURCE_DB", str(tmp_path / "src.duckdb"))
    summary = dd.generate(load_settings(), depots=120, days=60, seed=5, end_date=END)
    con = duckdb.connect(summary["path"], read_only=True)
    for table, columns in SOURCE_TABLES.items():
        described = con.sql(f"describe dbo.{table}").fetchall()
        assert [(r[0], r[1]) for r in described] == list(columns.items())
    written = {r[0] for r in con.sql("select distinct Depot_Number from dbo.cd_Saldo "
                                     "where trim(Depot_Number) <> ''").fetchall()}
    con.close()
    expected = set(dd.build_world(120, 60, 5, END, TARGETS).depot_numbers)
    assert written == expected
    assert sum(x.startswith("0") for x in written) > len(written) // 2
    assert len({len(x) for x in written}) >= 2
    assert summary["rows_cd_Saldo"] > 0 and summary["target_first_buyers"] >= 0


def test_calendar_has_no_weekend_or_holiday_files(default_world):
    days = pd.to_datetime(default_world["cd_Datei"]["Datei_Datum"].dropna())
    assert (days.dt.day_of_week < 5).all()
    for hol in (date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 1), date(2024, 12, 25),
                date(2024, 12, 26), date(2024, 12, 31), date(2025, 1, 1)):
        assert pd.Timestamp(hol) not in set(days)
    assert dd.easter(2025) == date(2025, 4, 20) and dd.easter(2024) == date(2024, 3, 31)


def test_file_mess_missing_late_and_redelivered(default_world):
    files = default_world["cd_Datei"].dropna(subset=["Datei_Datum"])
    files = files[files["Datei_Typ"].isin(["U", "B"])]
    bdays = dd.build_calendar(200, END)
    per_type = {t: set(pd.to_datetime(g["Datei_Datum"])) for t, g in files.groupby("Datei_Typ")}
    all_days = set(pd.to_datetime(bdays))
    assert all_days - per_type["U"], "a business day without a U file"
    assert all_days - per_type["B"], "a business day without a B file"
    lag = pd.to_datetime(files["Import_Zeit"]) - pd.to_datetime(files["Datei_Datum"])
    assert ((files["Datei_Typ"] == "U") & (lag >= pd.Timedelta(days=2))).any(), "a late U file"
    twice = files.groupby(["Datei_Typ", "Datei_Datum"]).filter(lambda g: len(g) == 2)
    for typ in ("U", "B"):
        g = twice[twice["Datei_Typ"] == typ].groupby("Datei_Datum")["Import_Zeit"]
        assert (g.nunique() == 2).any(), f"{typ}: a correction loaded later"
        assert (g.nunique() == 1).any(), f"{typ}: a correction with the same Import_Zeit"
    # The counting file of a re-delivered day differs from the first delivery in a few rows.
    cf = counting_files(default_world["cd_Datei"])
    orders = default_world["cd_Order"]
    u_twice = twice[twice["Datei_Typ"] == "U"].sort_values(["Datei_Datum", "Import_Zeit",
                                                             "Datei_ID"])
    changed = 0
    for _, g in u_twice.groupby("Datei_Datum"):
        first, second = g["Datei_ID"].iloc[0], g["Datei_ID"].iloc[1]
        assert second in set(cf["Datei_ID"]) and first not in set(cf["Datei_ID"])
        a = orders[orders["Datei_ID"] == first].drop(columns="Datei_ID").astype("string")
        b = orders[orders["Datei_ID"] == second].drop(columns="Datei_ID").astype("string")
        ka = set(map(tuple, a.fillna("").to_numpy()))
        kb = set(map(tuple, b.fillna("").to_numpy()))
        changed += len(ka ^ kb) > 0
    assert changed >= 1


def test_cancellations(default_world):
    for table in ("cd_Order", "cd_Buchung"):
        df = default_world[table]
        cancel = df[is_cancel(df)]
        remarks = set(cancel["Remark"].astype(str))
        assert len(remarks) >= 4 and any(r.isupper() for r in remarks) and any(
            r.islower() for r in remarks)
        orig = df[~is_cancel(df)].drop_duplicates("Transaction_Number")
        m = cancel.merge(orig, on="Transaction_Number", suffixes=("", "_orig"))
        assert len(m) == len(cancel)
        same_file = m["Datei_ID"] == m["Datei_ID_orig"]
        assert same_file.any() and (~same_file).any(), "cancelled in the same and a later file"
        if table == "cd_Order":
            assert (m["Amount_EUR"] == m["Amount_EUR_orig"]).all()
        else:
            assert (m["Amount_EUR"] == -m["Amount_EUR_orig"]).any()
            assert (m["Amount_EUR"] == m["Amount_EUR_orig"]).any()
        plain = set(df.loc[~is_cancel(df), "Remark"].astype(object).where(
            df["Remark"].notna(), None))
        assert {"Sparplan", "Online", None} <= plain


def test_depots_open_and_close(default_world):
    files = counting_files(default_world["cd_Datei"])
    b = files[files["typ"] == "B"].set_index("Datei_ID")["Datei_Datum"]
    saldo = default_world["cd_Saldo"]
    saldo = saldo[saldo["Datei_ID"].isin(b.index) & saldo["Depot_Number"].notna()]
    seen = saldo.assign(d=saldo["Datei_ID"].map(b)).groupby("Depot_Number", observed=True)["d"]
    assert (seen.min() > b.min()).any(), "a depot opening during the period"
    assert (seen.max() < b.max()).any(), "a depot closing during the period"


def test_instruments_types_and_tickets(default_world):
    orders = default_world["cd_Order"]
    valid = orders[~is_cancel(orders)]
    assert set(dd.ORDER_TYPES) <= set(valid["OrderType"].dropna().astype(str))
    isins = set(valid["ISIN"].dropna().astype(str)) | set(
        default_world["cd_Bestand"]["ISIN"].dropna().astype(str))
    good = {i for i in isins if re.match(ISIN_RE, i)}
    assert 40 <= len(good) <= 82
    assert all(dd.isin_check_digit(i[:11]) == int(i[11]) for i in good if i not in TARGETS)
    tgt = valid[valid["ISIN"].astype(str).isin(TARGETS)]
    assert {"Purchase", "SavingsPlan", "TransferIn"} <= set(tgt["OrderType"].astype(str))
    pur = valid[valid["OrderType"] == "Purchase"]["Amount_EUR"]
    assert (pur == 1000.00).sum() >= 5 and (pur == 999.99).sum() >= 3
    bookings = default_world["cd_Buchung"]
    bv = bookings[~is_cancel(bookings)]
    assert set(dd.BOOKING_TYPES) <= set(bv["Booking_Type"].dropna().astype(str))
    settle = bv[bv["Booking_Type"] == "Settlement"]["Amount_EUR"]
    assert (settle < 0).any() and (settle > 0).any()


def test_target_buys_second_buys_and_cancelled_first_buys(clean_world):
    orders = clean_world["cd_Order"]
    cancelled = set(orders.loc[is_cancel(orders), "Transaction_Number"])
    tgt = orders[(orders["OrderType"] == "Purchase") & orders["ISIN"].astype(str).isin(TARGETS)
                 & ~is_cancel(orders) & (orders["Amount_EUR"] >= 1000)]
    live = tgt[~tgt["Transaction_Number"].isin(cancelled)]
    per_depot = live.groupby("Depot_Number", observed=True).size()
    assert (per_depot >= 2).any(), "a second target purchase"
    dead = tgt[tgt["Transaction_Number"].isin(cancelled)]
    first_live = live.groupby("Depot_Number", observed=True)["Order_Date"].min()
    d = dead.assign(f=dead["Depot_Number"].map(first_live))
    assert (d["f"].isna() | (d["Order_Date"] < d["f"])).any(), "a cancelled first target buy"


def test_cash_and_positions_are_sane_in_a_clean_world(clean_world):
    assert (clean_world["cd_Saldo"]["Cash_EUR"] >= 0).all()
    pos = clean_world["cd_Bestand"]
    assert (pos["Units"] >= 0).all() and (pos["Units"] == 0).any()
    assert (pos["Market_Value_EUR"] >= 0).all()


def test_every_bad_class_occurs_in_a_default_world(default_world):
    found = classify(default_world)
    expected = {
        "cd_Order": set(dd.BAD_CLASSES["orders"]) | {"unknown_file", "wrong_file_type"},
        "cd_Buchung": set(dd.BAD_CLASSES["bookings"]),
        "cd_Saldo": set(dd.BAD_CLASSES["saldo"]) | {"wrong_file_type"},
        "cd_Bestand": set(dd.BAD_CLASSES["bestand"]),
        "cd_Datei": {"bad_file"},
    }
    for table, classes in expected.items():
        missing = classes - set(found[table])
        assert not missing, f"{table}: no {sorted(missing)}"


def test_clean_world_has_no_bad_row_of_any_class(clean_world):
    found = classify(clean_world)
    assert found == {"cd_Datei": {}, "cd_Order": {}, "cd_Buchung": {}, "cd_Saldo": {},
                     "cd_Bestand": {}}


def test_clean_and_messy_worlds_share_everything_but_the_bad_rows(default_world, clean_world):
    for table in ("cd_Saldo", "cd_Order"):
        messy = default_world[table].astype("string").fillna("<NULL>")
        clean = clean_world[table].astype("string").fillna("<NULL>")
        key = list(clean.columns)
        left = clean.merge(messy.drop_duplicates(), on=key, how="left", indicator=True)
        assert (left["_merge"] == "both").all()
        assert len(messy) > len(clean)


def test_planted_signal_recent_deposits_raise_the_first_buy_rate():
    f = world(depots=1500, days=400, seed=21, bad_rows=False)
    orders, bookings = f["cd_Order"], f["cd_Buchung"]
    o_cancelled = set(orders.loc[is_cancel(orders), "Transaction_Number"])
    b_cancelled = set(bookings.loc[is_cancel(bookings), "Transaction_Number"])
    buys = orders[(orders["OrderType"] == "Purchase") & orders["ISIN"].astype(str).isin(TARGETS)
                  & (orders["Amount_EUR"] >= 1000) & ~is_cancel(orders)
                  & ~orders["Transaction_Number"].isin(o_cancelled)]
    first = buys.groupby("Depot_Number", observed=True)["Order_Date"].min()
    dep = bookings[(bookings["Booking_Type"] == "Deposit") & ~is_cancel(bookings)
                   & ~bookings["Transaction_Number"].isin(b_cancelled)]
    depots = pd.Index(f["cd_Saldo"]["Depot_Number"].dropna().astype(str).unique())
    first = first.rename(index=str).reindex(depots)
    dep = dep.assign(Depot_Number=dep["Depot_Number"].astype(str))
    rows = []
    bdays = pd.to_datetime(dd.build_calendar(400, END))
    for d in bdays[30:-30:5]:
        pre = first.isna() | (first > d)
        recent = dep[(dep["Booking_Date"] > d - timedelta(days=30)) & (dep["Booking_Date"] <= d)]
        has_dep = depots.isin(recent["Depot_Number"])
        label = (first > d) & (first <= d + timedelta(days=30))
        rows.append(pd.DataFrame({"pre": pre.to_numpy(), "dep": has_dep,
                                  "y": label.fillna(False).to_numpy()}))
    panel = pd.concat(rows)
    panel = panel[panel["pre"]]
    rate = panel.groupby("dep")["y"].mean()
    base = panel["y"].mean()
    assert 0.005 < base < 0.06, base
    assert rate[True] > 2 * rate[False], rate


@pytest.mark.parametrize("depots,days,end", [(1, 30, END), (3, 31, date(2025, 12, 28))])
def test_tiny_worlds_and_holiday_end_dates_work(depots, days, end):
    f = dd.build_frames(depots, days, 1, end, TARGETS)
    dates = pd.to_datetime(f["cd_Datei"]["Datei_Datum"].dropna())
    last = dd.build_calendar(days, end)[-1]
    assert dates.max() == pd.Timestamp(last)
    if end == date(2025, 12, 28):        # 24-26 Dec are holidays, 27/28 a weekend
        assert last == np.datetime64("2025-12-23")
    assert f["cd_Saldo"]["Depot_Number"].notna().any()


# ----------------------------------------------------------------- world v2


def test_house_funds_are_held_and_bought_by_a_share_of_depots(clean_world):
    house = set(dd.DEFAULT_HOUSE_ISINS)
    pos = clean_world["cd_Bestand"]
    holders = pos[pos["ISIN"].astype(str).isin(house)]["Depot_Number"].nunique()
    assert 0.1 < holders / pos["Depot_Number"].nunique() < 0.6
    o = clean_world["cd_Order"]
    buys = o[(o["OrderType"].astype(str) == "Purchase") & o["ISIN"].astype(str).isin(house)]
    assert buys["Depot_Number"].nunique() >= 10


def test_pay_day_deposits_come_on_the_first_business_day(clean_world):
    b = clean_world["cd_Buchung"]
    dep = b[(b["Booking_Type"].astype(str) == "Deposit") & b["Remark"].isna().eq(False)]
    d = pd.to_datetime(dep["Booking_Date"])
    bdays = pd.to_datetime(dd.build_calendar(200, END))
    first = set(pd.Series(bdays).groupby(bdays.to_period("M")).min())
    on_first = d.isin(first)
    # Pay-day transfers make the month's first business day the busiest deposit day by far.
    per_day = dep.groupby(d).size()
    assert per_day[per_day.index.isin(first)].mean() > 3 * per_day[~per_day.index.isin(first)].mean()
    assert on_first.sum() > 100


def test_hazard_terms_by_hand():
    t = dd.hazard_terms(dep30=np.array([1000.0]), cash_share=np.array([0.5]),
                        buys30=np.array([7]), new90=np.array([1]), canc30=np.array([0]),
                        ew_dep=np.array([np.e * 1000 - 1000]), days_since_dep=np.array([5.0]),
                        buys365=np.array([np.e - 1]), tenure_days=np.array([120.0]),
                        house_pos=np.array([3]), house_buys90=np.array([1]),
                        idle_growth=np.array([-50.0]), momentum=0.2, payday=1.0, january=0.0,
                        q4=1.0, latent=np.array([0.3]))
    expect = {"log_deposit_30d": np.log(2), "cash_share": 0.5, "buys_30d": 5,
              "new_isins_90d": 1, "cancels_30d": 0, "inflow_recency": 1.0,
              "fresh_deposit": np.exp(-1), "buys_365d": 1.0, "young_account": np.exp(-1),
              "house_positions": 2, "house_buys_90d": 1, "idle_cash_growth": 0.0,
              "market_momentum": 2.0, "payday": 1.0, "january": 0.0, "q4": 1.0,
              "cash_x_recency": 0.5, "latent": 0.3}
    for k, v in expect.items():
        assert np.allclose(t[k], v), k
    w = dd.HAZARD_PROFILES["default"]
    eta = dd.hazard_logit(t, w)
    assert np.allclose(eta, w["intercept"] + sum(w[k] * v for k, v in expect.items()))


def test_profiles_differ_and_a_bad_profile_is_refused():
    a, b = dd.HAZARD_PROFILES["default"], dd.HAZARD_PROFILES["alt"]
    assert set(a) == set(b)
    assert b["inflow_recency"] < a["inflow_recency"] / 2
    assert b["house_positions"] > 1.5 * a["house_positions"]
    assert b["young_account"] > 1.5 * a["young_account"]
    with pytest.raises(ValueError, match="unknown hazard profile"):
        dd.build_world(10, 60, 1, END, TARGETS, hazard_profile="nope")
    x = dd.build_frames(80, 60, 3, END, TARGETS, hazard_profile="alt")["cd_Order"]
    y = dd.build_frames(80, 60, 3, END, TARGETS)["cd_Order"]
    assert not x.equals(y)
