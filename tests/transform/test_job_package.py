"""The job's package zip: deterministic, named by its content, and what the entry script really imports."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ecom_pipeline.settings import REPO_ROOT
from ecom_pipeline.transform.job_package import (
    JOB_PACKAGE,
    PACKAGE_ZIP_NAME,
    job_digest,
    package_zip,
    stage_job_files,
)


def test_the_zip_holds_every_module_of_the_package_in_order_and_nothing_else() -> None:
    archive = zipfile.ZipFile(io.BytesIO(package_zip()))
    names = archive.namelist()
    modules = sorted(path.relative_to(REPO_ROOT).as_posix() for path in JOB_PACKAGE.rglob("*.py"))
    assert names == [name for name in modules if "__pycache__" not in name]
    assert {"spark_jobs/__init__.py", "spark_jobs/orders/__init__.py", "spark_jobs/orders/job.py"} <= set(names)
    assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}  # no build time inside
    assert archive.read("spark_jobs/orders/job.py") == (JOB_PACKAGE / "orders" / "job.py").read_bytes()


def test_the_same_files_give_the_same_bytes_and_a_change_a_new_digest(tmp_path: Path) -> None:
    copy = tmp_path / "spark_jobs"
    shutil.copytree(JOB_PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "orders" / "__pycache__").mkdir(exist_ok=True)
    (copy / "orders" / "__pycache__" / "job.cpython-311.pyc").write_bytes(b"compiled")  # never shipped
    os.utime(copy / "orders" / "job.py", (0, 0))  # file times do not count either

    assert package_zip(copy) == package_zip()
    assert job_digest(copy, copy / "orders_job.py") == job_digest()
    with (copy / "orders" / "columns.py").open("a") as module:
        module.write("\n# a change\n")
    assert job_digest(copy, copy / "orders_job.py") != job_digest()


def test_staged_files_are_written_once_per_content(tmp_path: Path) -> None:
    first = stage_job_files(tmp_path / "staged")
    written_at = first.py_files[0].stat().st_mtime_ns
    again = stage_job_files(tmp_path / "staged")

    assert again == first and first.py_files[0].stat().st_mtime_ns == written_at
    assert (first.script.name, first.py_files[0].name) == ("orders_job.py", PACKAGE_ZIP_NAME)
    assert first.script.read_bytes() == (JOB_PACKAGE / "orders_job.py").read_bytes()
    assert first.py_files[0].read_bytes() == package_zip()
    assert first.script.parent.name == job_digest()[:16]
    assert sorted(path.name for path in first.script.parent.iterdir()) == ["orders_job.py", PACKAGE_ZIP_NAME]


def test_the_job_is_imported_from_the_zip_as_glue_and_spark_submit_put_it_on_the_path(tmp_path: Path) -> None:
    staged = stage_job_files(tmp_path / "staged")
    check = "import spark_jobs.orders.job as job; print(job.__file__); print(callable(job.run))"
    done = subprocess.run(
        [sys.executable, "-c", check],
        env={**os.environ, "PYTHONPATH": str(staged.py_files[0])},
        cwd=tmp_path,  # not the repository: the project's own copy must not be the one found
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{staged.py_files[0]}/spark_jobs/orders/job.py", "True"]
