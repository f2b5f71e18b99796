# Stand-in for python:3.11-slim-bookworm: bookworm's own Python 3.11 with pip and venv, where `python` and `pip`
# are on PATH and pip may install into the system environment, as in the official image.
ARG ECOM_DEBIAN_IMAGE=ecom-offline/debian:bookworm
FROM ${ECOM_DEBIAN_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip \
    && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED

ENV LANG=C.UTF-8
CMD ["python3"]
