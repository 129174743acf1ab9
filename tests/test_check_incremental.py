"""The incremental link check (``check.LinkOutcomes``): over any series of edits to a site,
a check that reuses the outcomes of the one before gives the report a check from scratch
gives: the same pages, link counts and problems, in the same order."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.check import CheckReport, LinkOutcomes, PageFacts, check_site

PAGES = ["index.html", "a.html", "b.html", "d/index.html", "d/c.html", "d/e/f.html", "d/e/index.html", "g/h.html"]
OTHER = ["img.png", "d/x.css", "d/e", "g/index.html.bak"]
LINKS = [
    "a.html", "b.html#top", "#top", "#x", "", "?q", "d/", "d", "d/c.html#y", "d/c.html#top", "../a.html",
    "../../a.html", "/d/c.html", "/d/c.html#x", "img.png", "../img.png", "https://example.com/a.html",
    "//host/x", "mailto:a@b", "e/", "e", "e/f.html#top", "e/index.html#x", "c.html", "c.html#y", "index.html",
    "index.html#top", "./", ".", "/", "x.css", "d/x.css", "nope.html", "%64/c.html", "f.html", "../g/h.html",
    "g/h.html#x", "../../g/h.html", "http://[bad", " a.html", "b.html?x=1#top", "../index.html#x",
]  # fmt: skip
IDS = ["top", "x", "y"]


def page(links: list[str], ids: list[str]) -> str:
    anchors = "".join(f'<a href="{link}">l</a>' for link in links)
    return "<!doctype html><html><body>" + "".join(f'<p id="{i}"></p>' for i in ids) + anchors + "</body></html>"


html_pages = st.builds(page, st.lists(st.sampled_from(LINKS), max_size=8), st.lists(st.sampled_from(IDS), max_size=3))
edits = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(PAGES), html_pages),
    st.tuples(st.just("write"), st.sampled_from(OTHER), st.just("bytes")),
    st.tuples(st.just("delete"), st.sampled_from(PAGES + OTHER), st.just("")),
)


def full(site: Path) -> CheckReport:
    return check_site(site, allow_orphans=("g/*",))


class Checker:
    """Checks one site again and again as a build does: files and digests handed in, facts
    and outcomes carried from one check to the next through their files."""

    def __init__(self, site: Path, cache: Path) -> None:
        self.site, self.facts_file = site, cache / "site.links.json"
        self.outcomes_file = LinkOutcomes.beside(self.facts_file)
        self.facts = PageFacts()

    def check(self, undigested: frozenset[str] = frozenset()) -> CheckReport:
        """Check the site, as a build would; the pages in ``undigested`` with no digest."""
        files = sorted(p.relative_to(self.site).as_posix() for p in self.site.rglob("*") if p.is_file())
        digests = {
            f: hashlib.sha256((self.site / f).read_bytes()).hexdigest()
            for f in files
            if f.endswith(".html") and f not in undigested
        }
        outcomes = LinkOutcomes.load(self.outcomes_file)
        report = check_site(
            self.site, allow_orphans=("g/*",), files=files, digests=digests, facts=self.facts, outcomes=outcomes
        )
        if outcomes.changed() or not self.outcomes_file.exists():
            for path, data in outcomes.files(self.outcomes_file):
                path.write_bytes(data) if data is not None else path.unlink(missing_ok=True)
        return report


def same(found: CheckReport, expected: CheckReport) -> None:
    assert (found.pages, found.links, found.external) == (expected.pages, expected.links, expected.external)
    assert found.problems == expected.problems  # the same problems in the same order


@pytest.fixture
def folders() -> Iterator[tuple[Path, Path]]:
    folder = Path(tempfile.mkdtemp())
    yield folder / "site", folder / "cache"
    shutil.rmtree(folder)


def apply(site: Path, edit: tuple[str, str, str]) -> None:
    action, path, body = edit
    target = site / path
    if action == "delete":
        if target.is_file():
            target.unlink()
        return
    if target.is_dir():  # "d/e" as a file cannot be beside the folder d/e
        return
    if any(parent.is_file() for parent in target.parents):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.dictionaries(st.sampled_from(PAGES), html_pages, min_size=1),
    steps=st.lists(st.tuples(edits, st.just(frozenset()) | st.frozensets(st.sampled_from(PAGES), max_size=2))),
    rewrite=st.sampled_from([LinkOutcomes.REWRITE, 1]),
)
def test_incremental_checks_give_the_report_of_a_check_from_scratch(
    start: dict[str, str], steps: list[tuple[tuple[str, str, str], frozenset[str]]], rewrite: int
) -> None:
    """Random sites edited at random; now and then a page has no digest (its outcome is
    then worked out, and not saved). With ``rewrite`` 1, the main file is kept until the
    added one is as large (a site of 8 pages would otherwise rewrite it at each change)."""
    folder = Path(tempfile.mkdtemp())
    default, LinkOutcomes.REWRITE = LinkOutcomes.REWRITE, rewrite
    try:
        site, cache = folder / "site", folder / "cache"
        cache.mkdir()
        for path, body in {"index.html": page(["a.html"], []), **start}.items():
            apply(site, ("write", path, body))
        checker = Checker(site, cache)
        same(checker.check(), full(site))
        for edit, undigested in steps:
            apply(site, edit)
            same(checker.check(undigested), full(site))
    finally:
        LinkOutcomes.REWRITE = default
        shutil.rmtree(folder)


def test_scripted_edits_reuse_what_holds_and_work_out_what_changed(folders: tuple[Path, Path]) -> None:
    """The edits the outcomes must notice, each checked against a check from scratch, and
    the pages worked out again: the page edited, and those whose outcome depended on it."""
    site, cache = folders
    cache.mkdir(parents=True)
    pages = {
        "index.html": page(["a.html", "b.html#top", "d/", "nope.html", "d/e/"], ["top"]),
        "a.html": page(["index.html", "b.html#top", "img.png"], []),
        "b.html": page(["index.html", "#top", "d/c.html"], ["top"]),
        "d/index.html": page(["../index.html", "c.html#y"], []),
        "d/c.html": page(["../index.html", "e/f.html"], ["y"]),
        "d/e/f.html": page(["../../index.html"], []),
    }
    for path, body in pages.items():
        apply(site, ("write", path, body))
    checker = Checker(site, cache)

    def step(*edit: str) -> CheckReport:
        if edit:
            apply(site, (edit[0], edit[1], edit[2] if len(edit) > 2 else ""))
        report = checker.check()
        same(report, full(site))
        return report

    first = step()
    assert first.worked == first.pages == 6
    kinds = [(p.kind, p.page, p.target) for p in first.problems]
    assert kinds == [
        ("broken link", "index.html", "nope.html"),
        ("broken link", "index.html", "d/e/"),
        ("broken link", "a.html", "img.png"),
    ]
    assert step().worked == 0  # nothing changed: every outcome holds
    # A file added: the broken links to it now resolve; only the pages that looked it up change.
    assert step("write", "img.png", "png").worked == 1
    # folder/ → folder/index.html: "d/e/" resolves once d/e/index.html exists (and is reached).
    report = step("write", "d/e/index.html", page(["../../index.html"], []))
    assert report.worked == 2 and report.pages == 7  # index.html and the new page
    # An id a fragment points at removed: the pages linking to b.html#top are worked out again.
    report = step("write", "b.html", page(["index.html", "d/c.html"], []))
    assert report.worked == 3
    assert [(p.page, p.target) for p in report.problems if p.kind == "missing anchor"] == [
        ("index.html", "b.html#top"),
        ("a.html", "b.html#top"),
    ]
    # A page's links changed so that another becomes unreachable.
    report = step("write", "d/c.html", page(["../index.html"], ["y"]))
    assert report.worked == 2  # d/c.html, and d/index.html whose anchor points into it
    assert [p.page for p in report.problems if p.kind == "unreachable"] == ["d/e/f.html"]
    # A file removed: the links to it break.
    report = step("delete", "a.html")
    assert ("broken link", "index.html", "a.html") in [(p.kind, p.page, p.target) for p in report.problems]
    assert report.worked == 1  # a.html is linked from index.html only


def test_an_unreadable_or_other_version_file_means_a_check_from_scratch(folders: tuple[Path, Path]) -> None:
    site, cache = folders
    cache.mkdir(parents=True)
    apply(site, ("write", "index.html", page(["a.html", "#x", "gone.html"], [])))
    apply(site, ("write", "a.html", page(["index.html#x"], ["x"])))
    checker = Checker(site, cache)
    first = checker.check()
    saved = json.loads(checker.outcomes_file.read_bytes())
    broken = [
        b"{not json",
        b"[]",
        b"null",
        json.dumps(saved | {"version": LinkOutcomes.VERSION + 1}).encode(),
        json.dumps(saved | {"strings": [1, 2]}).encode(),
        json.dumps(saved | {"present": [10**6]}).encode(),
        json.dumps(saved | {"pages": [[0]]}).encode(),
        json.dumps(saved | {"pages": "x"}).encode(),
    ]
    for data in broken:
        checker.outcomes_file.write_bytes(data)
        LinkOutcomes.added(checker.outcomes_file).unlink(missing_ok=True)
        report = checker.check()
        same(report, first)
        assert report.worked == report.pages
    # An entry with wrong fields whose digest matches: given up as the crawl meets it.
    damaged = [[entry[0], entry[1], "x", *entry[3:]] for entry in saved["pages"]]
    checker.outcomes_file.write_bytes(json.dumps(saved | {"pages": damaged}).encode())
    report = checker.check()
    same(report, first)
    assert report.worked == report.pages
    assert checker.check().worked == 0  # and the file written again is whole
    # Entries naming a target the site lacks, not in the presence lists: no crash.
    saved = json.loads(checker.outcomes_file.read_bytes())
    saved["strings"].append("ghost.html")
    for entry in saved["pages"]:
        entry[5].append(len(saved["strings"]) - 1)
    checker.outcomes_file.write_text(json.dumps(saved))
    same(checker.check(), first)


def test_a_rebuild_saves_what_changed_beside_the_main_file_until_it_is_an_eighth_of_it(
    folders: tuple[Path, Path],
) -> None:
    """A rebuild writes the entries it worked out, the strings it added and the pages it
    dropped beside the main file, which is written whole again once those are an eighth of
    it; an added file that is not the main file's is not read (the main file alone holds)."""
    site, cache = folders
    cache.mkdir(parents=True)
    apply(site, ("write", "index.html", page([f"p{i}.html" for i in range(32)], [])))
    for i in range(32):
        apply(site, ("write", f"p{i}.html", page(["index.html"], [])))
    checker = Checker(site, cache)
    main, added = checker.outcomes_file, LinkOutcomes.added(checker.outcomes_file)
    checker.check()
    assert main.exists() and not added.exists()
    written = []
    for round in range(12):
        apply(site, ("write", f"p{round % 5}.html", page(["index.html", f"nope{round}.html"], [])))
        before = main.stat().st_mtime_ns, main.read_bytes()
        same(checker.check(), full(site))
        written.append("main" if main.read_bytes() != before[1] else "added")
        assert written[-1] == "main" or added.exists()
        if written[-1] == "main":
            assert not added.exists()
    # Each round adds 2 strings (nope….html, and nope….html/index.html looked up after it):
    # the third round's 6 are more than an eighth of the main file's 33.
    assert written[:3] == ["added", "added", "main"] and written.count("main") > 1
    apply(site, ("delete", "p31.html", ""))
    same(checker.check(), full(site))  # a page dropped
    data = json.loads(added.read_bytes())
    strings = json.loads(main.read_bytes())["strings"] + data["strings"]
    assert [strings[i] for i in data["dropped"]] == ["p31.html"]
    added.write_text(json.dumps(data | {"main": "another"}))
    same(checker.check(), full(site))


def test_a_rebuild_reports_what_a_full_build_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through real builds: after each change (an entity renamed, a content page's links
    broken and mended, a page added that a broken link points at, an entity removed), the
    rebuild's check reports what a check from scratch of the same site reports, having
    worked out fewer pages than it has when few changed."""
    from generator import check
    from generator.build import build
    from generator.cache import BuildCache
    from generator.sources import DemoSource, SnapshotSource

    from .conftest import make_config

    reports: list[CheckReport] = []
    real = check.check_site

    def recorded(*args: Any, **kwargs: Any) -> CheckReport:
        reports.append(real(*args, **kwargs))
        return reports[-1]

    monkeypatch.setattr(check, "check_site", recorded)
    root, out, snapshot = tmp_path / "project", tmp_path / "site", tmp_path / "workspace.json"
    (root / "content").mkdir(parents=True)
    about = root / "content" / "about.md"
    about.write_text("# About\n\n[home](index.html) [gone](extra.html) [anchor](index.html#nowhere) [x](#top)\n")
    data = json.loads(Path(DemoSource().path).read_text())
    snapshot.write_text(json.dumps(data))
    cache = BuildCache(tmp_path / "cache")

    def rebuild() -> CheckReport:
        reports.clear()
        build(SnapshotSource(snapshot), make_config(search=False), out=out, root=root, cache=cache)
        (found,) = reports
        same(found, real(out, allow_orphans=("status.html",)))
        return found

    first = rebuild()
    assert first.worked == first.pages and first.count("broken link") == 1 and first.count("missing anchor") == 2
    data["databases"][0]["entities"][0]["name"] += " (renamed)"
    snapshot.write_text(json.dumps(data))
    assert 0 < rebuild().worked < first.pages
    (root / "content" / "extra.md").write_text("# Extra\n\n[about](about.html#about) [missing](about.html#no)\n")
    assert rebuild().count("broken link") == 0  # every page again: the navigation lists content pages
    about.write_text("# About\n\n[home](index.html) [extra](extra.html#extra)\n")
    found = rebuild()
    assert [(p.kind, p.page, p.target) for p in found.problems] == [("missing anchor", "extra.html", "about.html#no")]
    del data["databases"][0]["entities"][1]
    snapshot.write_text(json.dumps(data))
    assert 0 < rebuild().worked < first.pages
