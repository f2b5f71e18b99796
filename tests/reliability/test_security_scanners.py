"""CI's secret scanner (detect-secrets with the audited `.secrets.baseline`) and security linter (bandit with
`bandit.yaml`), run through pytest: each passes on the repository and fails on a finding planted in tmp_path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BASELINE = REPO_ROOT / ".secrets.baseline"
BANDIT_CONFIG = REPO_ROOT / "bandit.yaml"
SHIPPED_CODE = ("ecom_pipeline", "ecom_cli", "ecom_local", "flows", "spark_jobs", "docker")


def tool(name: str) -> str:
    """The tool's executable in this virtualenv."""
    path = Path(sys.executable).parent / name
    assert path.is_file(), f"{name} is not installed in {path.parent} (uv sync installs the dev group)"
    return str(path)


def repository_files() -> list[str]:
    """Tracked files plus new ones not ignored by .gitignore: what the next commit can contain."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return [name for name in listed if (REPO_ROOT / name).is_file()]


def detect_secrets(baseline: Path, *files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("detect-secrets-hook"), "--baseline", str(baseline), *files],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def bandit(*targets: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("bandit"), "-c", str(BANDIT_CONFIG), "-q", "-r", *map(str, targets)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_baseline_is_audited(tmp_path: Path) -> None:
    import json

    results = json.loads(BASELINE.read_text())["results"]
    findings = [item for items in results.values() for item in items]
    assert findings and all(item.get("is_secret") is False for item in findings)


def test_detect_secrets_finds_nothing_beyond_the_audited_baseline(tmp_path: Path) -> None:
    baseline = shutil.copy(BASELINE, tmp_path / "baseline.json")  # the hook rewrites line numbers in place
    result = detect_secrets(Path(baseline), *repository_files())
    assert result.returncode == 0, result.stdout + result.stderr


def test_detect_secrets_fails_on_a_planted_secret(tmp_path: Path) -> None:
    baseline = shutil.copy(BASELINE, tmp_path / "baseline.json")
    planted = tmp_path / "settings_local.py"
    # Assembled at run time so that this test file itself holds no secret-shaped literal.
    access_key = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    private_key = "-----BEGIN " + "RSA PRIVATE KEY-----"
    planted.write_text(f'AWS_ACCESS_KEY_ID = "{access_key}"\nKEY = """{private_key}\nMIIEow"""\n')
    result = detect_secrets(Path(baseline), str(planted))
    assert result.returncode != 0
    assert "AWS Access Key" in result.stdout and "Private Key" in result.stdout


def test_bandit_passes_on_the_shipped_code() -> None:
    result = bandit(*SHIPPED_CODE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_bandit_fails_on_planted_findings(tmp_path: Path) -> None:
    planted = tmp_path / "planted" / "unsafe.py"
    planted.parent.mkdir()
    planted.write_text(
        "import subprocess\n"
        "import yaml\n\n"
        "def run(command: str, text: str) -> object:\n"
        "    subprocess.call(command, shell=True)\n"
        "    return yaml.load(text)\n\n"
        + "DB_PASS"
        + 'WORD = "hunter2"\n'  # split so that detect-secrets does not flag this file
    )
    result = bandit(planted.parent)
    assert result.returncode != 0
    for check in ("B602", "B506", "B105"):
        assert check in result.stdout, result.stdout
