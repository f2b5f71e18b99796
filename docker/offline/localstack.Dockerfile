# Stand-in for localstack/localstack (Community): LocalStack's own runtime from PyPI's localstack-core, with the
# init hooks (/etc/localstack/init/ready.d) and `awslocal` the compose healthcheck uses. S3, IAM and STS only
# are asked for (SERVICES in docker-compose.yml).
ARG ECOM_PYTHON_IMAGE=ecom-offline/python:3.11-bookworm
FROM ${ECOM_PYTHON_IMAGE}

ARG LOCALSTACK_VERSION=4.4.0
COPY localstack-constraints.txt /tmp/constraints.txt
# The CA bundle is handed in as a build secret: where a TLS-intercepting proxy sits in front of PyPI.
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt \
        "localstack-core[runtime]==${LOCALSTACK_VERSION}" service-identity awscli-local awscli \
    && mkdir -p /etc/localstack/init/boot.d /etc/localstack/init/start.d /etc/localstack/init/ready.d \
        /etc/localstack/init/shutdown.d /var/lib/localstack

ENV GATEWAY_LISTEN=0.0.0.0:4566
EXPOSE 4566
CMD ["python3", "-m", "localstack.runtime.main"]
