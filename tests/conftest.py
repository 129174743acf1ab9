"""Shared fixtures: a clean environment for every test, the demo workspace, and helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from generator.config import SiteConfig
from generator.model import Workspace
from generator.sources import DemoSource

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "tok-SECRET-0123456789abcdef"

_OUR_VARIABLES = ("FIBERY_URL", "FIBERY_SPACE", "FIBERY_TOKEN", "GITHUB_STEP_SUMMARY", "MONGODB_DB")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Fibery settings (MONGODB_URI is kept on purpose: it
    selects the real-server backend for the store tests)."""
    for name in _OUR_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def demo() -> Workspace:
    """A fresh copy of the shipped demo workspace."""
    return DemoSource().load()


def make_config(**overrides: object) -> SiteConfig:
    """A valid ``SiteConfig`` with overrides (asserts validity like ``kb.toml`` would)."""
    return SiteConfig.model_validate(overrides)


def token_free(*texts: str) -> bool:
    """Whether none of ``texts`` contains the test token."""
    return all(TOKEN not in t for t in texts)


def files_with_token(root: Path) -> list[Path]:
    """Every file under ``root`` that contains the test token (should be none)."""
    return [p for p in root.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def env_with(**values: str) -> dict[str, str]:
    """The current environment plus ``values`` (for subprocess runs of `gen`)."""
    env = {k: v for k, v in os.environ.items() if k not in _OUR_VARIABLES}
    env.update(values)
    return env


# =========================================================================== MongoDB backend (issues 3, 17)
# The store tests run over the wire against a real MongoDB-protocol server, chosen once per
# session: the server MONGODB_URI names (the GitHub CI job runs a mongo service), else a
# SecantusDB started on 127.0.0.1 on first use (a test extra: tests/secantus_server.py),
# else, where no SecantusDB wheel exists, mongomock. The report's header and its last lines
# say which ran. Each test gets a database of its own, dropped afterwards.

import inspect  # noqa: E402 - this block's imports stay with it
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import mongomock  # noqa: E402
import pymongo  # noqa: E402
from pymongo.database import Database  # noqa: E402

from generator.logs import redact  # noqa: E402

from . import secantus_server  # noqa: E402


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


def pytest_report_header() -> str:
    """Say in the test report which MongoDB backend the store tests run against."""
    return f"mongodb backend: {_planned_backend().label}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat it at the end, once it has been used: the header scrolls away."""
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


# =========================================================================== end to end (issue 7)
# The fake Fibery serving the demo, and a previous site that a failed build must leave alone.
# Helper functions are in e2e_helpers.py.

from generator.build import build  # noqa: E402
from generator.sources import SnapshotSource  # noqa: E402

from . import fake_fibery as ff  # noqa: E402


@pytest.fixture
def fake() -> Iterator[ff.FakeFibery]:
    """The fake Fibery serving the demo workspace (3 requests/s per token, like Fibery)."""
    from .e2e_helpers import DEMO, snapshot_at

    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=3.0) as server:
        server.update_snapshot(snapshot_at(server.url))
        yield server


@pytest.fixture
def old_site(tmp_path: Path) -> dict[str, bytes]:
    """A previous build in tmp_path/site, to prove a failed build leaves it untouched."""
    from .e2e_helpers import site_files

    demo_snapshot = SnapshotSource(ROOT / "generator" / "demo" / "workspace.json")
    build(demo_snapshot, make_config(), out=tmp_path / "site", root=ROOT)
    return site_files(tmp_path / "site")
