"""The fault matrix: the real `gen build` against a faulty Fibery (the fake, over real HTTP),
a drifted schema or a broken snapshot.

For every fault, whatever happens:

* the exit code is the documented one;
* stderr is one clear ``error:`` line without a traceback (with ``-v --log-format json``:
  JSON log lines, then that one line);
* a failed build leaves the previous ``site/`` byte for byte; a build that gets through
  (429 bursts, 502s) publishes a complete site;
* the token is nowhere: not in stdout, stderr, the logs, ``site/`` or anything else written.

Kills (SIGKILL at several points of a build, then a rerun), concurrent builds, full and
read-only disks are at the end. The `gen segments store` audit log is checked here too: a run that fails is recorded in
``sync_runs`` with its reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from click.testing import CliRunner
from pymongo.database import Database

from generator.cli import cli
from generator.store import RUNS_COLLECTION

from . import fake_fibery as ff
from .conftest import TOKEN, env_with, files_with_token
from .e2e_helpers import DEMO, closed_port, gen_env, site_files, snapshot_at
from .sitecheck import crawl
from .test_cli import run_gen

pytest_plugins = ["tests.store_fixtures"]  # the MongoDB backend: only where it is used

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


# --------------------------------------------------------------------------- kills, concurrency, full disks
# The real `gen build`, with one function of it wrapped to stop the process at a chosen moment
# (SIGKILL: no clean-up runs), wait there, or fail as a full or read-only disk would. After
# each kill, a complete site (the previous or the new one) is in place, and the next build
# removes whatever the killed one left behind.

INJECT = """
import errno, importlib, os, signal, sys, time

def inject(spec):
    target, count, action = spec.split(",")
    module_name, _, path = target.partition(":")
    owner = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        now = calls[0] == int(count)
        if now and action == "kill-before":
            os.kill(os.getpid(), signal.SIGKILL)
        if now and action.startswith("sleep"):
            time.sleep(float(action[5:]))
        if now and action in ("ENOSPC", "EROFS"):
            code = getattr(errno, action)
            raise OSError(code, os.strerror(code), str(args[0]) if args else None)
        if action == "false":
            return False
        result = original(*args, **kwargs)
        if now and action == "kill-after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, wrapper)

for spec in filter(None, os.environ.get("GEN_INJECT", "").split(";")):
    inject(spec)
from generator.cli import main
main()
"""


def gen_command(*args: str) -> list[str]:
    """The real `gen` entry point, with the faults of ``$GEN_INJECT`` injected."""
    return [sys.executable, "-c", INJECT, *args]


def run_injected(tmp_path: Path, fake: ff.FakeFibery, inject: str, *args: str, **popen: Any) -> Any:
    env = env_with(**gen_env(fake), GEN_INJECT=inject)
    return subprocess.run(
        gen_command("build", *args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, **popen
    )


def leftovers(tmp_path: Path) -> list[str]:
    """Staging and old folders beside the site, and temporary files in the caches."""
    beside = [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")]
    cache = tmp_path / ".cache"  # no file of the caches is a dot-file but a temporary one
    return beside + [p.name for p in cache.rglob(".*") if p.is_file()] if cache.is_dir() else beside


def assert_old_or_new_site(site: Path, old_site: dict[str, bytes]) -> str:
    """A complete site is in place: the previous one byte for byte, or a complete new one."""
    if site_files(site) == old_site:
        return "old"
    assert_complete_site(site, DEMO)
    return "new"


NO_SEARCH = "search = false\n"

KILLS = {
    # where, and which site must be in place after the kill
    "while fetching (writing the fetch cache)": ("os:replace,1,kill-before", "old"),
    "while writing pages": ("generator.site.writer:SiteWriter.write,40,kill-before", "old"),
    "while Pagefind indexes the pages": ("generator.search:SearchIndex._cut,3,kill-after", "old"),
    "after Pagefind, before the swap": ("generator.search:SearchIndex.finish,1,kill-after", "old"),
    "just before the swap": ("generator.site.writer:_swap,1,kill-before", "old"),
    "just after the exchange": ("generator.site.writer:_exchange,1,kill-after", "new"),
    "between the two renames (no exchange)": (
        "generator.site.writer:_exchange,1,false;pathlib:Path.rename,1,kill-after",
        "",
    ),
    "before the render cache is saved": ("generator.build:save_render_state,1,kill-before", "new"),
}


@pytest.mark.parametrize("point", list(KILLS))
def test_sigkill_leaves_a_complete_site(
    point: str, tmp_path: Path, faulty: ff.FakeFibery, old_site: dict[str, bytes]
) -> None:
    inject, expected = KILLS[point]
    if "Pagefind" not in point:  # Pagefind takes a second or two a build: only where it matters
        (tmp_path / "kb.toml").write_text(NO_SEARCH)
    killed = run_injected(tmp_path, faulty, inject)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    site = tmp_path / "site"
    if expected:
        assert assert_old_or_new_site(site, old_site) == expected
    else:
        # Without an atomic exchange (not Linux) the previous site waits beside, complete.
        assert not site.exists()
        (old,) = [p for p in tmp_path.iterdir() if ".site.fibery-kb-old-" in p.name]
        assert site_files(old) == old_site
    rerun = run_gen("build", cwd=tmp_path, **gen_env(faulty))
    assert rerun.returncode == 0, rerun.stderr
    assert_complete_site(site, DEMO)
    assert leftovers(tmp_path) == []
    assert_no_secret(rerun, tmp_path)


def test_an_interrupted_swap_is_restored_before_anything_else(
    tmp_path: Path, faulty: ff.FakeFibery, old_site: dict[str, bytes]
) -> None:
    """The next build puts the previous site back first: a failing rebuild leaves it there."""
    run_injected(tmp_path, faulty, "generator.site.writer:_exchange,1,false;pathlib:Path.rename,1,kill-after")
    assert not (tmp_path / "site").exists()
    (tmp_path / "kb.toml").write_text(FAST)
    faulty.faults.append(ff.truncated_json(count=None))
    failed = run_gen("build", cwd=tmp_path, **gen_env(faulty))
    assert failed.returncode == 3, failed.stderr
    assert site_files(tmp_path / "site") == old_site


def test_concurrent_builds_take_turns(tmp_path: Path, faulty: ff.FakeFibery, old_site: dict[str, bytes]) -> None:
    """The first build pauses just before its swap; a second one starts meanwhile. It waits
    for the first (saying so), then builds: both succeed, nothing is left over."""
    (tmp_path / "kb.toml").write_text(NO_SEARCH)
    env = env_with(**gen_env(faulty), GEN_INJECT="generator.site.writer:SiteWriter.commit,1,sleep3")
    first = subprocess.Popen(gen_command("build"), cwd=tmp_path, env=env, stdout=PIPE, stderr=PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(".site.fibery-kb-staging-" in p.name for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run_gen("build", "--out", "site", cwd=tmp_path, **gen_env(faulty))
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert second.returncode == 0, second.stderr
    assert "another build into" in second.stderr and "waiting for it to finish" in second.stderr
    assert_complete_site(tmp_path / "site", DEMO)
    assert leftovers(tmp_path) == []


def limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize(
    ("how", "cause"),
    [
        ("RLIMIT_FSIZE 4 kB", "File too large"),
        ("ENOSPC on a page", "No space left on device"),
        ("EROFS on the staging folder", "Read-only file system"),
    ],
)
def test_a_full_or_read_only_disk_is_one_line(
    how: str, cause: str, tmp_path: Path, faulty: ff.FakeFibery, old_site: dict[str, bytes]
) -> None:
    (tmp_path / "kb.toml").write_text(NO_SEARCH)  # and with RLIMIT_FSIZE, pages (not Pagefind) meet the limit
    if how.startswith("RLIMIT"):
        result = run_injected(tmp_path, faulty, "", preexec_fn=limit_file_size(4_000))
    elif how.startswith("ENOSPC"):
        result = run_injected(tmp_path, faulty, "generator.site.writer:_write_file,20,ENOSPC")
    else:
        result = run_injected(tmp_path, faulty, "tempfile:mkdtemp,1,EROFS")
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("WARNING: ")]
    assert len(lines) == 1 and lines[0].startswith("error: cannot write ") and cause in lines[0], result.stderr
    assert str(tmp_path) in lines[0] and result.stderr.strip().endswith(lines[0])
    assert site_files(tmp_path / "site") == old_site
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Any:
    """A 1.5 MB tmpfs (the demo site is about 1.2 MB)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); RLIMIT_FSIZE covers the full disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk(small_tmpfs: Path, faulty: ff.FakeFibery) -> None:
    first = run_gen("build", "--demo", "--out", str(small_tmpfs / "site"), cwd=small_tmpfs.parent)
    assert first.returncode == 0, first.stderr
    before = site_files(small_tmpfs / "site")
    filler = os.open(small_tmpfs / "filler", os.O_WRONLY | os.O_CREAT)
    with contextlib.suppress(OSError):  # until the disk is full
        while os.write(filler, b"\0" * 4096):
            pass
    os.close(filler)
    result = run_gen("build", "--out", str(small_tmpfs / "site"), cwd=small_tmpfs.parent, **gen_env(faulty))
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(small_tmpfs) in lines[0], result.stderr
    assert site_files(small_tmpfs / "site") == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["filler", "site"]


def test_a_mount_point_as_output_is_one_line(small_tmpfs: Path) -> None:
    """`docker run -v "$PWD/site:/app/site"`: the output cannot be swapped; say so, change nothing."""
    (small_tmpfs / "keep.txt").write_text("mine")
    result = run_gen("build", "--demo", "--out", str(small_tmpfs), "--force", cwd=small_tmpfs.parent)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --out {small_tmpfs}: a mount point cannot be replaced; build into a folder inside it"
    ]
    assert [p.name for p in small_tmpfs.iterdir()] == ["keep.txt"]
