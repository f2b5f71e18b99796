#!/usr/bin/env bash
# Build every image the compose stack and the docker deployment need from Debian packages and PyPI alone, for
# machines that reach no container registry (docs/compose.md, "Offline, without a registry"). Needs a running
# engine with buildx (install-engine.sh) and root for debootstrap. Images that exist are kept: it is cheap to
# run again, and BuildKit's layer cache makes a rebuild after a change quick.
#   docker/offline/build-images.sh            # then: set -a; . docker/offline/images.env; set +a
# Environment:
#   ECOM_BUILD_CA_BUNDLE   CA bundle handed to every build as the secret `ca_bundle`, for a TLS-intercepting
#                          proxy in front of PyPI (default: the system's, /etc/ssl/certs/ca-certificates.crt)
#   ECOM_DEBIAN_MIRROR     Debian mirror for debootstrap (default: the one in this machine's apt sources)
#   ECOM_PYTHON310_HOME    an installed CPython 3.10 for the Glue stand-in (default: pyenv's newest 3.10)
#   ECOM_REBUILD=1         build every image again (the layer cache still applies)
set -euo pipefail
cd "$(dirname "$0")/../.."
offline=docker/offline
# shellcheck source=images.env
. "$offline/images.env"
ca_bundle=${ECOM_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
logs=$(mktemp -d)
export DOCKER_BUILDKIT=1

say() { printf 'build-images: %s\n' "$*"; }
have() { [[ -z "${ECOM_REBUILD:-}" ]] && docker image inspect "$1" >/dev/null 2>&1; }
seconds_since() { echo $((SECONDS - $1)); }

secret_args=()
[[ -s "$ca_bundle" ]] && secret_args=(--secret "id=ca_bundle,src=$ca_bundle")

# build NAME DOCKERFILE [BUILD ARGS...]: one stand-in, its output in $logs/NAME.log.
build() {
    local name=$1 dockerfile=$2 started=$SECONDS
    shift 2
    if have "$name"; then say "$name: present"; return; fi
    if docker buildx build --progress plain "${secret_args[@]}" --tag "$name" --file "$dockerfile" "$@" \
        "$offline" >"$logs/${name//[\/:]/_}.log" 2>&1; then
        say "$name: built in $(seconds_since "$started") s"
    else
        say "$name: FAILED after $(seconds_since "$started") s; the end of its log:" >&2
        tail -n 40 "$logs/${name//[\/:]/_}.log" >&2
        return 1
    fi
}

debian_base() {
    local started=$SECONDS rootfs mirror
    if have "$ECOM_DEBIAN_IMAGE"; then say "$ECOM_DEBIAN_IMAGE: present"; return; fi
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    mirror=${ECOM_DEBIAN_MIRROR:-$("$offline/debian-mirror.sh")}
    rootfs=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$logs/debootstrap.log" 2>&1 \
        || { tail -n 20 "$logs/debootstrap.log" >&2; return 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - "$ECOM_DEBIAN_IMAGE" >/dev/null
    rm -rf "$rootfs"
    say "$ECOM_DEBIAN_IMAGE: debootstrap from $mirror in $(seconds_since "$started") s"
}

python310_dist() {
    local home=${ECOM_PYTHON310_HOME:-}
    local image=ecom-offline/python310-dist:3.10
    if have "$image"; then say "$image: present"; return; fi
    if [[ -z "$home" ]] && command -v pyenv >/dev/null; then
        home=$(find "$(pyenv root)/versions" -maxdepth 1 -name '3.10.*' | sort -V | tail -n1)
    fi
    [[ -x "$home/bin/python3.10" ]] || {
        say "no CPython 3.10 for the Glue stand-in: set ECOM_PYTHON310_HOME to one (e.g. 'pyenv install 3.10')" >&2
        return 1
    }
    # Its own packages stay behind (the image installs what the job needs); so do its tests.
    tar -C "$home" --exclude='./lib/python3.10/site-packages/*' --exclude='./lib/python3.10/test' -c . \
        | docker import - "$image" >/dev/null
    say "$image: imported from $home"
}

started=$SECONDS
debian_base
python310_dist &
build "$ECOM_PYTHON_IMAGE" "$offline/python.Dockerfile" --build-arg "ECOM_DEBIAN_IMAGE=$ECOM_DEBIAN_IMAGE" &
build "$ECOM_REGISTRY_IMAGE" "$offline/registry.Dockerfile" --build-arg "ECOM_DEBIAN_IMAGE=$ECOM_DEBIAN_IMAGE" &
wait %1 %2 %3 || exit 1

prefect_version=$(awk '/^name = "prefect"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' uv.lock)
pids=()
build "$LOCALSTACK_IMAGE" "$offline/localstack.Dockerfile" --build-arg "ECOM_PYTHON_IMAGE=$ECOM_PYTHON_IMAGE" \
    --build-arg "LOCALSTACK_VERSION=${LOCALSTACK_IMAGE##*:}" & pids+=($!)
build "$ECOM_PREFECT_IMAGE" "$offline/prefect.Dockerfile" --build-arg "ECOM_PYTHON_IMAGE=$ECOM_PYTHON_IMAGE" \
    --build-arg "PREFECT_VERSION=$prefect_version" & pids+=($!)
build "$ECOM_GLUE_IMAGE" "$offline/glue.Dockerfile" --build-arg "ECOM_DEBIAN_IMAGE=$ECOM_DEBIAN_IMAGE" \
    --build-arg "ECOM_PYTHON310_IMAGE=ecom-offline/python310-dist:3.10" & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[[ $failed -eq 0 ]] || exit 1
say "all stand-ins ready in $(seconds_since "$started") s; use them with: set -a; . $offline/images.env; set +a"
