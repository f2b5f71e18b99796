"""sqlfluff (Snowflake dialect, jinja templater, the repository's .sqlfluff) accepts sql/ and rejects broken SQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ecom_pipeline.settings import REPO_ROOT


def _lint(*paths: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sqlfluff", "lint", *map(str, paths), "--dialect", "snowflake"]
    command += ["--config", str(REPO_ROOT / ".sqlfluff"), "--disable-progress-bar"]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def test_sql_directory_passes_sqlfluff() -> None:
    result = _lint("sql/")
    assert result.returncode == 0, result.stdout + result.stderr


BROKEN_SQL: dict[str, tuple[str, str]] = {
    "syntax": ("selec order_id frm {{ database }}.{{ schema }}.orders;\n", "PRS"),
    "uppercase": ("SELECT category, COUNT(*) AS orders FROM {{ database }}.{{ schema }}.orders;\n", "CP01"),
    "group_by_1": (
        "select\n    category,\n    count(order_id) as orders\nfrom ecom.analytics.orders\ngroup by 1;\n",
        "AM06",
    ),
    # The templater resolves imports under sql/ as our renderer does, and a macro used without one fails.
    "no_import": ("select {{ money('sum(revenue)') }} as revenue from {{ database }}.{{ schema }}.orders;\n", "TMP"),
}


def test_broken_sql_fails_sqlfluff(tmp_path: Path) -> None:
    for name, (sql, _rule) in BROKEN_SQL.items():
        (tmp_path / f"{name}.sql").write_text(sql)
    result = _lint(tmp_path)  # one sqlfluff process for all the files
    assert result.returncode != 0
    reports = result.stdout.split("== [")
    for name, (_sql, rule) in BROKEN_SQL.items():
        [report] = [chunk for chunk in reports if chunk.split("]")[0].endswith(f"{name}.sql")]
        assert "FAIL" in report and rule in report, result.stdout
