"""The Fibery client: read a whole space over GraphQL into a ``Workspace``.

Requests per build: one introspection query (databases, fields and kinds are discovered,
never guessed), one ``GET /api/schema`` for the real titles (optional: ignored when it
fails), and ⌈entities / page size⌉ list queries per database with rich text inline.
Nothing is fetched per entity. Databases are fetched concurrently; every request passes one
client-side limiter that spaces them to stay inside Fibery's 3 requests/s per token, and
429, 5xx and timeouts are retried with backoff (``Retry-After`` honoured).

gql builds and sends the documents over httpx; this module only adds what Fibery needs:
auth, the limiter and retries (an httpx transport wrapper) and error translation.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

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
from .model import Database, Entity, Field, FieldKind, Workspace
from .naming import humanize, name_key, url_segment

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

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


class RateLimiter:
    """Space request starts at least ``1/rate`` seconds apart (plus a 6 % margin), so that no
    1-second window ever holds more than ``rate`` requests, even with a little jitter."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.06 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(time.monotonic(), self._next) + self.interval


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
            await self._limiter.wait()
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
        fields = []
        for fname, gql_field in type_.fields.items():
            if fname in SYSTEM_FIELDS:
                continue
            classified = _classify(fname, gql_field, db_types)
            if classified is None:
                log.debug("skipping field %s.%s of unsupported type", type_.name, fname)
                continue
            kind, target, selection = classified
            kind = titles.refine_kind(type_.name, fname, kind)
            fields.append(
                _FieldPlan(Field(key=fname, title=titles.field(type_.name, fname), kind=kind, target=target), selection)
            )
        database = Database(
            key=type_.name, title=title, query=qname, web_name=web_name, fields=[p.field for p in fields]
        )
        plans.append(_DatabasePlan(database, tuple(fields), _order_key(qfield)))
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


# --------------------------------------------------------------------------- client


ProgressCallback = Callable[[str, int], None]
"""Called with (database title, entities fetched so far) after every page."""
Selector = Callable[[list[Database]], list[Database]]
"""Chooses, from the databases discovered, those to fetch."""


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
    ) -> None:
        self.connection = connection
        self.page_size = page_size
        self.stats = RequestStats()
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
        with their fields, before any entity is fetched: excluded databases cost nothing)."""
        return asyncio.run(self._fetch_workspace(select, progress))

    async def _fetch_workspace(self, select: Selector, progress: ProgressCallback | None) -> Workspace:
        transport = HTTPXAsyncTransport(
            url=self.connection.endpoint,
            headers=self._headers(),
            timeout=self._timeout,
            transport=self._polite,
        )
        async with Client(transport=transport, execute_timeout=None) as session:
            schema, rest = await asyncio.gather(self._introspect(session), self._rest_schema())
            titles = _RestTitles(self.connection.space, rest)
            plans = discover(schema, titles)
            kept = {id(db) for db in select([p.database for p in plans])}
            plans = [p for p in plans if id(p.database) in kept]
            await asyncio.gather(*(self._fetch_all(session, plan, progress) for plan in plans))
            databases = [p.database for p in plans]
            files = await self._download_files(referenced_files(databases))
        for db in databases:
            refine_text_kinds(db, trusted=titles.available)
        return Workspace(
            fibery_url=self.connection.fibery_url, space=self.connection.space, databases=databases, files=files
        )

    async def _execute(self, session: Any, document: str, what: str) -> dict[str, Any]:
        """Run one GraphQL document, translating every failure into a one-line FiberyError."""
        try:
            return await session.execute(GraphQLRequest(document))
        except TransportQueryError as exc:
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

    async def _introspect(self, session: Any) -> GraphQLSchema:
        data = await self._execute(session, get_introspection_query(descriptions=False), "reading the schema")
        try:
            return build_client_schema(data)
        except (TypeError, KeyError, ValueError) as exc:
            raise FiberyError(f"Fibery sent an unusable schema: {exc}") from None

    async def _rest_schema(self) -> dict[str, Any] | None:
        """``GET /api/schema`` for real titles; any failure just means camel-case titles."""
        url = f"{self.connection.fibery_url}/api/schema"
        try:
            async with httpx.AsyncClient(transport=_Unclosed(self._polite), timeout=self._timeout) as http:
                response = await http.get(url, headers=self._headers())
            if response.status_code == 200:
                data = response.json()
                return data if isinstance(data, dict) else None
            log.debug("GET /api/schema answered %s; using GraphQL names", response.status_code)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("GET /api/schema failed (%s); using GraphQL names", type(exc).__name__)
        return None

    async def _download_files(self, secrets: list[str]) -> dict[str, str]:
        """Download each referenced file once (they need the token, so a public site must
        serve its own copy). A failed download is a warning: the page shows a placeholder."""
        files: dict[str, str] = {}
        if not secrets:
            return files
        async with httpx.AsyncClient(transport=_Unclosed(self._polite), timeout=self._timeout) as http:

            async def download(secret: str) -> None:
                try:
                    response = await http.get(
                        f"{self.connection.fibery_url}/api/files/{secret}", headers=self._headers()
                    )
                except httpx.HTTPError as exc:
                    log.warning("file %s could not be downloaded (%s)", secret, type(exc).__name__)
                    return
                if response.status_code != 200:
                    log.warning("file %s could not be downloaded (HTTP %d)", secret, response.status_code)
                    return
                files[secret] = base64.b64encode(response.content).decode("ascii")

            await asyncio.gather(*(download(secret) for secret in secrets))
        return dict(sorted(files.items()))

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
            for raw in rows[: self.page_size]:
                entity = to_entity(plan, raw)
                if entity.id not in seen:
                    seen.add(entity.id)
                    entities.append(entity)
            if progress:
                progress(plan.database.title, len(entities))
            if len(rows) <= self.page_size:
                return
            offset += self.page_size


class _Unclosed(httpx.AsyncBaseTransport):
    """Share the polite transport with a short-lived client without closing it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)
