#!/usr/bin/env bash
# A Docker engine with the Compose v2 and buildx CLI plugins, from Debian's packages only (no registry, no
# download.docker.com). Idempotent; run as root on Debian 12 (bookworm). Where `docker info`, `docker compose`
# and `docker buildx` already answer (Docker Desktop, a developer's own engine), it changes nothing.
#   sudo docker/offline/install-engine.sh
# Compose v2 and buildx are not in bookworm, and trixie's Compose (2.26) predates --abort-on-container-failure. Debian's
# testing release (forky) has Compose 2.40 and buildx 0.29 as static Go binaries: they are taken from there as .deb
# files and unpacked into the CLI plugin folder, without installing them and without letting forky replace anything
# else (its sources get pin priority 90, below bookworm's 500).
set -euo pipefail

need_compose="2.27"
plugins=/usr/local/lib/docker/cli-plugins
newer_suite=forky

say() { printf 'install-engine: %s\n' "$*"; }

compose_ok() {
    local version
    version=$(docker compose version --short 2>/dev/null) || return 1
    # sort -V puts the smaller first: the installed one must not be smaller than what we need.
    [[ "$(printf '%s\n%s\n' "$need_compose" "${version#v}" | sort -V | head -n1)" == "$need_compose" ]]
}

engine_up() { docker info >/dev/null 2>&1; }

if engine_up && compose_ok && docker buildx version >/dev/null 2>&1; then
    say "Docker $(docker version --format '{{.Server.Version}}'), Compose $(docker compose version --short) and buildx already work: nothing to do"
    exit 0
fi
[[ $(id -u) -eq 0 ]] || { say "run as root (sudo): it installs Debian packages and starts dockerd" >&2; exit 1; }

apt_updated=
apt_update() { [[ -n "$apt_updated" ]] || { apt-get update -qq; apt_updated=1; }; }

if ! command -v dockerd >/dev/null 2>&1; then
    say "installing docker.io (Debian's Docker Engine)"
    apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io containerd runc iptables ca-certificates >/dev/null
fi

if ! compose_ok || ! docker buildx version >/dev/null 2>&1; then
    # The mirror this machine already uses for bookworm serves forky too.
    mirror=$("$(dirname "$0")/debian-mirror.sh")
    say "Compose v2 and buildx from Debian ${newer_suite} (${mirror}), pinned below bookworm"
    printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$newer_suite" >/etc/apt/sources.list.d/ecom-docker-plugins.sources
    printf 'Package: *\nPin: release n=%s\nPin-Priority: 90\n' "$newer_suite" >/etc/apt/preferences.d/ecom-docker-plugins
    # The mirror's Release file for the newer suite may be past its Valid-Until date.
    apt-get update -qq -o Acquire::Check-Valid-Until=false
    apt_updated=1
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    chmod 0755 "$work"   # apt's download user must be able to write there
    (cd "$work" && apt-get download -qq "docker-compose/${newer_suite}" "docker-buildx/${newer_suite}")
    mkdir -p "$plugins"
    for deb in "$work"/*.deb; do
        dpkg-deb -x "$deb" "$work/root"
    done
    install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$plugins/docker-compose"
    install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-buildx" "$plugins/docker-buildx"
fi

if ! engine_up; then
    say "starting dockerd"
    # No systemd in containers and CI machines: start the daemon ourselves, logging beside its state.
    mkdir -p /var/log
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        engine_up && break
        sleep 1
    done
    engine_up || { say "dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2; tail -n 20 /var/log/dockerd.log >&2; exit 1; }
fi

compose_ok || { say "Compose $(docker compose version --short 2>/dev/null) is older than ${need_compose}" >&2; exit 1; }
say "ready: Engine $(docker version --format '{{.Server.Version}}'), Compose $(docker compose version --short), buildx $(docker buildx version | awk '{print $2}')"
