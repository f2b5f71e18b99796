-- Warehouse, database, schema and the loader role with its grants.
-- Run as a role that may create them (e.g. SYSADMIN plus SECURITYADMIN for the role). Safe to run again.

create warehouse if not exists {{ warehouse }}
warehouse_size = 'XSMALL'
auto_suspend = 60
auto_resume = true
initially_suspended = true;

create database if not exists {{ database }};

create schema if not exists {{ database }}.{{ schema }};

create role if not exists {{ role }};

grant usage on warehouse {{ warehouse }} to role {{ role }};

grant usage on database {{ database }} to role {{ role }};

grant usage, create table, create view, create stage, create file format
on schema {{ database }}.{{ schema }} to role {{ role }};

grant select, insert, update, delete, truncate
on all tables in schema {{ database }}.{{ schema }} to role {{ role }};

grant select, insert, update, delete, truncate
on future tables in schema {{ database }}.{{ schema }} to role {{ role }};

grant select on future views in schema {{ database }}.{{ schema }} to role {{ role }};
