#!/usr/bin/env bash
# LocalStack "ready" hook: create the pipeline's raw and curated buckets once S3 is up.
# Mounted at /etc/localstack/init/ready.d; LocalStack runs it with its own `awslocal` on PATH.
# Idempotent: LocalStack Community keeps no S3 state across restarts, so it runs at every start.
set -euo pipefail

for bucket in "${ECOM_RAW_BUCKET:-ecom-raw}" "${ECOM_CURATED_BUCKET:-ecom-curated}"; do
  if awslocal s3api head-bucket --bucket "${bucket}" >/dev/null 2>&1; then
    echo "bucket ${bucket} already exists"
  else
    awslocal s3api create-bucket --bucket "${bucket}" >/dev/null
    echo "created bucket ${bucket}"
  fi
done
