-- Warehouse, database, schema and the loader role the pipeline runs as (SNOWFLAKE_ROLE, default
-- ECOM_LOADER). Who runs it: `ecom-pipeline bootstrap-warehouse`, connected as SNOWFLAKE_BOOTSTRAP_USER
-- (default SNOWFLAKE_USER) with SNOWFLAKE_BOOTSTRAP_ROLE (default ACCOUNTADMIN); the pipeline itself never
-- runs this file. What that role needs here at least: CREATE WAREHOUSE and CREATE DATABASE on the account
-- (SYSADMIN has both), CREATE ROLE (USERADMIN or SECURITYADMIN have it). It owns what it creates, which
-- lets it grant the role below. Safe to run again: IF NOT EXISTS keeps every existing object, and granting
-- a privilege held already is a no-op.

create warehouse if not exists {{ warehouse }}
warehouse_size = 'XSMALL'
auto_suspend = 60
auto_resume = true
initially_suspended = true;

create database if not exists {{ database }};

create schema if not exists {{ database }}.{{ schema }};

create role if not exists {{ role }};

-- Role hierarchy: SYSADMIN inherits the loader role (Snowflake's advice for every custom role), and the
-- pipeline's user (SNOWFLAKE_USER) is granted it. That user must exist before bootstrap runs (docs/aws.md).
grant role {{ role }} to role sysadmin;

grant role {{ role }} to user {{ user }};

-- Every statement the loader role runs needs a warehouse to run on and a way into the schema.
grant usage on warehouse {{ warehouse }} to role {{ role }};

grant usage on database {{ database }} to role {{ role }};

grant usage on schema {{ database }}.{{ schema }} to role {{ role }};
