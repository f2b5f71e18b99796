"""Test helpers for Snowflake sign-in: a generated key pair, and a loopback proxy that records login requests.

The emulator (fakesnow) accepts any credentials, so it cannot tell whether the connector used our key. The
proxy sits between the connector and the emulator, forwards every request unchanged, and keeps the body of
each `/session/v1/login-request`: for key-pair sign-in it carries the JWT the connector signed with the
private key, which the test verifies with the public key.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class KeyPair:
    """An RSA key pair as a user would hold it: PEM text (encrypted when a passphrase is given)."""

    private_pem: str
    passphrase: str | None
    public_key: RSAPublicKey

    @property
    def secret_fragments(self) -> list[str]:
        """Strings whose presence anywhere means key material leaked: the PEM, each of its lines, the DER."""
        key = serialization.load_pem_private_key(
            self.private_pem.encode(), password=self.passphrase.encode() if self.passphrase else None
        )
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        body_lines = [line for line in self.private_pem.splitlines() if line and not line.startswith("-----")]
        # The DER as base64, hex and a Python bytes repr, each from the middle (the start is the same for every key).
        der_forms = [base64.b64encode(der).decode()[100:164], der.hex()[200:264], repr(der)[200:260]]
        fragments = [self.private_pem, *body_lines, *der_forms]
        return fragments + ([self.passphrase] if self.passphrase else [])


def make_key_pair(passphrase: str | None = None) -> KeyPair:
    """A fresh 2048-bit RSA key pair (PKCS#8 PEM, as `openssl genrsa | openssl pkcs8 -topk8` writes it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()
    return KeyPair(private_pem=pem, passphrase=passphrase, public_key=key.public_key())


def verified_jwt_claims(login: dict[str, Any], public_key: RSAPublicKey) -> dict[str, Any]:
    """The claims of the key-pair JWT in a login request, after checking its signature with `public_key`."""
    assert login["AUTHENTICATOR"] == "SNOWFLAKE_JWT", login.get("AUTHENTICATOR")
    # The signature is what proves the key; the token's short lifetime may have passed by the time a test reads
    # a login recorded earlier in the session, so expiry is checked for shape, not against the clock.
    claims = jwt.decode(login["TOKEN"], public_key, algorithms=["RS256"], options={"verify_exp": False})
    assert claims["exp"] > claims["iat"], claims
    return claims


class LoginRecorder:
    """A loopback HTTP proxy to `127.0.0.1:target_port` that keeps each login request's `data` object."""

    def __init__(self, target_port: int) -> None:
        self.logins: list[dict[str, Any]] = []
        logins = self.logins

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/session/v1/login-request"):
                    raw = gzip.decompress(body) if self.headers.get("Content-Encoding") == "gzip" else body
                    logins.append(json.loads(raw)["data"])
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=120)
                headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                upstream.close()

            do_GET = do_POST = _forward

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test reads `logins`
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoginRecorder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
