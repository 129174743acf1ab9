"""Incremental sync: bring a cached database up to date in a few batched requests.

Per cached database, three listings ride in the same requests as aliased root fields:
what changed since the last fetch (``modificationDate: {greater: …}``, every field); every
entity's id with the fields that change without ``modificationDate`` (deletions, nested
lists, formulas and lookups); and, when ids turn up that are neither cached nor changed,
those entities by id. Paging never trusts a short page whose length is a round number: a
server that caps pages silently must not make entities look deleted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import FiberyError
from ..model import Database, Entity
from .fetchcache import CachedDatabase
from .schema import DatabasePlan
from .values import to_entity, with_volatile

MAX_ROWS = 3000
"""The most rows one list asks for in a request: the largest page public clients are seen
to use; Fibery documents no maximum and may cap silently below what is asked."""
ID_PAGE_SIZE = MAX_ROWS - 1
"""Rows taken per request when listing ids (one more is asked, to know whether more follow)."""
SINCE_MARGIN = timedelta(seconds=60)
"""Entities modified up to this long before the previous fetch began are asked for again, so
that an edit committed during a fetch, or a server clock slightly off, is never missed."""
_INTROSPECTION_OPERATION = "query IntrospectionQuery {"


def possibly_capped(received: int) -> bool:
    """Whether a short page may have been cut by the server rather than be the last one:
    caps are round numbers (100, 500, 1000, 3000)."""
    return received > 0 and received % 100 == 0


def fibery_datetime(moment: datetime) -> str:
    """Fibery's datetime format, which its filters compare as text: ``2025-09-22T12:01:32.155Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_since(entities: list[Entity], started: datetime | None) -> str | None:
    """The ``modificationDate`` bound of the next incremental fetch of a database: the newest
    date seen, but never later than this fetch's start (server time) less ``SINCE_MARGIN``.
    None when an entity has no readable date: that database is then fetched in full."""
    dates = [parse_datetime(e.modification_date) for e in entities]
    if any(d is None for d in dates):
        return None
    bound = max((d for d in dates if d is not None), default=None)
    if started is not None:
        bound = min(bound, started - SINCE_MARGIN) if bound else started - SINCE_MARGIN
    return fibery_datetime(bound) if bound else None


@dataclass
class Listing:
    """One paged list inside batched requests (aliased root fields). Continued, request after
    request, until a page says it is the last; each request asks one row more than it takes,
    to know whether more follow."""

    alias: str
    query: str
    order_by: str | None
    selection: str
    where: str = ""
    offset: int = 0
    rows: list[Any] = dataclass_field(default_factory=list)
    done: bool = False

    @property
    def full_rows(self) -> bool:
        return not self.selection.startswith("id")

    def field(self, limit: int) -> str:
        args = [f"limit: {limit + 1}", f"offset: {self.offset}"]
        if self.order_by:
            args.append(f"orderBy: {{{self.order_by}: ASC}}")
        if self.where:
            args.append(self.where)
        return f"{self.alias}: {self.query}({', '.join(args)}) {{ {self.selection} }}"

    def take(self, rows: Any, limit: int) -> None:
        if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("id") for r in rows):
            raise FiberyError(f"malformed data from Fibery: {self.query} did not return a list of entities")
        kept = rows[:limit]
        self.rows.extend(kept)
        self.offset += len(kept)
        self.done = len(rows) <= limit and not possibly_capped(len(rows))


@dataclass
class Sync:
    """Bring one cached database up to date: what changed since the last fetch, the ids (and
    volatile fields) of all its entities, and entities listed but neither cached nor changed."""

    entry: CachedDatabase
    changed: Listing
    ids: Listing
    plan: DatabasePlan | None = None
    missing: list[Listing] = dataclass_field(default_factory=list)
    refetch: bool = False
    """Entities are missing and the query cannot ask for them by id: read it all again."""
    updated: int = 0
    """Entities new or different from their cached version."""

    @classmethod
    def of(cls, number: int, entry: CachedDatabase) -> Sync:
        since = f"modificationDate: {{greater: {json.dumps(entry.since)}}}"
        return cls(
            entry,
            Listing(f"changed{number}", entry.query, entry.order_by, entry.selection, where=since),
            Listing(f"ids{number}", entry.query, entry.order_by, entry.volatile),
        )

    @property
    def listings(self) -> list[Listing]:
        return [self.changed, self.ids, *self.missing]


def volatile_keys(plan: DatabasePlan) -> list[str]:
    """The keys of an id listing's rows: the id and the volatile fields."""
    return ["id", *(p.field.key for p in plan.fields if p.volatile)]


def listing_digest(id_rows: list[list[Any]], recent: list[tuple[str, str | None]], since: str | None) -> str:
    """What an incremental fetch's listings answer for one database, as one digest: every
    entity's id and volatile values in order (``id_rows``, projected on ``volatile_keys``)
    and the (id, ``modificationDate``) of those modified after ``since`` (``recent``: a
    rebuild asks for them again). Equal digests: the cached entities are current."""
    bound = parse_datetime(since) if since else None
    again = sorted(
        (entity_id, str(modified))
        for entity_id, modified in recent
        if bound is None or (moment := parse_datetime(modified)) is None or moment > bound
    )
    data = json.dumps([id_rows, again], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def with_fields(document: str, fields: list[str]) -> str:
    """Add root fields to the introspection query, so they ride on the same request."""
    if _INTROSPECTION_OPERATION not in document:
        raise AssertionError("graphql-core's introspection query changed shape")
    return document.replace(_INTROSPECTION_OPERATION, f"{_INTROSPECTION_OPERATION} {' '.join(fields)}", 1)


@dataclass
class Merged:
    """What ``merge`` made of a database: the entities read again, how many came from the
    cache or were deleted, and the id listing's rows projected on the volatile keys."""

    database: Database
    changed: list[Entity]
    cached: int
    deleted: int
    id_rows: list[list[Any]]


def merge(sync: Sync, cached: list[Entity]) -> Merged:
    """The database now, into ``sync.plan.database.entities``: the listed ids, each the
    changed version or the cached one, with the volatile fields as the id listing read them
    (``sync.updated`` counts the entities that differ from their cached version)."""
    plan = sync.plan
    assert plan is not None
    changed: dict[str, Entity] = {}
    for raw in [*sync.changed.rows, *(row for listing in sync.missing for row in listing.rows)]:
        entity = to_entity(plan, raw)
        changed[entity.id] = entity
    previous = {e.id: e for e in cached}
    entities, seen = plan.database.entities, set()
    keys = volatile_keys(plan)
    volatile = plan.volatile_selection != "id"
    for row in sync.ids.rows:
        entity_id = str(row["id"])
        found = changed.get(entity_id) or previous.get(entity_id)
        if found is not None and entity_id not in seen:
            seen.add(entity_id)
            entities.append(with_volatile(plan, found, row) if volatile else found)
    # Unchanged entities are the cached objects themselves: only the others are compared.
    sync.updated = sum(1 for e in entities if (old := previous.get(e.id)) is not e and old != e)
    return Merged(
        database=plan.database,
        changed=list(changed.values()),
        cached=sum(1 for e in entities if e.id not in changed),
        deleted=len(previous.keys() - seen),
        id_rows=[[row.get(key) for key in keys] for row in sync.ids.rows],
    )


def listed_digest(sync: Sync) -> str:
    """The digest of what a sync's listings answered (``sync.listing_digest``)."""
    keys = sync.entry.volatile_keys
    rows = [[row.get(key) for key in keys] for row in sync.ids.rows]
    recent = [(str(row["id"]), row.get("modificationDate")) for row in sync.changed.rows]
    return listing_digest(rows, recent, sync.entry.since)
