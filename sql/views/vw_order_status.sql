-- Orders and revenue by order status. One row of `orders` is one cart line.
-- Made by `ecom-pipeline bootstrap-warehouse` (docs/architecture.md#warehouse).
{% from 'macros/money.sql' import money %}

create or replace view {{ database }}.{{ schema }}.vw_order_status copy grants as
with

orders as (
    select
        order_id,
        order_status,
        revenue
    from {{ database }}.{{ schema }}.orders
),

final as (
    select
        order_status,
        count(order_id) as orders,
        {{ money('sum(revenue)') }} as revenue
    from orders
    group by order_status
)

select * from final;

-- The report reads the view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_order_status to role {{ role }};
