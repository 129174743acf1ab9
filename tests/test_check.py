"""`gen check`: the built site crawled from its home page; broken internal links, missing
anchors and unreachable pages are reported and make the exit code non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.build import build
from generator.check import Problem, check_site
from generator.sources import DemoSource

from .conftest import ROOT, make_config
from .test_cli import run_gen


@pytest.fixture
def site(tmp_path: Path) -> Path:
    build(DemoSource(), make_config(), out=tmp_path / "site", root=ROOT)
    return tmp_path / "site"


def write(site: Path, path: str, body: str) -> None:
    (site / path).parent.mkdir(parents=True, exist_ok=True)
    (site / path).write_text(f"<!doctype html><html><body>{body}</body></html>")


def test_the_demo_site_is_clean(site: Path) -> None:
    report = check_site(site)
    assert report.problems == []
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert report.pages == len(pages - {"404.html"})  # every page but 404 reached from home
    assert report.links > 300 and report.external > 0


def test_gen_check_on_the_demo_site(site: Path) -> None:
    result = run_gen("check", str(site), cwd=site.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken links, 0 missing anchors, 0 unreachable pages" in result.stdout


def test_problems_are_found_and_named(site: Path) -> None:
    write(
        site,
        "index.html",
        '<a href="about.html">ok</a> <a href="about.html#how-the-site-is-built">ok anchor</a>'
        ' <a href="#top">missing here</a> <a href="nope.html">broken</a> <img src="assets/gone.png">'
        ' <a href="about.html#nowhere">missing there</a> <a href="db/guides/">folder index</a>'
        ' <a href="../outside.html">outside</a> <a href="https://example.com/x">external</a>'
        ' <a href="mailto:a@b.c">mail</a> <a href="db/">folder without index</a>',
    )
    report = check_site(site)
    found = {(p.kind, p.page, p.target) for p in report.problems if p.kind != "unreachable"}
    assert found == {
        ("missing anchor", "index.html", "#top"),
        ("broken link", "index.html", "nope.html"),
        ("broken link", "index.html", "assets/gone.png"),
        ("missing anchor", "index.html", "about.html#nowhere"),
        ("broken link", "index.html", "../outside.html"),
        ("broken link", "index.html", "db/"),
    }
    assert report.external > 2  # counted, never fetched: the check works offline
    assert report.count("unreachable") == 0  # every other page links home, databases.html…


def test_unreachable_pages_and_allowed_orphans(site: Path) -> None:
    write(site, "orphan.html", "<p>nobody links here</p>")
    write(site, "drafts/old.html", "<p>nor here</p>")
    report = check_site(site)
    assert {p.page for p in report.problems} == {"orphan.html", "drafts/old.html"}
    assert Problem("unreachable", "orphan.html").describe() == (
        "unreachable: orphan.html (no link from index.html leads to it)"
    )
    assert check_site(site, allow_orphans=("orphan.html", "drafts/*")).problems == []


def test_gen_check_fails_with_a_list_and_one_error_line(site: Path) -> None:
    write(site, "about.html", '<a href="missing.html">x</a> <a href="index.html#gone">y</a>')
    result = run_gen("check", str(site), cwd=site.parent)
    assert result.returncode == 1
    assert "broken link: about.html → missing.html" in result.stdout
    assert "missing anchor: about.html → index.html#gone" in result.stdout
    assert result.stderr.strip() == f"error: gen check found 2 problems in {site}/"
    assert run_gen("check", str(site), "--allow-orphan", "x.html", cwd=site.parent).returncode == 1


def test_gen_check_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run_gen("check", str(tmp_path / "nope"), cwd=tmp_path)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_default_folder_is_site(site: Path) -> None:
    result = run_gen("check", "-q", cwd=site.parent)
    assert result.returncode == 0 and result.stdout == ""


def test_links_and_ids_are_read_as_an_html_parser_reads_them() -> None:
    """The check scans start tags with regular expressions (an HTML parser made it the
    slowest step of a build): on markup of every quoting style it must find what a parser does."""
    from html.parser import HTMLParser

    from generator.check import LINK_ATTRIBUTES, _Page

    page = """<!doctype html><html><head><base href="x/"><link rel=stylesheet href=assets/site.css>
    <script src="assets/theme.js"></script><script>var a = '<a href="script.html">';</script>
    <style>a[href="style.html"] { color: red }</style></head><body>
    <!-- <a href="comment.html"> -->
    <a id=top name='n1' href='db/a.html?x=1&amp;y=2#part'>A</a><img src="assets/i.png" alt="<x>">
    <table data-rows="db/rows.json"></table><h2 ID="Ünïcode &amp; more">T</h2><br/>
    <input disabled value="a>b"><a href = "spaced.html" >s</a><div id="">e</div></body></html>"""

    class Reference(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.links: list[str] = []
            self.ids: set[str] = set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if value is None:
                    continue
                if name == "id" or (name == "name" and tag == "a"):
                    self.ids.add(value)
                elif name in LINK_ATTRIBUTES and tag != "base":
                    self.links.append(value.strip())

    reference = Reference()
    reference.feed(page)
    reference.close()
    found = _Page.of(page)
    assert (found.links, found.ids) == (reference.links, reference.ids)
    assert "script.html" not in found.links and "comment.html" not in found.links


def test_remembered_facts_give_the_same_report_without_reading_a_page(site: Path, tmp_path: Path) -> None:
    """What ``gen build`` does on a rebuild: pages whose bytes it checked before are not read
    again, and the report is the same, problems included."""
    import hashlib

    from generator.check import PageFacts

    write(site, "index.html", '<a href="nope.html">broken</a> <a href="about.html#nowhere">x</a> <a href="db/">y</a>')
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    digests = {f: hashlib.sha256((site / f).read_bytes()).hexdigest() for f in files if f.endswith(".html")}
    facts = PageFacts()
    first = check_site(site, files=files, digests=digests, facts=facts)
    assert first.read == first.pages and first.problems
    saved = tmp_path / "links.json"
    saved.write_bytes(facts.dump(digests.values()))
    again = check_site(site, files=files, digests=digests, facts=PageFacts.load(saved))
    assert again.read == 0
    assert (again.problems, again.links, again.external, again.pages) == (
        first.problems,
        first.links,
        first.external,
        first.pages,
    )
    assert check_site(site) == first  # the same as a check that knows nothing
    assert PageFacts.load(tmp_path / "missing.json").pages == {}
    saved.write_text("{not json")
    assert PageFacts.load(saved).pages == {}


def test_a_rebuild_saves_only_the_facts_it_added_until_they_are_an_eighth_of_the_file(tmp_path: Path) -> None:
    """The facts of the pages a rebuild read go beside the main file, which is rewritten
    (without the pages the site no longer has) once those are an eighth of it."""
    from generator.check import PageFacts, _Page

    def save(facts: PageFacts, keep: list[str]) -> list[Path]:
        saved = facts.files(main, keep)
        for path, data in saved:
            path.write_bytes(data) if data is not None else path.unlink(missing_ok=True)
        return [path for path, data in saved if data is not None]

    main, old = tmp_path / "site.links.json", [f"d{i}" for i in range(16)]
    first = PageFacts({digest: _Page([f"{digest}.html", "#top"], {"top"}) for digest in old})
    assert save(first, old) == [main]
    rebuilt = PageFacts.load(main)
    assert rebuilt.pages == first.pages
    rebuilt.pages["new"] = _Page(["index.html"], set())
    assert save(rebuilt, [*old[1:], "new"]) == [PageFacts.added(main)]
    again = PageFacts.load(main)
    assert again.pages == rebuilt.pages  # d0 stays in the main file until it is rewritten
    again.pages.update({f"n{i}": _Page([], {f"id{i}"}) for i in range(2)})
    assert save(again, [*old[2:], "new", "n0", "n1"]) == [main]
    assert not PageFacts.added(main).exists()
    assert PageFacts.load(main).pages.keys() == {*old[2:], "new", "n0", "n1"}


def test_a_rebuild_checks_the_links_of_the_pages_it_wrote_only(tmp_path: Path, monkeypatch) -> None:
    """``gen build`` runs the link check on what it wrote (issue 14): a rebuild after one
    entity changed reads only the pages that were written again."""
    import json

    from generator import check
    from generator.cache import BuildCache
    from generator.sources import SnapshotSource

    snapshot = tmp_path / "workspace.json"
    snapshot.write_text(Path(DemoSource().path).read_text())
    cache, out = BuildCache(tmp_path / "cache"), tmp_path / "site"
    parsed: list[int] = []
    real = check._Page.of
    monkeypatch.setattr(
        check._Page, "of", classmethod(lambda cls, text, tags=None: parsed.append(1) or real(text, tags))
    )
    build(SnapshotSource(snapshot), make_config(), out=out, root=ROOT, cache=cache)
    cold = len(parsed)
    assert cold == len(list(out.rglob("*.html"))) - 1  # every page but 404.html
    data = json.loads(snapshot.read_text())
    data["databases"][0]["entities"][0]["name"] += " (renamed)"
    snapshot.write_text(json.dumps(data))
    parsed.clear()
    report = build(SnapshotSource(snapshot), make_config(), out=out, root=ROOT, cache=cache)
    assert 0 < len(parsed) <= report.rendered < cold  # a page rendered to the same bytes is not read
    assert check_site(out).problems == []


@pytest.mark.parametrize(
    "link",
    ["", "a.html", "../b/c.html?x=1#top", "#part", "?q", "a#b?c", "a.html ", " a.html", "  #x", "//host/p",
     "https://x.org/a#b", "mailto:a@b", "a%20b.html", "é.html", "[x].html"],
)  # fmt: skip
def test_links_are_split_as_urlsplit_splits_them(link: str) -> None:
    from urllib.parse import urlsplit

    from generator.check import _split

    parts = urlsplit(link)
    assert _split(link) == (parts.scheme, parts.path, parts.fragment)
