"""Shared fixtures: a clean environment for every test, the demo workspace, and helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.config import SiteConfig, parse_site_config
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
    return parse_site_config(overrides, "make_config")


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
