"""Capture what every library logs at DEBUG, whatever levels earlier tests left on their loggers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def every_logger_at_debug(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """caplog at DEBUG, with every logger's own level cleared meanwhile (then restored).

    A leak test must see what botocore, urllib3 or the Snowflake connector log at DEBUG. A test that ran the CLI in
    this process has set those loggers to WARNING, and `caplog.at_level(DEBUG)` alone changes only the root.
    """
    loggers = [value for value in logging.root.manager.loggerDict.values() if isinstance(value, logging.Logger)]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    try:
        with caplog.at_level(logging.DEBUG):
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)
