"""`gen segments store`: idempotent upserts, removals, dry run, audit log and failures.

Every test that takes ``mongo_db`` runs against mongomock, or against the real server
named by ``MONGODB_URI`` when it is set (see tests/store_fixtures.py); the unreachable-server
tests always use a real pymongo client against a closed port.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pymongo.database import Database
from pymongo.errors import OperationFailure

from generator.cli import cli
from generator.errors import ConfigError, StoreError
from generator.model import Workspace
from generator.segments import Segments, read_segments
from generator.store import (
    RUNS_COLLECTION,
    SEGMENTS_COLLECTION,
    StoreSettings,
    connect,
    describe_failure,
    sync,
)

from .test_cli import assert_one_line_error, run_gen

pytest_plugins = ["tests.store_fixtures"]  # the MongoDB backend: only where it is used

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def clock(start: datetime = T0) -> Callable[[], datetime]:
    """A clock that moves one minute per call, so every write time is distinct."""
    ticks: Iterator[datetime] = (start + timedelta(minutes=n) for n in range(10_000))
    return lambda: next(ticks)


def segments_of(workspace: Workspace) -> Segments:
    return read_segments(workspace, "Process Segments")


def stored(db: Database) -> dict[str, dict]:
    return {doc["_id"]: doc for doc in db[SEGMENTS_COLLECTION].find()}


def entity(workspace: Workspace, name: str):
    db = workspace.database("ProcessSegments")
    return next(e for e in db.entities if e.name == name)


def without(workspace: Workspace, name: str) -> Workspace:
    copy = workspace.deep_copy()
    db = copy.database("ProcessSegments")
    db.entities = [e for e in db.entities if e.name != name]
    return copy


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- storing


def test_first_store_inserts_every_segment_with_its_metadata(mongo_db: Database, demo: Workspace) -> None:
    result = sync(mongo_db, lambda: segments_of(demo), now=clock())
    assert (result.inserted, result.updated, result.unchanged, result.removed) == (8, 0, 0, 0)
    assert result.summary() == "inserted 8 / updated 0 / unchanged 0 / removed 0"
    docs = stored(mongo_db)
    potting = docs[entity(demo, "Potting").id]
    assert potting["public_id"] == "2" and potting["name"] == "Potting"
    assert potting["fields"]["predecessor"] == {"id": entity(demo, "Propagation").id, "name": "Propagation"}
    assert potting["fields"]["equipment"][0]["name"] == "Potting Machine PM-2"
    assert potting["fields"]["description"]["markdown"].startswith("Rooted young plants")
    assert potting["fibery_modified_at"] == datetime(2026, 3, 2, 9, 15)
    assert potting["source"] == {"fibery_url": demo.fibery_url, "space": demo.space, "database": "Process Segments"}
    assert potting["first_seen_at"] == potting["updated_at"] and potting["removed_at"] is None


def test_rerun_without_changes_modifies_nothing(mongo_db: Database, demo: Workspace) -> None:
    sync(mongo_db, lambda: segments_of(demo), now=clock())
    before = stored(mongo_db)
    result = sync(mongo_db, lambda: segments_of(demo), now=clock(T0 + timedelta(days=1)))
    assert result.summary() == "inserted 0 / updated 0 / unchanged 8 / removed 0"
    assert result.changes == []
    assert stored(mongo_db) == before


def test_a_changed_segment_is_updated_alone(mongo_db: Database, demo: Workspace) -> None:
    sync(mongo_db, lambda: segments_of(demo), now=clock())
    before = stored(mongo_db)
    spacing = entity(demo, "Spacing")
    spacing.values["duration"] = 5
    result = sync(mongo_db, lambda: segments_of(demo), now=clock(T0 + timedelta(days=1)))
    assert result.summary() == "inserted 0 / updated 1 / unchanged 7 / removed 0"
    assert result.changes[0].changed == ("fields.duration",)
    after = stored(mongo_db)
    assert after[spacing.id]["fields"]["duration"] == 5
    assert after[spacing.id]["updated_at"] > before[spacing.id]["updated_at"]
    assert after[spacing.id]["first_seen_at"] == before[spacing.id]["first_seen_at"]
    assert {k: v for k, v in after.items() if k != spacing.id} == {k: v for k, v in before.items() if k != spacing.id}


def test_a_removed_segment_is_marked_then_unmarked_when_it_returns(mongo_db: Database, demo: Workspace) -> None:
    dispatch = entity(demo, "Dispatch")
    sync(mongo_db, lambda: segments_of(demo), now=clock())

    gone = sync(mongo_db, lambda: segments_of(without(demo, "Dispatch")), now=clock(T0 + timedelta(days=1)))
    assert gone.summary() == "inserted 0 / updated 0 / unchanged 7 / removed 1"
    marked = stored(mongo_db)[dispatch.id]
    assert marked["removed_at"] == datetime(2026, 4, 2, 8, 1) and marked["name"] == "Dispatch"

    still_gone = sync(mongo_db, lambda: segments_of(without(demo, "Dispatch")), now=clock(T0 + timedelta(days=2)))
    assert still_gone.summary() == "inserted 0 / updated 0 / unchanged 7 / removed 0"
    assert stored(mongo_db)[dispatch.id]["removed_at"] == marked["removed_at"]

    back = sync(mongo_db, lambda: segments_of(demo), now=clock(T0 + timedelta(days=3)))
    assert back.summary() == "inserted 0 / updated 0 / unchanged 7 / removed 0 (returned 1)"
    assert stored(mongo_db)[dispatch.id]["removed_at"] is None
    assert len(stored(mongo_db)) == 8


def test_segments_of_another_space_are_not_marked_removed(mongo_db: Database, demo: Workspace) -> None:
    other = {"fibery_url": "https://o.fibery.io", "space": "O"}
    mongo_db[SEGMENTS_COLLECTION].insert_one({"_id": "elsewhere", "name": "Other", "source": other, "removed_at": None})
    result = sync(mongo_db, lambda: segments_of(demo), now=clock())
    assert result.removed == 0
    assert stored(mongo_db)["elsewhere"]["removed_at"] is None


def test_dry_run_lists_the_changes_and_writes_nothing(mongo_db: Database, demo: Workspace) -> None:
    first = sync(mongo_db, lambda: segments_of(demo), dry_run=True, now=clock())
    assert first.summary() == "dry run, would write: inserted 8 / updated 0 / unchanged 0 / removed 0"
    assert mongo_db.list_collection_names() == []

    sync(mongo_db, lambda: segments_of(demo), now=clock())
    before = stored(mongo_db), list(mongo_db[RUNS_COLLECTION].find())
    entity(demo, "Sorting").name = "Grading"
    result = sync(mongo_db, lambda: segments_of(without(demo, "Dispatch")), dry_run=True, now=clock())
    # Packing names its predecessor, so renaming Sorting changes Packing too.
    assert [c.describe() for c in result.changes] == [
        "update 5 Grading (name)",
        "update 6 Packing (fields.predecessor)",
        "remove 7 Dispatch",
    ]
    assert (stored(mongo_db), list(mongo_db[RUNS_COLLECTION].find())) == before


def test_indexes_are_created_once_and_again_without_error(mongo_db: Database, demo: Workspace) -> None:
    sync(mongo_db, lambda: segments_of(demo), now=clock())
    indexes = mongo_db[SEGMENTS_COLLECTION].index_information()
    sync(mongo_db, lambda: segments_of(demo), now=clock())
    assert mongo_db[SEGMENTS_COLLECTION].index_information() == indexes
    assert {"public_id", "removed_at", "updated_at"} <= set(indexes)
    assert "started_at" in mongo_db[RUNS_COLLECTION].index_information()


# --------------------------------------------------------------------------- audit log and failures


def test_every_run_is_recorded_with_source_counts_and_outcome(mongo_db: Database, demo: Workspace) -> None:
    # One clock for both runs: two fresh clocks would give both runs the same started_at,
    # and a real server returns ties in any order (mongomock happened to keep insertion order).
    now = clock()
    sync(mongo_db, lambda: segments_of(demo), now=now)
    sync(mongo_db, lambda: segments_of(demo), now=now)
    runs = list(mongo_db[RUNS_COLLECTION].find().sort("started_at", 1))
    assert runs[0]["started_at"] < runs[1]["started_at"]
    assert [r["outcome"] for r in runs] == ["success", "success"]
    assert runs[0]["counts"] == {"inserted": 8, "updated": 0, "unchanged": 0, "removed": 0, "returned": 0, "failed": 0}
    assert runs[1]["counts"]["unchanged"] == 8
    assert runs[0]["source"]["space"] == demo.space and runs[0]["error"] is None
    assert runs[0]["target"] == {"database": mongo_db.name, "collection": SEGMENTS_COLLECTION}
    assert runs[0]["started_at"] <= runs[0]["finished_at"]


def test_a_failed_run_is_recorded_with_its_reason(mongo_db: Database, demo: Workspace) -> None:
    with pytest.raises(ConfigError):
        sync(mongo_db, lambda: read_segments(demo, "Nope"), now=clock())
    (run,) = mongo_db[RUNS_COLLECTION].find()
    assert run["outcome"] == "error" and run["counts"] is None
    assert "no database 'Nope'" in run["error"]
    assert mongo_db[SEGMENTS_COLLECTION].count_documents({}) == 0


def test_a_failed_write_names_its_segment_and_the_rest_is_written(
    mongo_db: Database, demo: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    # Another document already holds the name "Spacing" under a unique index: only
    # Spacing's write can fail (third of the first batch of three; two batches follow).
    mongo_db[SEGMENTS_COLLECTION].create_index("name", unique=True)
    mongo_db[SEGMENTS_COLLECTION].insert_one({"_id": "squatter", "name": "Spacing"})
    spacing = entity(demo, "Spacing")

    result = sync(mongo_db, lambda: segments_of(demo), batch_size=3, now=clock())

    assert list(result.failed) == [spacing.id]
    assert result.inserted == 7
    assert result.failure_message().startswith("1 segment write(s) failed (")
    assert result.failure_message().endswith(spacing.id)
    all_ids = {e.id for e in demo.database("ProcessSegments").entities}
    assert set(stored(mongo_db)) == all_ids - {spacing.id} | {"squatter"}
    assert spacing.id in caplog.text
    (run,) = mongo_db[RUNS_COLLECTION].find()
    assert run["outcome"] == "error" and run["failed_ids"] == [spacing.id]
    assert spacing.id in run["error"] and run["counts"]["failed"] == 1


def test_unreachable_mongodb_fails_fast_before_reading_fibery() -> None:
    settings = StoreSettings(uri=f"mongodb://kb:s3cr%3Ft@127.0.0.1:{closed_port()}/?authSource=admin")
    loaded = []
    started = time.monotonic()
    with connect(settings) as client, pytest.raises(StoreError) as error:
        sync(client["fibery_kb"], lambda: loaded.append(1), target=settings.safe_uri, secrets=settings.secrets)
    assert time.monotonic() - started < 10
    message = error.value.format_message()
    assert message.startswith("cannot reach MongoDB at mongodb://kb:***@127.0.0.1:") and "\n" not in message
    assert "s3cr" not in message and loaded == []
    assert error.value.exit_code == 4


def test_cli_unreachable_mongodb_is_one_line_without_the_password(tmp_path: Path) -> None:
    uri = f"mongodb://kb:pa55word@127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = run_gen("segments", "store", "--demo", cwd=tmp_path, MONGODB_URI=uri)
    assert time.monotonic() - started < 10
    assert_one_line_error(result, "cannot reach MongoDB at mongodb://kb:***@127.0.0.1:", 4)
    assert "pa55word" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [("mongodb://kb:pa55word@localhost:notaport", "MONGODB_URI: "), ("http://localhost", "MONGODB_URI: ")],
)
def test_cli_bad_uri_is_one_line_without_the_password(tmp_path: Path, uri: str, fragment: str) -> None:
    result = run_gen("segments", "store", "--demo", cwd=tmp_path, MONGODB_URI=uri)
    assert_one_line_error(result, fragment, 2)
    assert "pa55word" not in result.stdout + result.stderr


def test_settings_come_from_the_environment_with_defaults() -> None:
    assert StoreSettings.from_env({}) == StoreSettings(uri="mongodb://localhost:27017", database="fibery_kb")
    settings = StoreSettings.from_env({"MONGODB_URI": "mongodb://u:p%40ss@db:27017/x?a=b@c", "MONGODB_DB": "ops"})
    assert settings.database == "ops" and settings.password == "p@ss"
    assert settings.secrets == ["p%40ss", "p@ss"]
    assert settings.safe_uri == "mongodb://u:***@db:27017/x?a=b@c"
    assert StoreSettings(uri="mongodb://db1,db2/x").password == ""


def test_rejected_credentials_say_what_to_check() -> None:
    failure = OperationFailure("Authentication failed.", code=18)
    message = describe_failure(failure, "mongodb://kb:***@db:27017", ["s3cret"])
    assert message == (
        "MongoDB at mongodb://kb:***@db:27017 rejected the credentials: check the user and password in MONGODB_URI"
    )


# --------------------------------------------------------------------------- CLI


def test_cli_store_twice_reports_everything_unchanged_the_second_time(mongo_cli: Database) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["segments", "store", "--demo"])
    assert first.exit_code == 0, first.output
    assert first.stdout.endswith(": inserted 8 / updated 0 / unchanged 0 / removed 0\n")
    assert first.stdout.startswith(f"{mongo_cli.name}.{SEGMENTS_COLLECTION} at mongodb://")
    second = runner.invoke(cli, ["segments", "store", "--demo"])
    assert second.exit_code == 0, second.output
    assert second.stdout.endswith(": inserted 0 / updated 0 / unchanged 8 / removed 0\n")
    assert mongo_cli[RUNS_COLLECTION].count_documents({"outcome": "success"}) == 2


def test_cli_dry_run_lists_changes_and_accepts_group_options(mongo_cli: Database) -> None:
    result = CliRunner().invoke(cli, ["segments", "--demo", "store", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "insert 1 Propagation" and len(lines) == 9
    assert lines[-1].endswith("dry run, would write: inserted 8 / updated 0 / unchanged 0 / removed 0")
    assert mongo_cli[SEGMENTS_COLLECTION].count_documents({}) == 0


def test_cli_failed_write_exits_4_after_the_result_line(mongo_cli: Database, demo: Workspace) -> None:
    mongo_cli[SEGMENTS_COLLECTION].create_index("name", unique=True)
    mongo_cli[SEGMENTS_COLLECTION].insert_one({"_id": "squatter", "name": "Packing"})
    result = CliRunner().invoke(cli, ["segments", "store", "--demo"])
    assert result.exit_code == 4
    assert "inserted 7 / updated 0 / unchanged 0 / removed 0 (failed 1)" in result.stdout
    packing = entity(demo, "Packing").id
    # The detail is logged per segment, then one error line ends the run.
    detail, last = result.stderr.splitlines()
    assert detail.startswith(f"ERROR: cannot write segment 6 ({packing}): ")
    assert last.startswith("error: 1 segment write(s) failed (") and last.endswith(packing)
