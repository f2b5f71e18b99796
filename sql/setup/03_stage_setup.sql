-- The Parquet file format and the external stage on the curated zone.
-- OR REPLACE is safe here: neither object holds data (the files stay in S3, load history belongs to tables).

create or replace file format {{ database }}.{{ schema }}.{{ file_format }}
    type = parquet
    compression = auto;

create or replace stage {{ database }}.{{ schema }}.{{ stage }}
    url = 's3://{{ bucket }}/{{ prefix }}/'
    storage_integration = {{ integration }}
    file_format = (format_name = '{{ database }}.{{ schema }}.{{ file_format }}');
