-- Analytics views over `orders` (one row per cart line, so `orders` counts order lines).
-- Money is summed, rounded to cents and cast back to NUMBER: the local emulator sums NUMBER as DOUBLE.
-- Ratios and averages are cast to 6 places before rounding to 2, so half-cents round up on every engine.
--
-- Who runs it: `ecom-pipeline bootstrap-warehouse` with SNOWFLAKE_BOOTSTRAP_ROLE (CREATE VIEW on the schema,
-- which it owns). The views read `orders` with their owner's rights: the loader role needs SELECT on the
-- views only. COPY GRANTS keeps that SELECT when a view is replaced; the grants at the end give it first.

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
        cast(round(sum(revenue), 2) as number(18, 2)) as revenue,
        cast(round(sum(profit), 2) as number(18, 2)) as profit
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
        cast(
            round(cast(profit * 100 / nullif(revenue, 0) as number(18, 6)), 2) as number(9, 2)
        ) as margin_pct
    from category_totals
)

select
    category,
    orders,
    units,
    revenue,
    profit,
    margin_pct
from final;

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
        cast(round(sum(revenue), 2) as number(18, 2)) as revenue
    from orders
    group by customer_id, customer_name
),

final as (
    select
        customer_id,
        customer_name,
        orders,
        revenue,
        rank() over (order by revenue desc) as revenue_rank
    from customer_totals
)

select
    customer_id,
    customer_name,
    orders,
    revenue,
    revenue_rank
from final;

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
        cast(round(sum(revenue), 2) as number(18, 2)) as revenue
    from orders
    group by order_status
)

select
    order_status,
    orders,
    revenue
from final;

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
        cast(round(sum(revenue), 2) as number(18, 2)) as revenue,
        cast(round(sum(profit), 2) as number(18, 2)) as profit
    from orders
    group by country
)

select
    country,
    orders,
    revenue,
    profit
from final;

-- revenue_7d_avg: mean daily revenue over the day and the 6 days with orders before it (calendar days when
-- the pipeline runs daily).
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
        cast(round(sum(revenue), 2) as number(18, 2)) as revenue,
        cast(round(sum(profit), 2) as number(18, 2)) as profit
    from orders
    group by order_date
),

final as (
    select
        order_date,
        orders,
        revenue,
        profit,
        cast(
            round(
                cast(
                    avg(revenue) over (order by order_date rows between 6 preceding and current row)
                    as number(18, 6)
                ),
                2
            ) as number(18, 2)
        ) as revenue_7d_avg
    from daily_totals
)

select
    order_date,
    orders,
    revenue,
    profit,
    revenue_7d_avg
from final;

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
        cast(round(sum(revenue), 2) as number(18, 2)) as total_revenue,
        cast(round(sum(profit), 2) as number(18, 2)) as total_profit
    from orders
),

final as (
    select
        total_orders,
        coalesce(total_revenue, 0) as total_revenue,
        coalesce(total_profit, 0) as total_profit,
        coalesce(
            cast(
                round(cast(total_profit * 100 / nullif(total_revenue, 0) as number(18, 6)), 2)
                as number(9, 2)
            ),
            0
        ) as profit_margin_pct
    from totals
)

select
    total_orders,
    total_revenue,
    total_profit,
    profit_margin_pct
from final;

-- The report reads every view as the loader role.
grant select on view {{ database }}.{{ schema }}.vw_sales_by_category to role {{ role }};

grant select on view {{ database }}.{{ schema }}.vw_top_customers to role {{ role }};

grant select on view {{ database }}.{{ schema }}.vw_order_status to role {{ role }};

grant select on view {{ database }}.{{ schema }}.vw_sales_by_country to role {{ role }};

grant select on view {{ database }}.{{ schema }}.vw_daily_revenue to role {{ role }};

grant select on view {{ database }}.{{ schema }}.vw_kpis to role {{ role }};
