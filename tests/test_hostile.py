"""Hostile content: names and content written to break a static site must not.

The hostile workspace (tests/fixtures/hostile.json, made by make_hostile.py) is built by
the real `gen build`, from the snapshot and live through the fake Fibery, and the output is
checked by *parsing* it: every path is a safe, unique name inside ``site/``; no page, no
``rows.js`` row and no published file holds anything a browser would execute. Property
tests (hypothesis) cover the slug functions and the sanitiser for arbitrary input.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from generator.errors import SnapshotError
from generator.model import Workspace
from generator.naming import _WINDOWS_RESERVED, MAX_SLUG_LENGTH, SlugAllocator, display_name, slugify
from generator.site.fields import sanitize_html
from generator.site.jinja import _escape_text, escape_output, make_environment
from generator.site.links import PageLinks, SiteLinks
from generator.site.plan import plan_site
from generator.sources import SnapshotSource, parse_snapshot

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN, files_with_token, make_config
from .e2e_helpers import gen_env, site_files, snapshot_at
from .fixtures import make_hostile as hostile
from .sitecheck import crawl, dangerous
from .test_cli import run_gen

HOSTILE = json.loads(hostile.SNAPSHOT.read_text(encoding="utf-8"))
SAFE_PART = re.compile(r"[a-z0-9][a-z0-9_-]*(\.[a-z0-9]+)?")
"""A path segment of the site: ASCII lower case, digits, ``-``/``_``, one extension."""
SAFE_ASSET_EXTENSIONS = {".png", ".jpg", ".gif", ".webp", ".avif", ".pdf", ".txt", ".csv", ".md", ".bin"}
SITE_ASSETS = {f"assets/{p.name}" for p in (ROOT / "templates" / "assets").iterdir()}
"""The site's own files (not content from Fibery): the only scripts and SVG allowed."""
CONTENT_LINKS = {"x", "/api/files/../../etc/passwd"}
"""Relative links written in the hostile rich text, broken on purpose."""


# --------------------------------------------------------------------------- building


def test_fixture_is_up_to_date() -> None:
    assert hostile.SNAPSHOT.read_text(encoding="utf-8") == hostile.render(), "run tests/fixtures/make_hostile.py"


@pytest.fixture(scope="module", params=["snapshot", "live"])
def hostile_site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile workspace built by the real `gen build`, from the snapshot or live."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    (tmp_path / "kb.toml").write_text("search = false\n")  # Pagefind's index is derived from the pages
    if request.param == "snapshot":
        result = run_gen("build", "--snapshot", str(hostile.SNAPSHOT), cwd=tmp_path)
    else:
        with ff.FakeFibery(HOSTILE, token=TOKEN, rate_limit=None) as fake:
            fake.update_snapshot(snapshot_at(fake.url, HOSTILE))
            result = run_gen("build", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
    assert files_with_token(tmp_path) == []
    return tmp_path / "site"


def test_every_path_is_safe_and_inside_the_site(hostile_site: Path) -> None:
    root = hostile_site.parent
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["kb.toml", "site"]
    for path in site_files(hostile_site):
        assert (hostile_site / path).resolve().is_relative_to(hostile_site.resolve())
        for part in PurePosixPath(path).parts:
            assert SAFE_PART.fullmatch(part) and len(part) <= MAX_SLUG_LENGTH + 10, path
            assert part.split(".")[0] not in _WINDOWS_RESERVED, path


def test_every_entity_and_database_has_its_own_page(hostile_site: Path) -> None:
    """Duplicates, twins without public id, colliding database names: one page each."""
    db_dirs = sorted(p for p in (hostile_site / "db").iterdir())
    assert len(db_dirs) == len(HOSTILE["databases"])  # the two colliding pairs got two folders each
    pages = {
        p.relative_to(hostile_site).as_posix()
        for d in db_dirs
        for p in d.glob("*.html")
        if p.name != "index.html" and not re.fullmatch(r"page-\d+\.html", p.name)
    }
    assert len(pages) == sum(len(db["entities"]) for db in HOSTILE["databases"])
    assert {link for _, link in crawl(hostile_site).broken} <= CONTENT_LINKS  # every link we made works


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in_h1 = self._in_h1 or tag == "h1"
        if tag == "h1":
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_h1 = self._in_h1 and tag != "h1"

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1[-1] += data


def test_hostile_names_are_shown_as_text(hostile_site: Path) -> None:
    headings = set()
    for page in (hostile_site / "db").rglob("*.html"):
        parser = _Headings()
        parser.feed(page.read_text(encoding="utf-8"))
        headings.update(parser.h1)
    # Right-to-left text is isolated and its overrides removed (naming.display_name).
    rtl = display_name(hostile.RTL_NAME)
    assert rtl.startswith("\u2068") and "\u202e" not in rtl
    for name in (hostile.TRAVERSAL, rtl, '<script>alert("name")</script>', hostile.LONG_NAME):
        assert name in headings
    assert "Payloads <script>alert('db')</script>" in headings


class _Executable(HTMLParser):
    """Inline ``<script>`` content (the site's own scripts are external files)."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._script = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script and data.strip():
            self.inline.append(data[:40])


def executable(html: str) -> list[str]:
    """Everything executable in a page, the site's own external scripts and search box aside."""
    parser = _Executable()
    parser.feed(html)
    return dangerous(html) + parser.inline


def test_no_page_holds_anything_executable(hostile_site: Path) -> None:
    found = {}
    for page in hostile_site.rglob("*.html"):
        problems = executable(page.read_text(encoding="utf-8"))
        if problems:
            found[page.relative_to(hostile_site).as_posix()] = problems
    assert found == {}
    payloads = next(p for p in (hostile_site / "db").iterdir() if p.name.startswith("payloads"))
    first = next(payloads.glob("payload-1-1.html")).read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(&#39;field&#39;)&gt;" in first  # the hostile field title, as text


def test_rows_script_holds_only_safe_rows(hostile_site: Path) -> None:
    """``rows.js`` (tables of more than one page) is data: one JSON array of safe row HTML."""
    scripts = list((hostile_site / "db").rglob("*.js"))
    assert scripts, "the fixture's first database has more than one table page"
    for script in scripts:
        match = re.fullmatch(r"(\w+)\((.*)\);\s*", script.read_text(encoding="utf-8"), re.DOTALL)
        assert match, script
        rows = json.loads(match.group(2))
        assert all(isinstance(r, str) and executable(r) == [] for r in rows)
        assert any("&lt;script&gt;" in r for r in rows)


def test_published_files_cannot_run(hostile_site: Path) -> None:
    """An HTML or SVG attachment (even one declared as an image) is never served from the
    site; a PNG declared as HTML is published as the PNG it is."""
    files = [p for p in site_files(hostile_site) if p.startswith("assets/") and p not in SITE_ASSETS]
    assert files and all(PurePosixPath(p).suffix in SAFE_ASSET_EXTENSIONS for p in files), files
    published = {(hostile_site / p).read_bytes() for p in files}
    assert not any(b"<script" in data or b"<svg" in data for data in published)
    assert any(data.startswith(b"\x89PNG") for data in published)


def test_snapshot_cannot_make_the_fibery_link_a_script(tmp_path: Path) -> None:
    """Every page links to the workspace URL: a snapshot's must be http(s)."""
    for url in ("javascript:alert(1)//", " JavaScript:alert(1)", "data:text/html,x", "//evil.example"):
        data = dict(HOSTILE, fibery_url=url)
        with pytest.raises(SnapshotError, match="invalid at fibery_url"):
            parse_snapshot(json.dumps(data), "hostile.json")


# --------------------------------------------------------------------------- property tests


@given(st.text())
@example("../../etc/passwd")
@example("!!!")
@example("CON")
@example("..")
@example("x" * 300)
@example("🌱 שלום")
def test_slugify_is_always_safe_and_never_empty(text: str) -> None:
    slug = slugify(text)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-?", slug), slug
    assert len(slug) <= MAX_SLUG_LENGTH + 1  # a Windows device name gets a trailing "-"
    assert slug not in _WINDOWS_RESERVED and slug not in (".", "..")
    assert slugify(text) == slug  # stable


@given(st.lists(st.text(max_size=80) | st.sampled_from(["Same", "same", "SAME!", "item", "item-2", ""]), max_size=40))
def test_slug_allocator_gives_unique_safe_slugs(texts: list[str]) -> None:
    allocator = SlugAllocator({"index"})
    slugs = [allocator.allocate(t, fallback="item") for t in texts]
    assert len(set(slugs)) == len(slugs) and "index" not in slugs
    for text, slug in zip(texts, slugs, strict=True):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*-?", slug)
        base = slugify(text, fallback="item")
        assert slug == base or slug.startswith(base.rstrip("-") + "-")


_TAGS = ["script", "img", "a", "svg", "math", "iframe", "style", "object", "embed", "form", "button", "meta",
         "base", "link", "noscript", "template", "details", "video", "source", "input", "p", "div", "table", "td",
         "mglyph", "animate", "set", "use", "textarea", "title", "xmp", "plaintext", "frameset", "image",
         "foreignObject"]  # fmt: skip
_ATTRIBUTES = ["href", "src", "srcset", "xlink:href", "action", "formaction", "data", "poster", "background",
               "style", "srcdoc", "onerror", "onload", "onclick", "ONMOUSEOVER", "http-equiv", "content", "title",
               "id", "class", "name", "target", "rel"]  # fmt: skip
_VALUES = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#x09;script:alert(1)", "&#106;avascript:alert(1)",
           " javascript:alert(1)", "vbscript:x", "data:text/html,<script>alert(1)</script>", "alert(1)",
           "refresh", "0;url=javascript:alert(1)", "url(javascript:alert(1))", "https://ok.example/",
           "/api/files/abc", "https://hostile.example/Hostile_%22KB%22_%3Cb%3E%26/Database/1", "x\" onerror=\"alert(1)",
           "</noscript><img src=x onerror=alert(1)>", "mailto:a@b.example"]  # fmt: skip


@st.composite
def html_fragments(draw: st.DrawFn) -> str:
    """HTML-ish markup built from the pieces XSS payloads are made of, nested and broken."""
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        tag = draw(st.sampled_from(_TAGS))
        attrs = draw(st.lists(st.tuples(st.sampled_from(_ATTRIBUTES), st.sampled_from(_VALUES)), max_size=3))
        quote = draw(st.sampled_from(['"', "'", ""]))
        rendered = "".join(f" {name}={quote}{value}{quote}" for name, value in attrs)
        inner = draw(st.sampled_from(["", "alert(1)", "<!--", "-->", "<![CDATA[", "x</" + tag + ">", "&lt;", "<"]))
        closing = draw(st.sampled_from([f"</{tag}>", "", "/>", f"</{tag}"]))
        parts.append(f"<{tag}{rendered}>{inner}{closing}")
        parts.append(draw(st.text(max_size=5)))
    return "".join(parts)


def _hostile_links() -> PageLinks:
    workspace = SnapshotSource(hostile.SNAPSHOT).load()
    plan = plan_site(workspace, make_config(), content_dir=ROOT / "nothing-here")
    return PageLinks(SiteLinks(plan, "../../"))


HOSTILE_LINKS = _hostile_links()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(html_fragments(), st.text()))
@example("<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>")
@example("<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>")
@example('<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>')
def test_sanitiser_output_is_never_executable(html: str) -> None:
    """For any input, with and without the site's URL rewriting (entity and file links)."""
    for links in (None, HOSTILE_LINKS):
        out = str(sanitize_html(html, links))
        assert executable(f'<div class="rich-text">{out}</div>') == [], (html, out)


def test_the_hostile_workspace_is_a_valid_snapshot() -> None:
    workspace = msgspec.convert(HOSTILE, Workspace)
    assert workspace.entity_count == sum(len(db["entities"]) for db in HOSTILE["databases"])


class _Html:
    def __html__(self) -> str:
        return "<b>already markup</b>"


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans(), st.text().map(Markup)))
@example("<script>alert('x')</script> & \"quotes\"")
@example(_Html())
def test_template_output_is_escaped_exactly_as_markupsafe_does(value: object) -> None:
    """Templates write ``{{ }}`` through ``escape_output`` (plain text, not a Markup object per
    value): it must give markupsafe's text for any value, and the templates must use it."""
    assert escape_output(value) == str(escape(value))
    assert _escape_text(str(value)) == str(escape(str(value)))  # the fallback without markupsafe's C code
    env = make_environment([str(ROOT / "templates")])
    assert env.get_template("entity.html").root_render_func.__globals__["escape"] is escape_output
    rendered = env.from_string("<p title='{{ v }}'>{{ v }}</p>{% set s %}{{ v }}{% endset %}{{ s }}").render(v=value)
    assert rendered == f"<p title='{escape(value)}'>{escape(value)}</p>{escape(value)}"
