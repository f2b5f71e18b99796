"""Each offline linter passes on our file and fails on a deliberately broken copy of it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from infra_paths import COMPOSE_FILE, DOCKERFILE, HADOLINT_CONFIG, REPO_ROOT, TEMPLATE, YAMLLINT_CONFIG

RunTool = Callable[..., subprocess.CompletedProcess[str]]


def broken_copy(source: Path, tmp_path: Path, old: str, new: str) -> Path:
    """Copy `source` into tmp_path with one substitution, which must apply exactly once."""
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {source.name}"
    target = tmp_path / source.name
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


def hadolint(run_tool: RunTool, dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("hadolint", "--config", HADOLINT_CONFIG, "--failure-threshold", "warning", dockerfile)


def compose_schema(run_tool: RunTool, compose_file: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", compose_file)


def yamllint(run_tool: RunTool, *files: Path) -> subprocess.CompletedProcess[str]:
    return run_tool("yamllint", "--strict", "--config-file", YAMLLINT_CONFIG, *files)


def test_hadolint_passes_on_the_dockerfile(run_tool: RunTool) -> None:
    result = hadolint(run_tool, DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("FROM base AS runtime", "FROM python:latest AS runtime", "DL3007"),
        ('"uv==${UV_VERSION}"', "uv", "DL3013"),
        ("COPY --from=builder /app /app\nUSER 10000:10000", "COPY --from=builder /app /app\nUSER root", "DL3002"),
    ],
    ids=["latest-base-image", "unpinned-pip-install", "root-user"],
)
def test_hadolint_fails_on_a_broken_dockerfile(
    run_tool: RunTool, tmp_path: Path, old: str, new: str, rule: str
) -> None:
    result = hadolint(run_tool, broken_copy(DOCKERFILE, tmp_path, old, new))
    assert result.returncode != 0
    assert rule in result.stdout


def test_compose_file_matches_the_compose_spec(run_tool: RunTool) -> None:
    result = compose_schema(run_tool, COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "out-dir:\n        condition: service_completed_successfully",
            "out-dir:\n        condition: service_finished",
        ),
        ('    restart: "no"\n    volumes:\n      - jobs:/jobs', '    restart: "no"\n    volumez:\n      - jobs:/jobs'),
    ],
    ids=["unknown-depends-on-condition", "misspelt-service-key"],
)
def test_compose_schema_rejects_a_broken_file(run_tool: RunTool, tmp_path: Path, old: str, new: str) -> None:
    result = compose_schema(run_tool, broken_copy(COMPOSE_FILE, tmp_path, old, new))
    assert result.returncode != 0
    assert "validation errors" in (result.stdout + result.stderr)


@pytest.fixture(scope="module")
def cfn_lint_runs(run_tool: RunTool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One cfn-lint start (about 5 s) for both files: our template and a broken copy; output per file."""
    # Two faults in the copy: an unknown property and a Ref to a resource that does not exist.
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace('      GlueVersion: "4.0"', '      GlueVersionn: "4.0"', 1)
    text = text.replace("Bucket: !Ref CuratedBucket", "Bucket: !Ref CuratedBuckett", 1)
    broken = tmp_path_factory.mktemp("cfn") / "broken.yaml"
    broken.write_text(text, encoding="utf-8")
    result = run_tool("cfn-lint", "--format", "parseable", TEMPLATE, broken)
    lines = result.stdout.splitlines()
    assert result.returncode != 0, "cfn-lint should fail because of the broken copy"
    return {
        "ours": "\n".join(line for line in lines if line.startswith(str(TEMPLATE))),
        "broken": "\n".join(line for line in lines if line.startswith(str(broken))),
        "all": result.stdout + result.stderr,
    }


def test_cfn_lint_passes_on_the_template(cfn_lint_runs: dict[str, str]) -> None:
    assert cfn_lint_runs["ours"] == "", cfn_lint_runs["all"]


def test_cfn_lint_fails_on_a_broken_template(cfn_lint_runs: dict[str, str]) -> None:
    assert "GlueVersionn" in cfn_lint_runs["broken"]
    assert "CuratedBuckett" in cfn_lint_runs["broken"]


def test_yamllint_passes_on_our_yaml(run_tool: RunTool) -> None:
    result = yamllint(run_tool, COMPOSE_FILE, TEMPLATE, YAMLLINT_CONFIG, HADOLINT_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_fails_on_broken_yaml(run_tool: RunTool, tmp_path: Path) -> None:
    broken = broken_copy(COMPOSE_FILE, tmp_path, "  prefect-data:\n", "  prefect-data:\n  prefect-data:\n")
    result = yamllint(run_tool, broken)
    assert result.returncode != 0
    assert "key-duplicates" in result.stdout


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.fullmatch(regex, candidate) is not None

    parts = path.split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        cleaned = pattern.removeprefix("!").strip("/")
        if any(matches(cleaned, candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def test_dockerignore_admits_the_project_and_keeps_out_local_state() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    packages = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]
    needed = [f"{package}/__init__.py" for package in packages["wheel"]["packages"]]
    needed += ["pyproject.toml", "uv.lock", "README.md", "sql/setup/01_snowflake_setup.sql", "prefect.yaml"]
    for path in needed:
        assert not dockerignore_excludes(patterns, path), f"{path} must reach the image"
    for path in (
        ".env",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        ".ecom/state.json",
        "ecom_pipeline/__pycache__/cli.cpython-311.pyc",
        "docs/aws.md",
    ):
        assert dockerignore_excludes(patterns, path), f"{path} must stay out of the build context"
