-- Co-occurrence with earlier first buyers (docs/rules.md §7b), per (Score_Date, ISIN) of
-- the run: Cooc_Lift = r_i / p0 with r_i = (A_i + m p0) / (N_i + m), m = 20 depots.
--   N_i(D): depots whose first holding of i (int_holding_firsts) is <= D;
--   A_i(D): depots with a first target purchase as of D, F(D) = min Order_Date over
--           their target purchases active as of D, whose first holding of i is < F(D);
--   ISIN '-' (a valid cd_Saldo row: the depot itself) gives p0 = A_-(D) / N_-(D).
-- NULL while no depot has a first purchase (A_- = 0). A depot's F changes only on the
-- known_from / cancelled_from days of its target purchases, so per depot the days
-- between two of them form segments of constant F; each segment adds +1 to A_i on its
-- first day and -1 on the day after, for every i first held before F. Deltas per (ISIN,
-- day) are few (ISINs x days); they are summed up from the beginning of the history
-- (clamped onto start_date) over a dense ISIN x Score_Date grid of the run.
{%- set prior = 20 %}
with firsts as (

    select Depot_Number, ISIN, First_Date
    from {{ ref('int_holding_firsts') }}

),

transactions as (

    select Depot_Number, Order_Date, ISIN, known_from, cancelled_from, is_target_purchase
    from {{ ref('int_order_transactions') }}

),

score_dates as (

    select Score_Date
    from {{ ref('int_score_dates') }}

),

target_buys as (

    -- a purchase cancelled on (or before) the day it is known is never active
    select Depot_Number, Order_Date, known_from, cancelled_from
    from transactions
    where is_target_purchase = 1
        and (cancelled_from is null or cancelled_from > known_from)

),

change_points as (

    select Depot_Number, known_from as Point_Date from target_buys

    union

    select Depot_Number, cancelled_from as Point_Date from target_buys
    where cancelled_from is not null

),

segments as (

    select
        Depot_Number,
        Point_Date as Seg_Start,
        lead(Point_Date) over (partition by Depot_Number order by Point_Date) as Seg_End
    from change_points

),

first_buy_segments as (

    -- F on each segment (segments without an active purchase have no row)
    select s.Depot_Number, s.Seg_Start, s.Seg_End, min(b.Order_Date) as First_Buy
    from segments as s
    inner join target_buys as b
        on b.Depot_Number = s.Depot_Number
        and b.known_from <= s.Seg_Start
        and (b.cancelled_from is null or b.cancelled_from > s.Seg_Start)
    group by s.Depot_Number, s.Seg_Start, s.Seg_End

),

deltas as (

    select f.ISIN, s.Seg_Start as Delta_Date, 1 as d_buyers, 0 as d_holders
    from first_buy_segments as s
    inner join firsts as f
        on f.Depot_Number = s.Depot_Number
        and f.First_Date < s.First_Buy

    union all

    select f.ISIN, s.Seg_End as Delta_Date, -1 as d_buyers, 0 as d_holders
    from first_buy_segments as s
    inner join firsts as f
        on f.Depot_Number = s.Depot_Number
        and f.First_Date < s.First_Buy
    where s.Seg_End is not null

    union all

    select ISIN, First_Date as Delta_Date, 0 as d_buyers, 1 as d_holders
    from firsts

),

daily_deltas as (

    select
        ISIN,
        case when Delta_Date < {{ start_date_sql() }} then {{ start_date_sql() }} else Delta_Date end as Stream_Date,
        sum(d_buyers) as d_buyers,
        sum(d_holders) as d_holders
    from deltas
    where Delta_Date <= {{ end_date_sql() }}
    group by
        ISIN,
        case when Delta_Date < {{ start_date_sql() }} then {{ start_date_sql() }} else Delta_Date end

),

isins as (

    select distinct ISIN from daily_deltas

),

running as (

    select
        i.ISIN,
        d.Score_Date,
        sum(coalesce(x.d_buyers, 0)) over (
            partition by i.ISIN order by d.Score_Date
            rows between unbounded preceding and current row
        ) as Buyers_Before,
        sum(coalesce(x.d_holders, 0)) over (
            partition by i.ISIN order by d.Score_Date
            rows between unbounded preceding and current row
        ) as Holders
    from isins as i
    cross join score_dates as d
    left join daily_deltas as x
        on x.ISIN = i.ISIN
        and x.Stream_Date = d.Score_Date

),

overall as (

    select Score_Date, Buyers_Before as Buyers_All, Holders as Depots_All
    from running
    where ISIN = '-'

)

select
    r.Score_Date,
    r.ISIN,
    cast(r.Buyers_Before as {{ t_int() }}) as Buyers_Before,
    cast(r.Holders as {{ t_int() }}) as Holders,
    -- r_i / p0 = (A_i / p0 + m) / (N_i + m), p0 = Buyers_All / Depots_All
    case
        when o.Buyers_All > 0 then
            (cast(r.Buyers_Before as {{ t_double() }}) * o.Depots_All / o.Buyers_All + {{ prior }})
            / (cast(r.Holders as {{ t_double() }}) + {{ prior }})
    end as Cooc_Lift
from running as r
inner join overall as o
    on o.Score_Date = r.Score_Date
where r.ISIN <> '-'
