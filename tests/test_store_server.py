"""`gen segments store` against a real server that fails: stopped mid-run, frozen, refusing a write.

mongomock cannot fail like a server does, so these tests start a SecantusDB process of their
own (tests/secantus_server.py) and do to it what happens in production: stop it between
two batches and start it again on the same files, or freeze it with SIGSTOP. They are
skipped, with the reason in the report, where SecantusDB has no wheel or no signals.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from pymongo.collection import Collection
from pymongo.database import Database

from generator.cli import cli
from generator.errors import StoreError
from generator.model import Workspace
from generator.store import RUNS_COLLECTION, SEGMENTS_COLLECTION, StoreSettings, connect, sync

from . import secantus_server
from .test_cli import assert_one_line_error, run_gen
from .test_store import clock, entity, segments_of, stored

pytest_plugins = ["tests.store_fixtures"]  # the MongoDB backend: only where it is used

if TYPE_CHECKING:  # imported by pytest as a plugin, not here (its asserts are rewritten)
    from .store_fixtures import MongoBackend

pytestmark = [
    pytest.mark.skipif(not secantus_server.available(), reason="secantusdb has no wheel for this platform"),
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="no SIGSTOP on this platform"),
]

FAST = "serverSelectionTimeoutMS=1500&connectTimeoutMS=1500&socketTimeoutMS=1500"
"""Timeouts set in the URI, as a user would: connect() must keep them (pymongo lets its
keyword arguments override the URI's), and they keep these tests short."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[secantus_server.SecantusServer]:
    """A SecantusDB of this test's own, its data on disk so that it survives a restart."""
    with secantus_server.SecantusServer(tmp_path / "secantus-data") as running:
        yield running


def test_a_server_stopped_mid_run_and_restarted_loses_nothing_and_stores_nothing_twice(
    server: secantus_server.SecantusServer, demo: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = StoreSettings(uri=f"{server.uri}/?{FAST}", database="kb")
    original = Collection.bulk_write
    batches: list[int] = []

    def stop_after_the_first_batch(self: Collection, requests: list, **kwargs: object) -> object:
        if batches:
            server.stop()
        batches.append(len(requests))
        return original(self, requests, **kwargs)

    now = clock()
    monkeypatch.setattr(Collection, "bulk_write", stop_after_the_first_batch)
    with connect(settings) as client, pytest.raises(StoreError) as error:
        sync(client["kb"], lambda: segments_of(demo), batch_size=3, target=settings.safe_uri, now=now)
    monkeypatch.undo()
    assert batches == [3, 3]
    assert "\n" not in error.value.format_message()
    assert error.value.exit_code == 4

    server.start()  # the same port and the same files
    with connect(settings) as client:
        db: Database = client["kb"]
        before = stored(db)
        assert len(before) == 3, "the first batch was acknowledged, so it must survive the restart"
        result = sync(db, lambda: segments_of(demo), batch_size=3, target=settings.safe_uri, now=now)
        after = stored(db)

    assert (result.inserted, result.updated, result.unchanged, result.failed) == (5, 0, 3, {})
    assert set(after) == {e.id for e in demo.database("ProcessSegments").entities}
    # What the first run wrote was not written again.
    assert all(after[i]["first_seen_at"] == doc["first_seen_at"] for i, doc in before.items())
    assert all(after[i]["updated_at"] == doc["updated_at"] for i, doc in before.items())


def test_the_rerun_after_a_restart_records_its_outcome(server: secantus_server.SecantusServer, demo: Workspace) -> None:
    settings = StoreSettings(uri=f"{server.uri}/?{FAST}", database="kb")
    with connect(settings) as client:
        sync(client["kb"], lambda: segments_of(demo), now=clock())
    server.restart()
    with connect(settings) as client:
        result = sync(client["kb"], lambda: segments_of(demo), now=clock())
        runs = list(client["kb"][RUNS_COLLECTION].find())
    assert result.unchanged == 8 and [r["outcome"] for r in runs] == ["success", "success"]


def test_a_frozen_server_fails_clearly_within_the_configured_timeout(
    server: secantus_server.SecantusServer, tmp_path: Path
) -> None:
    server.freeze()
    try:
        started = time.monotonic()
        result = run_gen("segments", "store", "--demo", cwd=tmp_path, MONGODB_URI=f"{server.uri}/?{FAST}")
        elapsed = time.monotonic() - started
    finally:
        server.kill()
    assert_one_line_error(result, f"cannot reach MongoDB at {server.uri}/?", 4)
    assert "within 1.5 s" in result.stderr
    assert elapsed < 15  # 1.5 s of server selection, plus starting Python


def test_a_server_frozen_mid_run_fails_within_the_socket_timeout(
    server: secantus_server.SecantusServer, demo: Workspace
) -> None:
    settings = StoreSettings(uri=f"{server.uri}/?{FAST}", database="kb")

    def freeze_then_load():
        server.freeze()  # after the ping: the next command finds the server hung
        return segments_of(demo)

    started = time.monotonic()
    try:
        with connect(settings) as client, pytest.raises(StoreError) as error:
            sync(client["kb"], freeze_then_load, target=settings.safe_uri, now=clock())
    finally:
        server.kill()
    message = error.value.format_message()
    assert "\n" not in message and error.value.exit_code == 4
    assert message.startswith(f"MongoDB at {settings.safe_uri} stopped answering (no reply within 1.5 s")
    # One timed-out command, then the audit record gives up after server selection.
    assert time.monotonic() - started < 10


def test_a_unique_index_violation_names_the_value_and_the_index(
    mongo_cli: Database, mongo_backend: MongoBackend, demo: Workspace
) -> None:
    if mongo_backend.uri is None:
        pytest.skip("mongomock does not report the key that collided")
    mongo_cli[SEGMENTS_COLLECTION].create_index("name", unique=True)
    mongo_cli[SEGMENTS_COLLECTION].insert_one({"_id": "squatter", "name": "Packing"})
    result = CliRunner().invoke(cli, ["segments", "store", "--demo"])
    assert result.exit_code == 4
    packing = entity(demo, "Packing").id
    detail, last = result.stderr.splitlines()
    reason = "another document already has name 'Packing' (unique index name_1)"
    hint = "change the value in Fibery or drop the index"
    assert detail == f"ERROR: cannot write segment 6 ({packing}): {reason}: {hint}"
    assert last.startswith(f"error: 1 segment write(s) failed ({reason}") and last.endswith(packing)
    assert "Traceback" not in result.output
