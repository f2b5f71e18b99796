"""The S3 emulator's conditional writes are atomic, as S3's are: of many takers of one key, exactly one wins.

moto checks `If-None-Match: *` and then writes, on parallel threads; a delay in its write widens that gap so that,
without `make_conditional_writes_atomic`, several takers see no object and all write.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from ecom_local.emulators.s3 import S3Emulator

TAKERS = 8


def winners(s3_emulator: S3Emulator, bucket: str, key: str) -> int:
    clients = [s3_emulator.client() for _ in range(TAKERS)]
    start = threading.Barrier(TAKERS)

    def take(client: Any) -> bool:
        start.wait()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"mine", IfNoneMatch="*")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "PreconditionFailed"
            return False
        return True

    with ThreadPoolExecutor(TAKERS) as pool:
        return sum(pool.map(take, clients))


@pytest.fixture
def slow_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    write = S3Backend.put_object

    def slow_write(self: S3Backend, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(S3Backend, "put_object", slow_write)


def test_of_many_conditional_takers_exactly_one_wins(
    s3_emulator: S3Emulator, s3_buckets: dict[str, str], slow_writes: None
) -> None:
    assert [winners(s3_emulator, s3_buckets["raw"], f"locks/race-{round_}.lock") for round_ in range(3)] == [1, 1, 1]


def test_without_the_lock_the_emulator_lets_several_win(
    s3_emulator: S3Emulator, s3_buckets: dict[str, str], slow_writes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: moto's own handler, unwrapped, lets the delayed takers through together."""
    monkeypatch.setattr(S3Response, "put_object", S3Response.put_object.__wrapped__)
    assert winners(s3_emulator, s3_buckets["raw"], "locks/unguarded.lock") > 1
