"""Snowflake sign-in: the one method the settings name, checked, and the connector arguments for it.

| method | settings (`SNOWFLAKE_*`) | connector arguments |
|---|---|---|
| key pair (service default) | `PRIVATE_KEY_FILE` or `PRIVATE_KEY`, `_PASSPHRASE` | `SNOWFLAKE_JWT`, `private_key` |
| programmatic access token | `TOKEN` | `PROGRAMMATIC_ACCESS_TOKEN`, `token` |
| password (still accepted) | `PASSWORD` | `password` |
| an authenticator that needs none of these | `AUTHENTICATOR` (e.g. `externalbrowser`) | `authenticator` |

`SNOWFLAKE_AUTHENTICATOR` may also qualify a token (`OAUTH`) or a password (`USERNAME_PASSWORD_MFA`). Naming two
methods at once is an error; with none, the local emulator signs in with its own password and anything else is
an error. The key is parsed here, once, so a bad key or passphrase fails before any connection is tried.

Checked against snowflake-connector-python 4.8 (`connection.py`: `KEY_PAIR_AUTHENTICATOR = "SNOWFLAKE_JWT"` builds
`AuthByKeyPair(private_key)`, which takes DER bytes or a key object; `PROGRAMMATIC_ACCESS_TOKEN` builds
`AuthByPAT(token)`) and the docs: https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-connect
(key pair), https://docs.snowflake.com/en/user-guide/programmatic-access-tokens (PAT).

Every error names the setting, or the block or secret key the value came from (`value_sources`), never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import SnowflakeSettings

KEY_PAIR = "SNOWFLAKE_JWT"
# An authenticator's name, and the emulator's password (fakesnow accepts any): neither is a secret.
PROGRAMMATIC_ACCESS_TOKEN = "PROGRAMMATIC_ACCESS_TOKEN"  # noqa: S105  # nosec B105
EMULATOR_PASSWORD = "local"  # noqa: S105  # nosec B105  # pragma: allowlist secret
METHOD_FIELDS = ("private_key_file", "private_key", "token", "password")
AUTH_FIELDS = (*METHOD_FIELDS, "private_key_passphrase", "authenticator")
ENV_NAMES = {field: f"SNOWFLAKE_{field.upper()}" for field in AUTH_FIELDS}
# Authenticators that sign in without a key, token or password of ours (the connector's own names).
SELF_CONTAINED = {"EXTERNALBROWSER", "WORKLOAD_IDENTITY", "OAUTH_AUTHORIZATION_CODE", "OAUTH_CLIENT_CREDENTIALS"}


def source(sf: SnowflakeSettings, field: str) -> str:
    """Where `field` was set: its environment name, or the block or secret key that supplied it."""
    return sf.value_sources.get(field, ENV_NAMES[field])


def methods(sf: SnowflakeSettings) -> list[str]:
    """The sign-in fields that are set (private key file, private key, token, password)."""
    return [field for field in METHOD_FIELDS if getattr(sf, field) is not None]


def one_method(sf: SnowflakeSettings) -> list[str]:
    """The sign-in field that is set (at most one); two at once is a ConfigError naming both settings."""
    chosen = methods(sf)
    if len(chosen) > 1:
        names = " and ".join(source(sf, field) for field in chosen)
        raise ConfigError(f"Snowflake sign-in: {names} are both set; keep one method (a key pair is recommended)")
    return chosen


def _alternatives(field: str, also: Mapping[str, str]) -> str:
    return f"{ENV_NAMES[field]} or {also[field]}" if field in also else ENV_NAMES[field]


def pem_bytes(sf: SnowflakeSettings) -> bytes:
    """The PEM text of the configured key; a file that cannot be read names the setting and the path only."""
    if sf.private_key_file is not None:
        try:
            return sf.private_key_file.expanduser().read_bytes()
        except OSError as error:
            raise ConfigError(
                f"{source(sf, 'private_key_file')}: cannot read {sf.private_key_file}: {error.strerror}"
            ) from None
    assert sf.private_key is not None
    text = sf.private_key.get_secret_value().strip()
    if "\n" not in text:  # one-line forms (CI secrets, .env files) carry the line breaks as `\n`
        text = text.replace("\\n", "\n")
    return text.encode()


def private_key_der(sf: SnowflakeSettings) -> bytes | None:
    """The configured private key as unencrypted PKCS#8 DER bytes (what the connector signs with), or None."""
    key_field = "private_key_file" if sf.private_key_file is not None else "private_key"
    passphrase = sf.private_key_passphrase.get_secret_value().encode() if sf.private_key_passphrase else None
    if sf.private_key_file is None and sf.private_key is None:
        if passphrase is not None:
            raise ConfigError(f"{source(sf, 'private_key_passphrase')} is set but no private key is")
        return None
    # `from None` throughout: a parser's exception chain must never carry key material into a traceback.
    try:
        key = load_pem_private_key(pem_bytes(sf), password=passphrase)
    except TypeError:  # cryptography: encrypted without a passphrase, or a passphrase for a plain key
        needed = "is encrypted: set" if passphrase is None else "is not encrypted: unset"
        raise ConfigError(f"{source(sf, key_field)} {needed} {source(sf, 'private_key_passphrase')}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{source(sf, key_field)} is not a PEM private key that "
            f"{source(sf, 'private_key_passphrase') if passphrase else 'no passphrase'} opens"
        ) from None
    return key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


def auth_kwargs(sf: SnowflakeSettings, also: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Connector arguments for the one sign-in method `sf` names.

    Args:
        sf: the warehouse settings, with every source (environment, block, secret) already applied.
        also: other places a missing value could be set (e.g. a secret's key), named in the error.

    Raises:
        ConfigError: two methods at once, a key that cannot be read or opened, or no method off the emulator.
    """
    also = also or {}
    chosen = one_method(sf)
    authenticator = sf.authenticator
    named = (authenticator or "").upper()
    if sf.private_key_passphrase is not None and chosen[:1] not in (["private_key_file"], ["private_key"]):
        raise ConfigError(f"{source(sf, 'private_key_passphrase')} is set but no private key is")
    if chosen in (["private_key_file"], ["private_key"]):
        if named not in ("", KEY_PAIR):
            raise ConfigError(f"{source(sf, chosen[0])} needs {KEY_PAIR}, but {source(sf, 'authenticator')} is set")
        return {"authenticator": KEY_PAIR, "private_key": private_key_der(sf)}
    if chosen == ["token"]:
        assert sf.token is not None
        if named in ("", "SNOWFLAKE", KEY_PAIR):
            authenticator = PROGRAMMATIC_ACCESS_TOKEN  # a token with no other authenticator is a PAT
        return {"authenticator": authenticator, "token": sf.token.get_secret_value()}
    if chosen == ["password"]:
        assert sf.password is not None
        if named in (KEY_PAIR, PROGRAMMATIC_ACCESS_TOKEN):
            raise ConfigError(f"{source(sf, 'authenticator')} is {named}, but {source(sf, 'password')} is set")
        kwargs: dict[str, Any] = {"password": sf.password.get_secret_value()}
        return {**kwargs, "authenticator": authenticator} if authenticator else kwargs
    # No key, token or password anywhere.
    if named == KEY_PAIR:
        raise ConfigError(
            f"{source(sf, 'authenticator')} is {KEY_PAIR} but no private key is set: set "
            f"{_alternatives('private_key_file', also)} or {_alternatives('private_key', also)}"
        )
    if named in ("OAUTH", PROGRAMMATIC_ACCESS_TOKEN):
        wanted = _alternatives("token", also)
        raise ConfigError(f"{source(sf, 'authenticator')} is {named} but no token is set: set {wanted}")
    if named in SELF_CONTAINED:
        return {"authenticator": authenticator}
    if sf.emulator:
        return {"password": EMULATOR_PASSWORD}
    wanted = ", ".join(_alternatives(field, also) for field in ("private_key_file", "private_key", "token", "password"))
    raise ConfigError(f"no Snowflake credentials: set one of {wanted} (a key pair is recommended)")
