"""The emulator launcher: its own process on a free loopback port, stopped cleanly."""

from __future__ import annotations

import socket

import snowflake.connector

from ecom_local.emulators.fakesnow_server import FakesnowEmulator


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_emulator_serves_the_connector_then_stops() -> None:
    emulator = FakesnowEmulator()
    host, port = emulator.start()
    try:
        assert emulator.start() == (host, port)  # idempotent
        connection = snowflake.connector.connect(
            account="local", user="u", password="p", host=host, port=port, protocol="http",
            database="PING", schema="S", network_timeout=30,
        )  # fmt: skip
        with connection, connection.cursor() as cursor:
            cursor.execute("create table t (x number(12, 2))")
            cursor.execute("insert into t values (1.10), (2.25)")
            cursor.execute("select sum(x) from t")
            assert cursor.fetchone()[0] == 3.35
    finally:
        emulator.stop()
    assert not _accepts(port)
    emulator.stop()  # safe twice
