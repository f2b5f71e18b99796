-- The headline figures in one row: orders, revenue, profit and margin over every order (zeros when empty).
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_kpis copy grants as
with

orders as (
    select
        order_id,
        revenue,
        profit
    from {{ database }}.{{ schema }}.orders
),

totals as (
    select
        count(order_id) as total_orders,
        {{ money('sum(revenue)') }} as total_revenue,
        {{ money('sum(profit)') }} as total_profit
    from orders
),

final as (
    select
        total_orders,
        coalesce(total_revenue, 0) as total_revenue,
        coalesce(total_profit, 0) as total_profit,
        coalesce({{ money('total_profit * 100 / nullif(total_revenue, 0)') }}, 0) as profit_margin_pct
    from totals
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_kpis to role {{ role }};
