"""Per-date reuse markers of the transform (transform/incremental.py) against the S3 emulator.

The Spark job is played by `JobStandIn`, a launcher that returns the summary a job of that date would write and
notes which markers were still there when it started, i.e. before it could rewrite a partition. The real job behind
the same markers is in tests/flows/test_reprocess.py (a second reprocess of two dates reuses both).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from run_results import job_summary

from ecom_local.emulators.s3 import S3Emulator
from ecom_pipeline.land.raw_zone import manifest_key
from ecom_pipeline.settings import RESOURCES, Settings, load_settings
from ecom_pipeline.transform.incremental import marker_key, transform_unless_unchanged
from ecom_pipeline.transform.job_contract import JobRequest, JobSummary
from ecom_pipeline.transform.partitions import unknown_job_key

A, B, C, E = date(2026, 6, 14), date(2026, 6, 15), date(2026, 6, 16), date(2026, 6, 17)


class JobKilled(Exception):
    """The job's process died: nothing after it in the transform runs."""


@dataclass
class JobStandIn:
    """Plays the orders job: each date writes its fixed `order_date` partitions (they follow from its raw data)."""

    s3: Any
    settings: Settings
    partitions: dict[date, list[str]]
    killed: set[date] = field(default_factory=set)
    runs: list[date] = field(default_factory=list)
    cost_ratios: list[Decimal] = field(default_factory=list)
    markers_at_start: dict[date, list[str]] = field(default_factory=dict)
    note_at_start: dict[date, bool] = field(default_factory=dict)

    def run(self, request: JobRequest) -> JobSummary:
        day = request.ingest_date
        self.runs.append(day)
        self.cost_ratios.append(request.cost_ratio)
        self.markers_at_start[day] = marker_dates(self.s3, self.settings)
        note = unknown_job_key(self.settings)
        self.note_at_start[day] = listed(self.s3, self.settings.storage.raw_bucket, note) == [note]
        if day in self.killed:
            raise JobKilled(f"job of {day} killed while writing {self.partitions[day]}")
        return job_summary(
            run_id=request.run_id,
            ingest_date=day.isoformat(),
            partitions_written=sorted(self.partitions[day]),
            rows_written=10 * len(self.partitions[day]),
        )


def listed(s3: Any, bucket: str, prefix: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def marker_dates(s3: Any, settings: Settings) -> list[str]:
    """The dates with a marker, from the keys in the curated bucket."""
    keys = listed(s3, settings.storage.curated_bucket, "job-summaries/")
    return sorted(key.removeprefix("job-summaries/latest/ingest_date=").removesuffix(".json") for key in keys)


@pytest.fixture
def settings(s3_emulator: S3Emulator, s3_buckets: dict[str, str]) -> Settings:
    settings = load_settings(run_date=A).updated(
        storage={
            "raw_bucket": s3_buckets["raw"],
            "curated_bucket": s3_buckets["curated"],
            "aws_endpoint_url": s3_emulator.endpoint_url,
        }
    )
    for day in (A, B, C, E):  # each date's raw data, as landing commits it
        for resource in RESOURCES:
            body = json.dumps({"resource": resource, "content_sha256": f"{resource}-{day}"})
            s3_emulator.client().put_object(
                Bucket=s3_buckets["raw"], Key=manifest_key(settings.storage, resource, day), Body=body
            )
    return settings


def transform(settings: Settings, job: JobStandIn, day: date, **top: Any) -> JobSummary:
    dated = settings.updated(top={"run_date": day, **top})
    return transform_unless_unchanged(dated, f"run-{day}-{len(job.runs)}", launcher=job, s3_client=job.s3)


def test_each_unchanged_date_is_reused_and_a_changed_one_runs_again(settings, s3_emulator) -> None:
    s3 = s3_emulator.client()
    job = JobStandIn(s3, settings, {A: ["2026-06-14"], B: ["2026-06-15", "2026-06-02"]})
    first = {day: transform(settings, job, day) for day in (A, B)}
    again = {day: transform(settings, job, day) for day in (A, B)}

    assert job.runs == [A, B]  # the second pass ran no job: each date kept its own marker
    assert [again[day].reused for day in (A, B)] == [True, True]
    assert again[A].run_id == first[A].run_id == f"run-{A}-0"
    assert again[B].partitions_written == ["2026-06-02", "2026-06-15"]
    assert listed(s3, settings.storage.curated_bucket, "job-summaries/") == [
        "job-summaries/latest/ingest_date=2026-06-14.json",
        "job-summaries/latest/ingest_date=2026-06-15.json",
    ]
    assert marker_key(settings.storage, B) == "job-summaries/latest/ingest_date=2026-06-15.json"

    changed = transform(settings, job, A, cost_ratio=Decimal("0.5"))
    assert changed.reused is False and job.cost_ratios[-1] == Decimal("0.5") and job.runs == [A, B, A]
    assert job.markers_at_start[A] == ["2026-06-15"]  # its own marker went before its job started
    assert transform(settings, job, B).reused is True  # B shares no partition with A


def test_a_job_sharing_a_partition_drops_the_other_dates_marker(settings, s3_emulator) -> None:
    s3 = s3_emulator.client()
    partitions = {A: ["2026-06-10", "2026-06-14"], B: ["2026-06-14", "2026-06-15"], C: ["2026-06-16"]}
    job = JobStandIn(s3, settings, partitions)
    for day in (A, C, B):  # B's first job: partitions unknown before it, so its markers are settled after it
        transform(settings, job, day)
    assert job.markers_at_start[B] == ["2026-06-14", "2026-06-16"]
    assert marker_dates(s3, settings) == ["2026-06-15", "2026-06-16"]  # B rewrote 06-14: A's output is gone

    # A's partitions are recorded now: B's marker goes before A's job starts, C's stays.
    assert transform(settings, job, A).reused is False
    assert job.markers_at_start[A] == ["2026-06-16"]
    assert marker_dates(s3, settings) == ["2026-06-14", "2026-06-16"]
    assert transform(settings, job, C).reused is True
    assert transform(settings, job, B).reused is False  # A rewrote 06-14 since B's job: B runs again
    assert job.runs == [A, C, B, A, B]


def test_a_killed_job_of_known_partitions_leaves_no_marker_over_them(settings, s3_emulator) -> None:
    s3 = s3_emulator.client()
    job = JobStandIn(s3, settings, {A: ["2026-06-14"], B: ["2026-06-14", "2026-06-15"], C: ["2026-06-16"]})
    for day in (A, B, C):
        transform(settings, job, day)
    assert marker_dates(s3, settings) == ["2026-06-15", "2026-06-16"]

    job.killed = {A}  # A's partitions are known: B's marker must be gone before A's job writes 06-14
    with pytest.raises(JobKilled):
        transform(settings, job, A, cost_ratio=Decimal("0.5"))
    assert job.markers_at_start[A] == ["2026-06-16"]
    assert marker_dates(s3, settings) == ["2026-06-16"]
    assert listed(s3, settings.storage.raw_bucket, unknown_job_key(settings)) == []  # no note: partitions known

    job.killed = set()
    assert [transform(settings, job, day).reused for day in (B, C)] == [False, True]


def test_a_killed_job_of_unknown_partitions_leaves_no_marker_to_trust(settings, s3_emulator, caplog) -> None:
    s3 = s3_emulator.client()
    job = JobStandIn(s3, settings, {A: ["2026-06-14"], C: ["2026-06-16"], E: ["2026-06-14", "2026-06-16"]})
    for day in (A, C):
        transform(settings, job, day)
    job.killed = {E}  # E's first job: it may write any partition, so it keeps a note while it runs
    with pytest.raises(JobKilled):
        transform(settings, job, E)
    assert job.note_at_start[E] is True
    assert marker_dates(s3, settings) == ["2026-06-14", "2026-06-16"]  # still there, but the note outweighs them
    assert listed(s3, settings.storage.raw_bucket, unknown_job_key(settings)) == [unknown_job_key(settings)]

    job.killed = set()
    with caplog.at_level(logging.WARNING, logger="ecom_pipeline.transform.incremental"):
        rerun_c = transform(settings, job, C)
    assert rerun_c.reused is False and job.markers_at_start[C] == []
    assert f"the job of {E} (run run-{E}-2), whose partitions were unknown, did not finish" in caplog.text
    assert listed(s3, settings.storage.raw_bucket, unknown_job_key(settings)) == []  # cleared with the markers
    assert transform(settings, job, A).reused is False
    assert [transform(settings, job, day).reused for day in (A, C)] == [True, True]


def test_a_finished_job_of_unknown_partitions_takes_its_note_away(settings, s3_emulator) -> None:
    s3 = s3_emulator.client()
    job = JobStandIn(s3, settings, {A: ["2026-06-14"], C: ["2026-06-16"]})
    transform(settings, job, A)
    transform(settings, job, C)
    assert job.note_at_start == {A: True, C: True}
    assert listed(s3, settings.storage.raw_bucket, unknown_job_key(settings)) == []
    assert marker_dates(s3, settings) == ["2026-06-14", "2026-06-16"]  # disjoint: C's job dropped nothing
