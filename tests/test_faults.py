"""The fault matrix: the real `gen build` against a faulty Fibery (the fake, over real HTTP),
a drifted schema or a broken snapshot.

For every fault, whatever happens:

* the exit code is the documented one;
* stderr is one clear ``error:`` line without a traceback (with ``-v --log-format json``:
  JSON log lines, then that one line);
* a failed build leaves the previous ``site/`` byte for byte; a build that gets through
  (429 bursts, 502s) publishes a complete site;
* the token is nowhere: not in stdout, stderr, the logs, ``site/`` or anything else written.

The `gen segments store` audit log is checked here too: a run that fails is recorded in
``sync_runs`` with its reason.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pymongo.database import Database

from generator.cli import cli
from generator.store import RUNS_COLLECTION

from . import fake_fibery as ff
from .conftest import TOKEN, files_with_token
from .e2e_helpers import DEMO, closed_port, gen_env, site_files, snapshot_at
from .sitecheck import crawl
from .test_cli import run_gen

FAST = "timeout = 1\nretries = 1\n"
"""kb.toml of the failing cases: give up after one retry of one second."""
OTHER_TOKEN = "tok-OTHER-SECRET-fedcba9876543210"
"""A wrong token (the 401 case): it must stay secret too."""
SECRETS = (TOKEN, OTHER_TOKEN)


@dataclass(frozen=True)
class Case:
    """One row of the matrix: how to break things, and what `gen build` must then do."""

    fault: Callable[[], ff.Fault] | None = None
    env: dict[str, str] = field(default_factory=dict)
    kb_toml: str = FAST
    snapshot: str | None = None
    """Build from a snapshot with this content instead of the fake."""
    error: str = ""
    """A fragment of the one stderr line; empty when the build must succeed."""
    code: int = 3


def bursts_of_429(*bursts: tuple[int, int]) -> ff.Fault:
    """Answer the requests numbered ``start`` … ``start + length - 1`` (counted from 1 by
    this fault) with 429, for each ``(start, length)``: rate-limit bursts mid-build."""
    numbers = {start + i for start, length in bursts for i in range(length)}
    counter, lock = iter(range(1, 10**6)), threading.Lock()

    def fault(ctx: ff.FaultContext) -> ff.Response | None:
        with lock:
            n = next(counter)
        return ff.Response.text(429, "Too Many Requests", {"Retry-After": "0.2"}) if n in numbers else None

    return fault


def kind_changes(db_title: str, field_title: str, kind: str) -> ff.Fault:
    """Schema drift: a field becomes another kind (a state becomes plain text)."""

    def mutate(snap: dict[str, Any]) -> None:
        db = next(d for d in snap["databases"] if d["title"] == db_title)
        fld = next(f for f in db["fields"] if f["title"] == field_title)
        fld["kind"] = kind
        for entity in db["entities"]:
            value = entity["values"].get(fld["key"])
            entity["values"][fld["key"]] = value.get("name") if isinstance(value, dict) else value

    return ff.drift(mutate)


GUIDES_QUERY = ff.graphql_names(DEMO)["Guides"][1]
PAGE_SIZE = 10

CASES: dict[str, Case] = {
    # ---- transport and HTTP
    "401 wrong token": Case(env={"FIBERY_TOKEN": OTHER_TOKEN}, error="rejected the token (401 Unauthorized)"),
    "404 unknown space": Case(env={"FIBERY_SPACE": "No Such Space"}, error="space 'No Such Space' not found"),
    "unknown space with a me-only schema": Case(env={"FIBERY_SPACE": "No Such Space"}, error="'No Such Space'"),
    "connection refused": Case(env={"FIBERY_URL": "CLOSED"}, error="cannot reach Fibery at http://127.0.0.1:"),
    "timeout (accepts, never answers)": Case(fault=lambda: ff.hang(count=None), error="did not answer within 1 s"),
    "429 bursts": Case(fault=lambda: bursts_of_429((1, 3), (6, 2)), kb_toml=""),
    "502 on every 5th request": Case(fault=lambda: ff.fail_every(5, 502), kb_toml=""),
    "429 that never ends": Case(fault=lambda: ff.burst_429(1000, 0.05), error="kept rate-limiting (429)"),
    "truncated JSON": Case(fault=lambda: ff.truncated_json(count=None), error="invalid answer (not GraphQL JSON)"),
    "truncated transfer": Case(
        fault=lambda: ff.truncated_json(count=None, declare_full_length=True), error="without sending complete"
    ),
    "GraphQL errors on the 3rd page": Case(
        fault=lambda: ff.graphql_errors_on_page(GUIDES_QUERY, 2 * PAGE_SIZE, "Boom on page 3"),
        kb_toml=FAST + f"page_size = {PAGE_SIZE}\n",
        error="GraphQL error while reading Guides (offset 20): Boom on page 3",
    ),
    "GraphQL error quoting the token": Case(
        fault=lambda: ff.graphql_errors_on_page(GUIDES_QUERY, 0, f"bad header 'Token {TOKEN}'"),
        error="GraphQL error while reading Guides (offset 0): bad header 'Token ***'",
    ),
    # ---- schema drift: a name kb.toml relies on is gone, or a field changed kind
    "drift: included database gone": Case(
        fault=lambda: ff.drop_database("Guides"),
        kb_toml='include_databases = ["Guides", "Equipment"]\n',
        error="kb.toml include_databases: no database 'Guides' in the space",
        code=2,
    ),
    "drift: excluded database renamed": Case(
        fault=lambda: ff.drift(
            lambda s: next(d for d in s["databases"] if d["title"] == "Team Members").update(title="People")
        ),
        kb_toml='exclude_databases = ["Team Members"]\n',
        error="kb.toml exclude_databases: no database 'Team Members' in the space",
        code=2,
    ),
    "drift: hidden field gone": Case(
        fault=lambda: ff.drop_field("Guides", "Owner"),
        kb_toml='hide_fields = { "Guides" = ["Owner"] }\n',
        error="kb.toml hide_fields.Guides: database 'Guides' has no field 'Owner'",
        code=2,
    ),
    "drift: hidden field renamed": Case(
        fault=lambda: ff.rename_field("Guides", "Owner", "Author"),
        kb_toml='hide_fields = { "Guides" = ["Owner"] }\n',
        error="kb.toml hide_fields.Guides: database 'Guides' has no field 'Owner'",
        code=2,
    ),
    "drift: field hidden everywhere renamed": Case(
        fault=lambda: ff.rename_field("Team Members", "Email", "Contact address"),
        kb_toml='hide_fields = ["Email"]\n',
        error="kb.toml hide_fields: no database has a field 'Email'",
        code=2,
    ),
    "drift: field changed kind (expect_kinds)": Case(
        fault=lambda: kind_changes("Guides", "State", "text"),
        kb_toml='[expect_kinds.Guides]\nState = "state"\nBody = "rich_text"\n',
        error="kb.toml expect_kinds.Guides: field 'State' is now text, expected state",
        code=2,
    ),
    "drift: publish_when field changed kind": Case(
        fault=lambda: kind_changes("Guides", "State", "text"),
        kb_toml='[publish_when.Guides]\nState = ["Published"]\n',
        error="kb.toml publish_when.Guides: field 'State' is text, not one of state, select, multi_select",
        code=2,
    ),
    # ---- snapshots
    "snapshot: malformed JSON": Case(snapshot='{"version": 1, "databases": [', error="not valid JSON", code=1),
    "snapshot: wrong version": Case(
        snapshot='{"version": 2, "fibery_url": "https://a.fibery.io", "space": "KB"}',
        error="format version 2 is not supported",
        code=1,
    ),
    "snapshot: not a snapshot": Case(snapshot='["a", "list"]', error="not a fibery-kb snapshot", code=1),
    "snapshot: invalid content": Case(
        snapshot='{"version": 1, "fibery_url": "https://a.fibery.io", "space": "KB", "databases": [{"key": 1}]}',
        error="invalid at databases.0",
        code=1,
    ),
}


def paged_demo() -> dict[str, Any]:
    """The demo with 25 guides, so that Guides takes three pages of ``PAGE_SIZE``."""
    snap = json.loads(json.dumps(DEMO))
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    template = guides["entities"][0]
    guides["entities"] = [{**template, "id": f"g-{i}", "public_id": str(i), "name": f"Guide {i}"} for i in range(1, 26)]
    return snap


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Any:
    """The fake Fibery (no server-side rate limit: the faults decide what fails)."""
    snap = paged_demo() if "3rd page" in request.node.name else DEMO
    # How Fibery answers a wrong space is UNCERTAIN: the fake's default is a schema with only
    # `me`; the "404 unknown space" case keeps the 404 it is named after.
    unknown_space = "404" if "404 unknown space" in request.node.name else "me-only"
    with ff.FakeFibery(snap, token=TOKEN, rate_limit=None, unknown_space=unknown_space) as server:
        server.update_snapshot(snapshot_at(server.url, snap))
        yield server


def run_case(case: Case, tmp_path: Path, fake: ff.FakeFibery, *options: str) -> Any:
    """Run `gen build` for ``case`` in ``tmp_path`` (which holds the previous site)."""
    (tmp_path / "kb.toml").write_text(case.kb_toml)
    if case.snapshot is not None:
        (tmp_path / "snap.json").write_text(case.snapshot)
        return run_gen("build", "--snapshot", "snap.json", *options, cwd=tmp_path)
    env = gen_env(fake, **case.env)
    if env["FIBERY_URL"] == "CLOSED":
        env["FIBERY_URL"] = f"http://127.0.0.1:{closed_port()}"
    if case.fault:
        fake.faults.append(case.fault())
    return run_gen("build", *options, cwd=tmp_path, **env)


def assert_no_secret(result: Any, root: Path) -> None:
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    assert files_with_token(root) == []
    leaked = [p for p in root.rglob("*") if p.is_file() and OTHER_TOKEN.encode() in p.read_bytes()]
    assert leaked == []


def assert_complete_site(site: Path, snapshot: dict[str, Any]) -> dict[str, Any]:
    """Every database and entity published, every link working; return build-info.json."""
    info = json.loads((site / "build-info.json").read_text())
    assert info["databases"] == {db["title"]: len(db["entities"]) for db in snapshot["databases"]}
    result = crawl(site)
    assert result.broken == []
    entity_pages = [p for p in result.pages if p.startswith("db/") and not p.endswith("index.html")]
    assert len(entity_pages) == sum(len(db["entities"]) for db in snapshot["databases"])
    return info


MATRIX = [
    pytest.param(name, verbose, id=f"{name}-{'verbose-json' if verbose else 'quiet'}")
    for name, case in CASES.items()
    for verbose in (False, True)
    if verbose or case.error  # a build that succeeds is run once, verbose: its logs are checked too
]


@pytest.mark.parametrize(("name", "verbose"), MATRIX)
def test_fault_matrix(
    name: str, verbose: bool, tmp_path: Path, faulty: ff.FakeFibery, old_site: dict[str, bytes]
) -> None:
    case = CASES[name]
    options = ("-v", "--log-format", "json") if verbose else ()
    result = run_case(case, tmp_path, faulty, *options)

    assert "Traceback" not in result.stderr
    assert_no_secret(result, tmp_path)
    lines = result.stderr.strip().splitlines()
    logs = [json.loads(line) for line in lines if line.startswith("{")] if verbose else []
    assert all({"level", "logger", "message"} <= set(entry) for entry in logs)
    others = [line for line in lines if not line.startswith("{")] if verbose else lines
    if case.error:
        assert result.returncode == case.code, result.stderr
        assert len(others) == 1 and others[0].startswith("error: ") and case.error in others[0], result.stderr
        assert site_files(tmp_path / "site") == old_site  # the previous site, byte for byte
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []  # no staging left
    else:
        assert result.returncode == 0, result.stderr
        assert not any(line.startswith("error") for line in others)
        info = assert_complete_site(tmp_path / "site", DEMO)
        # build-info.json counts what the fake saw: every request, every retry.
        refused = sum(n for status, n in faulty.stats.by_status.items() if status in (429, 502))
        assert info["retries"] == refused >= 2 and info["requests"] == faulty.stats.total
        assert sum(e["message"].startswith("retry ") for e in logs) == refused  # each retry is logged


def test_no_secret_at_debug_level(tmp_path: Path, faulty: ff.FakeFibery) -> None:
    """-vv logs every request and retry, never the token (nor the wrong one)."""
    faulty.faults.append(ff.fail_every(4, 502))
    result = run_gen("build", "-vv", cwd=tmp_path, **gen_env(faulty))
    assert result.returncode == 0, result.stderr
    assert "DEBUG" in result.stderr and "retry" in result.stderr
    assert_no_secret(result, tmp_path)
    (tmp_path / "kb.toml").write_text(FAST)
    result = run_gen("build", "-vv", "--log-format", "json", cwd=tmp_path, **gen_env(faulty, FIBERY_TOKEN=OTHER_TOKEN))
    assert result.returncode == 3 and "401" in result.stderr
    assert_no_secret(result, tmp_path)


# --------------------------------------------------------------------------- gen segments store


def test_a_failed_segments_store_is_recorded_with_its_reason(mongo_cli: Database, faulty: ff.FakeFibery) -> None:
    """The Fibery read fails (GraphQL errors): exit 3, and the run is in sync_runs as an
    error, with the reason and without the token."""
    query = ff.graphql_names(DEMO)["Process Segments"][1]
    faulty.faults.append(ff.graphql_errors_on_page(query, 0, "Segments unavailable"))
    env = gen_env(faulty)
    result = CliRunner().invoke(cli, ["segments", "store"], env=env)
    assert result.exit_code == 3, result.output
    (run,) = mongo_cli[RUNS_COLLECTION].find()
    assert run["outcome"] == "error" and run["counts"] is None
    assert "Segments unavailable" in run["error"] and TOKEN not in json.dumps(run, default=str)
    assert run["finished_at"] >= run["started_at"]


def test_a_successful_segments_store_is_recorded_too(mongo_cli: Database, faulty: ff.FakeFibery) -> None:
    result = CliRunner().invoke(cli, ["segments", "store"], env=gen_env(faulty))
    assert result.exit_code == 0, result.output
    (run,) = mongo_cli[RUNS_COLLECTION].find()
    assert run["outcome"] == "success" and run["error"] is None and run["counts"]["inserted"] == 8
    assert run["source"]["fibery_url"] == faulty.url
