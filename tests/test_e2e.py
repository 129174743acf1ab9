"""End to end: the real `gen build` against a local fake Fibery over real HTTP.

The fake (tests/fake_fibery.py) serves a Fibery-shaped GraphQL schema with Fibery's URL
paths, token check, error shapes, default page size and a 3 requests/s limit per token.
Every failure case checks the exit code, one clear stderr line with no traceback, that the
previous site is untouched, and that the token appears nowhere.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import fake_fibery as ff
from .conftest import TOKEN, files_with_token
from .e2e_helpers import DEMO, gen_env, site_files, snapshot_at
from .test_cli import run_gen


def test_live_build_equals_the_snapshot_build(tmp_path: Path, fake: ff.FakeFibery) -> None:
    result = run_gen("build", "--out", "live", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps(snapshot_at(fake.url)))
    assert run_gen("build", "--snapshot", str(snapshot), "--out", "offline", cwd=tmp_path).returncode == 0

    live, offline = site_files(tmp_path / "live"), site_files(tmp_path / "offline")
    assert live.keys() == offline.keys()
    assert sorted(p for p in live if live[p] != offline[p]) == ["build-info.json", "status.html"]  # the time
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


# The failure cases (401, 404, unreachable, timeout, 429, 502, invalid JSON, GraphQL errors,
# schema drift, bad snapshots) are the fault matrix of tests/test_faults.py.
