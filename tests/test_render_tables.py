"""Large databases: entity tables paginated 100 rows a page with numbered pages, facets by
workflow state and single-select fields, sort keys for every column, and ``rows.js`` so that
filters and sorting work over the whole database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from generator.build import build
from generator.check import check_site
from generator.model import Entity, Workspace
from generator.site.pages import pager

from .conftest import ROOT, make_config
from .sitecheck import parse
from .test_site import StaticSource

STATES = ("Draft", "In Review", "Published")


@pytest.fixture
def big_site(tmp_path: Path, demo: Workspace) -> Path:
    """The demo with 250 guides (states cycling), one of them called "Page" #2."""
    guides = demo.database("Guides")
    template = guides.entities[0]
    guides.entities = [
        Entity(
            id=f"g-{i}",
            public_id=str(i),
            name="Page" if i == 2 else f"Guide {i}",
            values={**template.values, "state": {"name": STATES[i % 3]}, "lastReviewed": f"2026-01-{i % 28 + 1:02d}"},
        )
        for i in range(1, 251)
    ]
    build(StaticSource(demo), make_config(search=False), out=tmp_path / "site", root=ROOT)
    return tmp_path / "site"


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-f0="[^"]*"[^>]*>.*?</tr>', html)


def test_tables_are_paginated_100_rows_a_page(big_site: Path) -> None:
    folder = big_site / "db" / "guides"
    pages = [folder / "index.html", folder / "page-2.html", folder / "page-3.html"]
    assert [len(rows_of(p.read_text())) for p in pages] == [100, 100, 50]
    assert not (folder / "page-4.html").exists()
    assert (folder / "page-2-2.html").exists()  # the entity "Page" #2 does not take the table's page-2
    first, second = pages[0].read_text(), pages[1].read_text()
    assert '<a href="page-2.html" rel="next">Next ›</a>' in first
    assert '<a href="index.html" aria-current="page"' in first
    assert '<a href="index.html" rel="prev">‹ Previous</a>' in second
    assert "<title>Guides (page 2 of 3) — Nursery Knowledge Base</title>" in second
    assert "showing 101–200" in second
    assert "data-pagefind-body" in first and "data-pagefind-body" not in second  # one search hit per database
    assert max(p.stat().st_size for p in pages) < 200_000


def test_rows_js_holds_every_row_for_filters_and_sorting(big_site: Path) -> None:
    script = (big_site / "db" / "guides" / "rows.js").read_text()
    assert script.startswith("kbTableRows(") and script.endswith(");\n")
    rows = json.loads(script[len("kbTableRows(") : -3])
    assert len(rows) == 250
    assert rows[:100] == rows_of((big_site / "db" / "guides" / "index.html").read_text())
    assert 'data-rows="rows.js"' in (big_site / "db" / "guides" / "page-3.html").read_text()
    assert not (big_site / "db" / "equipment" / "rows.js").exists()  # one page: the rows are all there


def test_facets_list_each_value_with_its_count(big_site: Path) -> None:
    html = (big_site / "db" / "guides" / "index.html").read_text()
    assert '<select data-facet="0">' in html
    assert '<option value="">All (250)</option>' in html
    for state in STATES:
        count = sum(1 for i in range(1, 251) if STATES[i % 3] == state)
        assert f'<option value="={state}">{state} ({count})</option>' in html
    assert 'data-f0="In Review"' in html
    equipment = (big_site / "db" / "equipment" / "index.html").read_text()
    assert "<label>Location" in equipment and "<label>State" in equipment  # single-select and workflow


def test_cells_carry_sort_keys(big_site: Path) -> None:
    row = rows_of((big_site / "db" / "guides" / "index.html").read_text())[0]
    assert '<td class="id" data-sort="1">1</td>' in row
    assert '<td data-sort="guide 1">' in row
    assert '<td data-sort="2026-01-02"><time' in row
    assert '<th scope="col" data-type="number">#</th>' in (big_site / "db" / "guides" / "index.html").read_text()


def test_paginated_site_passes_gen_check(big_site: Path) -> None:
    report = check_site(big_site)
    assert report.problems == []
    assert report.pages == len(list(big_site.rglob("*.html"))) - 1  # all but 404.html, page-3 included


def test_pager_shows_first_last_and_neighbours() -> None:
    paths = [f"db/x/{'index' if n == 1 else f'page-{n}'}.html" for n in range(1, 21)]
    items = pager(paths, 9)
    numbers = [item["number"] if item else None for item in items]
    assert numbers == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert [item["path"] for item in items if item and item["current"]] == ["page-10.html"]


def test_small_tables_have_no_pager(demo: Workspace, tmp_path: Path) -> None:
    build(StaticSource(demo), make_config(search=False), out=tmp_path / "site", root=ROOT)
    html = (tmp_path / "site" / "db" / "guides" / "index.html").read_text()
    assert 'class="pager"' not in html and "data-rows" not in html
    assert "data-table-tools hidden" in html  # facets appear only when table.js runs
    assert "assets/table.js" in " ".join(parse(tmp_path / "site" / "db" / "guides" / "index.html").links)
