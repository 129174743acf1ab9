"""Process segments: one database of the workspace, in process order, as plain data.

``gen segments`` prints them and ``gen segments store`` keeps them in MongoDB; both start
from ``read_segments``, which turns a ``Workspace`` into ``Segments``: typed, ordered, and
with every value reduced to plain JSON (relations carry the related entities' names, rich
text carries plain text and Markdown), so that the terminal, JSON, CSV and MongoDB outputs
never disagree about what a segment holds.

Process order follows the ``predecessor`` relation: each chain is printed from its first
step to its last, branches and separate chains in public-id order. Segments without a
predecessor, with one outside the database, or caught in a cycle fall back to public-id
order (numeric when the ids are numbers), so the order is the same on every run.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import Database, Entity, Field, FieldKind, Workspace
from .naming import name_key
from .publish import find_database
from .text import plain_text

if TYPE_CHECKING:  # rich is loaded by the table only: `gen` itself starts without it
    from rich.console import Console
    from rich.table import Table

log = logging.getLogger(__name__)

FORMATS = ("table", "json", "csv")
PREDECESSOR_NAMES = frozenset({"predecessor", "predecessors"})
BUILTIN_COLUMNS = ("id", "public_id", "name", "creation_date", "modification_date")
TABLE_TEXT_WIDTH = 48
"""Widest a rich-text cell gets in the table; the full text is in JSON and CSV."""


@dataclass(frozen=True)
class Segment:
    """One process segment, with every field reduced to plain JSON values."""

    id: str
    public_id: str
    name: str
    creation_date: str | None
    modification_date: str | None
    fields: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """Flatten for JSON and CSV: built-in properties first, then fields by GraphQL key.

        Fibery reserves the built-in names, so a field can never hide one of them.
        """
        builtins = {key: getattr(self, key) for key in BUILTIN_COLUMNS}
        return builtins | {k: v for k, v in self.fields.items() if k not in builtins}


@dataclass(frozen=True)
class Segments:
    """The segments database as read at one moment: where from, its fields, its segments."""

    fibery_url: str
    space: str
    database: str
    fields: list[Field]
    items: list[Segment]

    @property
    def source(self) -> dict[str, str]:
        """Where the segments come from, as stored with them and in the audit log."""
        return {"fibery_url": self.fibery_url, "space": self.space, "database": self.database}


# --------------------------------------------------------------------------- reading


def read_segments(workspace: Workspace, name: str, *, setting: str = "segments_database") -> Segments:
    """Return the segments of the database called ``name``, in process order.

    Raises ``ConfigError`` listing the databases that exist when there is no such database.
    """
    db = find_database(workspace.databases, name, setting=setting)
    ordered = process_order(db.entities, predecessors_of(db))
    return Segments(
        fibery_url=workspace.fibery_url,
        space=workspace.space,
        database=db.title,
        fields=list(db.fields),
        items=[to_segment(entity, db.fields, workspace) for entity in ordered],
    )


def segments_selector(name: str, *, setting: str = "segments_database") -> Callable[[list[Database]], list[Database]]:
    """Choose what a live fetch reads: the segments database and the databases its
    relations point at (for their names), so the rest of the space costs nothing."""

    def select(databases: list[Database]) -> list[Database]:
        db = find_database(databases, name, setting=setting)
        targets = {f.target for f in db.linking_fields}
        return [d for d in databases if d is db or d.key in targets]

    return select


def to_segment(entity: Entity, fields: Iterable[Field], workspace: Workspace) -> Segment:
    """Reduce one entity to a ``Segment`` of plain values."""
    return Segment(
        id=entity.id,
        public_id=entity.public_id,
        name=entity.name,
        creation_date=entity.creation_date,
        modification_date=entity.modification_date,
        fields={f.key: plain_value(f, entity.values.get(f.key), workspace) for f in fields},
    )


def _ref(item: dict[str, Any] | None, workspace: Workspace) -> dict[str, Any] | None:
    """A related entity as id and name (name None when it was not read)."""
    if not item:
        return None
    found = workspace.entities_by_id.get(item["id"])
    return {"id": item["id"], "name": found[1].name if found else None}


def _rich_text(value: dict[str, Any] | None, workspace: Workspace) -> dict[str, str] | None:
    return {"text": plain_text(value), "markdown": value.get("md") or ""} if value else None


_PLAIN: dict[FieldKind, Callable[[Any, Workspace], Any]] = {
    FieldKind.RICH_TEXT: _rich_text,
    FieldKind.STATE: lambda v, ws: v.get("name") if v else None,
    FieldKind.SELECT: lambda v, ws: v.get("name") if v else None,
    FieldKind.MULTI_SELECT: lambda v, ws: [item.get("name") for item in v or []],
    FieldKind.USER: lambda v, ws: v.get("name") if v else None,
    FieldKind.USERS: lambda v, ws: [item.get("name") for item in v or []],
    FieldKind.RELATION: _ref,
    FieldKind.COLLECTION: lambda v, ws: [_ref(item, ws) for item in v or []],
    FieldKind.FILES: lambda v, ws: [{"name": f.get("name"), "content_type": f.get("contentType")} for f in v or []],
}


def plain_value(field: Field, value: Any, workspace: Workspace) -> Any:
    """Reduce one stored value to what a reader of JSON needs (other kinds are already plain)."""
    convert = _PLAIN.get(field.kind)
    return convert(value, workspace) if convert else value


# --------------------------------------------------------------------------- process order


def predecessors_of(db: Database) -> Callable[[Entity], list[str]]:
    """Return how to read an entity's predecessor ids, from the field named "predecessor"
    (a relation, or a collection when a step has several); no such field, no predecessors."""
    field = next(
        (f for f in db.linking_fields if PREDECESSOR_NAMES & {name_key(f.key), name_key(f.title)}),
        None,
    )
    if field is None:
        return lambda entity: []
    return lambda entity: entity.related_ids(field.key)


def process_order(entities: list[Entity], predecessors: Callable[[Entity], list[str]]) -> list[Entity]:
    """Order entities so that every step comes after its predecessors, following each chain
    to its end before starting the next (depth-first, smallest public id first).

    A cycle is broken at its smallest public id, with a warning, so that every entity is
    listed exactly once whatever the data.
    """
    by_id = {e.id: e for e in entities}
    preds = {e.id: [p for p in dict.fromkeys(predecessors(e)) if p in by_id] for e in entities}
    succs: dict[str, list[str]] = {e.id: [] for e in entities}
    for node, node_preds in preds.items():
        for pred in node_preds:
            succs[pred].append(node)
    waiting = {node: len(node_preds) for node, node_preds in preds.items()}
    key = {e.id: e.public_id_key() for e in entities}
    ready = sorted((n for n, count in waiting.items() if count == 0), key=key.__getitem__, reverse=True)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(entities):
        if not ready:
            ready.append(_break_cycle(preds, done, key, by_id))
        node = ready.pop()
        if node in done:
            continue
        done.add(node)
        order.append(node)
        for succ in sorted(succs[node], key=key.__getitem__, reverse=True):
            waiting[succ] -= 1
            if waiting[succ] == 0 and succ not in done:
                ready.append(succ)
    return [by_id[node] for node in order]


def _break_cycle(preds: dict[str, list[str]], done: set[str], key: dict[str, tuple], by_id: dict[str, Entity]) -> str:
    """Find the cycle upstream of the smallest waiting entity and return its smallest member.

    Every waiting entity has a predecessor not yet listed, so walking predecessors from one
    must come back to an entity already on the path: that loop is a cycle.
    """
    node = min((n for n in preds if n not in done), key=key.__getitem__)
    path: list[str] = []
    while node not in path:
        path.append(node)
        node = min((p for p in preds[node] if p not in done), key=key.__getitem__)
    cycle = path[path.index(node) :]
    entry = min(cycle, key=key.__getitem__)
    names = " → ".join(f"{by_id[n].public_id} {by_id[n].name}" for n in cycle[::-1])
    log.warning("predecessor cycle (%s): listing it from %s", names, by_id[entry].public_id)
    return entry


# --------------------------------------------------------------------------- output


def to_json(segments: Segments) -> str:
    """A JSON array of plain objects, one per segment, in process order."""
    return json.dumps([s.as_dict() for s in segments.items], ensure_ascii=False, indent=2) + "\n"


def csv_columns(segments: Segments) -> list[str]:
    """CSV header: built-ins, each field by key, and ``<key>_ids`` after each link field
    so that a spreadsheet can still join on the related entities."""
    columns = list(BUILTIN_COLUMNS)
    for f in segments.fields:
        if f.key not in BUILTIN_COLUMNS:
            columns.append(f.key)
            if f.kind.links_entities:
                columns.append(f"{f.key}_ids")
    return columns


def to_csv(segments: Segments) -> str:
    """CSV with one row per segment in process order; lists are joined with "; "."""
    kinds = {f.key: f.kind for f in segments.fields}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = csv_columns(segments)
    writer.writerow(columns)
    for segment in segments.items:
        row = segment.as_dict()
        for f in segments.fields:
            if f.kind.links_entities:
                row[f"{f.key}_ids"] = "; ".join(ref["id"] for ref in _refs(row.get(f.key)))
        writer.writerow([cell_text(kinds.get(c), row.get(c), sep="; ") for c in columns])
    return out.getvalue()


def _refs(value: Any) -> list[dict[str, Any]]:
    """A relation or collection value as a list of references."""
    if isinstance(value, list):
        return [v for v in value if v]
    return [value] if value else []


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def cell_text(kind: FieldKind | None, value: Any, *, sep: str = ", ") -> str:
    """One value as the text of a table or CSV cell."""
    if value is None:
        return ""
    if kind in (FieldKind.RELATION, FieldKind.COLLECTION):
        return sep.join(ref["name"] or ref["id"] for ref in _refs(value))
    if kind is FieldKind.RICH_TEXT:
        return value["text"]
    if kind is FieldKind.DATE_RANGE:
        return f"{value.get('start') or ''}/{value.get('end') or ''}"
    if kind is FieldKind.FILES:
        return sep.join(f["name"] or "" for f in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return sep.join(str(v) for v in value)
    return _number(value) if isinstance(value, float) else str(value)


def _short(text: str, kind: FieldKind) -> str:
    """Cut rich text to a table-sized summary; the full text is in JSON and CSV."""
    if kind is FieldKind.RICH_TEXT and len(text) > TABLE_TEXT_WIDTH:
        return text[: TABLE_TEXT_WIDTH - 1].rstrip() + "…"
    return text


def segments_table(segments: Segments, *, terminal: bool) -> Table:
    """A rich table of the segments; borders and title only on a terminal."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"{segments.database} ({len(segments.items)})" if terminal else None,
        box=box.SIMPLE_HEAD if terminal else None,
        header_style="bold" if terminal else "",
        pad_edge=False,
    )
    table.add_column("#", justify="right")
    table.add_column("ID", justify="right")
    table.add_column("Name")
    for f in segments.fields:
        table.add_column(f.title, justify="right" if f.kind is FieldKind.NUMBER else "left", overflow="fold")
    for position, segment in enumerate(segments.items, start=1):
        cells = [_short(cell_text(f.kind, segment.fields.get(f.key)), f.kind) for f in segments.fields]
        # Text() so that names like "[bold]" are shown as typed, not read as rich markup.
        table.add_row(Text(str(position)), Text(segment.public_id), Text(segment.name), *map(Text, cells))
    return table


def print_table(segments: Segments, console: Console) -> None:
    """Print the table: sized to the terminal there, unwrapped and unpadded in a pipe."""
    table = segments_table(segments, terminal=console.is_terminal)
    if console.is_terminal:
        console.print(table)
        return
    console.width = 10_000  # measure the table unconstrained, then print it at that width
    console.width = max(console.measure(table).maximum, 20)
    with console.capture() as captured:
        console.print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
