-- Family "booking windows" of the feature deltas: sums of bookings in windows (rules §7:
-- Deposit_30d_eff; §7a: Deposit_7d/14d/90d, Withdrawal_30d, Deposit_Decay) as +v/-v
-- deltas per (Depot_Number, Delta_Date). A valid booking counts on the Score_Dates
-- [known_from, min(Booking_Date + n, cancelled_from)), as an order does in
-- int_deltas_order_windows.
--
-- Deposit_Decay (rules §7a) = sum of Amount_EUR * 2^((b - D) / 10) over the active deposits
-- of days b in [D-89, D]. The weight depends on D, so the deltas carry the D-independent
-- part relative to an anchor day: days are cut into blocks of 128 days (day number / 128,
-- days since 1970-01-01), alternately even and odd; a deposit of day b adds
-- Amount_EUR * 2^((b mod 128) / 10) (its weight relative to the start of its block) to
-- d_decay_even or d_decay_odd. A 90-day window touches at most two consecutive blocks, one
-- of each parity, so on day D each column holds only deposits of the latest block of its
-- parity, and fa_agg_buy multiplies it by 2^(-(D - that block's start) / 10). The terms
-- are rounded to 10 decimal places (<= 0.5e-10 EUR each) so that +v and -v cancel exactly.
--
-- Kept between runs per depot: a run recomputes the depots whose signature in
-- int_booking_transactions differs from the one stored here.
{{ config(materialized='incremental', pre_hook="{{ family_pre_hook(['int_booking_transactions']) }}") }}
{%- set family = 'int_deltas_booking_windows' %}
{%- set incremental = is_incremental() %}
with {{ family_imports({'bookings': 'int_booking_transactions'}, incremental) }},

booking_windows as (

    select
        Depot_Number,
        Booking_Type,
        Amount_EUR,
        case when Amount_EUR < 0 then -Amount_EUR else Amount_EUR end as abs_amount,
        {{ day_number('Booking_Date') }} % 256 as block_day,
        cast(Amount_EUR * power(cast(2 as {{ t_double() }}),
            cast({{ day_number('Booking_Date') }} % 128 as {{ t_double() }}) / 10) as decimal(38,10)) as decay_term,
        known_from,
        {{ active_end('Booking_Date', 7) }} as active_end_7,
        {{ active_end('Booking_Date', 14) }} as active_end_14,
        {{ active_end('Booking_Date', 30) }} as active_end_30,
        {{ active_end('Booking_Date', 90) }} as active_end_90
    from bookings
    where Booking_Type in ('Deposit', 'Withdrawal')

),

deposits as (

    select
        *,
        case when block_day < 128 then decay_term else 0 end as decay_even,
        case when block_day >= 128 then decay_term else 0 end as decay_odd
    from booking_windows
    where Booking_Type = 'Deposit'

),

withdrawals as (

    select * from booking_windows
    where Booking_Type = 'Withdrawal'

),

deltas as (

    select {{ delta_select_list('Depot_Number', 'known_from', {
        'd_deposit_7d': 'case when known_from < active_end_7 then Amount_EUR else 0 end',
        'd_deposit_14d': 'case when known_from < active_end_14 then Amount_EUR else 0 end',
        'd_deposit_30d': 'case when known_from < active_end_30 then Amount_EUR else 0 end',
        'd_deposit_90d': 'case when known_from < active_end_90 then Amount_EUR else 0 end',
        'd_decay_even': 'case when known_from < active_end_90 then decay_even else 0 end',
        'd_decay_odd': 'case when known_from < active_end_90 then decay_odd else 0 end',
    }, family) }}
    from deposits
    where known_from < active_end_90

    {%- for n in [7, 14, 30] %}

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_' ~ n, {'d_deposit_' ~ n ~ 'd': '-Amount_EUR'}, family) }}
    from deposits
    where known_from < active_end_{{ n }}
    {%- endfor %}

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_90', {
        'd_deposit_90d': '-Amount_EUR', 'd_decay_even': '-decay_even', 'd_decay_odd': '-decay_odd'}, family) }}
    from deposits
    where known_from < active_end_90

    union all

    select {{ delta_select_list('Depot_Number', 'known_from', {'d_withdrawal_30d': 'abs_amount'}, family) }}
    from withdrawals
    where known_from < active_end_30

    union all

    select {{ delta_select_list('Depot_Number', 'active_end_30', {'d_withdrawal_30d': '-abs_amount'}, family) }}
    from withdrawals
    where known_from < active_end_30

)

{{ family_final(family, incremental) }}
