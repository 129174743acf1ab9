"""Links inside content: Fibery entity URLs become the entity's page when it is published, in
every form Fibery writes them; other links stay; links to unpublished entities are counted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.build import build
from generator.model import Workspace
from generator.site.links import FiberyUrls

from .conftest import ROOT, make_config
from .test_site import StaticSource

BASE = "https://demo.fibery.io/Nursery_Knowledge_Base"
POTTING_SOIL = "../../db/guides/potting-soil-mixes-2.html"


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/Guides/Potting-soil-mixes-2",  # slug and public id, as Fibery writes it
        f"{BASE}/Guides/2",  # public id only
        f"{BASE}/guides/potting-soil-mixes-2",  # lower case
        f"{BASE}/Guides/Potting-soil-mixes-2?sharing-key=abc123",  # shared link
        f"{BASE}/Guides/Potting-soil-mixes-2/",  # trailing slash
        f"{BASE}/Guides/Old-title-2#comment-5",  # renamed entity: the id decides
        "https://DEMO.fibery.io/nursery_knowledge_base/GUIDES/2",
        "https://demo.fibery.io/Nursery%20Knowledge%20Base/Guides/2",
    ],
)
def test_entity_url_forms_point_at_the_page(url: str) -> None:
    assert FiberyUrls("demo.fibery.io", "nurseryknowledgebase").entity_ref(url) == ("guides", "2")


@pytest.mark.parametrize(
    "url",
    [
        "https://other.fibery.io/Nursery_Knowledge_Base/Guides/2",  # another workspace
        "https://demo.fibery.io/Other_Space/Guides/2",  # another space
        f"{BASE}/Guides_View-12",  # a view: two segments
        f"{BASE}/Guides/Potting-soil-mixes",  # no public id
        "/Nursery_Knowledge_Base/Guides/2",  # relative: not a Fibery URL
        "mailto:someone@example.com",
    ],
)
def test_other_urls_are_not_entity_urls(url: str) -> None:
    assert FiberyUrls("demo.fibery.io", "nurseryknowledgebase").entity_ref(url) is None


def test_file_urls_only_on_the_workspace_host() -> None:
    urls = FiberyUrls("demo.fibery.io", "nurseryknowledgebase")
    assert urls.file_secret("/api/files/abc-1") == "abc-1"
    assert urls.file_secret("https://demo.fibery.io/api/files/abc-1") == "abc-1"
    assert urls.file_secret("https://evil.example/api/files/abc-1") is None
    assert urls.file_secret("/api/files/../../etc") is None


def _build_with_body(tmp_path: Path, demo: Workspace, html: str) -> tuple[str, int]:
    guides = demo.database("Guides")
    guides.entities[0].values["body"] = {"md": "", "html": html}
    report = build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT)
    page = next((tmp_path / "site" / "db" / "guides").glob("watering-schedule*.html")).read_text()
    return page, report.unpublished_links


def test_rich_text_links_are_rewritten_and_unpublished_ones_counted(tmp_path: Path, demo: Workspace) -> None:
    demo.databases = [db for db in demo.databases if db.title != "Equipment"]  # unpublished database
    html = (
        f'<p><a href="{BASE}/Guides/2">a</a> <a href="{BASE}/guides/2?sharing-key=x">b</a>'
        f' <a href="{BASE}/Equipment/Potting-Machine-PM-2-1">c</a> <a href="{BASE}/Guides/999">d</a>'
        f' <a href="https://example.com/Nursery_Knowledge_Base/Guides/2">e</a></p>'
    )
    _, baseline = _build_with_body(tmp_path / "plain", demo.deep_copy(), "<p>no links</p>")
    page, unpublished = _build_with_body(tmp_path, demo, html)
    assert page.count(f'href="{POTTING_SOIL}"') == 2
    assert f'href="{BASE}/Equipment/Potting-Machine-PM-2-1"' in page  # kept, as a plain link
    assert f'href="{BASE}/Guides/999"' in page
    assert 'href="https://example.com/Nursery_Knowledge_Base/Guides/2"' in page
    assert unpublished == baseline + 2  # c and d (other guides link to Equipment too)


def test_each_page_returns_its_own_unpublished_links(demo: Workspace) -> None:
    """The renderer returns what each page found (``PageResult``); the plan is not touched."""
    from generator.site.jinja import make_environment
    from generator.site.pages import SiteRenderer
    from generator.site.plan import plan_site

    demo.databases = [db for db in demo.databases if db.title != "Equipment"]
    guides = demo.database("Guides")
    guides.entities[0].values["body"] = {
        "md": "",
        "html": f'<a href="{BASE}/Guides/999">d</a> <a href="{BASE}/Guides/2">a</a>',
    }
    plan = plan_site(demo, make_config(), content_dir=ROOT / "content")
    dirs = [str(ROOT / "templates")]
    results = {job.path: job.render() for job in SiteRenderer(plan, make_environment(dirs), dirs).pages()}
    path = plan.entity_paths[guides.entities[0].id]
    again = {job.path: job.render() for job in SiteRenderer(plan, make_environment(dirs), dirs).pages()}
    assert results[path].unpublished_links == 1  # Guides/999; Guides/2 is published
    # Rendering again finds the same: nothing accumulates on the plan between renders.
    assert {p: r.unpublished_links for p, r in again.items()} == {p: r.unpublished_links for p, r in results.items()}
    assert all(r.unpublished_links == 0 for p, r in results.items() if not p.endswith(".html"))


def test_pages_carried_over_keep_their_unpublished_links(tmp_path: Path, demo: Workspace) -> None:
    """An incremental build counts the links of the pages it carried over from the previous
    build's record: the total is a full build's."""
    from generator.cache import BuildCache

    demo.databases = [db for db in demo.databases if db.title != "Equipment"]
    cache = BuildCache(tmp_path / "cache")
    first = build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT, cache=cache)
    assert first.unpublished_links > 0
    demo.database("Guides").entities[0].name = "Watering schedule, revised"
    again = build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT, cache=cache)
    full = build(StaticSource(demo), make_config(), out=tmp_path / "full", root=ROOT)
    assert 0 < again.rendered < full.rendered
    assert again.unpublished_links == full.unpublished_links == first.unpublished_links


def test_demo_links_between_entities_resolve(tmp_path: Path) -> None:
    from generator.sources import DemoSource

    report = build(DemoSource(), make_config(), out=tmp_path / "site", root=ROOT)
    assert report.unpublished_links == 0
    onboarding = next((tmp_path / "site" / "db" / "guides").glob("onboarding*.html")).read_text()
    assert "demo.fibery.io/Nursery_Knowledge_Base/Guides" not in re.sub(r'class="meta".*?</p>', "", onboarding)
    assert 'href="../../db/guides/pest-scouting-checklist-3.html"' in onboarding  # the bare /Guides/3 form


def test_unpublished_warning_in_the_cli(tmp_path: Path) -> None:
    from .test_cli import run_gen

    (tmp_path / "kb.toml").write_text('exclude_databases = ["Equipment"]\n')
    result = run_gen("build", "--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"WARNING: \d+ links point to unpublished entities", result.stderr)


class _Links:
    """Rewrites two URLs, drops a third, keeps the rest (what ``PageLinks`` decides)."""

    prefix = "../../"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def rewrite_url(self, tag: str, attribute: str, url: str) -> str | None:
        self.seen.append((tag, attribute, url))
        return {"/api/files/f1": "../../assets/files/f1.png", "https://x/Space/Db/2": "../../db/db/two-2.html"}.get(
            url, None if url == "https://x/drop" else url
        )


def test_links_are_rewritten_in_the_cleaned_html_and_nowhere_else() -> None:
    from generator.site.fields import sanitize_html

    links = _Links()
    html = (
        '<p title=\'a href="/api/files/f1"\'>text a href="/api/files/f1" &lt;a href="/api/files/f1"&gt;</p>'
        '<a title="x>y" href="https://x/Space/Db/2?a=1&amp;b=2">one</a>'
        '<a href="https://x/Space/Db/2">two</a>'
        '<img width="3" alt=\'q src="z"\' src="/api/files/f1">'
        '<a href="https://x/drop">gone</a>'
    )
    out = str(sanitize_html(html, links))
    assert ("a", "href", "https://x/Space/Db/2?a=1&b=2") in links.seen  # unescaped for the lookup
    assert ("img", "src", "/api/files/f1") in links.seen
    assert len(links.seen) == 4  # nothing from text or from other attributes' values
    assert '<a href="../../db/db/two-2.html" rel="noopener noreferrer">two</a>' in out
    assert '<img width="3" alt="q src=&quot;z&quot;" src="../../assets/files/f1.png">' in out
    assert '<a title="x&gt;y" href="https://x/Space/Db/2?a=1&amp;b=2" rel="noopener noreferrer">one</a>' in out
    assert '<a rel="noopener noreferrer">gone</a>' in out  # a dropped link keeps its text
    assert 'text a href="/api/files/f1"' in out


def test_a_plugin_renderer_returning_plain_text_is_escaped(tmp_path: Path, demo: Workspace) -> None:
    from generator.model import FieldKind
    from generator.site.fields import FieldRenderers

    renderers = FieldRenderers()
    for kind in FieldKind:
        renderers.by_kind[kind] = lambda field, value, links: "<b onclick=alert(1)>plain</b>"
    build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT, renderers=renderers)
    page = next((tmp_path / "site" / "db" / "guides").glob("watering-schedule*.html")).read_text()
    assert "&lt;b onclick=alert(1)&gt;plain&lt;/b&gt;" in page
    assert "<b onclick" not in page


def test_field_titles_and_values_with_braces_are_shown_as_they_are(tmp_path: Path, demo: Workspace) -> None:
    """Field rows are put together with ``str.format``: braces in titles or values are text."""
    db = next(d for d in demo.databases if d.key == "Equipment")
    text = next(f for f in db.fields if f.kind.value == "text")
    text.title = "Odd {0} {name} }{ title"
    entity = next(e for e in db.entities if e.values.get(text.key))
    entity.values[text.key] = "value {0} {}"
    build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT)
    page = (tmp_path / "site" / _entity_path(tmp_path / "site", entity.name)).read_text()
    assert "<dt>Odd {0} {name} }{ title</dt> <dd>value {0} {}</dd>" in page


def _entity_path(site: Path, name: str) -> str:
    return next(str(p.relative_to(site)) for p in site.glob("db/*/*.html") if f"<h1>{name}</h1>" in p.read_text())
