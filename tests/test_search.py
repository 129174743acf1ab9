"""Search: the Pagefind index is built on the staged site, covers every entity, database and
content page (and nothing else), and a build without Pagefind still succeeds, with a warning; a Pagefind that fails
fails the build. The search itself is exercised in a real browser by tests/test_browser.py."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator import search
from generator.build import build
from generator.errors import RenderError
from generator.sources import DemoSource

from .conftest import ROOT, make_config
from .test_cli import run_gen

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


@needs_pagefind
def test_the_index_is_built_with_the_site(site: Path) -> None:
    entry = json.loads((site / "pagefind" / "pagefind-entry.json").read_text())
    assert entry["languages"]["en"]["page_count"] == len(indexed_pages(site))
    for name in ("pagefind.js", "pagefind-worker.js"):
        assert (site / "pagefind" / name).is_file()
    assert list((site / "pagefind" / "fragment").iterdir())


@needs_pagefind
def test_the_index_is_deterministic(tmp_path: Path, site: Path) -> None:
    build(DemoSource(), make_config(), out=tmp_path / "again", root=ROOT)

    def index(root: Path) -> dict[str, bytes]:
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "pagefind").rglob("*") if p.is_file()}

    assert index(site) == index(tmp_path / "again")


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
    partial = (
        "import pathlib, sys; site = pathlib.Path(sys.argv[sys.argv.index('--site') + 1]);"
        "(site / 'pagefind').mkdir(); (site / 'pagefind' / 'pagefind.js').write_text('partial');"
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
