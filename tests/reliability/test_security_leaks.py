"""No sensitive source field and no secret reaches S3, the Spark output, the warehouse, the logs or the summary.

The haystack is everything the API-fault flow run left behind: every object of both buckets (raw parts
decompressed, Parquet decoded), every row of every warehouse table, every log line of this process and of the
flow run in the Prefect API, the emulator's own log, the summary (as JSON and as the console prints it) and the
run's artifacts, every file under the run's work dir; for the secrets also the Prefect API's database (flow
parameters, task inputs, states, events and logs as stored).

The run takes its Snowflake key pair from Secrets Manager (tests/reliability/reliability_support.py), and the
login-recording proxy shows that it signed in with exactly that key.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import prefect.settings
import pytest
from reliability_support import FaultyRun
from rich.console import Console
from sensitive_data import object_text, sensitive_values
from snowflake_login import verified_jwt_claims

from ecom_pipeline.summary import print_summary


@pytest.fixture(scope="module")
def haystacks(faulty_api_run: FaultyRun) -> dict[str, str]:
    """Place -> its text, for every place the run wrote to."""
    places = {f"s3://{key}": object_text(key, body) for key, body in faulty_api_run.objects.items()}
    for table, rows in faulty_api_run.warehouse_rows.items():
        places[f"warehouse {table}"] = json.dumps(rows, default=str, ensure_ascii=False)
    places["process logs"] = "\n".join(faulty_api_run.log_lines)
    places["Prefect API logs"] = "\n".join(faulty_api_run.api_log_lines)
    places["summary JSON"] = json.dumps(faulty_api_run.summary.model_dump(mode="json"), ensure_ascii=False)
    console = Console(file=io.StringIO(), width=120)
    print_summary(console, faulty_api_run.summary)
    places["summary console"] = console.file.getvalue()  # type: ignore[attr-defined]
    places["artifacts"] = "\n".join(str(artifact.data) for artifact in faulty_api_run.artifacts)
    for path in sorted(faulty_api_run.work_dir.rglob("*")):
        if path.is_file():
            places[f"work dir {path.relative_to(faulty_api_run.work_dir)}"] = path.read_bytes().decode("latin-1")
    return places


def prefect_database_text() -> str:
    """The Prefect API's SQLite database and its write-ahead log, as bytes read as text (JSON columns included)."""
    url = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value()
    database = Path(url.split(":///", 1)[1])
    files = [database, database.with_name(database.name + "-wal")]
    return "".join(path.read_bytes().decode("latin-1") for path in files if path.is_file())


def test_the_search_reaches_every_place_and_decodes_it(haystacks: dict[str, str], dummyjson_dir: Path) -> None:
    first_user = json.loads((dummyjson_dir / "users.json").read_text())["users"][0]
    allowed = first_user["email"]  # kept on purpose: if the search cannot find this, it cannot find a leak
    assert any(place.endswith(".jsonl.gz") and allowed in text for place, text in haystacks.items())
    assert any(place.endswith(".parquet") and allowed in text for place, text in haystacks.items())
    assert allowed in haystacks["warehouse ORDERS"]
    assert len(haystacks["process logs"]) > 1000 and len(haystacks["Prefect API logs"]) > 100


def test_no_sensitive_source_value_is_stored_or_logged(haystacks: dict[str, str], dummyjson_dir: Path) -> None:
    values = sensitive_values(dummyjson_dir)
    assert len(values) > 1000  # every user contributes several
    leaks = [
        f"{origin} in {place}" for place, text in haystacks.items() for value, origin in values.items() if value in text
    ]
    assert leaks == [], "\n".join(leaks)


def test_secrets_are_used_but_never_shown(haystacks: dict[str, str], faulty_api_run: FaultyRun) -> None:
    assert faulty_api_run.secrets_in_use  # the run really read them (the environment, Secrets Manager)
    assert faulty_api_run.state.is_completed()  # ...and connected with them
    assert any(place.startswith("work dir ") for place in haystacks)
    places = {**haystacks, "settings": faulty_api_run.settings_text, "Prefect database": prefect_database_text()}
    assert faulty_api_run.summary.run_id in places["Prefect database"]  # the search reaches the run's records
    leaks = [
        f"secret #{number} in {place}"
        for number, secret in enumerate(faulty_api_run.secret_values)
        for place, text in places.items()
        if secret in text
    ]
    assert leaks == [], "\n".join(leaks)
    assert "**********" in faulty_api_run.settings_text  # masked, not missing


def test_the_run_signed_in_with_the_key_from_secrets_manager(faulty_api_run: FaultyRun) -> None:
    assert faulty_api_run.logins  # every connection of the run went through the recording proxy
    for login in faulty_api_run.logins:
        claims = verified_jwt_claims(login, faulty_api_run.key_pair.public_key)  # signed with that key, or raises
        assert claims["sub"] == "LOCAL.ECOM"
        assert not login.get("PASSWORD")
