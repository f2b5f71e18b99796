"""docs/scaling.md's benchmark block: every command parses, and its CI size is the smoke test's command.

Running the block itself means the 1M benchmark (minutes, gigabytes); tests/bench/test_bench_smoke.py runs the
CI-size line. This test holds the block to both.
"""

from __future__ import annotations

import re
import shlex

import pytest
from doc_blocks import REPO_ROOT, doc_block

import bench.__main__ as bench_cli

SMOKE_TEST = REPO_ROOT / "tests" / "bench" / "test_bench_smoke.py"
BENCH = ["uv", "run", "python", "-m", "bench"]


class Parsed(Exception):
    """Raised instead of running the first size: the command line was accepted."""


def bench_commands() -> list[list[str]]:
    """The bench arguments of each line of the block."""
    text = doc_block("docs/scaling.md", "bench-commands").text
    lines = [shlex.split(line, comments=True) for line in text.splitlines()]
    assert all(argv[:5] == BENCH for argv in lines if argv), lines
    return [argv[5:] for argv in lines if argv]


def smoke_test_arguments() -> list[str]:
    """The arguments tests/bench/test_bench_smoke.py gives `python -m bench` (before its own --out, --work-dir)."""
    match = re.search(r'command = \[sys\.executable, "-m", "bench", (.*?)\]', SMOKE_TEST.read_text())
    assert match, "test_bench_smoke.py no longer builds `command` as expected"
    return re.findall(r'"([^"]*)"', match.group(1))


def parse(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Run `python -m bench`'s main up to its first size; return that size in cart lines."""

    def first_size(cart_lines: int, *_args: object) -> None:
        raise Parsed(cart_lines)

    monkeypatch.setattr(bench_cli, "bench_size", first_size)
    with pytest.raises(Parsed) as parsed:
        bench_cli.main(arguments)
    return parsed.value.args[0]


@pytest.mark.parametrize("arguments", bench_commands(), ids=" ".join)
def test_every_bench_command_in_the_doc_parses(arguments: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse(arguments, monkeypatch) == 10_000  # sizes run smallest first


def test_the_ci_size_line_is_the_smoke_tests_command() -> None:
    assert smoke_test_arguments() in bench_commands()


def test_a_misspelt_option_would_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse(["--sizes", "10k", "--repeats", "1"], monkeypatch)
    assert stopped.value.code == 2
