"""Snowflake sign-in: the one method the settings name, checked, and the prefect-snowflake credentials that sign in.

| method | settings (`SNOWFLAKE_*`) | authenticator |
|---|---|---|
| key pair (service default) | `PRIVATE_KEY_FILE` or `PRIVATE_KEY`, `_PASSPHRASE` | `SNOWFLAKE_JWT` |
| programmatic access token | `TOKEN` | `PROGRAMMATIC_ACCESS_TOKEN` |
| password (still accepted) | `PASSWORD` | `SNOWFLAKE` |
| an authenticator that needs none of these | `AUTHENTICATOR` (e.g. `externalbrowser`) | that one |

`SNOWFLAKE_AUTHENTICATOR` may also qualify a token (`OAUTH`) or a password (`USERNAME_PASSWORD_MFA`). Naming two
methods at once is an error; with none, the local emulator signs in with its own password and anything else is
an error. The values go into a prefect-snowflake `SnowflakeCredentials`, which hands out the connections and opens
the key itself (`resolve_private_key`); the key is opened once when it is built, so a bad key or passphrase fails
before any connection is tried. Its `authenticator` field knows no PAT, so each connection gets the authenticator
on top (`connection.connect_kwargs`).

Checked against snowflake-connector-python 4.8 (`connection.py`: a `private_key` switches to `SNOWFLAKE_JWT`;
`PROGRAMMATIC_ACCESS_TOKEN` builds `AuthByPAT(token)`), prefect-snowflake 0.28 (`credentials.py`) and the docs:
https://docs.snowflake.com/en/developer-guide/python-connector/python-connector-connect (key pair),
https://docs.snowflake.com/en/user-guide/programmatic-access-tokens (PAT).

Every error names the setting, or the block field or secret key the value came from (`where`), never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, get_args

from cryptography.exceptions import UnsupportedAlgorithm
from pydantic import SecretBytes, ValidationError

from ecom_pipeline.exceptions import ConfigError
from ecom_pipeline.settings import SnowflakeSettings, validation_summary

if TYPE_CHECKING:  # prefect-snowflake takes seconds to import: only where a sign-in needs it
    from prefect_snowflake import SnowflakeCredentials

KEY_PAIR = "SNOWFLAKE_JWT"
# An authenticator's name, and the emulator's password (fakesnow accepts any): neither is a secret.
PROGRAMMATIC_ACCESS_TOKEN = "PROGRAMMATIC_ACCESS_TOKEN"  # noqa: S105  # nosec B105
EMULATOR_PASSWORD = "local"  # noqa: S105  # nosec B105  # pragma: allowlist secret
KEY_FIELDS = ("private_key_file", "private_key")
METHOD_FIELDS = (*KEY_FIELDS, "token", "password")
ENV_NAMES = {
    field: f"SNOWFLAKE_{field.upper()}" for field in (*METHOD_FIELDS, "private_key_passphrase", "authenticator")
}
# Authenticators that sign in without a key, token or password of ours (the connector's own names).
SELF_CONTAINED = {"EXTERNALBROWSER", "WORKLOAD_IDENTITY", "OAUTH_AUTHORIZATION_CODE", "OAUTH_CLIENT_CREDENTIALS"}
# SnowflakeCredentials field -> SnowflakeSettings field: the sign-in values, which the settings' sources decide.
BLOCK_SIGN_IN = {
    **{field: field for field in ("private_key", "private_key_passphrase", "token", "password", "authenticator")},
    "private_key_path": "private_key_file",  # pragma: allowlist secret (field names)
}


def _one_method(sf: SnowflakeSettings, where: Mapping[str, str]) -> str | None:
    """The sign-in field that is set, if any; two at once, or a passphrase without a key, is a ConfigError."""
    chosen = [field for field in METHOD_FIELDS if getattr(sf, field) is not None]
    if len(chosen) > 1:
        names = " and ".join(where[field] for field in chosen)
        raise ConfigError(f"Snowflake sign-in: {names} are both set; keep one method (a key pair is recommended)")
    if sf.private_key_passphrase is not None and not set(chosen) & set(KEY_FIELDS):
        raise ConfigError(f"{where['private_key_passphrase']} is set but no private key is")
    return chosen[0] if chosen else None


def authenticator(
    sf: SnowflakeSettings, where: Mapping[str, str] = ENV_NAMES, also: Mapping[str, str] | None = None
) -> str | None:
    """The connector's authenticator for the one sign-in method `sf` names; None: the emulator's own password.

    Args:
        sf: the warehouse settings, every source (environment, block, secret) applied.
        where: what each sign-in value is called in errors: its setting, or the block field or secret key it came from.
        also: other places a missing value could be set (a secret's keys), named in the error.

    Raises:
        ConfigError: two methods at once, an authenticator that contradicts the method, or none off the emulator.
    """
    also = also or {}

    def wanted(field: str) -> str:
        return f"{ENV_NAMES[field]} or {also[field]}" if field in also else ENV_NAMES[field]

    method = _one_method(sf, where)
    name = (sf.authenticator or "").upper()
    if method in KEY_FIELDS:
        if name not in ("", KEY_PAIR):
            raise ConfigError(f"{where[method]} needs {KEY_PAIR}, but {where['authenticator']} is set")
        return KEY_PAIR
    if method == "token":  # a token with no other authenticator is a PAT
        return PROGRAMMATIC_ACCESS_TOKEN if name in ("", "SNOWFLAKE", KEY_PAIR) else sf.authenticator
    if method == "password":
        if name in (KEY_PAIR, PROGRAMMATIC_ACCESS_TOKEN):
            raise ConfigError(f"{where['authenticator']} is {name}, but {where['password']} is set")
        return sf.authenticator or "SNOWFLAKE"
    if name == KEY_PAIR:
        raise ConfigError(
            f"{where['authenticator']} is {KEY_PAIR} but no private key is set: set "
            f"{wanted('private_key_file')} or {wanted('private_key')}"
        )
    if name in ("OAUTH", PROGRAMMATIC_ACCESS_TOKEN):
        raise ConfigError(f"{where['authenticator']} is {name} but no token is set: set {wanted('token')}")
    if name in SELF_CONTAINED:
        return sf.authenticator
    if sf.emulator:
        return None
    methods = ", ".join(wanted(field) for field in METHOD_FIELDS)
    raise ConfigError(f"no Snowflake credentials: set one of {methods} (a key pair is recommended)")


def pem_bytes(sf: SnowflakeSettings, where: Mapping[str, str] = ENV_NAMES) -> bytes:
    """The PEM text of the configured key; a file that cannot be read names the setting and the path only."""
    if sf.private_key_file is not None:
        try:
            return sf.private_key_file.expanduser().read_bytes()
        except OSError as error:
            problem = f"cannot read {sf.private_key_file}: {error.strerror}"
            raise ConfigError(f"{where['private_key_file']}: {problem}") from None
    assert sf.private_key is not None
    text = sf.private_key.get_secret_value().strip()
    if "\n" not in text:  # one-line forms (CI secrets, .env files) carry the line breaks as `\n`
        text = text.replace("\\n", "\n")
    return text.encode()


def snowflake_credentials(
    sf: SnowflakeSettings, block: SnowflakeCredentials | None = None, where: Mapping[str, str] = ENV_NAMES
) -> SnowflakeCredentials:
    """A prefect-snowflake `SnowflakeCredentials` with `sf`'s names and sign-in, its key opened, on `block`'s other
    fields (endpoint, workload identity provider, autocommit, ...). `blocks` saves one; a run connects with one.

    Raises:
        ConfigError: two methods, or a key that cannot be read or opened, named by source (never quoted).
    """
    from prefect_snowflake import SnowflakeCredentials
    from prefect_snowflake.credentials import InvalidPemFormat

    method = _one_method(sf, where)
    values = {field: getattr(block, field) for field in block.model_fields_set - set(BLOCK_SIGN_IN)} if block else {}
    values.update(account=sf.account, user=sf.user, role=sf.role, token=sf.token, password=sf.password)
    if method in KEY_FIELDS:
        # The key as PEM bytes, never a path: a saved block then needs no key file on the workers.
        values.update(private_key=SecretBytes(pem_bytes(sf, where)), private_key_passphrase=sf.private_key_passphrase)
    named = (sf.authenticator or "").lower()
    if named in get_args(SnowflakeCredentials.model_fields["authenticator"].annotation):
        values["authenticator"] = named  # the others (a PAT) go on top of each connection
    elif method is None:
        values["authenticator"] = "snowflake"  # valid without a secret: a run then adds one (environment, secret)
    try:
        credentials = SnowflakeCredentials(**{field: value for field, value in values.items() if value is not None})
    except ValidationError as error:
        raise ConfigError(f"Snowflake credentials: {validation_summary(error, 'credentials')}") from None
    if method not in KEY_FIELDS:
        return credentials
    key, passphrase = where[method], where["private_key_passphrase"]
    # `from None` below: a parser's exception chain must never carry key material into a traceback.
    try:
        credentials.resolve_private_key()  # what each connection does: a key that cannot be opened fails here
    except TypeError:  # cryptography: encrypted without a passphrase, or a passphrase for a plain key
        needed = "is encrypted: set" if sf.private_key_passphrase is None else "is not encrypted: unset"
        raise ConfigError(f"{key} {needed} {passphrase}") from None
    except (ValueError, UnsupportedAlgorithm, InvalidPemFormat):
        opens = "no passphrase" if sf.private_key_passphrase is None else passphrase
        raise ConfigError(f"{key} is not a PEM private key that {opens} opens") from None
    return credentials
