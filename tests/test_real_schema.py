"""End to end against the schemas a live Fibery server produced, served verbatim.

``shared/fibery-real/things.graphql`` and ``things_relations.graphql`` are what graphql-mesh
introspected from the space ``Things`` of a real workspace. The fake builds them unchanged
(``FakeFibery.from_sdl``: graphql-core ``build_schema`` plus resolvers over generated rows,
with Fibery's paging: root pages and nested lists of 100 unless ``limit`` is given, no
``offset`` on nested lists), derives ``/api/schema`` from their descriptions, and the real
`gen build` runs against it in a subprocess. These are the "Done when" checks of issue 13:

* titles are Fibery's (``Event``, not ``Things Event``);
* every "Open in Fibery" link is ``{url}/Things/{Database}/{publicId}``, from the REST name;
* URL fields (``fibery/text`` with ``ui/type: url`` in REST) are links;
* no e-mail address appears anywhere in the site (every entity's ``createdBy`` has one);
* a related list of 150 (``ThingsType.things``) is complete on the Type's page;
* ``include_databases = ["Event"]`` works;
* a wrong space (a schema with only ``me``) fails with exit 3 and one line naming it;
* rich-text links to published entities, in every real form, become relative links.

Data the SDL cannot carry comes from REST, as in a real workspace: ``Things/url`` is a URL,
``Things/email`` an e-mail, ``Things/Start``/``Things/End`` date-times. ``Things/Person``'s
own ``email`` field is left empty, so that every address in the data is a Fibery user's.
"""

from __future__ import annotations

import json
import re
import uuid
from html import escape, unescape
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from . import fake_fibery as ff
from .conftest import TOKEN
from .e2e_helpers import readable, site_files
from .test_cli import assert_one_line_error, run_gen

REAL = ff.real_sdl_dir()
pytestmark = pytest.mark.skipif(REAL is None, reason="shared/fibery-real is not beside the project")

SPACE = "Things"
KB_TOML = "search = false\n"
USERS = [
    {"active": True, "id": str(uuid.UUID(int=0xA00 + i)), "publicId": str(i), "name": name, "email": email,
     "creationDate": "2022-05-01T10:00:00.000Z", "modificationDate": "2022-05-01T10:00:00.000Z", "rank": i * 1.0}
    for i, (name, email) in enumerate(
        [("Ada Lovelace", "ada@everything.example"), ("Grace Hopper", "grace.hopper@everything.example"),
         ("Alan Turing", "alan+fibery@everything.example")], start=1)
]  # fmt: skip
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
COUNTS = {"Document": 30, "Email": 12, "Event": 40, "Idea": 12, "Person": 25, "Post": 12, "Thing": 15}
"""Entities per database of ``things.graphql``."""
CHAIRS = 150
"""Things of the Type "Chairs" in ``things_relations.graphql``: more than a nested page."""
REST = ff.RestOptions(
    meta={
        ("Things/Event", "Things/url"): {"ui/type": "url"},
        ("Things/Person", "Things/email"): {"ui/type": "email"},
    },
    types={("Things/Event", "Things/Start"): "fibery/date-time", ("Things/Event", "Things/End"): "fibery/date-time"},
)


def _id(db: str, i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"things/{db}/{i}"))


def _slug(title: str) -> str:
    """The ``{Slug}-`` Fibery may put before a public id (n8n's rule, simplified)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")


def _row(db: str, i: int, **values: Any) -> dict[str, Any]:
    """The fields every real database type has, plus ``values``."""
    day = 1 + i % 28
    return {
        "id": _id(db, i), "publicId": str(i), "creationDate": f"2023-02-{day:02d}T09:00:00.000Z",
        "modificationDate": f"2023-03-{day:02d}T09:30:00.000Z", "rank": float(i), "createdBy": USERS[i % 3],
        "name": f"{db} {i}", **values,
    }  # fmt: skip


def _rich(text: str, html: str | None = None) -> dict[str, Any]:
    return ff.rich_field(text, html if html is not None else f"<p>{text}</p>")


def link_forms(url: str, event: dict[str, Any]) -> tuple[str, str]:
    """(Markdown, HTML) of one rich text linking to ``event`` in one of Fibery's real forms,
    picked by its public id: plain, with slug, ``/@public/``, with ``/anchor=…``, mention.

    How a mention looks in ``html`` is UNCERTAIN (FIBERY_API.md 4): the fake puts the
    Markdown text ``[[Things/Event: Title#^typeId/entityId]]`` in both forms, the case where
    a client must recognise it itself."""
    pid, name = event["publicId"], event["name"]
    slug = f"{_slug(name)}-{pid}"
    forms = [
        f"{url}/Things/Event/{pid}",
        f"{url}/Things/Event/{slug}",
        f"{url}/@public/Things/Event/{slug}",
        f"{url}/Things/Event/{slug}/anchor=Agenda--{uuid.UUID(int=int(pid))}",
    ]
    n = int(pid) % (len(forms) + 1)
    if n == len(forms):
        mention = f"[[Things/Event: {name}#^{ff.rest_type_id('Things/Event')}/{event['id']}]]"
        return f"See {mention} for details.", f"<p>See {mention} for details.</p>"
    href = forms[n]
    return f"See [{name}]({href}) for details.", f'<p>See <a href="{href}">{name}</a> for details.</p>'


def things_rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Rows for ``things.graphql``: every database, Event's workflow, links in rich text."""
    done, planned = ({"id": _id("state", n), "publicId": str(n), "rank": n * 1.0, "icon": None, "name": name,
                      "final": n == 2} for n, name in ((2, "Done"), (1, "Planned")))  # fmt: skip
    events = [
        _row("Event", i, title=f"Event title {i}", contacts=f"Desk {i}", allDay=i % 2 == 0,
             start=f"2023-04-{1 + i % 28:02d}T18:00:00.000Z", end=f"2023-04-{1 + i % 28:02d}T21:00:00.000Z",
             source="calendar", url=f"https://example.org/events/{i}", state=done if i % 3 else planned,
             description=_rich(f"Agenda of event {i}."))
        for i in range(1, COUNTS["Event"] + 1)
    ]  # fmt: skip
    documents = []
    for i in range(1, COUNTS["Document"] + 1):
        md, html = link_forms(url, events[(i * 7) % len(events)])
        documents.append(_row("Document", i, author=f"Author {i % 4}", description=_rich(md, html)))
    rows = {"ThingsEvent": events, "ThingsDocument": documents}
    rows["ThingsPerson"] = [
        _row("Person", i, accountId=f"acc-{i}", email=None, widgetSrc=None, description=_rich(f"Person {i}."))
        for i in range(1, COUNTS["Person"] + 1)
    ]
    for db in ("Email", "Idea", "Post", "Thing"):
        rows[f"Things{db}"] = [_row(db, i, description=_rich(f"{db} {i} text.")) for i in range(1, COUNTS[db] + 1)]
    return rows


def relations_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows for ``things_relations.graphql``: the Type "Chairs" with 150 things (its inverse
    collection), three small types, and things related one-to-one to ideas of another space."""
    types = [_row("Type", 1, name="Chairs", description=_rich("Things to sit on."))]
    types += [_row("Type", n, name=f"Type {n}", description=_rich(f"Type {n}.")) for n in (2, 3, 4)]
    for t in types:
        t["things"] = []
    things = []
    for i in range(1, CHAIRS + 10):
        owner = types[0] if i <= CHAIRS else types[1 + i % 3]
        thing = _row("Thing", i, name=f"Chair {i}" if i <= CHAIRS else f"Thing {i}", type=owner,
                     description=_rich(f"Thing {i}."), idea=None)  # fmt: skip
        if i % 50 == 0:
            thing["idea"] = _row("Idea", i, numberOfRecentCases=i, thing=thing, description=None,
                                 state={"id": _id("istate", 1), "name": "New", "final": False})  # fmt: skip
        owner["things"].append(thing)
        things.append(thing)
    return {"ThingsThing": things, "ThingsType": types}


@pytest.fixture(scope="module")
def things_fake():
    sdl = (REAL / "things.graphql").read_text()
    with ff.FakeFibery.from_sdl(sdl, space=SPACE, token=TOKEN, rate_limit=None, rest=REST) as fake:
        fake.update_rows(things_rows(fake.url))
        yield fake


@pytest.fixture(scope="module")
def relations_fake():
    sdl = (REAL / "things_relations.graphql").read_text()
    with ff.FakeFibery.from_sdl(sdl, space=SPACE, token=TOKEN, rate_limit=None, rest=REST) as fake:
        fake.update_rows(relations_rows())
        yield fake


def build(fake: ff.FakeFibery, folder: Path, kb_toml: str = KB_TOML, space: str = SPACE) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kb.toml").write_text(kb_toml)
    return run_gen("build", cwd=folder, FIBERY_URL=fake.url, FIBERY_SPACE=space, FIBERY_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def things_site(things_fake: ff.FakeFibery, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("things")
    result = build(things_fake, folder)
    assert result.returncode == 0, result.stderr
    return folder / "site"


@pytest.fixture(scope="module")
def relations_site(relations_fake: ff.FakeFibery, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("relations")
    result = build(relations_fake, folder)
    assert result.returncode == 0, result.stderr
    return folder / "site"


# --------------------------------------------------------------------------- reading the site

_H1 = re.compile(r"<h1>(.*?)</h1>", re.S)
_OPEN = re.compile(r'<a href="([^"]*)"[^>]*>Open in Fibery</a>')
_HREF = re.compile(r'<a href="([^"]*)"[^>]*>(.*?)</a>', re.S)


def entity_pages(site: Path) -> dict[str, tuple[str, str]]:
    """``{entity name: (path in the site, html)}`` of every entity page (those that link to
    Fibery), whatever the folders are called."""
    pages = {}
    for path, data in site_files(site).items():
        if not path.endswith(".html"):
            continue
        text = data.decode()
        if "Open in Fibery" in text and "<article>" in text and (h1 := _H1.search(text)):
            pages[unescape(h1.group(1).strip())] = (path, text)
    return pages


def field_html(page: str, title: str) -> str | None:
    """The ``<dd>`` of the field shown as ``title`` on an entity page, or None; a text field's
    HTML: the main text (no label) or another one (under its own heading)."""
    label = re.escape(escape(title))
    pattern = rf'<div class="field kind-[\w-]+"><dt>{label}</dt>\s*<dd>(.*?)</dd></div>'
    match = re.search(pattern, page, re.S | re.IGNORECASE)
    match = match or re.search(rf'<div class="text" data-field="{label}">(.*?)</article>', page, re.S)
    match = match or re.search(rf'<h2 id="[^"]*">{label}</h2>(.*?)</section>', page, re.S)
    return match.group(1) if match else None


def resolve(page_path: str, href: str) -> str:
    """A relative ``href`` of the page at ``page_path`` as a path in the site."""
    parts: list[str] = []
    for part in (PurePosixPath(page_path).parent / href.split("#")[0]).parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def build_info(site: Path) -> dict[str, Any]:
    return json.loads((site / "build-info.json").read_text())


# --------------------------------------------------------------------------- the checks


def test_database_titles_are_fiberys(things_site: Path) -> None:
    assert build_info(things_site)["databases"] == COUNTS  # "Event", not "Things Event"
    listing = (things_site / "databases.html").read_text()
    for title in COUNTS:
        assert f">{title}<" in listing, title
    assert "Things Event" not in listing


def test_every_open_in_fibery_link_is_built_from_the_rest_name(
    things_site: Path, relations_site: Path, things_fake: ff.FakeFibery, relations_fake: ff.FakeFibery
) -> None:
    checked = 0
    for site, fake, rows in ((things_site, things_fake, things_rows(things_fake.url)),
                             (relations_site, relations_fake, relations_rows())):  # fmt: skip
        pages = entity_pages(site)
        expected = {
            row["name"]: f"{fake.url}/Things/{type_name.removeprefix('Things')}/{row['publicId']}"
            for type_name, type_rows in rows.items()
            for row in type_rows
        }
        assert set(pages) == set(expected)
        wrong = {
            name: _OPEN.findall(text) for name, (_, text) in pages.items() if _OPEN.findall(text) != [expected[name]]
        }
        assert wrong == {}, f"{len(wrong)} of {len(pages)} pages link elsewhere, e.g. {next(iter(wrong.items()))}"
        checked += len(pages)
    assert checked == sum(COUNTS.values()) + 4 + CHAIRS + 9


def test_url_fields_are_links(things_site: Path) -> None:
    pages = entity_pages(things_site)
    for i in range(1, COUNTS["Event"] + 1):
        value = field_html(pages[f"Event {i}"][1], "URL")
        assert value is not None, f"Event {i} shows no URL field"
        assert f'<a href="https://example.org/events/{i}"' in value, value


def test_no_email_address_is_published(things_site: Path, relations_site: Path) -> None:
    for site in (things_site, relations_site):
        found = {path: sorted(set(EMAIL.findall(readable(data).decode(errors="replace"))))
                 for path, data in site_files(site).items()}  # fmt: skip
        assert {path: hits for path, hits in found.items() if hits} == {}
    for user in USERS:  # …and the people are shown by name where they are shown at all
        assert user["email"] not in (things_site / "databases.html").read_text()


def test_created_by_is_not_a_facet_or_column(things_site: Path) -> None:
    pages = [d.decode() for p, d in site_files(things_site).items() if p.endswith("index.html")]
    events = next(text for text in pages if ">Event 1</a>" in text)  # the Event table, whatever its title
    facets = re.findall(r"<label>([^<]*?)\s*<select data-facet", events)
    head = re.search(r'<thead><tr><th scope="col" data-type="number">#</th>(.*?)</tr></thead>', events, re.S)
    columns = re.findall(r"<th[^>]*>([^<]*)</th>", head.group(1)) if head else []
    assert columns, "the Event table has no columns"
    assert [t for t in facets + columns if "created" in t.lower()] == []


def test_a_related_list_of_150_is_complete(relations_site: Path) -> None:
    pages = entity_pages(relations_site)
    path, page = pages["Chairs"]
    things = field_html(page, "Things")
    assert things is not None, "the Type page shows no Things field"
    listed = {unescape(text) for href, text in _HREF.findall(things)}
    assert listed == {f"Chair {i}" for i in range(1, CHAIRS + 1)}, f"{len(listed)} of {CHAIRS} things listed"
    assert all(resolve(path, href) in {p for p, _ in pages.values()} for href, _ in _HREF.findall(things))


def test_include_databases_takes_the_fibery_name(things_fake: ff.FakeFibery, tmp_path: Path) -> None:
    result = build(things_fake, tmp_path, KB_TOML + 'include_databases = ["Event"]\n')
    assert result.returncode == 0, result.stderr
    assert build_info(tmp_path / "site")["databases"] == {"Event": COUNTS["Event"]}


def test_a_wrong_space_fails_with_one_line_naming_it(things_fake: ff.FakeFibery, tmp_path: Path) -> None:
    result = build(things_fake, tmp_path, space="Thngs")  # the fake answers with a schema holding only `me`
    assert_one_line_error(result, "Thngs", 3)
    assert not (tmp_path / "site").exists()


def test_rich_text_links_to_published_entities_become_local(things_site: Path, things_fake: ff.FakeFibery) -> None:
    pages = entity_pages(things_site)
    events = things_rows(things_fake.url)["ThingsEvent"]
    problems = {}
    for i in range(1, COUNTS["Document"] + 1):
        path, page = pages[f"Document {i}"]
        target = events[(i * 7) % len(events)]["name"]
        text = field_html(page, "Description") or ""
        hrefs = [href for href, label in _HREF.findall(text)]
        local = [h for h in hrefs if "://" not in h and resolve(path, h) == pages[target][0]]
        if not local or any(things_fake.url in h for h in hrefs) or "[[Things/" in text:
            problems[f"Document {i}"] = (target, hrefs, re.sub(r"\s+", " ", text)[:200])
    assert problems == {}, f"{len(problems)} of {COUNTS['Document']} documents keep Fibery links: {problems}"
