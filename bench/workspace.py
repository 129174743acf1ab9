"""A synthetic Fibery workspace for the benchmark: D databases, N entities, relations and
rich text of realistic size, as a snapshot dict (the JSON of ``generator.model.Workspace``).

The output is deterministic for a given (N, D, seed): ids are UUID5 over fixed names and
every random choice comes from one seeded ``random.Random``. Database keys and field keys
are the GraphQL names the fake Fibery derives from their titles, so a snapshot build and
a live build of the same workspace give the same site.

Each database has a text summary, a number, a date, a URL, a workflow state, a select, a
multi-select, a rich-text body (about 2 KB of HTML on average, with headings, lists, a
table now and then, and links to other entities' Fibery URLs), an owner relation into the
first database and a collection of related entities in the next database. A few entities
carry an attached file (one in 1,000 entities of each database: every file costs one
request, and a knowledge base's attachments are cached across builds anyway).

``change_entities`` edits a fraction of the entities the way people do (a body edit, a
state change, now and then a rename), bumping ``modification_date``; ``to_markdown``
writes the same pages as Markdown for MkDocs.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIBERY_URL = "https://bench.fibery.io"
SPACE = "Bench Knowledge Base"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, FIBERY_URL)
DB_TITLES = (
    "Articles", "Processes", "Procedures", "Products", "Components", "Suppliers", "Projects",
    "Decisions", "Incidents", "Runbooks", "Glossary", "Policies", "Teams", "Locations", "Vendors",
    "Releases",
)  # fmt: skip
STATES = ("Draft", "In Review", "Approved", "Deprecated")
CATEGORIES = ("Operations", "Engineering", "Quality", "Safety", "Finance", "People")
TAGS = ("how-to", "reference", "onboarding", "compliance", "faq", "checklist", "archived", "critical")
WORDS = """
the a of to and in for on with by from as at is are be this that each every when before after
plant pot tray batch greenhouse water light shade fog substrate cutting root leaf stem flower
order supplier delivery quality check audit label barcode scanner conveyor pallet truck dock
temperature humidity pressure valve pump sensor alarm threshold calibration schedule shift team
operator manager review approve release version document procedure process step input output
measure record report incident cause action owner deadline priority risk control standard
""".split()  # noqa: SIM905 - a paragraph reads better than a list of 90 strings


def make_id(*parts: object) -> str:
    """A stable UUID for the given name parts."""
    return str(uuid.uuid5(NAMESPACE, "/".join(map(str, parts))))


def graphql_type(title: str) -> str:
    """The fake's type name for a database title (titles here are single ASCII words)."""
    return title[:1].upper() + title[1:].lower()


def plural(word: str) -> str:
    """English plural as Fibery forms query names: ``Glossary`` → ``Glossaries``."""
    if re.search(r"[^aeiou]y$", word, re.IGNORECASE):
        return word[:-1] + "ies"
    return word + "es" if re.search(r"(s|x|z|ch|sh)$", word, re.IGNORECASE) else word + "s"


def stamp(rng: random.Random, day_from: int = 0, day_to: int = 300) -> str:
    """A Fibery datetime in 2025, e.g. ``2025-03-02T09:15:27.123Z``."""
    day = rng.randint(day_from, day_to)
    month, dom = 1 + day // 28 % 12, 1 + day % 28
    hour, minute, second, ms = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999)
    return f"2025-{month:02d}-{dom:02d}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z"


# --------------------------------------------------------------------------- rich text


class _Text:
    """Builds one document as Markdown and HTML side by side (no Markdown parser needed)."""

    def __init__(self) -> None:
        self.md: list[str] = []
        self.html: list[str] = []

    def sentence(self, rng: random.Random, links: list[tuple[str, str]]) -> tuple[str, str]:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
        md_words, html_words = list(words), list(words)
        roll = rng.random()
        if roll < 0.15:
            i = rng.randrange(len(words))
            md_words[i], html_words[i] = f"**{words[i]}**", f"<strong>{words[i]}</strong>"
        elif roll < 0.25:
            i = rng.randrange(len(words))
            md_words[i], html_words[i] = f"`{words[i]}`", f"<code>{words[i]}</code>"
        if links and rng.random() < 0.3:
            url, name = rng.choice(links)
            i = rng.randrange(len(words))
            md_words[i] = f"[{name}]({url})"
            html_words[i] = f'<a href="{url}">{name}</a>'
        md, html = " ".join(md_words), " ".join(html_words)
        return md[:1].upper() + md[1:] + ".", html[:1].upper() + html[1:] + "."

    def paragraph(self, rng: random.Random, links: list[tuple[str, str]]) -> None:
        parts = [self.sentence(rng, links) for _ in range(rng.randint(2, 5))]
        self.md.append(" ".join(p[0] for p in parts))
        self.html.append("<p>" + " ".join(p[1] for p in parts) + "</p>")

    def heading(self, rng: random.Random) -> None:
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).capitalize()
        self.md.append(f"## {title}")
        self.html.append(f"<h2>{title}</h2>")

    def bullets(self, rng: random.Random, links: list[tuple[str, str]]) -> None:
        items = [self.sentence(rng, links) for _ in range(rng.randint(2, 6))]
        self.md.append("\n".join(f"- {md}" for md, _ in items))
        self.html.append("<ul>" + "".join(f"<li>{html}</li>" for _, html in items) + "</ul>")

    def table(self, rng: random.Random) -> None:
        rows = [[rng.choice(WORDS) for _ in range(3)] for _ in range(rng.randint(2, 5))]
        lines = "\n".join(f"| {' | '.join(r)} |" for r in rows)
        self.md.append(f"| Item | Value | Note |\n| --- | --- | --- |\n{lines}")
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
        head = "<thead><tr><th>Item</th><th>Value</th><th>Note</th></tr></thead>"
        self.html.append(f"<table>{head}<tbody>{body}</tbody></table>")


def rich_text(rng: random.Random, links: list[tuple[str, str]]) -> dict[str, str]:
    """A document of realistic size: 1–12 blocks, about 2 KB of HTML on average."""
    doc = _Text()
    for _ in range(rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8))):
        roll = rng.random()
        if roll < 0.2:
            doc.heading(rng)
        elif roll < 0.4:
            doc.bullets(rng, links)
        elif roll < 0.45:
            doc.table(rng)
        doc.paragraph(rng, links)
    return {"md": "\n\n".join(doc.md) + "\n", "html": "\n".join(doc.html)}


# --------------------------------------------------------------------------- workspace


def _fields(index: int, titles: list[str]) -> list[dict[str, Any]]:
    owner, related = graphql_type(titles[0]), graphql_type(titles[(index + 1) % len(titles)])
    return [
        {"key": "summary", "title": "Summary", "kind": "text"},
        {"key": "effort", "title": "Effort", "kind": "number"},
        {"key": "dueDate", "title": "Due Date", "kind": "date"},
        {"key": "reference", "title": "Reference", "kind": "url"},
        {"key": "state", "title": "State", "kind": "state"},
        {"key": "category", "title": "Category", "kind": "select"},
        {"key": "tags", "title": "Tags", "kind": "multi_select"},
        {"key": "body", "title": "Body", "kind": "rich_text"},
        {"key": "owner", "title": "Owner", "kind": "relation", "target": owner},
        {"key": "related", "title": "Related", "kind": "collection", "target": related},
        {"key": "attachments", "title": "Attachments", "kind": "files"},
    ]


def _due(rng: random.Random) -> str | None:
    return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if rng.random() < 0.7 else None


def _name(rng: random.Random, public_id: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
    return f"{words.capitalize()} {public_id}"


def make_workspace(n: int, d: int = 10, *, seed: int = 0, fibery_url: str = FIBERY_URL) -> dict[str, Any]:
    """``n`` entities spread evenly over ``d`` databases, as a snapshot dict."""
    if not 1 <= d <= len(DB_TITLES):
        raise ValueError(f"d must be between 1 and {len(DB_TITLES)}")
    rng = random.Random(seed)
    titles = list(DB_TITLES[:d])
    sizes = [n // d + (1 if i < n % d else 0) for i in range(d)]
    ids = [[make_id(t, i) for i in range(1, size + 1)] for t, size in zip(titles, sizes, strict=True)]
    names = [[_name(rng, i) for i in range(1, size + 1)] for size in sizes]
    space = SPACE.replace(" ", "_")
    files: dict[str, str] = {}
    databases = []
    for index, title in enumerate(titles):
        key = graphql_type(title)
        links = [
            (f"{fibery_url}/{space}/{titles[j]}/{re.sub(r'[^A-Za-z0-9]+', '-', names[j][i])}-{i + 1}", names[j][i])
            for j in range(d)
            for i in rng.sample(range(sizes[j]), min(sizes[j], 20))
        ]
        entities = []
        for i in range(sizes[index]):
            public_id = i + 1
            created = stamp(rng, 0, 150)
            attachments = []
            if i % 1000 == 500:
                secret = make_id("file", title, public_id)
                files[secret] = base64.b64encode(f"attachment of {title} {public_id}\n".encode() * 20).decode()
                attachments = [{"secret": secret, "name": f"notes-{public_id}.txt", "contentType": "text/plain"}]
            nxt = (index + 1) % d
            entities.append(
                {
                    "id": ids[index][i],
                    "public_id": str(public_id),
                    "name": names[index][i],
                    "creation_date": created,
                    "modification_date": stamp(rng, 151, 300),
                    "values": {
                        "summary": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))),
                        "effort": rng.choice((None, rng.randint(1, 40), round(rng.uniform(0.5, 9.5), 1))),
                        "dueDate": _due(rng),
                        "reference": f"https://intranet.example/{key}/{public_id}" if rng.random() < 0.5 else None,
                        "state": {"name": rng.choice(STATES)},
                        "category": {"name": rng.choice(CATEGORIES)} if rng.random() < 0.8 else None,
                        "tags": [{"name": t} for t in rng.sample(TAGS, rng.randint(0, 3))],
                        "body": rich_text(rng, links) if rng.random() < 0.95 else None,
                        "owner": {"id": rng.choice(ids[0])} if rng.random() < 0.8 else None,
                        "related": [{"id": x} for x in rng.sample(ids[nxt], min(len(ids[nxt]), rng.randint(0, 4)))],
                        "attachments": attachments,
                    },
                }
            )
        databases.append(
            {
                "key": key,
                "title": title,
                "query": "find" + plural(key),
                "web_name": title,
                "fields": _fields(index, titles),
                "entities": entities,
            }
        )
    return {"version": 1, "fibery_url": fibery_url, "space": SPACE, "databases": databases, "files": files}


def change_entities(
    snapshot: dict[str, Any], fraction: float, *, now: datetime, seed: int = 1
) -> tuple[dict[str, Any], list[str]]:
    """Edit ``fraction`` of the entities (body, state, every tenth the name) as of ``now``
    (their ``modification_date``); return the new snapshot and the ids changed."""
    rng = random.Random(seed)
    changed = copy.deepcopy(snapshot)
    everyone = [(db, e) for db in changed["databases"] for e in db["entities"]]
    picked = rng.sample(everyone, max(1, round(len(everyone) * fraction)))
    for number, (_, entity) in enumerate(picked):
        values = entity["values"]
        values["state"] = {"name": rng.choice(STATES)}
        values["body"] = rich_text(rng, [])
        if number % 10 == 0:
            entity["name"] = f"{entity['name']} (revised)"
        moment = now.astimezone(UTC) - timedelta(milliseconds=number)
        entity["modification_date"] = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return changed, [e["id"] for _, e in picked]


# --------------------------------------------------------------------------- Markdown for MkDocs


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def to_markdown(snapshot: dict[str, Any], docs: Path) -> int:
    """Write one Markdown page per entity (fields, body, relation links) plus an index per
    database into ``docs``; return the number of entity pages."""
    paths = {}
    for db in snapshot["databases"]:
        for e in db["entities"]:
            paths[e["id"]] = f"{_slug(db['title'])}/{_slug(e['name'])}-{e['public_id']}.md"
    count = 0
    (docs).mkdir(parents=True, exist_ok=True)
    (docs / "index.md").write_text(f"# {snapshot['space']}\n\n" + "".join(
        f"- [{db['title']}]({_slug(db['title'])}/index.md)\n" for db in snapshot["databases"]
    ))  # fmt: skip
    for db in snapshot["databases"]:
        folder = docs / _slug(db["title"])
        folder.mkdir(exist_ok=True)
        rows = "".join(f"| {e['public_id']} | [{e['name']}]({Path(paths[e['id']]).name}) |\n" for e in db["entities"])
        (folder / "index.md").write_text(f"# {db['title']}\n\n| # | Name |\n| --- | --- |\n{rows}")
        for e in db["entities"]:
            v = e["values"]
            related = "".join(f"- [{x['id'][:8]}](../{paths[x['id']]})\n" for x in v["related"] if x["id"] in paths)
            owner = f"[owner](../{paths[v['owner']['id']]})" if v["owner"] else "—"
            text = (
                f"# {e['name']}\n\n| Field | Value |\n| --- | --- |\n| Summary | {v['summary']} |\n"
                f"| Effort | {v['effort']} |\n| Due | {v['dueDate']} |\n| State | {v['state']['name']} |\n"
                f"| Tags | {', '.join(t['name'] for t in v['tags'])} |\n| Owner | {owner} |\n\n"
                f"{(v['body'] or {}).get('md', '')}\n\n## Related\n\n{related}"
            )
            (docs / paths[e["id"]]).write_text(text)
            count += 1
    return count


def main() -> None:
    """``python bench/workspace.py N [--databases D] --out FILE``: write a snapshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--databases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(make_workspace(args.n, args.databases, seed=args.seed)))


if __name__ == "__main__":
    main()
