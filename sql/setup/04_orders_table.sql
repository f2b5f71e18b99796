-- The orders fact table, its staging table and the load audit. Tables hold data: never OR REPLACE them.

-- One row per cart line; `order_date` is the curated partition (`order_date_copy` inside the files).
create table if not exists {{ database }}.{{ schema }}.orders (
    order_id varchar not null,
    order_date date not null,
    cart_id number(38, 0) not null,
    product_id number(38, 0) not null,
    customer_id number(38, 0) not null,
    product_title varchar,
    category varchar,
    brand varchar,
    customer_name varchar,
    customer_email varchar,
    city varchar,
    state varchar,
    country varchar,
    quantity number(10, 0) not null,
    unit_price number(12, 2) not null,
    discount_percentage number(5, 2),
    discounted_revenue number(12, 2),
    revenue number(12, 2) not null,
    cost_price number(12, 2) not null,
    profit number(12, 2) not null,
    order_status varchar,
    ingested_at timestamp_ntz,
    run_id varchar,
    constraint pk_orders primary key (order_id)
);

-- Exactly the curated file columns, loaded by COPY ... MATCH_BY_COLUMN_NAME; emptied when each load starts.
-- Transient: no fail-safe storage for data that is rebuilt from S3 on every run.
create transient table if not exists {{ database }}.{{ schema }}.orders_staging (
    order_id varchar,
    cart_id number(38, 0),
    product_id number(38, 0),
    customer_id number(38, 0),
    product_title varchar,
    category varchar,
    brand varchar,
    customer_name varchar,
    customer_email varchar,
    city varchar,
    state varchar,
    country varchar,
    quantity number(10, 0),
    unit_price number(12, 2),
    discount_percentage number(5, 2),
    discounted_revenue number(12, 2),
    revenue number(12, 2),
    cost_price number(12, 2),
    profit number(12, 2),
    order_status varchar,
    ingested_at timestamp_ntz,
    run_id varchar,
    order_date_copy date
);

-- One row per load, written in the load's own transaction.
create table if not exists {{ database }}.{{ schema }}.load_audit (
    run_id varchar not null,
    partition_dates varchar,
    files number(10, 0) not null,  -- noqa: RF04
    rows_staged number(18, 0) not null,
    revenue_staged number(18, 2),
    rows_inserted number(18, 0) not null,
    rows_updated number(18, 0) not null,
    rows_deleted number(18, 0) not null,
    started_at timestamp_tz not null,
    finished_at timestamp_tz not null
);
