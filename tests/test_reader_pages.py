"""The pieces of the reader's pages, without a browser: state colours, URL wrapping, the
table of contents, the feed and the process diagram (issue 15). Hostile text stays text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from markupsafe import Markup

from generator import article, badges, diagram, feed
from generator.model import Database, Entity, Field, FieldKind, Workspace
from generator.site.fields import wrap_url

from .sitecheck import dangerous

STATE = Field(key="state", title="State", kind=FieldKind.STATE)
ATOM = "{http://www.w3.org/2005/Atom}"


def _entities(*states: dict) -> list[Entity]:
    return [Entity(id=f"e{i}", public_id=str(i), name=f"E{i}", values={"state": s}) for i, s in enumerate(states, 1)]


def test_states_are_coloured_by_rank_and_final_flag() -> None:
    tones = badges.state_tones(
        STATE,
        _entities(
            {"name": "Published", "rank": 3, "final": True},
            {"name": "Draft", "rank": 0},
            {"name": "In Review", "rank": 1},
            {"name": "Legal check", "rank": 2},
        ),
    )
    assert tones == {"Draft": "s-start", "In Review": "s-mid", "Legal check": "s-alt", "Published": "s-done"}


def test_without_rank_states_follow_their_first_appearance_and_fibery_colours_win() -> None:
    tones = badges.state_tones(
        STATE,
        _entities({"name": "Open"}, {"name": "Doing"}, {"name": "Blocked", "color": "#d40915"}, {"name": "Open"}),
    )
    assert tones == {"Open": "s-start", "Doing": "s-mid", "Blocked": "s-stop"}
    assert badges._tone_of_colour("#4faf54") == "s-done" and badges._tone_of_colour("#999999") == "s-start"
    assert badges._tone_of_colour("red") is None and badges._tone_of_colour("#zzzzzz") is None


def test_without_a_word_from_fibery_the_usual_names_say_where_a_state_goes() -> None:
    tones = badges.state_tones(
        STATE,
        _entities({"name": "Published"}, {"name": "In Review"}, {"name": "Draft"}, {"name": "Obsolete"}),
    )
    assert tones == {"Draft": "s-start", "In Review": "s-mid", "Published": "s-done", "Obsolete": "s-stop"}
    # What Fibery says wins over the name.
    assert badges.state_tones(STATE, _entities({"name": "Done", "final": False}, {"name": "X"})) == {
        "Done": "s-start",
        "X": "s-mid",
    }


def test_long_urls_wrap_after_separators_never_mid_word() -> None:
    url = "https://extension.example.edu/ipm/greenhouse-scouting?x=1&y=2"
    wrapped = wrap_url(url)
    assert str(wrapped).replace("<wbr>", "") == url.replace("&", "&amp;")
    assert "https://<wbr>extension<wbr>.example" in wrapped and "scout<wbr>" not in wrapped
    assert wrap_url("https://a.io") == "https://a.io"  # short: as it is
    assert "<script>" not in wrap_url("https://example.com/<script>alert(1)</script>/long/path")


def test_three_headings_make_a_table_of_contents() -> None:
    text = Markup("<p>x</p><h2>One &amp; two</h2><p>a</p><h3>Sub</h3><h2>One &amp; two</h2>")
    numbered, toc = article.outline(text)
    assert '<h2 id="h-one-two">One &amp; two</h2>' in numbered and '<h2 id="h-one-two-2">' in numbered
    assert '<li class="toc-3"><a href="#h-sub">Sub</a></li>' in toc
    assert 'href="#h-one-two">One &amp; two</a>' in toc
    assert article.outline(Markup("<h2>a</h2><h2>b</h2>")) == (Markup("<h2>a</h2><h2>b</h2>"), "")


def test_headings_of_hostile_text_stay_text_in_the_table_of_contents() -> None:
    text = Markup("<h2>&lt;img src=x onerror=alert(1)&gt;</h2><h2>b</h2><h2>c</h2>")
    numbered, toc = article.outline(text)
    assert dangerous(str(toc)) == [] and "&lt;img" in toc
    assert dangerous(str(numbered)) == []


def _workspace(name: str = "Guide") -> Workspace:
    fields = [Field(key="body", title="Body", kind=FieldKind.RICH_TEXT)]
    entities = [
        Entity(id="a", public_id="1", name=name, modification_date="2026-03-02T09:00:00.000Z"),
        Entity(id="b", public_id="2", name="B", modification_date="2026-03-05T09:00:00.000Z"),
        Entity(id="c", public_id="3", name="C", modification_date="2026-03-02T09:00:00.000Z"),
        Entity(id="d", public_id="4", name="Never modified"),
    ]
    entities[1].values["body"] = {"html": "<p>Some <b>text</b> &amp; more</p>", "md": ""}
    db = Database(key="G", title="Guides", query="findG", web_name="Guides", fields=fields, entities=entities)
    return Workspace(fibery_url="https://x.fibery.io", space="S", databases=[db])


def test_the_feed_lists_the_newest_first_by_modification_date() -> None:
    ws = _workspace('<b>Bold</b> & "quoted"\x01')
    paths = {"a": "db/g/a.html", "b": "db/g/b.html", "c": "db/g/c.html", "d": "db/g/d.html"}
    changes = feed.recent_changes(ws, paths, lambda db, e: f"https://x.fibery.io/S/Guides/{e.public_id}")
    assert [c.path for c in changes] == ["db/g/b.html", "db/g/a.html", "db/g/c.html"]  # ties by path
    assert changes[0].summary == "Some text & more"
    xml = feed.atom("Site <1>", changes, base_url="https://kb.example/", site_id="https://x.fibery.io/S#kb")
    root = ET.fromstring(xml)  # well-formed, control characters removed
    assert root.findtext(f"{ATOM}updated") == "2026-03-05T09:00:00.000Z"
    assert root.findtext(f"{ATOM}title") == "Site <1>: recently updated"
    entries = root.findall(f"{ATOM}entry")
    assert entries[1].findtext(f"{ATOM}title") == '<b>Bold</b> & "quoted"'
    assert entries[0].find(f"{ATOM}link").get("href") == "https://kb.example/db/g/b.html"
    assert feed.atom("S", changes, base_url=None, site_id="x") == feed.atom("S", changes, base_url=None, site_id="x")
    relative = ET.fromstring(feed.atom("S", changes, base_url=None, site_id="x"))
    assert relative.find(f"{ATOM}entry/{ATOM}link").get("href") == "db/g/b.html"


def _segments(names: list[str], predecessors: dict[int, list[int]]) -> Database:
    fields = [Field(key="predecessor", title="Predecessor", kind=FieldKind.COLLECTION, target="P")]
    entities = [
        Entity(
            id=f"s{i}",
            public_id=str(i),
            name=name,
            values={"predecessor": [{"id": f"s{p}"} for p in predecessors.get(i, [])]},
        )
        for i, name in enumerate(names, 1)
    ]
    return Database(key="P", title="Process Segments", query="findP", web_name="P", fields=fields, entities=entities)


def test_the_diagram_draws_the_process_order_with_links() -> None:
    db = _segments(["Sow", "Grow", "<script>alert(1)</script>", "Sell"], {2: [1], 3: [1], 4: [2, 3]})
    paths = {f"s{i}": f"db/p/{i}.html" for i in (1, 2, 4)}  # step 3 is not published
    html = str(diagram.process_diagram(db, paths, "../../"))
    assert html.count('<svg class="wide"') == 1 and html.count('<svg class="tall"') == 1
    assert html.count('<a class="node" href="../../db/p/1.html" aria-label="Step 1: Sow">') == 2
    assert "&lt;script&gt;" in html and "(not published)" in html
    assert dangerous(html, allowed_tags={"svg"}) == []
    nodes, edges = diagram.layout(db, paths)
    assert [(n.name, n.level) for n in nodes][:2] == [("Sow", 0), ("Grow", 1)]
    assert nodes[-1].level == 2 and len(edges) == 4


def test_no_predecessors_no_diagram() -> None:
    assert diagram.process_diagram(_segments(["A", "B"], {}), {}, "") == ""
