-- first_buy_date per depot (rules §8): the earliest Order_Date of a target purchase known
-- at run time and never cancelled (all knowledge, unlike the features).
with transactions as (

    select * from {{ ref('int_order_transactions') }}

)

select
    Depot_Number,
    min(Order_Date) as first_buy_date
from transactions
where is_target_purchase = 1 and cancelled_from is null
group by Depot_Number
