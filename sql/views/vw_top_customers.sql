-- Customers ranked by revenue (ties share a rank), with their orders. One row of `orders` is one cart line.
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_top_customers copy grants as
with

orders as (
    select
        order_id,
        customer_id,
        customer_name,
        revenue
    from {{ database }}.{{ schema }}.orders
),

customer_totals as (
    select
        customer_id,
        customer_name,
        count(order_id) as orders,
        {{ money('sum(revenue)') }} as revenue
    from orders
    group by customer_id, customer_name
),

final as (
    select
        rank() over (order by revenue desc) as revenue_rank,
        customer_id,
        customer_name,
        orders,
        revenue
    from customer_totals
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_top_customers to role {{ role }};
