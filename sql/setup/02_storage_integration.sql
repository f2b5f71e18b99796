-- S3 access for the external stage: Snowflake assumes the IAM role, limited to the curated bucket.
-- Run as ACCOUNTADMIN (or a role with CREATE INTEGRATION). Safe to run again: an existing integration
-- is kept, so its external id (trusted by the IAM role's policy) does not change.

create storage integration if not exists {{ integration }}
type = external_stage
storage_provider = 'S3'
enabled = true
storage_aws_role_arn = '{{ aws_role_arn }}'
storage_allowed_locations = ('s3://{{ bucket }}/');

grant usage on integration {{ integration }} to role {{ role }};
