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


# =========================================================================== MongoDB backend (issue 3)
# The store tests run against mongomock by default and against a real server when
# MONGODB_URI is set (CI sets it and runs a mongo service). Each real-server test gets a
# database of its own, dropped afterwards, so runs never see each other's documents.

import inspect  # noqa: E402 - this block's imports stay with it
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import mongomock  # noqa: E402
import pymongo  # noqa: E402
from pymongo.database import Database  # noqa: E402

from generator.logs import redact  # noqa: E402


def real_mongodb_uri() -> str | None:
    """The real server the store tests use, or None for mongomock."""
    return os.environ.get("MONGODB_URI") or None


def pytest_report_header() -> str:
    """Say in the test report which MongoDB backend the store tests ran against."""
    uri = real_mongodb_uri()
    return f"mongodb backend: real server at {redact(uri)}" if uri else "mongodb backend: mongomock"


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
def mongo_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """An empty MongoDB database: mongomock, or a fresh one on the real server."""
    uri = real_mongodb_uri()
    if not uri:
        _mongomock_accepts_sort(monkeypatch)
        yield mongomock.MongoClient()["fibery_kb_test"]
        return
    client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    name = f"fibery_kb_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


@pytest.fixture
def mongo_cli(mongo_db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Point `gen segments store` at ``mongo_db``: MONGODB_DB names it, and with mongomock
    the client the command creates is the fake's (the real server needs no help)."""
    monkeypatch.setenv("MONGODB_DB", mongo_db.name)
    if not real_mongodb_uri():
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
