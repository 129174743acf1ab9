"""Look and accessibility of the built pages: titles, social cards, landmarks, the skip link,
the search box, and WCAG AA contrast of every colour pair the stylesheet uses, light and dark."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.build import build
from generator.sources import DemoSource

from .conftest import ROOT, make_config

CSS = (ROOT / "templates" / "assets" / "style.css").read_text()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("look") / "site"
    build(DemoSource(), make_config(base_url="https://org.github.io/kb/", search=False), out=out, root=ROOT)
    return out


def test_titles_name_entity_database_and_site(site: Path) -> None:
    entity = next(site.glob("db/guides/pest-scouting*.html")).read_text()
    assert "<title>Pest scouting checklist — Guides — Nursery Knowledge Base</title>" in entity
    assert "<title>Guides — Nursery Knowledge Base</title>" in (site / "db/guides/index.html").read_text()
    assert "<title>Nursery Knowledge Base</title>" in (site / "index.html").read_text()
    assert "<title>About this knowledge base — Nursery Knowledge Base</title>" in (site / "about.html").read_text()


def test_open_graph_tags(site: Path) -> None:
    entity = next(site.glob("db/guides/pest-scouting*.html")).read_text()
    url = "https://org.github.io/kb/db/guides/pest-scouting-checklist-3.html"
    assert '<meta property="og:title" content="Pest scouting checklist">' in entity
    assert '<meta property="og:type" content="article">' in entity
    assert f'<meta property="og:url" content="{url}">' in entity
    assert f'<link rel="canonical" href="{url}">' in entity
    assert '<meta property="og:site_name" content="Nursery Knowledge Base">' in entity
    description = re.search(r'<meta property="og:description" content="([^"]*)">', entity)
    assert description and description.group(1).startswith("Every greenhouse is scouted once a week")
    assert len(description.group(1)) <= 201 and "<" not in description.group(1)
    assert '<meta name="twitter:card" content="summary">' in entity


def test_pages_are_semantic_and_keyboard_friendly(site: Path) -> None:
    for path in ("index.html", "db/guides/index.html", "about.html", "404.html"):
        html = (site / path).read_text()
        assert '<html lang="en">' in html and 'name="viewport"' in html
        assert '<a class="skip" href="#main">Skip to content</a>' in html
        assert '<main id="main"' in html and "<header" in html and "<footer" in html
        assert '<nav class="sidebar" aria-label="Site">' in html and '<nav aria-label="Site menu">' in html
        assert html.count("<h1") == 1
    assert ":focus-visible" in CSS and "outline: 3px solid var(--focus)" in CSS


def test_search_box_on_every_page_unless_search_is_off(tmp_path: Path, site: Path) -> None:
    build(DemoSource(), make_config(), out=tmp_path / "on", root=ROOT)
    page = (tmp_path / "on" / "db" / "guides" / "index.html").read_text()
    assert '<form class="search" role="search" data-bundle="../../pagefind/" hidden>' in page
    assert 'aria-keyshortcuts="/"' in page and '<script src="../../assets/search.js" defer>' in page
    assert 'role="search"' not in (site / "index.html").read_text()  # search = false


# --------------------------------------------------------------------------- contrast


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


LIGHT = _variables(CSS.split("@media (prefers-color-scheme: dark)")[0])
DARK = {**LIGHT, **_variables(CSS.split("@media (prefers-color-scheme: dark)")[1].split("}")[0])}
TEXT_PAIRS = [
    ("fg", "bg"), ("muted", "bg"), ("muted", "card"), ("fg", "card"), ("link", "bg"), ("link", "card"),
    ("badge-fg", "badge-bg"), ("mark-fg", "mark-bg"), ("fg", "field-bg"), ("muted", "field-bg"),
    ("bg", "accent"),  # the current page number
]  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_contrast_is_wcag_aa(scheme: str, fg: str, bg: str) -> None:
    colours = LIGHT if scheme == "light" else DARK
    assert contrast(colours[fg], colours[bg]) >= 4.5, f"{scheme}: --{fg} on --{bg}"


@pytest.mark.parametrize("colours", [LIGHT, DARK], ids=["light", "dark"])
def test_focus_ring_and_field_borders_are_visible(colours: dict[str, str]) -> None:
    assert contrast(colours["focus"], colours["bg"]) >= 3  # WCAG 1.4.11, non-text contrast
    assert contrast(colours["muted"], colours["field-bg"]) >= 3


def test_placeholder_image_is_plain_svg() -> None:
    svg = (ROOT / "templates" / "assets" / "file-unavailable.svg").read_text()
    assert "<script" not in svg and "href" not in svg and 'aria-label="File unavailable"' in svg


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: JavaScript syntax not checked")
@pytest.mark.parametrize("script", ["search.js", "table.js"])
def test_scripts_are_valid_javascript(script: str) -> None:
    result = subprocess.run(
        ["node", "--check", str(ROOT / "templates" / "assets" / script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
