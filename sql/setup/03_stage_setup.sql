-- The Parquet file format and the external stage on the curated zone, and the loader role's USAGE on both
-- (its COPY INTO names them). Who runs it: `ecom-pipeline bootstrap-warehouse` with
-- SNOWFLAKE_BOOTSTRAP_ROLE, which needs CREATE FILE FORMAT and CREATE STAGE on the schema (it owns the
-- schema it created) and USAGE on the integration (it owns that too). Never OR REPLACE here: a replaced
-- object loses its grants. IF NOT EXISTS keeps what is there, and the ALTER sets the stage's URL,
-- integration and file format to the current settings (nothing changes when they match).

create file format if not exists {{ database }}.{{ schema }}.{{ file_format }}
    type = parquet
    compression = auto;

create stage if not exists {{ database }}.{{ schema }}.{{ stage }}
    url = 's3://{{ bucket }}/{{ prefix }}/'
    storage_integration = {{ integration }}
    file_format = (format_name = '{{ database }}.{{ schema }}.{{ file_format }}');

alter stage {{ database }}.{{ schema }}.{{ stage }} set
    url = 's3://{{ bucket }}/{{ prefix }}/'
    storage_integration = {{ integration }}
    file_format = (format_name = '{{ database }}.{{ schema }}.{{ file_format }}');

grant usage on file format {{ database }}.{{ schema }}.{{ file_format }} to role {{ role }};

grant usage on stage {{ database }}.{{ schema }}.{{ stage }} to role {{ role }};
