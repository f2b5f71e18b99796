-- Orders, units, revenue, profit and margin by product category. One row of `orders` is one cart line.
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_sales_by_category copy grants as
with

orders as (
    select
        order_id,
        category,
        quantity,
        revenue,
        profit
    from {{ database }}.{{ schema }}.orders
),

category_totals as (
    select
        category,
        count(order_id) as orders,
        sum(quantity) as units,
        {{ money('sum(revenue)') }} as revenue,
        {{ money('sum(profit)') }} as profit
    from orders
    group by category
),

final as (
    select
        category,
        orders,
        units,
        revenue,
        profit,
        {{ money('profit * 100 / nullif(revenue, 0)') }} as margin_pct
    from category_totals
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_sales_by_category to role {{ role }};
