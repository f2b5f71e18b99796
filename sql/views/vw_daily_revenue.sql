-- Orders, revenue and profit per order date. revenue_7d_avg: mean daily revenue over the day and the 6 days
-- with orders before it (calendar days when the pipeline runs daily). One row of `orders` is one cart line.
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_daily_revenue copy grants as
with

orders as (
    select
        order_id,
        order_date,
        revenue,
        profit
    from {{ database }}.{{ schema }}.orders
),

daily_totals as (
    select
        order_date,
        count(order_id) as orders,
        {{ money('sum(revenue)') }} as revenue,
        {{ money('sum(profit)') }} as profit
    from orders
    group by order_date
),

final as (
    select
        order_date,
        orders,
        revenue,
        profit,
        {{ money('avg(revenue) over (order by order_date rows between 6 preceding and current row)') }}
            as revenue_7d_avg
    from daily_totals
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_daily_revenue to role {{ role }};
