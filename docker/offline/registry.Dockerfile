# Stand-in for registry:2: Debian's docker-registry (the same distribution/registry v2 server), for the docker work
# pool's image. Debian's default configuration turns on htpasswd authentication; this one is open, for a
# registry on 127.0.0.1.
ARG ECOM_DEBIAN_IMAGE=ecom-offline/debian:bookworm
FROM ${ECOM_DEBIAN_IMAGE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends docker-registry \
    && rm -rf /var/lib/apt/lists/*
COPY registry-config.yml /etc/docker/registry/config.yml

EXPOSE 5000
CMD ["docker-registry", "serve", "/etc/docker/registry/config.yml"]
