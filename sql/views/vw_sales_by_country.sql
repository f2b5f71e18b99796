-- Orders, revenue and profit by the customer's country. One row of `orders` is one cart line.
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_sales_by_country copy grants as
with

orders as (
    select
        order_id,
        country,
        revenue,
        profit
    from {{ database }}.{{ schema }}.orders
),

final as (
    select
        country,
        count(order_id) as orders,
        {{ money('sum(revenue)') }} as revenue,
        {{ money('sum(profit)') }} as profit
    from orders
    group by country
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_sales_by_country to role {{ role }};
