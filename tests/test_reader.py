"""The reader's side of the demo site in a real browser (issue 15): navigation on every page,
the table of contents, the feed, the process diagram, the theme toggle, search's small
manners, no sideways scrolling on a 390 px phone, and an axe-core run on every page type at
desktop and phone width, light and dark.

axe-core comes from npm (tests/axe/package.json, pinned by its lock file), installed on first
use with ``npm ci --prefix tests/axe``; without npm, or offline with nothing installed, the
axe tests are skipped with the reason. Chromium and Playwright as in test_browser.py.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator import search
from generator.build import build
from generator.sources import DemoSource

from .conftest import ROOT, make_config
from .e2e_helpers import serving
from .test_browser import CHROMIUM, Page, sync_api

AXE_DIR = Path(__file__).with_name("axe")
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGE_TYPES = {
    "home": "index.html",
    "database": "db/guides/index.html",
    "entity": "db/guides/onboarding-a-new-grower-5.html",
    "segments": "db/process-segments/index.html",
    "404": "404.html",
    "status": "status.html",
}
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reader") / "site"
    build(DemoSource(), make_config(), out=out, root=ROOT)
    return out


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    with serving(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
            )
        except sync_api.Error as exc:
            pytest.skip(f"Chromium at {CHROMIUM} could not be started: {str(exc).splitlines()[0]}")
        yield chromium
        chromium.close()


def open_page(browser: Any, viewport: dict[str, int] = DESKTOP, scheme: str = "light", **options: Any) -> Page:
    page = Page.__new__(Page)
    page.context = browser.new_context(viewport=viewport, color_scheme=scheme, **options)
    page.page = page.context.new_page()
    page.page.set_default_timeout(10_000)
    page.errors = []
    page.page.on("console", lambda m: page.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
    return page


@pytest.fixture
def desktop(browser: Any) -> Iterator[Page]:
    page = open_page(browser)
    yield page
    page.close()
    assert page.errors == []


@pytest.fixture
def phone(browser: Any) -> Iterator[Page]:
    page = open_page(browser, PHONE)
    yield page
    page.close()
    assert page.errors == []


# --------------------------------------------------------------------------- navigation


def test_every_page_links_every_database_in_its_sidebar(desktop: Page, site_url: str, site: Path) -> None:
    page = desktop.page
    databases = ["Equipment", "Guides", "Process Segments", "Team Members"]
    for path in ("index.html", "db/guides/pest-scouting-checklist-3.html", "404.html", "about.html"):
        page.goto(site_url + path)
        sidebar = page.get_by_role("navigation", name="Site", exact=True)
        assert sidebar.is_visible()
        for title in databases:
            assert sidebar.get_by_role("link", name=title, exact=True).is_visible(), (path, title)
    # An entity page marks its database in the sidebar; following it leads there.
    page.goto(site_url + "db/guides/pest-scouting-checklist-3.html")
    current = page.locator(".sidebar a[aria-current]")
    assert current.inner_text() == "Guides"
    page.locator(".sidebar").get_by_role("link", name="Equipment").click()
    page.wait_for_url("**/db/equipment/index.html")
    assert page.locator(".sidebar a[aria-current='page']").inner_text() == "Equipment"


def test_phones_get_a_menu_instead_of_the_sidebar(phone: Page, site_url: str) -> None:
    page = phone.page
    page.goto(site_url + "db/guides/pest-scouting-checklist-3.html")
    assert not page.locator(".sidebar").is_visible()
    menu = page.get_by_role("navigation", name="Site menu")
    assert not menu.is_visible()
    page.locator(".menu summary").click()
    assert menu.is_visible()
    menu.get_by_role("link", name="Process Segments").click()
    page.wait_for_url("**/db/process-segments/index.html")


def test_the_menu_works_without_javascript(browser: Any, site_url: str) -> None:
    page = open_page(browser, PHONE, java_script_enabled=False)
    try:
        page.page.goto(site_url + "index.html")
        page.page.locator(".menu summary").click()
        page.page.get_by_role("navigation", name="Site menu").get_by_role("link", name="Team Members").click()
        page.page.wait_for_url("**/db/team-members/index.html")
    finally:
        page.close()


# --------------------------------------------------------------------------- entity pages


def test_long_entity_pages_get_a_table_of_contents(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/guides/onboarding-a-new-grower-5.html")
    toc = page.get_by_role("navigation", name="On this page")
    links = toc.get_by_role("link")
    assert links.count() == 4 and links.first.inner_text() == "Week 1: the nursery and its rules"
    links.nth(2).click()
    assert page.url.endswith("#h-week-3-water-and-climate")
    assert page.evaluate("window.scrollY") > 200  # scrolled to the heading
    # Two headings: no table of contents.
    page.goto(site_url + "db/guides/pest-scouting-checklist-3.html")
    assert page.locator("nav.toc").count() == 0


def test_entity_pages_read_as_articles(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/guides/pest-scouting-checklist-3.html")
    order = page.evaluate(
        """() => ['h1', 'dl.props', '.text'].map(s => document.querySelector(s).getBoundingClientRect().top)"""
    )
    assert order == sorted(order)  # title, properties, text
    assert "Body" not in page.locator("article").inner_text()
    assert page.locator(".backlinks").count() == 0  # nothing links here: no section
    # Readable type: code at 85 % of the body or more, lines of about 70-80 characters.
    sizes = page.evaluate(
        """() => {
          const p = document.querySelector('.text p');
          const code = document.createElement('code'); code.textContent = 'x'; p.appendChild(code);
          const size = e => parseFloat(getComputedStyle(e).fontSize);
          const chars = p.getBoundingClientRect().width / (size(p) * 0.5);
          return [size(code) / size(p), chars];
        }"""
    )
    assert sizes[0] >= 0.85
    assert 60 <= sizes[1] <= 90
    # One date format, in <time datetime>.
    times = page.locator("main time")
    assert times.count() >= 2
    for i in range(times.count()):
        text = times.nth(i).inner_text()
        assert text[0].isdigit() and text.split()[1] in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug")
        assert times.nth(i).get_attribute("datetime")


def test_workflow_states_have_their_own_colours(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/guides/index.html")
    colours = {}
    for state in ("Draft", "In Review", "Published"):
        badge = page.locator(f"table.entities .badge[data-value='{state}']").first
        colours[state] = badge.evaluate("b => getComputedStyle(b).backgroundColor")
    assert len(set(colours.values())) == 3, colours


# --------------------------------------------------------------------------- database pages


def test_a_database_table_filters_by_text_and_links_to_fibery(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/equipment/index.html")
    assert page.get_by_role("link", name="Open in Fibery").get_attribute("href") == (
        "https://demo.fibery.io/Nursery_Knowledge_Base/Equipment"
    )
    rows = page.locator("table.entities tbody tr")
    total = rows.count()
    page.get_by_role("searchbox", name="Filter").fill("potting")
    page.locator("#table-status", has_text=f"of {total} items").wait_for()
    assert 0 < rows.count() < total
    assert all("potting" in rows.nth(i).inner_text().lower() for i in range(rows.count()))


def test_a_wide_table_on_a_phone_shows_it_scrolls(phone: Page, site_url: str) -> None:
    page = phone.page
    page.goto(site_url + "db/equipment/index.html")
    wrap = page.locator("main .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # the table is wider than the screen
    hint = sync_api.expect(page.locator(".scroll-hint"))  # waits: the page decides once it has laid out
    hint.to_be_visible()
    assert wrap.get_attribute("tabindex") == "0"  # and keyboard-scrollable
    # The hint shows exactly while the table is wider than the screen.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.set_viewport_size(PHONE)
    hint.to_be_visible()
    for width in (480, 600, 720):
        page.set_viewport_size({"width": width, "height": 900})
        overflows = wrap.evaluate("w => w.scrollWidth > w.clientWidth + 1")
        if overflows:
            hint.to_be_visible()
        else:
            hint.to_be_hidden()
    page.goto(site_url + "db/process-segments/index.html")  # four narrow columns fit at 720 px
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1")
    assert not page.locator(".scroll-hint").is_visible()


# --------------------------------------------------------------------------- process diagram


def test_the_process_diagram_links_every_segment(browser: Any, site_url: str) -> None:
    for viewport, kind, js in ((DESKTOP, "wide", True), (PHONE, "tall", False)):
        page = open_page(browser, viewport, java_script_enabled=js)
        try:
            page.page.goto(site_url + "db/process-segments/index.html")
            svg = page.page.locator(f"figure.diagram svg.{kind}")
            assert svg.is_visible()
            nodes = svg.locator("a.node")
            assert nodes.count() == 8
            assert nodes.first.get_attribute("aria-label") == "Step 1: Propagation"
            nodes.first.click()
            page.page.wait_for_url("**/db/process-segments/propagation-1.html")
        finally:
            page.close()


def test_the_process_diagram_follows_dark_mode(browser: Any, site_url: str) -> None:
    fills = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, DESKTOP, scheme)
        try:
            page.page.goto(site_url + "db/process-segments/index.html")
            rect = page.page.locator("svg.wide a.node rect").first
            fills[scheme] = rect.evaluate("r => getComputedStyle(r).fill")
        finally:
            page.close()
    assert fills["light"] != fills["dark"]


# --------------------------------------------------------------------------- feed


def test_every_page_links_the_feed_of_recent_changes(site: Path) -> None:
    for path in ("index.html", "db/guides/index.html", "db/guides/pest-scouting-checklist-3.html", "404.html"):
        html = (site / path).read_text()
        assert '<link rel="alternate" type="application/atom+xml"' in html and 'feed.xml">' in html
    feed = ET.fromstring((site / "feed.xml").read_bytes())
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 20
    updated = [e.findtext(f"{ATOM}updated") for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.findtext(f"{ATOM}updated") == updated[0]  # Fibery's modificationDate, not the build's time
    for entry in entries:
        href = entry.find(f"{ATOM}link").get("href")
        assert (site / href).is_file()
        assert entry.findtext(f"{ATOM}id").startswith("https://demo.fibery.io/Nursery_Knowledge_Base/")
    home = (site / "index.html").read_text()
    assert '<h2 id="recent-heading">Recently updated</h2>' in home


def test_the_feed_is_the_same_in_every_build(site: Path, tmp_path: Path) -> None:
    build(DemoSource(), make_config(), out=tmp_path / "again", root=ROOT)
    assert (tmp_path / "again" / "feed.xml").read_bytes() == (site / "feed.xml").read_bytes()
    assert (tmp_path / "again" / "index.html").read_bytes() == (site / "index.html").read_bytes()


# --------------------------------------------------------------------------- theme, search


def test_dark_mode_follows_the_system_and_the_toggle_is_remembered(browser: Any, site_url: str) -> None:
    page = open_page(browser, DESKTOP, "dark")
    background = "() => getComputedStyle(document.documentElement).backgroundColor"
    try:
        p = page.page
        p.goto(site_url + "index.html")
        dark = p.evaluate(background)
        toggle = p.get_by_role("button", name="Dark mode")
        assert toggle.get_attribute("aria-pressed") == "true"
        toggle.click()
        assert toggle.get_attribute("aria-pressed") == "false" and p.evaluate(background) != dark
        p.goto(site_url + "db/guides/index.html")  # remembered on the next page
        assert p.evaluate(background) != dark
        p.get_by_role("button", name="Dark mode").click()
        assert p.evaluate(background) == dark
    finally:
        page.close()
    assert page.errors == []


def test_search_results_close_when_focus_leaves_them(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "index.html")
    page.locator("#search-input").fill("zzzznothing")
    panel = page.locator("#search-results")
    panel.wait_for(state="visible")
    assert page.locator("#search-input").get_attribute("aria-expanded") is None
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    panel.wait_for(state="hidden")


@pytest.mark.skipif(search.pagefind_command() is None, reason="Pagefind is not installed: no search index")
def test_search_excerpts_keep_labels_apart_from_values(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "index.html")
    page.locator("#search-input").fill("Potmaster")
    page.locator(".search-excerpt").first.wait_for()
    excerpts = " ".join(page.locator(".search-excerpt").all_inner_texts())
    assert "Manufacturer Potmaster" in excerpts and "ManufacturerPotmaster" not in excerpts


def test_search_from_disk_asks_for_a_web_server(browser: Any, site: Path) -> None:
    page = open_page(browser)
    try:
        page.page.goto((site / "index.html").as_uri())
        page.page.locator("#search-input").fill("water")
        status = page.page.locator(".search-status")
        status.wait_for()
        assert "gen serve" in status.inner_text() and "no search index" not in status.inner_text()
    finally:
        page.close()


# --------------------------------------------------------------------------- phones, axe


def test_no_page_scrolls_sideways_on_a_phone(phone: Page, site_url: str, site: Path) -> None:
    pages = [p.relative_to(site).as_posix() for p in sorted(site.rglob("*.html"))]
    assert len(pages) > 40
    for path in pages:
        phone.page.goto(site_url + path)
        overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a 390px phone"


@pytest.fixture(scope="module")
def axe() -> Path:
    """axe-core's script, installed from tests/axe's lock file on first use."""
    if not AXE_JS.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: it installs axe-core into tests/axe")
        command = [npm, "ci", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0 or not AXE_JS.is_file():
            pytest.skip(f"axe-core could not be installed (offline?): {result.stderr.strip()[-200:]}")
    return AXE_JS


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("width", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_axe_finds_nothing_serious_on_any_page_type(
    browser: Any, site_url: str, axe: Path, width: str, viewport: dict[str, int], scheme: str
) -> None:
    page = open_page(browser, viewport, scheme)
    problems = []
    try:
        for name, path in PAGE_TYPES.items():
            page.page.goto(site_url + path)
            page.page.add_script_tag(path=str(axe))
            violations = page.page.evaluate(
                "() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
                ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"
            )
            problems += [f"{name} ({width}, {scheme}): {v}" for v in violations]
    finally:
        page.close()
    assert problems == []
