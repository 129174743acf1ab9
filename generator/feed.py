"""What changed lately: the home page's "Recently updated" list and the Atom feed
(``feed.xml``) of the most recently modified entities.

Deterministic by design: every timestamp is an entity's Fibery ``modificationDate``, never
the build's time, so building the same workspace twice writes the same bytes. Worked out
once per build (one sort of the published entities)."""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter

from .model import Database, Entity, FieldKind, Workspace
from .text import RichText

FEED_PATH = "feed.xml"
FEED_SIZE = 20
"""Entries in ``feed.xml``."""
HOME_SIZE = 8
"""Entries in the home page's "Recently updated"."""


def xml_escape(data: str) -> str:
    """``xml.sax.saxutils.escape``, without loading xml.sax (it imports urllib.request, http
    and ssl: ~15 ms of every build's start-up)."""
    return data.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(data: str) -> str:
    """``xml.sax.saxutils.quoteattr``: an attribute value, escaped and quoted."""
    data = xml_escape(data).replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' in data:
        return '"{}"'.format(data.replace('"', "&quot;")) if "'" in data else f"'{data}'"
    return f'"{data}"'


@dataclass(frozen=True)
class Change:
    """One recently modified entity."""

    title: str
    path: str
    database: str
    modified: str
    summary: str
    fibery_url: str


def recent_changes(
    workspace: Workspace,
    entity_paths: dict[str, str],
    entity_url: Callable[[Database, Entity], str],
    limit: int = FEED_SIZE,
    *,
    rich_text: RichText | None = None,
) -> list[Change]:
    """The ``limit`` published entities modified last, newest first (ties by page path);
    each summary from the build's prepared rich text (``rich_text``)."""
    rich_text = rich_text or RichText()
    dated = [
        (entity.modification_date, db, entity)
        for db in workspace.databases
        for entity in db.entities
        if entity.modification_date and entity.id in entity_paths
    ]
    # The newest ``limit``, with every entity as new as the last of them (for the ties).
    newest = heapq.nlargest(limit, dated, key=itemgetter(0))
    if newest:
        last = newest[-1][0]
        newest = [item for item in dated if item[0] >= last]
    ranked = sorted(((modified, entity_paths[e.id], db, e) for modified, db, e in newest), key=itemgetter(1))
    ranked.sort(key=itemgetter(0), reverse=True)  # stable: equal dates stay in path order
    return [
        Change(
            title=entity.name or "(untitled)",
            path=path,
            database=db.title,
            modified=modified,
            summary=_summary(db, entity, rich_text),
            fibery_url=entity_url(db, entity),
        )
        for modified, path, db, entity in ranked[:limit]
    ]


def _summary(db: Database, entity: Entity, rich_text: RichText) -> str:
    for fld in db.fields_of(FieldKind.RICH_TEXT):
        if entity.values.get(fld.key):
            return rich_text.description(rich_text.value(entity.values[fld.key]))
    return ""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(text: str) -> str:
    """Text XML can carry: control characters (invalid in XML 1.0) removed."""
    return _CONTROL.sub("", text)


def atom(title: str, changes: list[Change], *, base_url: str | None, site_id: str) -> bytes:
    """The Atom feed of ``changes``. Links are absolute under ``base_url``, else relative to
    the feed (which sits at the site's root); ids are the entities' Fibery URLs, stable
    across builds and hosts."""
    base = (base_url or "").rstrip("/") + "/" if base_url else ""
    updated = changes[0].modified if changes else "1970-01-01T00:00:00Z"
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"  <title>{xml_escape(_text(title))}: recently updated</title>",
        f"  <id>{xml_escape(site_id)}</id>",
        f"  <updated>{xml_escape(updated)}</updated>",
        f'  <link rel="self" href={quoteattr(base + FEED_PATH)}/>',
        f'  <link rel="alternate" type="text/html" href={quoteattr(base + "index.html")}/>',
        f"  <author><name>{xml_escape(_text(title))}</name></author>",
        "  <generator>fibery-kb</generator>",
    ]
    for change in changes:
        lines += [
            "  <entry>",
            f"    <title>{xml_escape(_text(change.title))}</title>",
            f'    <link rel="alternate" type="text/html" href={quoteattr(base + change.path)}/>',
            f"    <id>{xml_escape(change.fibery_url)}</id>",
            f"    <updated>{xml_escape(change.modified)}</updated>",
            f"    <category term={quoteattr(_text(change.database))}/>",
        ]
        if change.summary:
            lines.append(f"    <summary>{xml_escape(_text(change.summary))}</summary>")
        lines.append("  </entry>")
    lines.append("</feed>")
    return ("\n".join(lines) + "\n").encode("utf-8")
