"""How the orders job travels: its entry script plus a zip of the `spark_jobs` package beside it.

Glue runs the entry script from the job's ScriptLocation and puts the `--extra-py-files` zips on the Python path
before it starts (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html);
spark-submit does the same with `--py-files`, locally and in the Glue 4 container. The zip is built
deterministically (sorted names, fixed timestamps and modes, stored uncompressed), so its bytes depend on the
package's files alone: their digest names the staged copies (a cache by content) and is the code's part of the
transform's skip-if-unchanged fingerprint.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ecom_pipeline.settings import REPO_ROOT

JOB_PACKAGE = REPO_ROOT / "spark_jobs"
JOB_SCRIPT = JOB_PACKAGE / "orders_job.py"
# The zip's file name wherever it goes: the work dir, the compose jobs volume, beside the script on S3.
PACKAGE_ZIP_NAME = "spark_jobs.zip"
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record: no build time in the bytes
_FILE_MODE = 0o644 << 16


@dataclass(frozen=True)
class JobFiles:
    """What spark-submit is given: the entry script and the files for `--py-files`."""

    script: Path
    py_files: tuple[Path, ...]


def package_sources(package: Path = JOB_PACKAGE) -> list[tuple[str, Path]]:
    """(name inside the zip, file) for every module of `package`, sorted: `spark_jobs/orders/job.py`, ..."""
    modules = [path for path in package.rglob("*.py") if "__pycache__" not in path.parts]
    return sorted((path.relative_to(package.parent).as_posix(), path) for path in modules)


def package_zip(package: Path = JOB_PACKAGE) -> bytes:
    """The package as zip bytes, the same bytes for the same files on any machine."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in package_sources(package):
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
            entry.external_attr = _FILE_MODE
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def job_digest(package: Path = JOB_PACKAGE, script: Path = JOB_SCRIPT) -> str:
    """sha256 of what a run ships: the package zip and the entry script."""
    return _digest(package_zip(package), script.read_bytes())


def _digest(archive: bytes, entry_script: bytes) -> str:
    return hashlib.sha256(archive + b"\0" + entry_script).hexdigest()


def stage_job_files(folder: Path, package: Path = JOB_PACKAGE, script: Path = JOB_SCRIPT) -> JobFiles:
    """The entry script and the package zip under `folder/<digest>/`, written once per content.

    Each file is written under a temporary name and renamed into place, so concurrent runs (or one killed half-way)
    never leave a partial file behind the final name.
    """
    archive = package_zip(package)
    entry_script = script.read_bytes()
    target = folder / _digest(archive, entry_script)[:16]
    staged = JobFiles(script=target / script.name, py_files=(target / PACKAGE_ZIP_NAME,))
    for path, content in ((staged.script, entry_script), (staged.py_files[0], archive)):
        if not path.is_file():
            target.mkdir(parents=True, exist_ok=True)
            pending = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            pending.write_bytes(content)
            os.replace(pending, path)
    return staged
