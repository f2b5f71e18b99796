-- The orders fact table, its staging table and the load audit, and the loader role's privileges on them.
-- Who runs it: `ecom-pipeline bootstrap-warehouse` with SNOWFLAKE_BOOTSTRAP_ROLE (CREATE TABLE on the
-- schema, which it owns). Tables hold data: never OR REPLACE them (that would also drop their grants).

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

-- Exactly what the loader role's statements need (tests/warehouse/test_grants.py derives it from the
-- statements a load and the report run): TRUNCATE and COPY INTO (INSERT) the staging table, and SELECT from
-- it for the MERGE and the reconciliation; MERGE into orders (INSERT, UPDATE), DELETE the orders a re-load
-- no longer holds, SELECT for the reconciliation and the skip check; INSERT one audit row per load. Nothing
-- reads load_audit.
grant select, insert, truncate on table {{ database }}.{{ schema }}.orders_staging to role {{ role }};

grant select, insert, update, delete on table {{ database }}.{{ schema }}.orders to role {{ role }};

grant insert on table {{ database }}.{{ schema }}.load_audit to role {{ role }};
