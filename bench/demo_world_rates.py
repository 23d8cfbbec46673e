"""Observed first-buy rates of a demo world, by the planted signal's inputs (docs/demo_world.md).

Usage: python bench/demo_world_rates.py SOURCE.duckdb   (best on a --clean world)

A rough, independent reading of the labels (rules §3, ignoring knowledge time): per B-file
day D and depot without a target purchase up to D, y = a first target purchase in
[D+1, D+30]; rates are shown by recent deposits, cash share, recent buys and cancellations.
"""

from __future__ import annotations

import sys

import duckdb

SQL = """
with files as (
    select *, row_number() over (partition by Datei_Typ, Datei_Datum
                                 order by Import_Zeit desc, Datei_ID desc) as rn
    from dbo.cd_Datei where Datei_Typ in ('U', 'B') and Datei_Datum is not null
), cf as (select Datei_ID, Datei_Typ, Datei_Datum from files where rn = 1),
o as (select o.*, f.Datei_Datum from dbo.cd_Order o join cf f using (Datei_ID)
      where f.Datei_Typ = 'U'),
o_canc as (select distinct Transaction_Number from o where lower(Remark) like '%storn%'),
ord as (select * from o where coalesce(lower(Remark), '') not like '%storn%'
        and Transaction_Number not in (select * from o_canc)),
b as (select b.*, f.Datei_Datum from dbo.cd_Buchung b join cf f using (Datei_ID)
      where f.Datei_Typ = 'U'),
b_canc as (select distinct Transaction_Number from b where lower(Remark) like '%storn%'),
dep as (select Depot_Number, Booking_Date as d, Amount_EUR as amt from b
        where Booking_Type = 'Deposit' and coalesce(lower(Remark), '') not like '%storn%'
        and Transaction_Number not in (select * from b_canc)),
first_buy as (select Depot_Number, min(Order_Date) as fb from ord
              where OrderType = 'Purchase' and Amount_EUR >= 1000 and list_contains($targets, ISIN)
              group by all),
buys as (select Depot_Number, Order_Date as d from ord
         where OrderType = 'Purchase' and Amount_EUR >= 1000),
canc as (select o.Depot_Number, min(o.Datei_Datum) as d from o
         where lower(o.Remark) like '%storn%' group by o.Depot_Number, o.Transaction_Number),
pv as (select Datei_ID, Depot_Number, sum(Market_Value_EUR) as pv from dbo.cd_Bestand
       group by all),
horizon as (select max(Datei_Datum) as h from cf where Datei_Typ = 'U'),
panel as (
    select f.Datei_Datum as D, s.Depot_Number, s.Cash_EUR as cash, coalesce(pv.pv, 0) as pv,
           fb.fb
    from dbo.cd_Saldo s join cf f using (Datei_ID)
    left join pv using (Datei_ID, Depot_Number)
    left join first_buy fb using (Depot_Number)
    where f.Datei_Typ = 'B' and (fb.fb is null or fb.fb > f.Datei_Datum)
      and f.Datei_Datum + 30 <= (select h from horizon)
)
select p.*,
  (select coalesce(sum(amt), 0) from dep where dep.Depot_Number = p.Depot_Number
     and dep.d between p.D - 29 and p.D) as dep30,
  (select count(*) from buys where buys.Depot_Number = p.Depot_Number
     and buys.d between p.D - 29 and p.D) as buys30,
  (select count(*) from canc where canc.Depot_Number = p.Depot_Number
     and canc.d between p.D - 29 and p.D) as canc30,
  case when p.fb between p.D + 1 and p.D + 30 then 1 else 0 end as y30,
  case when p.fb between p.D + 1 and p.D + 7 then 1 else 0 end as y7
from panel p
"""


def main(path: str, targets=("LU000DEMO015", "LU000DEMO023")) -> None:
    con = duckdb.connect(path, read_only=True)
    df = con.execute(SQL, {"targets": list(targets)}).df()
    con.close()
    df["cash_share"] = (df["cash"] / (df["cash"] + df["pv"])).fillna(0).astype(float)
    print(f"pre-first depot-days: {len(df)}  T30 rate {df.y30.mean():.4f}  T7 rate {df.y7.mean():.4f}")
    groups = {
        "deposit in 30d": df["dep30"] > 0,
        "no deposit in 30d": df["dep30"] <= 0,
        "cash share >= 0.5": df["cash_share"] >= 0.5,
        "cash share < 0.2": df["cash_share"] < 0.2,
        "effective buy in 30d": df["buys30"] > 0,
        "no effective buy in 30d": df["buys30"] == 0,
        "cancellation in 30d": df["canc30"] > 0,
        "no cancellation in 30d": df["canc30"] == 0,
    }
    for name, mask in groups.items():
        print(f"{name:28s} share {mask.mean():.3f}  T30 rate {df.loc[mask, 'y30'].mean():.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
