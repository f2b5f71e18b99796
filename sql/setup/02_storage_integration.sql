-- S3 access for the external stage: Snowflake assumes the IAM role, limited to the curated orders prefix (the
-- stage's URL; the role's policy allows no more: infra/ecom-pipeline.yaml, SnowflakeAccessRole). Who runs
-- it: `ecom-pipeline bootstrap-warehouse` with SNOWFLAKE_BOOTSTRAP_ROLE. CREATE INTEGRATION belongs to
-- ACCOUNTADMIN unless granted to another role (`grant create integration on account to role ...`). The
-- loader role gets no grant here: USAGE on the integration is needed to create a stage on it (the bootstrap
-- role owns it), not to COPY from that stage. Safe to run again: an existing integration is kept, so its
-- external id (trusted by the IAM role's policy) does not change, nor do its allowed locations (an
-- integration created before this file named the prefix allows the whole bucket until altered by hand).

create storage integration if not exists {{ integration }}
type = external_stage
storage_provider = 'S3'
enabled = true
storage_aws_role_arn = '{{ aws_role_arn }}'
storage_allowed_locations = ('s3://{{ bucket }}/{{ prefix }}/');
