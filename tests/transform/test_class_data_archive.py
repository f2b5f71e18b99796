"""The Spark JVM's class-data-sharing archive: written by a first successful run, then mapped by later runs."""

from __future__ import annotations

from pathlib import Path

from ecom_pipeline.settings import Settings
from ecom_pipeline.transform.job_contract import JobRequest
from ecom_pipeline.transform.local import ClassDataArchive, LocalSparkLauncher

JARS = [Path("/opt/jars/hadoop-aws-3.3.1.jar")]


def test_first_run_writes_a_pending_archive_that_success_commits(tmp_path: Path) -> None:
    first = ClassDataArchive(tmp_path, JARS)
    options = first.java_options()
    assert options[0] == f"-XX:ArchiveClassesAtExit={first.pending}"
    first.pending.write_bytes(b"archive")  # what the JVM does when it exits
    first.commit(succeeded=True)
    assert first.path.read_bytes() == b"archive" and not first.pending.exists()

    later = ClassDataArchive(tmp_path, JARS)
    assert later.java_options()[0] == f"-XX:SharedArchiveFile={first.path}"


def test_a_failed_run_leaves_no_archive(tmp_path: Path) -> None:
    archive = ClassDataArchive(tmp_path, JARS)
    archive.java_options()
    archive.pending.write_bytes(b"half")
    archive.commit(succeeded=False)
    assert list(tmp_path.iterdir()) == []


def test_other_jars_mean_another_archive(tmp_path: Path) -> None:
    other = ClassDataArchive(tmp_path, [*JARS, Path("/opt/jars/extra.jar")])
    assert other.path != ClassDataArchive(tmp_path, JARS).path


def test_launcher_passes_the_archive_and_gc_options_to_the_driver(tmp_path: Path) -> None:
    settings = Settings().updated(spark={"class_data_dir": tmp_path / "spark-cds"})
    launcher = LocalSparkLauncher(settings)
    command = launcher.command(JobRequest.from_settings(settings, "run-1"))
    options = next(item for item in command if item.startswith("spark.driver.extraJavaOptions="))
    assert "-XX:+UseParallelGC" in options and "-XX:ArchiveClassesAtExit=" in options
    assert launcher.archive is not None and launcher.archive.pending.parent == tmp_path / "spark-cds"

    disabled = LocalSparkLauncher(settings.updated(spark={"class_data_sharing": False}))
    disabled_options = next(
        item for item in disabled.command(JobRequest.from_settings(settings, "run-2")) if "extraJavaOptions" in item
    )
    assert "Archive" not in disabled_options and disabled.archive is None
