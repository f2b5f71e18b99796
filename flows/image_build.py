"""The docker deployment's image build step (prefect.yaml): prefect-docker's own, with two settings it cannot read.

prefect.yaml's templating hands every `{{ $VAR }}` over as a string and prefect-docker passes `pull` to buildx as it
gets it, so `ECOM_DOCKER_PULL=false` would still pull (and fail for a base image that exists only in the local
engine); and a CA bundle for a TLS-intercepting proxy must reach the build as a BuildKit secret, which a template
cannot make optional. Everything else goes to prefect-docker unchanged.
"""

from __future__ import annotations

from typing import Any

from prefect_docker.deployments.steps import build_docker_image
from pydantic import TypeAdapter

CA_BUNDLE_ID = "ca_bundle"  # docker/Dockerfile mounts it by this id


def build_image(*, pull: bool | str = True, ca_bundle: str | None = None, **kwargs: Any) -> Any:
    """Build the image with prefect-docker; `pull` is read as a boolean ("false", "0", "no" too).

    Args:
        pull: Whether buildx pulls the base image (ECOM_DOCKER_PULL; unset: True, prefect-docker's default).
        ca_bundle: A CA bundle file handed to the build as the secret `ca_bundle` (ECOM_BUILD_CA_BUNDLE).
        **kwargs: prefect-docker's `build_docker_image` arguments.
    """
    secrets = [f"id={CA_BUNDLE_ID},src={ca_bundle}"] if ca_bundle else []
    return build_docker_image(pull=TypeAdapter(bool).validate_python(pull), secrets=secrets, **kwargs)
