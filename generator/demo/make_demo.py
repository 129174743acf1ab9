"""Build the demo workspace, a pot-plant nursery's knowledge base, and write ``workspace.json``.

Run from the repository root with ``python -m generator.demo.make_demo``. The output is
deterministic: ids are UUID5 over fixed names, dates are fixed, keys are sorted, and the
small attached files (PNG, PDF, CSV) are drawn here in pure Python, so a rerun writes the
same bytes.

Content is authored in a compact form and converted to the model's value shapes by
``_convert``: a relation is the target entity's name, a collection a list of names, a
state or select the option name, a files value a list of names in ``attachments.attached_files()``, and rich
text is Markdown. Inside Markdown, ``<<Database:Entity name>>`` becomes that entity's
Fibery URL (``<<Database:Entity name|bare>>`` the slug-less form) and ``<<file:name>>``
becomes the file's secret.
"""

from __future__ import annotations

import base64
import json
import re
import textwrap
import unicodedata
import uuid
from pathlib import Path
from typing import Any

import markdown
import msgspec

from generator.model import Database, Entity, Field, FieldKind, Workspace

from .attachments import attached_files
from .content import CONTENT, SCHEMA

K = FieldKind

FIBERY_URL = "https://demo.fibery.io"
SPACE = "Nursery Knowledge Base"
OUTPUT = Path(__file__).with_name("workspace.json")
MARKDOWN_EXTENSIONS = ["tables", "sane_lists"]

# Every id and file secret is a UUID5 under this namespace, so reruns give the same ids.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, f"{FIBERY_URL}/{SPACE.replace(' ', '_')}")

_PLACEHOLDER = re.compile(r"<<(\w+):([^>|]+)(\|bare)?>>")


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def make_id(*parts: str) -> str:
    """Return a stable UUID-shaped id for the given name parts."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def stamp(when: str) -> str:
    """Turn ``"MM-DD HH:MM"`` into a Fibery datetime in 2026, e.g. ``2026-03-02T09:15:00.000Z``."""
    day, time = when.split()
    return f"2026-{day}T{time}:00.000Z"


def camel(title: str) -> str:
    """Return the GraphQL field name Fibery derives from a field title ('Last Reviewed' -> 'lastReviewed')."""
    words = re.findall(r"[A-Za-z0-9]+", title)
    return words[0].lower() + "".join(w[:1].upper() + w[1:].lower() for w in words[1:])


def slug(name: str) -> str:
    """Return the web-app style slug of an entity name ('Potting soil mixes' -> 'Potting-soil-mixes')."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")


def md(text: str) -> str:
    """Dedent and trim an authored Markdown block."""
    return textwrap.dedent(text).strip() + "\n"


# ---------------------------------------------------------------------------
# Building the workspace
# ---------------------------------------------------------------------------


class Registry:
    """Ids, public ids and Fibery URLs of every authored entity, and the files' secrets."""

    def __init__(self, files: dict[str, tuple[str, bytes]]) -> None:
        self.files = files
        self.ids: dict[tuple[str | None, str], tuple[str, str]] = {}
        for key, items in CONTENT.items():
            for number, item in enumerate(items, start=1):
                self.ids[(key, item["name"])] = (
                    make_id(key, item["name"]),
                    str(number),
                )

    def entity_id(self, key: str | None, name: str) -> str:
        """Return the id of the entity called ``name`` in database ``key``."""
        return self.ids[(key, name)][0]

    def url(self, key: str, name: str, bare: bool = False) -> str:
        """Return the Fibery web URL of an entity, with its slug unless ``bare``."""
        public_id = self.ids[(key, name)][1]
        page = public_id if bare else f"{slug(name)}-{public_id}"
        return f"{FIBERY_URL}/{SPACE.replace(' ', '_')}/{SCHEMA[key][0].replace(' ', '_')}/{page}"

    def secret(self, name: str) -> str:
        """Return the Fibery file secret of a demo file."""
        if name not in self.files:
            raise KeyError(f"unknown demo file {name!r}")
        return make_id("file", name)

    def expand(self, text: str) -> str:
        """Replace ``<<Db:Name>>`` and ``<<file:name>>`` placeholders in authored Markdown."""

        def one(match: re.Match[str]) -> str:
            key, name, bare = match.group(1), match.group(2), bool(match.group(3))
            return self.secret(name) if key == "file" else self.url(key, name, bare)

        return _PLACEHOLDER.sub(one, text)


# The final states of the workflows (Fibery's ``final`` flag, which the client reads): pages
# colour state badges by it.
FINAL_STATES = frozenset({"Approved", "Published", "Obsolete", "Retired"})


def _convert(value: Any, field: Field, registry: Registry) -> Any:
    """Turn an authored value into the model's shape for ``field.kind`` (see model.py)."""
    if value is None:
        return None
    kind = field.kind
    if kind is K.RICH_TEXT:
        text = registry.expand(md(value))
        return {
            "md": text,
            "html": markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS),
        }
    if kind is K.STATE:
        return {"name": value, "final": value in FINAL_STATES}
    if kind is K.SELECT:
        return {"name": value}
    if kind is K.MULTI_SELECT:
        return [{"name": name} for name in value]
    if kind is K.RELATION:
        return {"id": registry.entity_id(field.target, value)}
    if kind is K.COLLECTION:
        return [{"id": registry.entity_id(field.target, name)} for name in value]
    if kind is K.FILES:
        return [
            {
                "secret": registry.secret(n),
                "name": n,
                "contentType": registry.files[n][0],
            }
            for n in value
        ]
    return value


def build_fields(key: str) -> list[Field]:
    """Return the fields of database ``key`` as declared in ``SCHEMA``."""
    return [Field(key=camel(title), title=title, kind=kind, target=target) for title, kind, target in SCHEMA[key][2]]


def build_entity(key: str, item: dict[str, Any], fields: list[Field], registry: Registry) -> Entity:
    """Convert one authored item into an ``Entity`` with a value for every field."""
    unknown = set(item) - {"name", "when"} - {f.key for f in fields}
    if unknown:
        raise KeyError(f"{key}/{item['name']}: no such field(s) {sorted(unknown)}")
    entity_id, public_id = registry.ids[(key, item["name"])]
    created, modified = item["when"]
    return Entity(
        id=entity_id,
        public_id=public_id,
        name=item["name"],
        creation_date=stamp(created),
        modification_date=stamp(modified),
        values={f.key: _convert(item[f.key], f, registry) for f in fields},
    )


def build_workspace() -> Workspace:
    """Assemble the demo ``Workspace`` from the authored content."""
    registry = Registry(attached_files())
    databases = []
    for key, (title, query, _) in SCHEMA.items():
        fields = build_fields(key)
        entities = [build_entity(key, item, fields, registry) for item in CONTENT[key]]
        databases.append(
            Database(
                key=key,
                title=title,
                query=query,
                web_name=title.replace(" ", "_"),
                fields=fields,
                entities=entities,
            )
        )
    files = {
        registry.secret(name): base64.b64encode(data).decode("ascii") for name, (_, data) in registry.files.items()
    }
    return Workspace(fibery_url=FIBERY_URL, space=SPACE, databases=databases, files=files)


def dump(workspace: Workspace) -> str:
    """Serialise the workspace as stable, sorted, pretty-printed ASCII JSON."""
    return json.dumps(msgspec.to_builtins(workspace), indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Build the demo workspace and write it next to this script."""
    OUTPUT.write_text(dump(build_workspace()), encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
