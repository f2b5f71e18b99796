# Stand-in for prefecthq/prefect:<version>-python3.11: the Prefect server and CLI from PyPI, at the version of
# uv.lock (build-images.sh passes it).
ARG ECOM_PYTHON_IMAGE=ecom-offline/python:3.11-bookworm
FROM ${ECOM_PYTHON_IMAGE}

ARG PREFECT_VERSION=3.9.1
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export PIP_CERT=/run/secrets/ca_bundle; fi \
    && pip install --no-cache-dir "prefect==${PREFECT_VERSION}"

EXPOSE 4200
CMD ["prefect", "server", "start", "--host", "0.0.0.0"]
