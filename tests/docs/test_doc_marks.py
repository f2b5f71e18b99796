"""Every shell block in the docs is either run by a test or marked as needing what this machine lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from doc_blocks import DOC_FILES, KNOWN_NEEDS, REPO_ROOT, DocBlock, shell_blocks

TESTS_DIR = REPO_ROOT / "tests"
ALL_BLOCKS = [block for path in DOC_FILES for block in shell_blocks(path)]


def _test_sources() -> str:
    own = {Path(__file__).resolve(), (TESTS_DIR / "doc_blocks.py").resolve()}
    return "\n".join(p.read_text(encoding="utf-8") for p in TESTS_DIR.rglob("*.py") if p.resolve() not in own)


def test_the_docs_have_shell_blocks() -> None:
    assert len(ALL_BLOCKS) >= 10, [block.where for block in ALL_BLOCKS]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda block: block.where)
def test_every_shell_block_is_run_or_marked_as_needing_an_account(block: DocBlock) -> None:
    assert bool(block.test_id) != bool(block.needs), (
        f"{block.where}: mark the block with `<!-- doc-test: <id> -->` before its fence (and run it in a test) "
        f"or with `# needs: aws|snowflake|prefect-cloud` as its first line, not both or neither"
    )
    unknown = set(block.needs) - KNOWN_NEEDS
    assert not unknown, f"{block.where}: unknown needs {sorted(unknown)}; known: {sorted(KNOWN_NEEDS)}"


def test_every_doc_test_id_is_unique_and_named_by_a_test() -> None:
    ids = [(block.path.name, block.test_id) for block in ALL_BLOCKS if block.test_id]
    assert len(ids) == len(set(ids)), f"a doc-test id is used twice in one file: {ids}"
    sources = _test_sources()
    unrun = [f"{name}: {test_id}" for name, test_id in ids if f'"{test_id}"' not in sources]
    assert not unrun, f"doc blocks that no test runs (name the id in a test): {unrun}"
