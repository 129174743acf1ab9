"""The Fibery client: read a whole space over GraphQL into a ``Workspace``.

Requests per cold build: one introspection query (databases, fields and kinds are
discovered, never guessed), one ``GET /api/schema`` for the real titles (optional: ignored
when it fails), and ⌈entities / page size⌉ list queries per database with rich text inline.
Nothing is fetched per entity. Databases are fetched concurrently; every request passes one
client-side limiter that spaces them to stay inside Fibery's 3 requests/s per token, and
429, 5xx and timeouts are retried with backoff (``Retry-After`` honoured).

With a fetch cache (``cache.FetchCache``) a rebuild asks only for what changed: the
introspection query carries, as extra aliased root fields, each cached database's entities
modified since the last fetch (``modificationDate: {greater: …}``) and the ids of all its
entities (to notice deletions); ``GET /api/schema`` is conditional (``If-None-Match`` → 304).
An unchanged space costs those two requests; a database whose list query changed with the
schema is fetched in full again.

gql builds and sends the documents over httpx; this module only adds what Fibery needs:
auth, the limiter and retries (an httpx transport wrapper) and error translation.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    get_nullable_type,
)

from .config import Connection, SiteConfig
from .errors import FiberyError
from .files import FilePolicy, download_files
from .model import Database, Entity, Field, FieldKind, Workspace
from .naming import humanize, name_key, url_segment

if TYPE_CHECKING:
    from .cache import CachedDatabase, FetchCache, FetchMeta

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
BASE_FIELDS = ("id", "publicId", "name", "creationDate", "modificationDate")
SYSTEM_FIELDS = frozenset({*BASE_FIELDS, "rank"})
ORDER_KEYS = ("publicId", "creationDate", "id")
_REST_KINDS = {
    "fibery/url": FieldKind.URL,
    "fibery/email": FieldKind.EMAIL,
    "fibery/date": FieldKind.DATE,
    "fibery/date-time": FieldKind.DATETIME,
}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --------------------------------------------------------------------------- transport


@dataclass
class RequestStats:
    """What the client did, for the progress line, the job summary and ``build-info.json``."""

    requests: int = 0
    retries: int = 0
    statuses: dict[int, int] = dataclass_field(default_factory=dict)
    fetched: int = 0
    """Entities received with all their fields (every one on a cold build, the changed ones after)."""
    cached: int = 0
    """Entities taken unchanged from the fetch cache."""
    deleted: int = 0
    """Cached entities no longer in Fibery."""

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


class RateLimiter:
    """Keep every 1-second window of the server under ``rate`` requests, wherever between a
    request's arrival and its answer the server counts it (a slow answer may be counted late).

    Starts are spaced at least ``1/rate`` seconds apart, and each of the ``rate`` slots is
    free again only 1 second after its request was answered, both with a 6 % margin: the
    ``rate``-th next request never starts within a second of an earlier one's answer."""

    WINDOW = 1.06

    def __init__(self, rate: float) -> None:
        self.interval = self.WINDOW / rate
        self._free = [0.0] * max(1, math.floor(rate))
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> int:
        """Wait for a slot and the next start; return the slot, to ``release`` when answered."""
        async with self._lock:
            while True:
                slot = min(range(len(self._free)), key=self._free.__getitem__)
                delay = max(self._free[slot], self._next) - time.monotonic()
                if delay <= 0:
                    break
                await asyncio.sleep(0.01 if self._free[slot] == math.inf else delay)
            self._free[slot] = math.inf
            self._next = max(time.monotonic(), self._next) + self.interval
            return slot

    def release(self, slot: int) -> None:
        """The request of ``slot`` was answered (or failed)."""
        self._free[slot] = time.monotonic() + self.WINDOW

    async def wait(self) -> None:
        """Wait for the start of a request that takes no time."""
        self.release(await self.acquire())


def retry_delay(response: httpx.Response | None, attempt: int, backoff: float) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): ``Retry-After`` when the server
    sends one (seconds or HTTP date), else exponential backoff ``backoff * 2**(attempt-1)``."""
    header = response.headers.get("Retry-After") if response is not None else None
    if header:
        try:
            return max(0.0, min(float(header), 120.0))
        except ValueError:
            when = email.utils.parsedate_to_datetime(header)
            if when is not None:
                return max(0.0, min(when.timestamp() - time.time(), 120.0))
    return backoff * 2 ** (attempt - 1)


class PoliteTransport(httpx.AsyncBaseTransport):
    """An httpx transport that rate-limits, counts and retries every request it sends."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        limiter: RateLimiter,
        stats: RequestStats,
        retries: int,
        backoff: float,
    ) -> None:
        self._inner = inner
        self._limiter = limiter
        self._stats = stats
        self._retries = retries
        self._backoff = backoff

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            slot = await self._limiter.acquire()
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TimeoutException:
                self._stats.record(0)
                if attempt >= self._retries:
                    raise
                response = None
            else:
                self._stats.record(response.status_code)
                if response.status_code not in RETRY_STATUSES or attempt >= self._retries:
                    return response
                await response.aclose()
            finally:
                self._limiter.release(slot)
            attempt += 1
            self._stats.retries += 1
            delay = retry_delay(response, attempt, self._backoff)
            log.info("retry %d/%d of %s in %.1f s", attempt, self._retries, request.url.path, delay)
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()


# --------------------------------------------------------------------------- schema discovery


@dataclass(frozen=True)
class _FieldPlan:
    """How to select one field and what kind it is."""

    field: Field
    selection: str


@dataclass(frozen=True)
class _DatabasePlan:
    """One database as discovered by introspection, with the selection for its list query."""

    database: Database
    fields: tuple[_FieldPlan, ...]
    order_by: str | None
    shape: str = ""
    """The fields as GraphQL types them (name, kind before REST refinement, selection)."""
    since: bool = False
    """Whether the list query filters ``modificationDate: {greater: …}`` (incremental fetch)."""
    by_id: bool = False
    """Whether the list query filters ``id: {in: […]}``."""

    @property
    def selection(self) -> str:
        return " ".join([*BASE_FIELDS, *(p.selection for p in self.fields)])

    @property
    def fingerprint(self) -> str:
        """What the cached entities of this database were read with: a different list query
        or differently typed fields make them unusable."""
        text = json.dumps([self.database.query, self.order_by, self.shape, self.selection])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def _subfields(type_: GraphQLObjectType, wanted: Iterable[str]) -> list[str]:
    return [name for name in wanted if name in type_.fields]


def _classify(name: str, gql_field: GraphQLField, db_types: dict[str, str]) -> tuple[FieldKind, str | None, str] | None:
    """Decide a field's kind (and relation target) from its GraphQL type alone.

    Returns ``(kind, target_key, selection)`` or None for fields we do not publish
    (comments, unknown objects)."""
    nullable = get_nullable_type(gql_field.type)
    is_list = isinstance(nullable, GraphQLList)
    inner = get_named_type(gql_field.type)
    if isinstance(inner, GraphQLScalarType):
        if is_list:
            return None
        kind = {"Int": FieldKind.NUMBER, "Float": FieldKind.NUMBER, "Boolean": FieldKind.BOOLEAN}.get(
            inner.name, FieldKind.TEXT
        )
        if "date" in inner.name.lower():
            kind = FieldKind.DATETIME if "time" in inner.name.lower() else FieldKind.DATE
        return kind, None, name
    if not isinstance(inner, GraphQLObjectType):
        return None
    if inner.name in db_types:
        kind = FieldKind.COLLECTION if is_list else FieldKind.RELATION
        return kind, db_types[inner.name], f"{name} {{ id }}"
    subs = inner.fields
    if not is_list and ("md" in subs or "html" in subs):
        return FieldKind.RICH_TEXT, None, f"{name} {{ {' '.join(_subfields(inner, ('md', 'html')))} }}"
    if not is_list and "start" in subs and "end" in subs:
        return FieldKind.DATE_RANGE, None, f"{name} {{ start end }}"
    if is_list and "secret" in subs:
        return FieldKind.FILES, None, f"{name} {{ {' '.join(_subfields(inner, ('secret', 'name', 'contentType')))} }}"
    if "name" in subs:
        if is_list:
            return FieldKind.MULTI_SELECT, None, f"{name} {{ name }}"
        is_state = name == "state" or inner.name.startswith("WorkflowState")
        return (FieldKind.STATE if is_state else FieldKind.SELECT), None, f"{name} {{ name }}"
    return None


def _order_key(find: GraphQLField) -> str | None:
    """Pick a unique, stable sort key the ``orderBy`` argument accepts, if it exists."""
    arg = find.args.get("orderBy")
    if arg is None:
        return None
    order_type = get_named_type(arg.type)
    if not isinstance(order_type, GraphQLInputObjectType):
        return None
    return next((k for k in ORDER_KEYS if k in order_type.fields), None)


def _filters(find: GraphQLField, argument: str, operator: str) -> bool:
    """Whether the ``find…`` query takes ``argument: {operator: …}``."""
    arg = find.args.get(argument)
    arg_type = get_named_type(arg.type) if arg is not None else None
    return isinstance(arg_type, GraphQLInputObjectType) and operator in arg_type.fields


def discover(schema: GraphQLSchema, titles: _RestTitles) -> list[_DatabasePlan]:
    """Find the databases: object types the root ``Query`` returns as a list through a
    ``find…`` field. Query names are taken from introspection, never pluralised by us."""
    query_type = schema.query_type
    if query_type is None:
        raise FiberyError("Fibery's schema has no Query type")
    finds = {
        qname: (qfield, get_named_type(qfield.type))
        for qname, qfield in query_type.fields.items()
        if qname.startswith("find")
        and isinstance(get_nullable_type(qfield.type), GraphQLList)
        and isinstance(get_named_type(qfield.type), GraphQLObjectType)
    }
    db_types = {t.name: t.name for _, t in finds.values()}
    plans = []
    for qname, (qfield, type_) in sorted(finds.items()):
        title, web_name = titles.database(type_.name)
        fields, shape = [], []
        for fname, gql_field in type_.fields.items():
            if fname in SYSTEM_FIELDS:
                continue
            classified = _classify(fname, gql_field, db_types)
            if classified is None:
                log.debug("skipping field %s.%s of unsupported type", type_.name, fname)
                continue
            kind, target, selection = classified
            shape.append((fname, kind.value, target))
            kind = titles.refine_kind(type_.name, fname, kind)
            fields.append(
                _FieldPlan(Field(key=fname, title=titles.field(type_.name, fname), kind=kind, target=target), selection)
            )
        database = Database(
            key=type_.name, title=title, query=qname, web_name=web_name, fields=[p.field for p in fields]
        )
        plans.append(
            _DatabasePlan(
                database,
                tuple(fields),
                _order_key(qfield),
                shape=json.dumps(shape),
                since=_filters(qfield, "modificationDate", "greater"),
                by_id=_filters(qfield, "id", "in"),
            )
        )
    return plans


class _RestTitles:
    """Real database and field titles (and URL/e-mail/date kinds) from ``GET /api/schema``.

    GraphQL names lose spaces and accents; the REST schema keeps them. Types are matched to
    GraphQL names by ``name_key``. When the endpoint did not answer, titles come from
    splitting the camel case instead."""

    def __init__(self, space: str, rest_schema: dict[str, Any] | None) -> None:
        self._dbs: dict[str, str] = {}
        self._fields: dict[tuple[str, str], tuple[str, str]] = {}
        self.available = False
        if rest_schema is not None:
            self._load(space, rest_schema)

    def _load(self, space: str, rest_schema: dict[str, Any]) -> None:
        types = rest_schema.get("fibery/types")
        if not isinstance(types, list):
            return
        space_key = name_key(space)
        for type_ in types:
            if not isinstance(type_, dict) or not self._is_user_database(type_):
                continue
            space_name, _, title = str(type_["fibery/name"]).partition("/")
            if name_key(space_name) != space_key:
                continue
            self._dbs[name_key(title)] = title
            for fld in type_.get("fibery/fields") or []:
                if isinstance(fld, dict) and not fld.get("fibery/deleted?"):
                    ftitle = str(fld.get("fibery/name", "")).rpartition("/")[2]
                    self._fields[(name_key(title), name_key(ftitle))] = (ftitle, str(fld.get("fibery/type", "")))
        self.available = bool(self._dbs)

    @staticmethod
    def _is_user_database(type_: dict[str, Any]) -> bool:
        meta = type_.get("fibery/meta") or {}
        name = str(type_.get("fibery/name", ""))
        return (
            bool(meta.get("fibery/domain?"))
            and not type_.get("fibery/deleted?")
            and not meta.get("fibery/enum?")
            and not meta.get("fibery/platform?")
            and "/" in name
            and not name[:1].islower()
            and not name.startswith("Collaboration~Documents/")
            and not name.endswith("-mixin")
        )

    def database(self, type_name: str) -> tuple[str, str]:
        """Return (title, web URL segment) for a GraphQL type name."""
        title = self._dbs.get(name_key(type_name)) or humanize(type_name)
        return title, url_segment(title)

    def field(self, type_name: str, field_name: str) -> str:
        """Return the readable title of a field."""
        db_title = self._dbs.get(name_key(type_name), type_name)
        found = self._fields.get((name_key(db_title), name_key(field_name)))
        title = found[0] if found else humanize(field_name)
        return title[:1].upper() + title[1:]

    def refine_kind(self, type_name: str, field_name: str, kind: FieldKind) -> FieldKind:
        """Tell URL, e-mail and date text apart, which GraphQL types all show as ``String``."""
        if kind is not FieldKind.TEXT:
            return kind
        db_title = self._dbs.get(name_key(type_name), type_name)
        found = self._fields.get((name_key(db_title), name_key(field_name)))
        return _REST_KINDS.get(found[1], kind) if found else kind


def refine_text_kinds(database: Database, *, trusted: bool) -> None:
    """Where no REST schema told us, infer date/datetime/URL/e-mail from the values: a text
    field whose every non-empty value has that shape is of that kind."""
    if trusted:
        return
    for fld in database.fields:
        if fld.kind is not FieldKind.TEXT:
            continue
        values = [e.values.get(fld.key) for e in database.entities]
        values = [v for v in values if isinstance(v, str) and v]
        if not values:
            continue
        for kind, test in (
            (FieldKind.DATE, _ISO_DATE.match),
            (FieldKind.DATETIME, _ISO_DATETIME.match),
            (FieldKind.URL, lambda v: v.startswith(("http://", "https://")) and " " not in v),
            (FieldKind.EMAIL, _EMAIL.match),
        ):
            if all(test(v) for v in values):
                fld.kind = kind
                break


# --------------------------------------------------------------------------- values


def _normalise(kind: FieldKind, raw: Any) -> Any:
    """Keep only the parts of a raw GraphQL value the model defines for ``kind``."""
    if raw is None:
        return [] if kind in (FieldKind.COLLECTION, FieldKind.MULTI_SELECT, FieldKind.FILES) else None
    match kind:
        case FieldKind.RELATION:
            return {"id": str(raw["id"])}
        case FieldKind.COLLECTION:
            return [{"id": str(item["id"])} for item in raw if item]
        case FieldKind.STATE | FieldKind.SELECT:
            return {"name": str(raw.get("name") or "")}
        case FieldKind.MULTI_SELECT:
            return [{"name": str(item.get("name") or "")} for item in raw if item]
        case FieldKind.RICH_TEXT:
            return {"md": raw.get("md") or "", "html": raw.get("html") or ""}
        case FieldKind.FILES:
            return [
                {
                    "secret": str(f["secret"]),
                    "name": str(f.get("name") or ""),
                    "contentType": str(f.get("contentType") or ""),
                }
                for f in raw
                if f and f.get("secret")
            ]
        case FieldKind.DATE_RANGE:
            return {"start": raw.get("start"), "end": raw.get("end")}
        case _:
            return raw


def to_entity(plan: _DatabasePlan, raw: Any) -> Entity:
    """Turn one raw GraphQL object into an ``Entity``; reject data that is not shaped right."""
    if not isinstance(raw, dict) or not raw.get("id"):
        raise FiberyError(f"malformed data from Fibery: an entity of {plan.database.title} has no id")
    try:
        values = {p.field.key: _normalise(p.field.kind, raw.get(p.field.key)) for p in plan.fields}
    except (AttributeError, KeyError, TypeError) as exc:
        raise FiberyError(f"malformed data from Fibery: entity {raw['id']} of {plan.database.title}: {exc}") from None
    return Entity(
        id=str(raw["id"]),
        public_id=str(raw.get("publicId") or ""),
        name=str(raw.get("name") or ""),
        creation_date=raw.get("creationDate"),
        modification_date=raw.get("modificationDate"),
        values=values,
    )


_FILE_REFERENCE = re.compile(r"/api/files/([A-Za-z0-9_-]+)")


def referenced_files(databases: list[Database]) -> list[str]:
    """Every file secret used by a files field or inside rich text, each once, in order."""
    secrets: dict[str, None] = {}
    for db in databases:
        file_fields = [f.key for f in db.fields if f.kind is FieldKind.FILES]
        text_fields = [f.key for f in db.fields if f.kind is FieldKind.RICH_TEXT]
        for entity in db.entities:
            for key in file_fields:
                secrets.update((f["secret"], None) for f in entity.values.get(key) or [])
            for key in text_fields:
                value = entity.values.get(key) or {}
                for text in (value.get("html") or "", value.get("md") or ""):
                    if "/api/files/" in text:  # most texts embed no file: skip the pattern
                        secrets.update((m, None) for m in _FILE_REFERENCE.findall(text))
    return list(secrets)


def list_query(plan: _DatabasePlan, *, limit: int, offset: int, where: str = "") -> str:
    """Build the list query of one page: base fields plus every field, rich text inline."""
    args = [f"limit: {limit}", f"offset: {offset}"]
    if plan.order_by:
        args.append(f"orderBy: {{{plan.order_by}: ASC}}")
    if where:
        args.append(where)
    selection = " ".join([*BASE_FIELDS, *(p.selection for p in plan.fields)])
    return f"query Page{plan.database.key} {{ {plan.database.query}({', '.join(args)}) {{ {selection} }} }}"


# --------------------------------------------------------------------------- incremental fetch

ID_PAGE_SIZE = 3000
"""Ids per request when listing a database to notice deletions: an id row is ~50 bytes, a
hundred times less than a full row, and 3000 is the largest page public clients use."""
SINCE_MARGIN = timedelta(seconds=60)
"""Entities modified up to this long before the previous fetch began are asked for again, so
that an edit committed during a fetch, or a server clock slightly off, is never missed."""
_INTROSPECTION_OPERATION = "query IntrospectionQuery {"


def fibery_datetime(moment: datetime) -> str:
    """Fibery's datetime format, which its filters compare as text: ``2025-09-22T12:01:32.155Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_datetime(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_since(entities: list[Entity], started: datetime | None) -> str | None:
    """The ``modificationDate`` bound of the next incremental fetch of a database: the newest
    date seen, but never later than this fetch's start (server time) less ``SINCE_MARGIN``.
    None when an entity has no readable date: that database is then fetched in full."""
    dates = [_parse_datetime(e.modification_date) for e in entities]
    if any(d is None for d in dates):
        return None
    bound = max((d for d in dates if d is not None), default=None)
    if started is not None:
        bound = min(bound, started - SINCE_MARGIN) if bound else started - SINCE_MARGIN
    return fibery_datetime(bound) if bound else None


def _server_time(headers: Any) -> datetime | None:
    """The server's clock from an HTTP ``Date`` header (one-second precision)."""
    value = headers.get("date") if headers is not None else None
    try:
        return email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


@dataclass
class _Listing:
    """One paged list inside batched requests (aliased root fields): a database's changed
    entities with every field, or just its ids. Continued, request after request, until a
    short page; each request asks one row more than it takes, to know whether more follow."""

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
        return self.selection != "id"

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
        self.rows.extend(rows[:limit])
        self.offset += limit
        self.done = len(rows) <= limit


@dataclass
class _Sync:
    """Bring one cached database up to date: what changed since the last fetch, the ids of
    all its entities (deletions), and entities listed but neither cached nor changed."""

    entry: CachedDatabase
    changed: _Listing
    ids: _Listing
    plan: _DatabasePlan | None = None
    missing: list[_Listing] = dataclass_field(default_factory=list)
    refetch: bool = False
    """Entities are missing and the query cannot ask for them by id: read it all again."""
    updated: int = 0
    """Entities new or different from their cached version."""

    @classmethod
    def of(cls, number: int, entry: CachedDatabase) -> _Sync:
        since = f"modificationDate: {{greater: {json.dumps(entry.since)}}}"
        return cls(
            entry,
            _Listing(f"changed{number}", entry.query, entry.order_by, entry.selection, where=since),
            _Listing(f"ids{number}", entry.query, entry.order_by, "id"),
        )

    @property
    def listings(self) -> list[_Listing]:
        return [self.changed, self.ids, *self.missing]


def _with_fields(document: str, fields: list[str]) -> str:
    """Add root fields to the introspection query, so they ride on the same request."""
    if _INTROSPECTION_OPERATION not in document:
        raise AssertionError("graphql-core's introspection query changed shape")
    return document.replace(_INTROSPECTION_OPERATION, f"{_INTROSPECTION_OPERATION} {' '.join(fields)}", 1)


@dataclass
class _RestSchema:
    """The answer of ``GET /api/schema``: the document (None when unavailable) and its ETag."""

    body: dict[str, Any] | None = None
    etag: str | None = None


# --------------------------------------------------------------------------- client


ProgressCallback = Callable[[str, int], None]
"""Called with (database title, entities fetched so far) after every page."""
Selector = Callable[[list[Database]], list[Database]]
"""Chooses, from the databases discovered, those to fetch."""
EntitiesCallback = Callable[[Database, list[Entity]], None]
"""Called with a database and the entities of it that just arrived."""


class FiberyClient:
    """Read a Fibery space. Keyword-only settings; ``transport`` lets tests inject httpx mocks."""

    def __init__(
        self,
        *,
        connection: Connection,
        page_size: int = 500,
        requests_per_second: float = 3.0,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: FetchCache | None = None,
    ) -> None:
        self.connection = connection
        self.page_size = page_size
        self.stats = RequestStats()
        self.cache = cache
        self.on_entities: EntitiesCallback | None = None
        """Called with each page of entities as it arrives, while the next request waits for
        its slot: the source uses it to clean the rich text ahead of rendering."""
        self._timeout = timeout
        self._polite = PoliteTransport(
            transport or httpx.AsyncHTTPTransport(),
            limiter=RateLimiter(requests_per_second),
            stats=self.stats,
            retries=retries,
            backoff=backoff,
        )

    @classmethod
    def from_config(cls, connection: Connection, config: SiteConfig, **kwargs: Any) -> FiberyClient:
        """Build a client with the request settings of ``kb.toml``."""
        return cls(
            connection=connection,
            page_size=config.page_size,
            requests_per_second=config.requests_per_second,
            timeout=config.timeout,
            retries=config.retries,
            **kwargs,
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.connection.token.get_secret_value()}"}

    def fetch_workspace(
        self, *, select: Selector = lambda dbs: dbs, progress: ProgressCallback | None = None
    ) -> Workspace:
        """Fetch every entity of the databases ``select`` keeps (given all discovered ones,
        with their fields, before any entity is fetched: excluded databases cost nothing and
        are returned without entities)."""
        return asyncio.run(self._fetch_workspace(select, progress))

    async def _fetch_workspace(self, select: Selector, progress: ProgressCallback | None) -> Workspace:
        transport = HTTPXAsyncTransport(
            url=self.connection.endpoint,
            headers=self._headers(),
            timeout=self._timeout,
            transport=self._polite,
        )
        meta = self.cache.load_meta() if self.cache else None
        syncs = {key: _Sync.of(n, entry) for n, (key, entry) in enumerate((meta.databases if meta else {}).items())}
        syncs = {key: sync for key, sync in syncs.items() if sync.entry.since}
        async with Client(transport=transport, execute_timeout=None) as session:
            # The cached entities are parsed in a thread while the first requests travel.
            loading = asyncio.create_task(asyncio.to_thread(self.cache.load_entities, meta)) if syncs else None
            (schema, schema_hash), rest = await asyncio.gather(
                self._introspect(session, list(syncs.values())), self._rest_schema(meta)
            )
            started = _server_time(transport.response_headers)
            titles = _RestTitles(self.connection.space, rest.body)
            plans = discover(schema, titles)
            kept = {id(db) for db in select([p.database for p in plans])}
            fetched = [p for p in plans if id(p.database) in kept]
            cached = (await loading if loading else None) or {}
            syncs = self._usable(syncs, fetched, cached)
            full = [p for p in fetched if p.database.key not in syncs]
            await asyncio.gather(
                *(self._fetch_all(session, plan, progress) for plan in full),
                self._catch_up(session, list(syncs.values()), cached, progress),
            )
            # Databases not kept come back too, with their fields and no entity, so that the
            # publish rules are checked against the whole space (issue 7).
            databases = [p.database for p in plans]
            files = await self._download_files(referenced_files(databases))
        if self.cache:
            changed = bool(full) or any(s.updated or s.refetch for s in syncs.values()) or self.stats.deleted
            self._save_cache(meta, plans, fetched, cached, schema_hash=schema_hash, rest=rest, started=started,
                             entities_changed=bool(changed))  # fmt: skip
        for db in databases:
            refine_text_kinds(db, trusted=titles.available)
        return Workspace(
            fibery_url=self.connection.fibery_url, space=self.connection.space, databases=databases, files=files
        )

    async def _execute(
        self, session: Any, document: str, what: str, *, query_errors: bool = True
    ) -> dict[str, Any] | None:
        """Run one GraphQL document, translating every failure into a one-line FiberyError
        (GraphQL ``errors[]`` into None instead when ``query_errors`` is False)."""
        try:
            return await session.execute(GraphQLRequest(document))
        except TransportQueryError as exc:
            if not query_errors:
                return None
            first = (exc.errors or [{}])[0]
            message = first.get("message") if isinstance(first, dict) else str(first)
            raise FiberyError(f"Fibery GraphQL error while {what}: {message or exc}") from None
        except TransportServerError as exc:
            raise FiberyError(self._status_message(exc.code, what)) from None
        except TransportProtocolError:
            raise FiberyError(f"Fibery sent an invalid answer (not GraphQL JSON) while {what}") from None
        except TransportConnectionFailed as exc:
            raise FiberyError(self._connection_message(exc.__cause__)) from None

    def _status_message(self, status: int | None, what: str) -> str:
        conn = self.connection
        if status == 401:
            return f"Fibery rejected the token (401 Unauthorized) at {conn.fibery_url}: check FIBERY_TOKEN"
        if status == 404:
            return f"space '{conn.space}' not found at {conn.fibery_url} (404): check FIBERY_SPACE and FIBERY_URL"
        if status == 429:
            return f"Fibery kept rate-limiting (429) after {self.stats.retries} retries while {what}: try again later"
        return f"Fibery answered HTTP {status} while {what} (after {self.stats.retries} retries)"

    def _connection_message(self, cause: BaseException | None) -> str:
        url = self.connection.fibery_url
        if isinstance(cause, httpx.TimeoutException):
            return f"Fibery at {url} did not answer within {self._timeout:g} s (after retries)"
        reason = str(cause).split("] ")[-1] if cause else "unknown error"
        return f"cannot reach Fibery at {url}: {reason}"

    async def _introspect(self, session: Any, syncs: list[_Sync] = ()) -> tuple[GraphQLSchema, str]:
        """Read the schema (and its hash); the first page of each sync's listings rides along.

        If those cached queries no longer fit the schema (a field was removed), Fibery
        rejects the whole request: the schema is then read alone, one request more."""
        document = get_introspection_query(descriptions=False)
        data = None
        if syncs:
            listings = [listing for sync in syncs for listing in sync.listings]
            limits = self._limits(listings)
            fields = [listing.field(limits[listing.alias]) for listing in listings]
            what = "reading the schema and what changed"
            data = await self._execute(session, _with_fields(document, fields), what, query_errors=False)
            if data is None:
                log.info("the cached list queries no longer fit Fibery's schema; reading the schema alone")
            else:
                for listing in listings:
                    listing.take(data.get(listing.alias), limits[listing.alias])
        if data is None:
            data = await self._execute(session, document, "reading the schema")
        introspection = {"__schema": (data or {}).get("__schema")}
        try:
            schema = build_client_schema(introspection)
        except (TypeError, KeyError, ValueError) as exc:
            raise FiberyError(f"Fibery sent an unusable schema: {exc}") from None
        return schema, hashlib.sha256(json.dumps(introspection, sort_keys=True).encode()).hexdigest()[:32]

    async def _rest_schema(self, meta: FetchMeta | None = None) -> _RestSchema:
        """``GET /api/schema`` for real titles; any failure just means camel-case titles.
        Conditional when cached: ``304 Not Modified`` reuses the cached document."""
        url = f"{self.connection.fibery_url}/api/schema"
        headers = self._headers()
        if meta is not None and meta.rest_etag and meta.rest_schema is not None:
            headers["If-None-Match"] = meta.rest_etag
        try:
            async with httpx.AsyncClient(transport=_Unclosed(self._polite), timeout=self._timeout) as http:
                response = await http.get(url, headers=headers)
            if response.status_code == 304 and meta is not None:
                return _RestSchema(meta.rest_schema, meta.rest_etag)
            if response.status_code == 200:
                data = response.json()
                return _RestSchema(data, response.headers.get("ETag")) if isinstance(data, dict) else _RestSchema()
            log.debug("GET /api/schema answered %s; using GraphQL names", response.status_code)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("GET /api/schema failed (%s); using GraphQL names", type(exc).__name__)
        return _RestSchema()

    async def _download_files(self, secrets: list[str]) -> dict[str, str]:
        """Download each referenced file once (they need the token, so a public site must
        serve its own copy), within the file policy and through the download cache (see
        ``files.py``). A failed or refused file is a warning: the page shows a placeholder."""
        if not secrets:
            return {}
        policy = getattr(self, "file_policy", None) or FilePolicy()
        async with httpx.AsyncClient(transport=_Unclosed(self._polite), timeout=self._timeout) as http:
            return await download_files(http, self.connection.fibery_url, self._headers(), secrets, policy)

    async def _fetch_all(self, session: Any, plan: _DatabasePlan, progress: ProgressCallback | None) -> None:
        """Page through one database; keep each entity once.

        Each request asks for one row more than a page: that extra row only tells whether
        another page exists, so a database of exactly k pages costs k requests, not k + 1."""
        seen: set[str] = set()
        entities = plan.database.entities
        offset = 0
        while True:
            document = list_query(plan, limit=self.page_size + 1, offset=offset)
            data = await self._execute(session, document, f"reading {plan.database.title} (offset {offset})")
            rows = data.get(plan.database.query) if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise FiberyError(f"malformed data from Fibery: {plan.database.query} did not return a list")
            arrived = len(entities)
            for raw in rows[: self.page_size]:
                entity = to_entity(plan, raw)
                if entity.id not in seen:
                    seen.add(entity.id)
                    entities.append(entity)
            if self.on_entities:
                self.on_entities(plan.database, entities[arrived:])
            if progress:
                progress(plan.database.title, len(entities))
            if len(rows) <= self.page_size:
                self.stats.fetched += len(entities)
                return
            offset += self.page_size

    # ----------------------------------------------------------------------- incremental

    def _limits(self, listings: list[_Listing]) -> dict[str, int]:
        """Rows per listing in one request: ids ``ID_PAGE_SIZE`` each; full rows share one
        page, so that a batched request is never bigger than a cold build's."""
        full = sum(1 for listing in listings if listing.full_rows)
        share = max(1, self.page_size // max(1, full))
        return {listing.alias: share if listing.full_rows else ID_PAGE_SIZE for listing in listings}

    async def _rounds(self, session: Any, listings: list[_Listing]) -> None:
        """Continue every unfinished listing, all of them in one request per round."""
        while pending := [listing for listing in listings if not listing.done]:
            limits = self._limits(pending)
            document = "query Changes { " + " ".join(p.field(limits[p.alias]) for p in pending) + " }"
            data = await self._execute(session, document, "reading what changed")
            for listing in pending:
                listing.take(data.get(listing.alias) if isinstance(data, dict) else None, limits[listing.alias])

    @staticmethod
    def _usable(syncs: dict[str, _Sync], fetched: list[_DatabasePlan], cached: dict[str, list[Entity]]):
        """Keep the syncs of databases still fetched, read with the same list query as their
        cached entities (the others are fetched in full)."""
        usable = {}
        for plan in fetched:
            sync = syncs.get(plan.database.key)
            if sync and plan.since and sync.entry.fingerprint == plan.fingerprint and plan.database.key in cached:
                sync.plan = plan
                usable[plan.database.key] = sync
        return usable

    async def _catch_up(
        self,
        session: Any,
        syncs: list[_Sync],
        cached: dict[str, list[Entity]],
        progress: ProgressCallback | None,
    ) -> None:
        """Finish the syncs' listings, fetch entities listed but unknown, merge into the cache."""
        await self._rounds(session, [listing for sync in syncs for listing in sync.listings])
        unknown = []
        for number, sync in enumerate(syncs):
            assert sync.plan is not None
            known = {e.id for e in cached[sync.plan.database.key]} | {row["id"] for row in sync.changed.rows}
            missing = [row["id"] for row in sync.ids.rows if row["id"] not in known]
            if missing and not sync.plan.by_id:
                sync.refetch = True
                continue
            for start in range(0, len(missing), self.page_size):
                chunk = json.dumps(missing[start : start + self.page_size])
                sync.missing.append(
                    _Listing(f"missing{number}_{start}", sync.entry.query, sync.entry.order_by,
                             sync.entry.selection, where=f"id: {{in: {chunk}}}")
                )  # fmt: skip
                unknown.append(sync.missing[-1])
        await self._rounds(session, unknown)
        for sync in syncs:
            assert sync.plan is not None
            if sync.refetch:
                await self._fetch_all(session, sync.plan, progress)
                continue
            self._merge(sync, cached[sync.plan.database.key])
            if progress:
                progress(sync.plan.database.title, len(sync.plan.database.entities))

    def _merge(self, sync: _Sync, cached: list[Entity]) -> None:
        """The database now: the listed ids, each the changed version or the cached one."""
        assert sync.plan is not None
        changed = {}
        for raw in [*sync.changed.rows, *(row for listing in sync.missing for row in listing.rows)]:
            entity = to_entity(sync.plan, raw)
            changed[entity.id] = entity
        if self.on_entities:
            self.on_entities(sync.plan.database, list(changed.values()))
        previous = {e.id: e for e in cached}
        entities, seen = sync.plan.database.entities, set()
        for row in sync.ids.rows:
            entity_id = str(row["id"])
            entity = changed.get(entity_id) or previous.get(entity_id)
            if entity is not None and entity_id not in seen:
                seen.add(entity_id)
                entities.append(entity)
        sync.updated = sum(1 for e in changed.values() if previous.get(e.id) != e)
        self.stats.fetched += len(changed)
        self.stats.cached += sum(1 for e in entities if e.id not in changed)
        self.stats.deleted += len(previous.keys() - seen)

    def _save_cache(
        self,
        meta: FetchMeta | None,
        plans: list[_DatabasePlan],
        fetched: list[_DatabasePlan],
        cached: dict[str, list[Entity]],
        *,
        schema_hash: str,
        rest: _RestSchema,
        started: datetime | None,
        entities_changed: bool,
    ) -> None:
        """Remember this fetch. Databases not fetched this time keep their cached entities
        while their list query is unchanged."""
        from .cache import CachedDatabase, FetchMeta

        assert self.cache is not None
        current = {p.database.key: p for p in plans}
        databases, entities = {}, {}
        for key, entry in (meta.databases if meta else {}).items():
            plan = current.get(key)
            if plan and plan not in fetched and plan.fingerprint == entry.fingerprint and key in cached:
                databases[key], entities[key] = entry, cached[key]
        for plan in fetched:
            db = plan.database
            since = next_since(db.entities, started) if plan.since else None
            databases[db.key] = CachedDatabase(
                fingerprint=plan.fingerprint, query=db.query, order_by=plan.order_by, selection=plan.selection,
                since=since, by_id=plan.by_id,
            )  # fmt: skip
            entities[db.key] = db.entities
        if meta is not None and meta.schema_hash != schema_hash:
            log.info("Fibery's schema changed: databases whose list query changed were read in full")
        new_meta = FetchMeta(
            fibery_url=self.connection.fibery_url,
            space=self.connection.space,
            schema_hash=schema_hash,
            fetched_at=fibery_datetime(started) if started else None,
            built_at=fibery_datetime(datetime.now(UTC)),
            rest_etag=rest.etag,
            rest_schema=rest.body if rest.etag else None,
            databases=databases,
        )
        rewrite = entities_changed or meta is None or set(entities) != set(cached)
        self.cache.save(new_meta, entities if rewrite else None, previous=meta)


class _Unclosed(httpx.AsyncBaseTransport):
    """Share the polite transport with a short-lived client without closing it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)
