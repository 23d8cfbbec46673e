-- The Score_Dates of this run: every calendar day in [start_date, end_date].
with spine as (

    {{ day_spine(start_date_sql(), end_date_sql()) }}

)

select Score_Date from spine
