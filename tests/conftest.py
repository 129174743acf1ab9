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
