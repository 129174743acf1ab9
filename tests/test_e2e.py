"""End to end: the real `gen build` against a local fake Fibery over real HTTP.

The fake (tests/fake_fibery.py) serves a Fibery-shaped GraphQL schema with Fibery's URL
paths, token check, error shapes, default page size and a 3 requests/s limit per token.
Every failure case checks the exit code, one clear stderr line with no traceback, that the
previous site is untouched, and that the token appears nowhere.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from generator.build import build
from generator.sources import SnapshotSource

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN, files_with_token, make_config
from .test_cli import assert_one_line_error, run_gen

DEMO = json.loads((ROOT / "generator" / "demo" / "workspace.json").read_text())


def snapshot_at(url: str) -> dict:
    """The demo snapshot as if it lived at ``url`` (its rich-text links included)."""
    return json.loads(json.dumps(DEMO).replace(DEMO["fibery_url"], url))


@pytest.fixture
def fake():
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=3.0) as server:
        server.update_snapshot(snapshot_at(server.url))
        yield server


def gen_env(fake: ff.FakeFibery, **extra: str) -> dict[str, str]:
    return {"FIBERY_URL": fake.url, "FIBERY_SPACE": DEMO["space"], "FIBERY_TOKEN": TOKEN, **extra}


def site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


@pytest.fixture
def old_site(tmp_path: Path) -> dict[str, bytes]:
    """A previous build in tmp_path/site, to prove a failed build leaves it untouched."""
    build(
        SnapshotSource(ROOT / "generator" / "demo" / "workspace.json"), make_config(), out=tmp_path / "site", root=ROOT
    )
    return site_files(tmp_path / "site")


def test_live_build_equals_the_snapshot_build(tmp_path: Path, fake: ff.FakeFibery) -> None:
    result = run_gen("build", "--out", "live", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(snapshot_at(fake.url)))
    assert run_gen("build", "--snapshot", str(snapshot), "--out", "offline", cwd=tmp_path).returncode == 0

    live, offline = site_files(tmp_path / "live"), site_files(tmp_path / "offline")
    assert live.keys() == offline.keys()
    assert [p for p in live if live[p] != offline[p]] == ["build-info.json"]
    # Every database and entity published exactly once, with zero 429s.
    info = json.loads(live["build-info.json"])
    assert info["databases"] == {db["title"]: len(db["entities"]) for db in DEMO["databases"]}
    assert fake.stats.rate_limited == 0
    # 1 introspection + 1 REST schema + 1 page per database + 1 per embedded file.
    assert info["requests"] == fake.stats.total == 2 + len(DEMO["databases"]) + len(DEMO["files"])
    assert files_with_token(tmp_path / "live") == []
    assert TOKEN not in result.stdout + result.stderr


def test_pull_then_build_offline(tmp_path: Path, fake: ff.FakeFibery) -> None:
    result = run_gen("pull", "--out", "kb.json", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    assert TOKEN not in (tmp_path / "kb.json").read_text()
    assert run_gen("build", "--snapshot", "kb.json", cwd=tmp_path).returncode == 0


def test_pagination_over_many_pages(tmp_path: Path) -> None:
    snap = snapshot_at("http://x")
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    template = guides["entities"][0]
    guides["entities"] = [
        {**template, "id": f"g-{i}", "public_id": str(i), "name": f"Guide {i}"} for i in range(1, 251)
    ]
    (tmp_path / "kb.toml").write_text("page_size = 100\n")
    with ff.FakeFibery(snap, token=TOKEN, rate_limit=None) as server:
        result = run_gen("build", cwd=tmp_path, **gen_env(server))
        pages = server.stats.count(operation=ff.graphql_names(snap)["Guides"][1])
    assert result.returncode == 0, result.stderr
    assert pages == 3  # ⌈250 / 100⌉
    assert len(list((tmp_path / "site" / "db" / "guides").glob("guide-*.html"))) == 250


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FAILURES = {
    "wrong token (401)": ({"FIBERY_TOKEN": "wrong-token"}, None, "rejected the token (401 Unauthorized)", 3),
    "unknown space (404)": ({"FIBERY_SPACE": "No Such Space"}, None, "space 'No Such Space' not found", 3),
    "graphql errors": (
        {},
        lambda: ff.graphql_errors_on_page(ff.graphql_names(DEMO)["Guides"][1], 0, "Boom"),
        "Boom",
        3,
    ),
    "invalid json": ({}, lambda: ff.truncated_json(count=None), "invalid answer (not GraphQL JSON)", 3),
    "persistent 429": ({}, lambda: ff.burst_429(100, retry_after=0.05), "kept rate-limiting (429)", 3),
    "timeout": ({}, lambda: ff.hang(count=None), "did not answer within 1 s", 3),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failures_are_one_clear_line_and_keep_the_old_site(
    case: str, tmp_path: Path, fake: ff.FakeFibery, old_site: dict[str, bytes]
) -> None:
    env, fault, message, code = FAILURES[case]
    if fault:
        fake.faults.append(fault())
    (tmp_path / "kb.toml").write_text("timeout = 1\nretries = 1\n")
    result = run_gen("build", cwd=tmp_path, **{**gen_env(fake), **env})
    assert_one_line_error(result, message, code)
    assert site_files(tmp_path / "site") == old_site
    assert TOKEN not in result.stdout + result.stderr
    assert files_with_token(tmp_path) == []


def test_unreachable_host(tmp_path: Path, old_site: dict[str, bytes]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_gen("build", cwd=tmp_path, FIBERY_URL=url, FIBERY_SPACE="KB", FIBERY_TOKEN=TOKEN)
    assert_one_line_error(result, f"cannot reach Fibery at {url}", 3)
    assert site_files(tmp_path / "site") == old_site


def test_502_every_5th_request_is_retried(tmp_path: Path, fake: ff.FakeFibery) -> None:
    fake.faults.append(ff.fail_every(5, 502))
    result = run_gen("build", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    info = json.loads((tmp_path / "site" / "build-info.json").read_text())
    assert info["retries"] >= 1 and fake.stats.by_status.get(502, 0) >= 1
