"""The MongoDB backend of the store tests, as a pytest plugin that only they load
(``pytest_plugins = ["tests.store_fixtures"]`` in test_store.py, test_store_server.py,
test_faults.py and test_acceptance.py): no other test session imports pymongo or mongomock.

The store tests run over the wire against a real MongoDB-protocol server, chosen once per
session: the server MONGODB_URI names (the GitHub CI job runs a mongo service), else a
SecantusDB started on 127.0.0.1 on first use (a test extra: tests/secantus_server.py),
else, where no SecantusDB wheel exists, mongomock. The report's last lines say which ran.
Each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import inspect
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import mongomock
import pymongo
import pytest
from pymongo.database import Database

from generator.logs import redact

from . import secantus_server


@dataclass(frozen=True)
class MongoBackend:
    """What the store tests talk to. ``uri`` is None for mongomock (no server at all)."""

    kind: str  # "server" | "secantusdb" | "mongomock"
    uri: str | None
    label: str


_backend_used: list[MongoBackend] = []


def _planned_backend() -> MongoBackend:
    """The backend this session will use, decided without starting anything."""
    uri = os.environ.get("MONGODB_URI")
    if uri:
        return MongoBackend("server", uri, f"real server at {redact(uri)} (MONGODB_URI)")
    if secantus_server.available():
        label = f"SecantusDB {secantus_server.version()} on 127.0.0.1, over the wire (started on first use)"
        return MongoBackend("secantusdb", None, label)
    return MongoBackend("mongomock", None, "mongomock, in process (no SecantusDB wheel for this platform)")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say at the end of the report which MongoDB backend the store tests ran against (this
    plugin is loaded with the first store test module, after the report's header)."""
    for backend in _backend_used:
        terminalreporter.write_line(f"mongodb backend used: {backend.label}")


@pytest.fixture(scope="session")
def mongo_backend() -> Iterator[MongoBackend]:
    """The session's MongoDB backend, SecantusDB started here when it is the one."""
    planned = _planned_backend()
    if planned.kind != "secantusdb":
        _backend_used.append(planned)
        yield planned
        return
    with secantus_server.SecantusServer(":memory:") as server:
        backend = MongoBackend("secantusdb", server.uri, f"SecantusDB {secantus_server.version()} at {server.uri}")
        _backend_used.append(backend)
        yield backend


def _mongomock_accepts_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let mongomock run pymongo's ``UpdateOne`` in ``bulk_write``.

    pymongo 4.11 passes ``sort=`` to the bulk builder and mongomock 4.3 does not accept it
    (mongomock issue #912). Drop it when unset; the fake stays otherwise untouched.
    """
    from mongomock.collection import BulkOperationBuilder

    original = BulkOperationBuilder.add_update
    if "sort" in inspect.signature(original).parameters:
        return

    def add_update(self: BulkOperationBuilder, *args: object, sort: object = None, **kwargs: object) -> object:
        if sort is not None:
            raise NotImplementedError("mongomock does not support sort in bulk updates")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BulkOperationBuilder, "add_update", add_update)


@pytest.fixture
def mongo_db(mongo_backend: MongoBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """An empty MongoDB database: a fresh one on the session's server, or mongomock's."""
    if mongo_backend.uri is None:
        _mongomock_accepts_sort(monkeypatch)
        yield mongomock.MongoClient()["fibery_kb_test"]
        return
    client: pymongo.MongoClient = pymongo.MongoClient(mongo_backend.uri, serverSelectionTimeoutMS=5000)
    name = f"fibery_kb_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture
def mongo_env(mongo_backend: MongoBackend, monkeypatch: pytest.MonkeyPatch) -> MongoBackend:
    """MONGODB_URI set to the session's server, for code that reads it (the Robot specs)."""
    if mongo_backend.uri is not None:
        monkeypatch.setenv("MONGODB_URI", mongo_backend.uri)
    return mongo_backend


@pytest.fixture
def mongo_cli(mongo_db: Database, mongo_env: MongoBackend, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Point `gen segments store` at ``mongo_db``: MONGODB_URI and MONGODB_DB name it, and
    with mongomock the client the command creates is the fake's."""
    monkeypatch.setenv("MONGODB_DB", mongo_db.name)
    if mongo_env.uri is None:
        monkeypatch.setattr("generator.store.MongoClient", lambda *args, **kwargs: mongo_db.client)
    return mongo_db
