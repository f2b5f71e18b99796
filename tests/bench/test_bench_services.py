"""The benchmark's API service serves from memory by default, and answers what the generating server answers."""

from __future__ import annotations

import requests

from bench.services import Service, api_server, parse_args
from ecom_local.api import SyntheticSource
from ecom_local.api.routes import answer_body


def test_the_api_service_preloads_unless_told_not_to() -> None:
    preloaded = api_server(parse_args(["api", "--carts", "12"]))
    generating = api_server(parse_args(["api", "--carts", "12", "--no-preload"]))
    assert preloaded.preloaded is not None and preloaded.preloaded.records == 200 + 194 + 12
    assert generating.preloaded is None
    assert parse_args(["api", "--cart-lines", "100"]).preload is True


def test_the_api_service_process_answers_the_generated_bytes() -> None:
    source = SyntheticSource(carts=25)
    with Service(["api", "--carts", "25"]) as api, requests.Session() as http:
        for target in ("/carts?skip=20&limit=10", "/users?limit=0", "/products?skip=5&limit=3"):
            assert http.get(f"{api.url}{target}", timeout=10).content == answer_body(source, target)
