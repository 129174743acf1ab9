"""The demo site in a real browser: Playwright for Python driving Debian's Chromium
(``/usr/bin/chromium``; never ``playwright install``), the site served from a local server.

Scenario: home → database → entity → related entity → back through its backlink; search a
word found only in one entity's rich text and follow the result; filter a table by workflow
state and sort it; no console errors anywhere; no page wider than a 375 px phone; and
screenshots at desktop and phone width into a temporary folder.

Without Chromium (or Playwright) every test here is skipped with the reason, never passed.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator import search
from generator.build import build
from generator.model import Entity
from generator.sources import DemoSource

from .conftest import ROOT, make_config
from .e2e_helpers import serving
from .test_site import StaticSource

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
UNIQUE_WORD = "nematodes"  # only in the rich text of Guides #3, "Pest scouting checklist"

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
if not Path(CHROMIUM).exists():
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium): browser tests skipped", True)


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("browser") / "site"
    build(DemoSource(), make_config(), out=site, root=ROOT)
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


class Page:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, viewport: dict[str, int], color_scheme: str = "light") -> None:
        self.context = browser.new_context(viewport=viewport, color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", self._request_failed)

    def _request_failed(self, request: Any) -> None:
        # A click that navigates cancels the old page's pending loads: not an error.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Page]:
    page = Page(browser, DESKTOP)
    yield page
    page.close()
    assert page.errors == []


def path_of(page: Any, site_url: str) -> str:
    return page.url.removeprefix(site_url)


def test_home_database_entity_related_entity_and_backlink(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "index.html")
    page.locator("ul.databases").get_by_role("link", name="Guides").click()
    assert path_of(page, site_url) == "db/guides/index.html"
    page.get_by_role("link", name="Pest scouting checklist").click()
    assert path_of(page, site_url) == "db/guides/pest-scouting-checklist-3.html"
    assert page.title() == "Pest scouting checklist — Guides — Nursery Knowledge Base"
    owner = page.locator(".kind-relation dd a").first
    owner_name = owner.inner_text()
    owner.click()
    assert path_of(page, site_url).startswith("db/team-members/")
    assert page.locator("h1").inner_text() == owner_name
    page.locator(".backlinks").get_by_role("link", name="Pest scouting checklist").click()
    assert path_of(page, site_url) == "db/guides/pest-scouting-checklist-3.html"


@pytest.mark.skipif(search.pagefind_command() is None, reason="Pagefind is not installed: no search index")
def test_search_finds_a_word_in_rich_text_and_follows_the_result(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/equipment/index.html")  # a nested page: the index is found relative to it
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search-input"
    page.keyboard.type(UNIQUE_WORD)
    results = page.locator(".search-list li")
    results.first.wait_for()
    assert results.count() == 1
    assert page.locator(".search-status").inner_text() == f"1 result for “{UNIQUE_WORD}”"
    assert page.locator(".search-db").inner_text() == "Guides"
    assert UNIQUE_WORD in page.locator(".search-excerpt mark").inner_text().lower()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.className") == "search-title"
    page.keyboard.press("Enter")
    page.wait_for_url("**/pest-scouting-checklist-3.html")
    assert page.locator("h1").inner_text() == "Pest scouting checklist"


def test_filter_a_table_by_workflow_state_and_sort_it(desktop: Page, site_url: str) -> None:
    page = desktop.page
    page.goto(site_url + "db/guides/index.html")
    rows = page.locator("table.entities tbody tr")
    assert rows.count() == 9
    state = page.get_by_role("combobox", name="State")
    option = state.locator("option", has_text="In Review").inner_text()  # "In Review (2)"
    state.select_option(label=option)
    expected = int(option.rsplit("(", 1)[1].rstrip(")"))
    assert rows.count() == expected
    assert {rows.nth(i).get_attribute("data-f0") for i in range(expected)} == {"In Review"}
    assert page.locator("#table-status").inner_text() == f"{expected} of 9 items"
    page.get_by_role("button", name="Sort by Name").click()
    names = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(expected)]
    assert names == sorted(names, key=str.casefold)
    page.get_by_role("button", name="Sort by Name").click()
    assert page.locator("th[aria-sort]").get_attribute("aria-sort") == "descending"
    state.select_option("")
    assert rows.count() == 9


@pytest.fixture(scope="module")
def big_site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A site whose Guides table has 250 rows on 3 pages (states cycling)."""
    workspace = DemoSource().load()
    guides = workspace.database("Guides")
    states = ("Draft", "In Review", "Published")
    guides.entities = [
        Entity(id=f"g-{i}", public_id=str(i), name=f"Guide {i:03d}", values={"state": {"name": states[i % 3]}})
        for i in range(1, 251)
    ]
    site = tmp_path_factory.mktemp("big") / "site"
    build(StaticSource(workspace), make_config(search=False), out=site, root=ROOT)
    with serving(site) as url:
        yield url


def test_filters_and_sorting_cover_every_page_of_a_large_table(desktop: Page, big_site_url: str) -> None:
    page = desktop.page
    page.goto(big_site_url + "db/guides/index.html")
    rows = page.locator("table.entities tbody tr")
    assert rows.count() == 100 and page.locator("nav.pager").is_visible()
    page.get_by_role("combobox", name="State").select_option(label="Draft (83)")
    page.locator("#table-status", has_text="83 of 250 items").wait_for()
    assert rows.count() == 83 and not page.locator("nav.pager").is_visible()
    assert rows.last.locator("td").first.inner_text() == "249"  # from rows.js: page 3's rows too
    page.get_by_role("combobox", name="State").select_option("")
    page.get_by_role("button", name="Sort by #").click()
    page.get_by_role("button", name="Sort by #").click()  # descending
    assert rows.first.locator("td").first.inner_text() == "250"
    assert rows.count() == 101  # 100 rows and the "Show more" row
    page.get_by_role("button", name="Show 100 more").click()
    assert rows.count() == 201


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_and_no_horizontal_scrolling(
    browser: Any, site_url: str, tmp_path: Path, name: str, viewport: dict[str, int], scheme: str
) -> None:
    page = Page(browser, viewport, scheme)
    shots = []
    try:
        for path in ("index.html", "db/guides/index.html", "db/guides/pest-scouting-checklist-3.html", "about.html"):
            page.page.goto(site_url + path)
            overflow = page.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a {viewport['width']}px screen"
            shot = tmp_path / f"{path.replace('/', '_')}-{name}-{scheme}.png"
            page.page.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
    finally:
        page.close()
    assert page.errors == []
    for shot in shots:
        width, height = png_size(shot)
        assert width == viewport["width"] and height >= 400, shot.name
