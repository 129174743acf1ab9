"""Search: the Pagefind index is built with the site, in shards, covers every entity, database and
content page (and nothing else); a rebuild re-indexes only the shards whose pages changed and
gives the index a full build gives, byte for byte; a build without Pagefind still succeeds,
with a warning; a Pagefind that fails fails the build. The search itself is exercised in a
real browser by tests/test_browser.py and tests/test_reader.py."""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator import search
from generator.build import build
from generator.cache import BuildCache
from generator.errors import RenderError
from generator.sources import DemoSource

from .conftest import ROOT, make_config
from .test_cli import run_gen
from .test_site import StaticSource

GEN_MAIN = "from generator.cli import main; main()"
needs_pagefind = pytest.mark.skipif(
    search.pagefind_command() is None, reason="Pagefind is not installed (pip install 'pagefind[bin]')"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("search") / "site"
    build(DemoSource(), make_config(), out=out, root=ROOT)
    return out


def indexed_pages(site: Path) -> set[str]:
    """Pages marked for indexing: those with ``data-pagefind-body``."""
    return {p.relative_to(site).as_posix() for p in site.rglob("*.html") if "data-pagefind-body" in p.read_text()}


def test_every_entity_database_and_content_page_is_marked_for_indexing(site: Path, demo) -> None:
    pages = indexed_pages(site)
    assert {"index.html", "about.html"} <= pages
    assert {f"db/{d}/index.html" for d in ("guides", "equipment", "process-segments", "team-members")} <= pages
    assert len([p for p in pages if p.startswith("db/") and not p.endswith("index.html")]) == demo.entity_count
    assert not pages & {"404.html", "databases.html", "status.html"}


def test_results_show_the_database(site: Path) -> None:
    entity = next(site.glob("db/guides/pest-scouting*.html")).read_text()
    assert '<meta data-pagefind-meta="database[content]" content="Guides">' in entity
    assert '<meta data-pagefind-meta="database[content]" content="Page">' in (site / "about.html").read_text()
    # Navigation-like parts stay out of the index: a search hits the page about the thing.
    linked = next(site.glob("db/equipment/potting-machine-pm-2-*.html")).read_text()
    assert '<section class="backlinks" aria-labelledby="backlinks-heading" data-pagefind-ignore>' in linked
    assert (
        '<section aria-labelledby="entities-heading" data-pagefind-ignore>'
        in (site / "db" / "guides" / "index.html").read_text()
    )


def bundles(site: Path) -> list[Path]:
    """The primary bundle (pagefind/) and the shards search.js merges into it."""
    folders = json.loads((site / "pagefind" / "shards.json").read_text())
    return [site / "pagefind", *(site / "pagefind" / folder for folder in folders)]


def index_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in (site / "pagefind").rglob("*") if p.is_file()}


@needs_pagefind
def test_the_index_is_built_with_the_site(site: Path) -> None:
    shards = bundles(site)
    assert len(shards) > 1
    counts = [json.loads((s / "pagefind-entry.json").read_text())["languages"]["en"]["page_count"] for s in shards]
    assert sum(counts) == len(indexed_pages(site))
    for name in ("pagefind.js", "pagefind-worker.js", "wasm.en.pagefind"):
        assert (site / "pagefind" / name).is_file()
    for shard in shards:
        assert list((shard / "fragment").iterdir())
        assert list(shard.glob("pagefind.*.pf_meta"))
    # The merged shards hold their index only; nobody loads Pagefind's own UI files.
    assert not [p for s in shards[1:] for p in s.iterdir() if p.name.endswith((".js", ".css", ".pagefind"))]
    assert not list((site / "pagefind").glob("pagefind-*ui*"))
    # Shards never straddle folders: a database's pages are re-indexed apart from the rest.
    urls = {s: {p.path for p in _pages(s)} for s in shards}
    assert all(len({u.rpartition("/")[0] for u in found}) == 1 for found in urls.values())


def _pages(shard: Path) -> list[search._Page]:
    """The URLs a shard indexes (from its fragments' JSON, gzip inside Pagefind's envelope)."""
    import gzip

    found = []
    for fragment in (shard / "fragment").iterdir():
        data = gzip.decompress(fragment.read_bytes())
        url = json.loads(data[data.index(b"{") :])["url"]
        found.append(search._Page(url.removeprefix("/"), "", None))
    return found


@needs_pagefind
def test_the_index_is_deterministic(tmp_path: Path, site: Path) -> None:
    build(DemoSource(), make_config(), out=tmp_path / "again", root=ROOT)
    assert index_files(site) == index_files(tmp_path / "again")


@needs_pagefind
def test_pagefind_reads_the_same_from_the_trimmed_pages(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the head and the <main data-pagefind-body> of a page are sent: the index is the
    one the whole pages give."""
    monkeypatch.setattr(search, "search_doc", lambda data: data if b"data-pagefind-body" in data else None)
    build(DemoSource(), make_config(), out=tmp_path / "whole", root=ROOT)

    def contents(site: Path) -> list[dict[str, bytes]]:  # the shards' folders are named by their texts
        return [
            {
                p.relative_to(b).as_posix(): p.read_bytes()
                for p in b.rglob("*")
                if p.is_file() and "s/" not in p.relative_to(b).as_posix()[:2] and p.name != "shards.json"
            }
            for b in bundles(site)
        ]

    assert contents(site) == contents(tmp_path / "whole")


def test_search_doc_keeps_what_pagefind_reads() -> None:
    page = (
        b'<!doctype html>\n<html lang="en">\n<head><title>T</title>'
        b'<meta data-pagefind-meta="database[content]" content="Guides"></head>\n<body><nav>menu</nav>'
        b'<main id="main" data-pagefind-body><h1>T</h1><p>text</p></main><footer>f</footer></body></html>'
    )
    assert search.search_doc(page) == (
        b'<html lang="en">\n<head><title>T</title><meta data-pagefind-meta="database[content]" content="Guides">'
        b'</head><body><main id="main" data-pagefind-body><h1>T</h1><p>text</p></main></body></html>'
    )
    assert search.search_doc(page.replace(b" data-pagefind-body", b"")) is None
    odd = page.replace(b"<footer>", b"<footer data-pagefind-filter='x'>")  # Pagefind reads outside <main>
    assert search.search_doc(odd) == odd


def test_shards_are_cut_where_the_paths_say() -> None:
    assert [search.chunk_size(n) for n in (10, 3_000, 10_000, 100_000)] == [256, 256, 512, 1024]


def test_a_second_pagefind_runs_where_memory_allows() -> None:
    gib = 2**30
    assert search.room_for_two(512, None)  # shards below the largest: small whatever the site
    assert search.room_for_two(search.MAX_CHUNK, 1 * gib)  # 50,000 entities: about 1 GB held
    assert not search.room_for_two(search.MAX_CHUNK, int(1.5 * gib))  # 100,000: about 1.5 GB
    assert not search.room_for_two(search.MAX_CHUNK, None)  # unknown: one at a time


def _edited(workspace, database: str, number: int):
    edited = copy.deepcopy(workspace)
    db = next(d for d in edited.databases if d.title == database)
    db.entities[number].values["manufacturer"] = "Zyxwvut Instruments"
    return edited


@needs_pagefind
def test_a_rebuild_reindexes_only_the_changed_shard_and_equals_a_full_build(tmp_path: Path) -> None:
    workspace = DemoSource().load()
    out, cache = tmp_path / "site", BuildCache(tmp_path / "cache")
    build(StaticSource(copy.deepcopy(workspace)), make_config(), out=out, root=ROOT, cache=cache)
    before = {p: (out / p).stat().st_ino for p in index_files(out)}
    edited = _edited(workspace, "Equipment", 3)
    build(StaticSource(copy.deepcopy(edited)), make_config(), out=out, root=ROOT, cache=cache)
    build(StaticSource(copy.deepcopy(edited)), make_config(), out=tmp_path / "full", root=ROOT)
    assert index_files(out) == index_files(tmp_path / "full")
    after = {p: (out / p).stat().st_ino for p in index_files(out)}
    new = {p for p in after if before.get(p) != after[p]}
    # Only the Equipment shard was indexed again (a new folder), and the list of shards written.
    equipment = [b for b in bundles(out) if any(p.path.startswith("db/equipment/") for p in _pages(b))]
    assert len(equipment) == 1
    folder = equipment[0].relative_to(out).as_posix()
    assert new == {p for p in after if p.startswith(folder + "/")} | {"pagefind/shards.json"}
    assert "/s/" in folder and not any(p.startswith(folder + "/") for p in before)


@needs_pagefind
def test_a_rebuild_without_the_search_cache_reads_the_kept_pages(tmp_path: Path) -> None:
    workspace = DemoSource().load()
    out, cache = tmp_path / "site", BuildCache(tmp_path / "cache")
    build(StaticSource(copy.deepcopy(workspace)), make_config(), out=out, root=ROOT, cache=cache)
    import shutil

    shutil.rmtree(tmp_path / "cache" / "search")
    edited = _edited(workspace, "Equipment", 3)
    build(StaticSource(copy.deepcopy(edited)), make_config(), out=out, root=ROOT, cache=cache)
    build(StaticSource(copy.deepcopy(edited)), make_config(), out=tmp_path / "full", root=ROOT)
    assert index_files(out) == index_files(tmp_path / "full")


def test_without_pagefind_the_build_warns_and_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(search, "pagefind_command", lambda: None)
    with caplog.at_level(logging.WARNING):
        build(DemoSource(), make_config(), out=tmp_path / "site", root=ROOT)
    assert (tmp_path / "site" / "index.html").is_file()
    assert not (tmp_path / "site" / "pagefind").exists()
    assert "search index not built: Pagefind is not installed (pip install 'pagefind[bin]')" in caplog.text


def test_a_failing_pagefind_fails_the_build_and_keeps_the_previous_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pagefind writes half an index, then fails: nothing of it is published."""
    out = tmp_path / "site"
    monkeypatch.setattr(search, "pagefind_command", lambda: None)
    build(DemoSource(), make_config(), out=out, root=ROOT)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    # A service that answers the first request (a new index), then dies.
    partial = (
        "import base64, json, sys; sys.stdin.buffer.read1(100);"
        "a = {'message_id': 1, 'payload': {'type': 'NewIndex', 'index_id': 0}};"
        "sys.stdout.buffer.write(base64.b64encode(json.dumps(a).encode()) + b','); sys.stdout.flush();"
        "sys.exit('pagefind exploded')"
    )
    monkeypatch.setattr(search, "pagefind_command", lambda: [sys.executable, "-c", partial])
    (tmp_path / "templates").mkdir()  # something changed: the build gets as far as the index
    (tmp_path / "templates" / "extra.html").write_text("x")
    with pytest.raises(RenderError, match="search index failed: Pagefind: pagefind exploded"):
        build(DemoSource(), make_config(), out=out, root=tmp_path)
    assert {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site.fibery-kb-")] == []


def test_a_failing_pagefind_is_one_line_and_exit_1(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    pagefind = fake_bin / "pagefind"
    pagefind.write_text("#!/bin/sh\necho 'Error: out of cheese' >&2\nexit 3\n")
    pagefind.chmod(0o755)
    code = f"import generator.search as s; s.pagefind_command = lambda: [{str(pagefind)!r}]; {GEN_MAIN}"
    result = subprocess.run(
        [sys.executable, "-c", code, "build", "--demo"], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == ["error: search index failed: Pagefind: Error: out of cheese"]
    assert not (tmp_path / "site").exists()


def test_search_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text("search = false\n")
    result = run_gen("build", "--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "site" / "pagefind").exists()
    assert not re.search(r"search\.js|role=\"search\"", (tmp_path / "site" / "index.html").read_text())
