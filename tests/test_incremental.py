"""Incremental builds against the fake Fibery: the minimum of requests, only what changed
fetched, only affected pages rendered, no file written when nothing changed, and always the
same bytes as a clean full build."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from generator.build import BuildReport, build
from generator.cache import BuildCache
from generator.cli import make_source
from generator.config import SiteConfig
from generator.site.pages import SiteRenderer
from generator.sources import FiberySource

from . import fake_fibery as ff
from .conftest import TOKEN, make_config
from .e2e_helpers import DEMO, gen_env, site_files, snapshot_at
from .test_cli import run_gen

META = ("build-info.json", "status.html")
"""The two files that hold the build's time."""


def now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def database(snapshot: dict, title: str) -> dict:
    return next(db for db in snapshot["databases"] if db["title"] == title)


def rename_first_segment(fake: ff.FakeFibery) -> tuple[dict, dict]:
    """Rename the first process segment in Fibery ("Propagation (revised)", modified now):
    the snapshot served from now on, and that segment in it."""
    snapshot = fake.snapshot
    segment = database(snapshot, "Process Segments")["entities"][0]
    segment["name"], segment["modification_date"] = "Propagation (revised)", now()
    fake.update_snapshot(snapshot)
    return snapshot, segment


class Project:
    """A project folder building the fake's space with the caches of ``cache_dir``."""

    def __init__(self, root: Path, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.fake = root, fake
        root.mkdir(parents=True, exist_ok=True)
        monkeypatch.chdir(root)  # the file download cache lives under the working folder
        monkeypatch.setenv("FIBERY_TOKEN", TOKEN)

    def build(self, *, out: str = "site", full: bool = False, **settings: object) -> tuple[BuildReport, FiberySource]:
        config = make_config(search=False, **settings)
        cache = BuildCache(self.root / config.cache_dir, read=not full)
        source = make_source(
            config, demo=False, snapshot=None, fibery_url=self.fake.url, space=DEMO["space"], token_file=None,
            cache=cache,
        )  # fmt: skip
        self.fake.stats.reset()
        report = build(source, config, out=self.root / out, root=self.root, cache=cache)
        assert isinstance(source, FiberySource)
        return report, source

    def site(self, out: str = "site") -> dict[str, bytes]:
        return site_files(self.root / out)

    def times(self, out: str = "site") -> dict[str, int]:
        site = self.root / out
        return {p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}

    def same_as_full_build(self) -> None:
        """The incremental site is byte for byte what a clean build of the same data gives."""
        self.build(out="clean", full=True, cache_dir=".cache/clean")
        incremental, clean = self.site(), self.site("clean")
        assert sorted(p for p in incremental.keys() | clean.keys() if incremental.get(p) != clean.get(p)) in (
            [],
            list(META),
        )


@pytest.fixture
def fake():
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))
        yield server


@pytest.fixture
def project(tmp_path: Path, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch) -> Project:
    return Project(tmp_path / "project", fake, monkeypatch)


# --------------------------------------------------------------------------- requests


def test_cold_build_makes_the_minimum_of_requests_and_no_429(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """1 introspection + 1 REST schema + Σ⌈n / page size⌉ + 1 per file, under 3 requests/s
    with latency: nothing per entity, never a 429."""
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=3.0, latency=0.05) as server:
        server.update_snapshot(snapshot_at(server.url))
        report, source = Project(tmp_path / "p", server, monkeypatch).build(page_size=4)
        log = server.stats.log
    pages = sum(-(-len(db["entities"]) // 4) for db in DEMO["databases"])
    assert report.requests == source.stats.requests == len(log) == 1 + 1 + pages + len(DEMO["files"])
    assert server.stats.rate_limited == 0
    finds = [e for e in log if e.operation and e.operation.startswith("find")]
    assert len(finds) == pages  # list queries only: no entity is asked for on its own
    assert sum(1 for e in log if e.path.startswith("/api/files/")) == len(DEMO["files"])


def test_the_rate_limiter_counts_from_starts_and_never_trips_a_server_counting_arrivals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Fibery allows 3 requests/s per token (FIBERY_API.md §6) and documents no other rule, so
    the limiter counts from when requests start (at most 3 in any 1.06 s), not from answers.
    A server counting each request as it arrives, with up to 40 ms of network jitter on the
    way in and slow, uneven answers, never answers 429: how long answers take does not matter."""
    fake = ff.FakeFibery(DEMO, token=TOKEN, rate_limit=3.0, latency=0.05, latency_jitter=0.3, arrival_jitter=0.04)
    with fake as server:
        server.update_snapshot(snapshot_at(server.url))
        server.faults.append(ff.delay(1.2, count=4))
        Project(tmp_path / "p", server, monkeypatch).build(page_size=4)
        assert server.stats.rate_limited == 0
        assert server.stats.total > 10


# --------------------------------------------------------------------------- incremental fetch


def test_a_rebuild_fetches_only_changed_entities_and_notices_deletions(project: Project, fake: ff.FakeFibery):
    project.build()
    snapshot = fake.snapshot
    guides = database(snapshot, "Guides")
    guides["entities"][0]["name"] = "Renamed guide"
    guides["entities"][0]["modification_date"] = now()
    removed = guides["entities"].pop(1)
    added = {**guides["entities"][2], "id": "new-guide", "public_id": "99", "name": "Brand new"}
    added["modification_date"] = now()
    guides["entities"].append(added)
    fake.update_snapshot(snapshot)

    report, source = project.build()

    assert (source.stats.fetched, source.stats.deleted) == (2, 1)
    assert source.stats.cached == 33 - 2
    assert report.requests == 2  # schema + changes in one request, and GET /api/schema → 304
    assert fake.stats.by_status == {200: 1, 304: 1}
    pages = project.site()
    assert any("brand-new-99" in p for p in pages)
    assert not any(p.endswith(f"-{removed['public_id']}.html") and "/guides/" in p for p in pages)
    project.same_as_full_build()


def test_a_new_workflow_state_recolours_the_other_pages_of_its_database(project: Project, fake: ff.FakeFibery):
    """State colours depend on every state in use (``badges.py``): one entity taking a new
    state can change the badges of pages whose entities did not change."""
    project.build()
    snapshot = fake.snapshot
    guide = database(snapshot, "Guides")["entities"][0]
    guide["values"]["state"] = {"name": "Legal check"}  # open, and first seen before "In Review"
    guide["modification_date"] = now()
    fake.update_snapshot(snapshot)

    project.build()

    project.same_as_full_build()


def test_an_unchanged_space_costs_two_requests_and_writes_no_file(project: Project, fake: ff.FakeFibery):
    first, _ = project.build()
    before, times = project.site(), project.times()

    report, source = project.build()

    assert (report.requests, report.rendered, report.written, report.deleted) == (2, 0, 0, 0)
    assert (source.stats.fetched, source.stats.cached) == (0, 33)
    assert project.site() == before
    assert project.times() == times
    assert report.content_hash == first.content_hash and report.pages == first.pages


def test_an_unchanged_space_is_confirmed_without_reading_the_cached_entities(
    project: Project, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch
):
    """The no-change check (nochange.py) decides from Fibery's two answers and the recorded
    digests: the cached entities are not parsed, nothing is planned or rendered."""
    first, _ = project.build()
    project.build()  # and a rebuild after a rebuild
    from generator.fibery.fetchcache import FetchCache

    def unread(*args: object) -> None:
        raise AssertionError("the cached entities were read")

    monkeypatch.setattr(FetchCache, "load_entities", unread)
    monkeypatch.setattr("generator.build._build", unread)
    report, source = project.build()
    assert (report.requests, report.written, report.pages, report.databases) == (
        2, 0, first.pages, first.databases,
    )  # fmt: skip
    assert report.content_hash == first.content_hash and source.stats.cached == 33


def test_a_deleted_or_replaced_output_file_is_repaired_by_the_next_build(project: Project, fake: ff.FakeFibery):
    project.build()
    site = project.root / "site"
    before = project.site()
    page = sorted(site.glob("db/*/*.html"))[0]
    page.unlink()
    report, _ = project.build()
    assert report.written == 1 and project.site() == before
    replacement = page.with_name("replacement.tmp")
    replacement.write_text("edited")
    replacement.replace(page)  # how editors save
    report, _ = project.build()
    assert report.written == 1 and project.site() == before
    (site / "stray.html").write_text("added by hand")
    project.build()
    assert project.site() == before


def test_an_unchanged_snapshot_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A snapshot is known unchanged by its file's identity; any write to it is noticed."""
    from generator import sources

    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text(json.dumps(snapshot_at("https://example.fibery.io")))
    config = make_config(search=False)
    cache = BuildCache(tmp_path / config.cache_dir)

    def run() -> BuildReport:
        return build(sources.SnapshotSource(snapshot), config, out=tmp_path / "site", root=tmp_path, cache=cache)

    first = run()
    parse = sources.parse_snapshot
    with monkeypatch.context() as patch:
        patch.setattr(sources, "parse_snapshot", lambda *a: pytest.fail("the snapshot was parsed"))
        again = run()
    assert (again.written, again.pages, again.content_hash) == (0, first.pages, first.content_hash)
    data = json.loads(snapshot.read_text())
    data["databases"][0]["entities"][0]["name"] = "Renamed in the snapshot"
    snapshot.write_text(json.dumps(data))
    assert sources.parse_snapshot is parse
    changed = run()
    assert changed.written > 0 and changed.content_hash != first.content_hash


def test_a_page_that_times_out_is_halved_and_the_size_that_worked_is_remembered(project: Project, fake: ff.FakeFibery):
    """Pages start at ``page_size``; one that times out is asked again at half the size, and
    the next full read of that database starts at the size that worked (FetchMeta.page_sizes)."""

    def large_pages_hang(ctx: ff.FaultContext) -> object:
        for root in ctx.root_fields():
            limit = next((a.value for a in root.arguments or () if a.name.value == "limit"), None)
            if root.name.value.startswith("find") and int(getattr(limit, "value", 0)) > 21:
                return ff.HANG
        return None

    fake.faults.append(large_pages_hang)
    project.build(page_size=40, timeout=0.5)
    meta_file = next((project.root / ".cache").rglob("meta.json"))
    meta = json.loads(meta_file.read_text())
    assert set(meta["page_sizes"].values()) == {20}
    meta["full_at"] = "2000-01-01T00:00:00.000Z"  # the next build reads everything again
    meta_file.write_text(json.dumps(meta))
    fake.stats.reset()
    report, _ = project.build(page_size=40, timeout=0.5)
    assert all(e.status is not None for e in fake.stats.log)  # no page hung: each started at 20
    assert report.written == 0
    fake.faults.clear()
    project.same_as_full_build()


def test_builds_are_deterministic(tmp_path: Path, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch) -> None:
    one = Project(tmp_path / "one", fake, monkeypatch)
    a, _ = one.build()
    b, _ = Project(tmp_path / "two", fake, monkeypatch).build()
    assert a.content_hash == b.content_hash
    sites = site_files(tmp_path / "one" / "site"), site_files(tmp_path / "two" / "site")
    assert sorted(p for p in sites[0] if sites[0][p] != sites[1].get(p)) in ([], list(META))
    again, _ = one.build(full=True)
    assert again.content_hash == a.content_hash and again.written == 0


# --------------------------------------------------------------------------- render cache


def affected_pages(snapshot: dict, entity_id: str, paths: dict[str, str]) -> set[str]:
    """Pages that may show entity ``entity_id``: its own, those it links to, those linking
    to it (relations or a Fibery URL in rich text)."""
    target_db, target = next((db, e) for db in snapshot["databases"] for e in db["entities"] if e["id"] == entity_id)
    mention = re.compile(rf"/{target_db['web_name']}/(?:[^/\"']*-)?{target['public_id']}(?![0-9])")
    ids = {entity_id}
    for db in snapshot["databases"]:
        for e in db["entities"]:
            values = json.dumps(e["values"])
            if e["id"] == entity_id:
                ids |= set(re.findall(r'"id": "([^"]+)"', values))
            elif f'"id": "{entity_id}"' in values or mention.search(values):
                ids.add(e["id"])
    return {paths[i] for i in ids if i in paths}


def test_a_change_renders_only_the_pages_it_affects(
    project: Project, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.build()
    before, times = project.site(), project.times()
    snapshot, segment = rename_first_segment(fake)
    rendered: list[str] = []
    original = SiteRenderer._entity_page

    def spy(self: SiteRenderer, db, entity, path):  # type: ignore[no-untyped-def]
        rendered.append(path)
        return original(self, db, entity, path)

    monkeypatch.setattr(SiteRenderer, "_entity_page", spy)
    report, _ = project.build()

    assert rendered and set(rendered) <= affected_pages(snapshot, segment["id"], _entity_paths(project))
    assert len(rendered) < 33 / 2
    changed = {p for p, t in project.times().items() if times.get(p) != t}
    assert "db/process-segments/propagation-revised-1.html" in changed
    old_page = "db/process-segments/propagation-1.html"
    assert old_page in before and old_page not in project.site()
    assert report.written == len(changed)
    project.same_as_full_build()


def test_a_change_makes_again_the_table_of_its_own_database_only(
    project: Project, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database's table (its pages and ``rows.js``) is carried over unless one of its
    entities changed (``keys.table_keys``), and the site is still a full build's."""
    project.build()
    rename_first_segment(fake)
    tables: list[str] = []
    original = SiteRenderer._database_pages

    def spy(self: SiteRenderer, db):  # type: ignore[no-untyped-def]
        tables.append(db.title)
        return original(self, db)

    monkeypatch.setattr(SiteRenderer, "_database_pages", spy)
    project.build()
    assert tables == ["Process Segments"]
    project.same_as_full_build()


def _entity_paths(project: Project) -> dict[str, str]:
    """Entity id → page path, as the current data plans them."""
    from generator.publish import apply_publish_rules
    from generator.site.plan import plan_site

    config = make_config(search=False)
    source = make_source(
        config, demo=False, snapshot=None, fibery_url=project.fake.url, space=DEMO["space"], token_file=None
    )
    workspace = apply_publish_rules(source.load(), config).in_stable_order()
    return plan_site(workspace, config, content_dir=project.root / "content").entity_paths


def test_a_template_change_renders_every_page_again(project: Project) -> None:
    project.build()
    templates = project.root / "templates"
    templates.mkdir()
    entity = (Path(__file__).resolve().parent.parent / "templates" / "entity.html").read_text()
    (templates / "entity.html").write_text(entity.replace("<article>", '<article class="changed">'))

    report, _ = project.build()

    pages = project.site()
    entity_pages = [p for p in pages if p.startswith("db/") and not p.endswith("/index.html") and p.endswith(".html")]
    assert report.rendered >= len(entity_pages) == 33
    assert all(b'<article class="changed">' in pages[p] for p in entity_pages)


def test_a_schema_change_refetches_only_the_databases_it_touches(project: Project, fake: ff.FakeFibery) -> None:
    project.build()
    snapshot = fake.snapshot
    guides = database(snapshot, "Guides")
    guides["fields"].append({"key": "audience", "title": "Audience", "kind": "text"})
    for entity in guides["entities"]:
        entity["values"]["audience"] = "Growers"
    fake.update_snapshot(snapshot)

    _, source = project.build()

    assert source.stats.fetched == len(guides["entities"])  # Guides in full, the rest cached
    assert source.stats.cached == 33 - len(guides["entities"])
    assert all(b"Growers" in page for path, page in project.site().items() if path.startswith("db/guides/g"))
    project.same_as_full_build()


def test_a_removed_field_falls_back_to_reading_the_schema_alone(project: Project, fake: ff.FakeFibery) -> None:
    project.build()
    snapshot = fake.snapshot
    database(snapshot, "Equipment")["fields"] = [
        f for f in database(snapshot, "Equipment")["fields"] if f["title"] != "Manufacturer"
    ]
    fake.update_snapshot(snapshot)

    _, source = project.build()

    assert fake.stats.by_status.get(400) == 1  # the cached query no longer validates
    assert source.stats.fetched == len(database(snapshot, "Equipment")["entities"])
    project.same_as_full_build()


def test_a_damaged_cache_means_a_full_build(project: Project) -> None:
    first, _ = project.build()
    for path in (project.root / ".cache").rglob("*.json"):
        path.write_text("{damaged")
    report, source = project.build()
    assert source.stats.fetched == 33 and report.written == 0 and report.content_hash == first.content_hash


def test_gen_build_full_ignores_the_caches(tmp_path: Path, fake: ff.FakeFibery) -> None:
    assert run_gen("build", cwd=tmp_path, **gen_env(fake)).returncode == 0
    time.sleep(1.1)
    again = run_gen("build", cwd=tmp_path, **gen_env(fake))
    assert again.returncode == 0 and "0 files written" in again.stdout
    full = run_gen("build", "--full", cwd=tmp_path, **gen_env(fake))
    assert full.returncode == 0 and "0 files written" in full.stdout
    assert fake.stats.count(operation=ff.graphql_names(DEMO)["Guides"][1]) >= 2  # read in full twice


def test_cache_dir_is_a_setting() -> None:
    assert SiteConfig().cache_dir == ".cache/fibery-kb"
    assert make_config(cache_dir="build/cache").cache_dir == "build/cache"


def test_an_incremental_build_makes_its_files_in_a_full_builds_order(
    project: Project, fake: ff.FakeFibery, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pagefind indexes files in the order a folder lists them, and tmpfs lists them in the
    order they were made: pages carried over must be made where a full build makes them."""
    from generator.site.writer import SiteWriter

    project.build()
    rename_first_segment(fake)
    made: list[str] = []
    write, keep = SiteWriter.write, SiteWriter.keep

    def spy_write(self: SiteWriter, relative: str, data: bytes) -> None:
        made.append(relative)
        write(self, relative, data)

    def spy_keep(self: SiteWriter, relative: str) -> bool:
        kept = keep(self, relative)
        if kept:
            made.append(relative)
        return kept

    monkeypatch.setattr(SiteWriter, "write", spy_write)
    monkeypatch.setattr(SiteWriter, "keep", spy_keep)
    incremental, _ = project.build()
    order, made[:] = list(made), []
    project.build(out="clean", full=True, cache_dir=".cache/clean")
    assert 0 < incremental.rendered < incremental.pages  # pages were carried over
    assert order == made


# --------------------------------------------------------------------------- both ends of a relation


def test_moved_and_deleted_relations_update_both_ends(project: Project, fake: ff.FakeFibery) -> None:
    """A guide's owner moves from X to Y, and another guide with an owner is deleted: X no
    longer lists the first (nor the deleted one), Y does. Only the guides changed in Fibery
    (the owners' modification dates stay), as Fibery reports an inverse change."""
    project.build()
    snapshot = fake.snapshot
    guides, people = database(snapshot, "Guides"), database(snapshot, "Team Members")
    moved = guides["entities"][0]
    before = moved["values"]["owner"]["id"]
    after = next(p["id"] for p in people["entities"] if p["id"] != before)
    moved["values"]["owner"] = {"id": after}
    moved["modification_date"] = now()
    deleted = next(g for g in guides["entities"][1:] if g["values"].get("owner"))
    guides["entities"].remove(deleted)
    fake.update_snapshot(snapshot)

    project.build()
    pages = {path: data.decode() for path, data in project.site().items() if path.startswith("db/team-members/")}
    assert not any(deleted["name"] in html for html in pages.values())
    project.same_as_full_build()  # byte for byte: X and Y as a full build shows them


def with_inverse_field(snapshot: dict) -> dict:
    """The demo with Fibery's other end of Guides.Owner: Team Members.Guides, a collection."""
    snapshot = json.loads(json.dumps(snapshot))
    guides, people = database(snapshot, "Guides"), database(snapshot, "Team Members")
    owner = next(f for f in guides["fields"] if f["title"] == "Owner")
    if not any(f["key"] == "guides" for f in people["fields"]):
        people["fields"].append({"key": "guides", "kind": "collection", "target": guides["key"], "title": "Guides"})
    for person in people["entities"]:
        owned = [g["id"] for g in guides["entities"] if (g["values"].get(owner["key"]) or {}).get("id") == person["id"]]
        person["values"]["guides"] = [{"id": i} for i in owned]
    return snapshot


def test_moved_relations_update_the_inverse_field_too(project: Project, fake: ff.FakeFibery) -> None:
    """Fibery changes both ends of a relation but bumps the modification date of the entity
    edited only: the other end's collection (X lost the guide, Y gained it) must follow."""
    fake.update_snapshot(with_inverse_field(fake.snapshot))
    project.build()
    snapshot = fake.snapshot
    guides, people = database(snapshot, "Guides"), database(snapshot, "Team Members")
    moved = guides["entities"][0]
    before = moved["values"]["owner"]["id"]
    after = next(p["id"] for p in people["entities"] if p["id"] != before)
    moved["values"]["owner"], moved["modification_date"] = {"id": after}, now()
    deleted = next(g for g in guides["entities"][1:] if g["values"].get("owner"))
    guides["entities"].remove(deleted)
    fake.update_snapshot(with_inverse_field(snapshot))  # both ends, as Fibery shows them
    project.build()
    project.same_as_full_build()
