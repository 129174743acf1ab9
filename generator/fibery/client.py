"""The Fibery client: read a whole space over GraphQL into a ``Workspace``.

Requests per cold build: one introspection query with descriptions (databases, fields and
their Fibery names are discovered, never guessed), one ``GET /api/schema`` for the kinds
only REST knows (optional: a failure means kinds are inferred from values), and
⌈entities / page size⌉ list queries per database with rich text inline. Nothing is fetched
per entity. Databases are fetched concurrently through one polite transport
(``transport.py``).

With a fetch cache (``fetchcache.py``) a rebuild asks only for what changed (``sync.py``):
the introspection query carries each cached database's changed entities and the ids of all
its entities as extra root fields, and ``GET /api/schema`` is conditional (``If-None-Match``
→ 304). An unchanged space costs those two requests.

gql builds and sends the documents over httpx; this module adds what Fibery needs: auth,
paging that survives silent caps and slow pages, and error translation into one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportProtocolError,
    TransportQueryError,
    TransportServerError,
)
from graphql import GraphQLSchema, build_client_schema, get_introspection_query

from ..config import Connection, SiteConfig
from ..errors import FiberyError
from ..files import EarlyDownloads, FilePolicy, download_files
from ..model import Database, Entity, Workspace
from .fetchcache import CachedDatabase, FetchCache, FetchMeta, meta_identity
from .messages import (
    GraphQLTransport,
    connection_message,
    no_databases_message,
    server_message,
    status_message,
)
from .schema import DatabasePlan, RestSchema, database_queries, discover
from .stats import PAGE_FORMATS
from .sync import (
    ID_PAGE_SIZE,
    MAX_ROWS,
    Listing,
    Sync,
    fibery_datetime,
    listed_digest,
    listing_digest,
    merge,
    next_since,
    parse_datetime,
    volatile_keys,
    with_fields,
)
from .sync import possibly_capped as round_page
from .transport import PoliteTransport, RateLimiter, RequestStats, Unclosed, server_time, shrink_on_timeout
from .values import complete_lists, infer_text_kinds, list_query, to_entity

log = logging.getLogger(__name__)
T = TypeVar("T")

ProgressCallback = Callable[[str, int], None]
"""Called with (database title, entities fetched so far) after every page."""
Selector = Callable[[list[Database]], list[Database]]
"""Chooses, from the databases discovered, those to fetch."""
EntitiesCallback = Callable[[Database, list[Entity]], None]
"""Called with a database and the entities of it that just arrived."""
FilesOf = Callable[[Database, str], list[str]]
"""The file secrets of a complete database (of the workspace at the URL given) that may be
downloaded: its published ones (``publish.published_files``)."""

MIN_PAGE_SIZE = 10
"""The smallest page a timed-out list query is shrunk to before the fetch gives up."""


@dataclass
class _Prefetched:
    """The first answers of a fetch that ``fingerprint`` asked for: the fetch goes on from them."""

    meta: FetchMeta
    syncs: dict[str, Sync]
    schema: GraphQLSchema
    schema_hash: str
    rest: RestSchema
    started: datetime | None


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
        deadline: float = math.inf,
        full_refresh: timedelta | None = timedelta(hours=24),
        formats: tuple[str, ...] = PAGE_FORMATS,
        file_policy: FilePolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: FetchCache | None = None,
        on_entities: EntitiesCallback | None = None,
    ) -> None:
        self.connection = connection
        self.page_size = max(1, min(page_size, MAX_ROWS - 1))
        self.stats = RequestStats()
        self.cache = cache
        self.formats = formats
        self._file_policy = file_policy or FilePolicy()
        self.on_entities = on_entities
        """Called with each page of entities as it arrives, while the next request waits for
        its slot: the source uses it to clean the rich text ahead of rendering."""
        self._timeout = timeout
        self._retries = retries
        self._deadline = deadline
        self._full_refresh = full_refresh
        self._read_until: float | None = None
        """When ``deadline`` runs out (monotonic), counted from the start of the first read:
        the file downloads that follow a read share its deadline."""
        self._prefetched: _Prefetched | None = None
        self._page_sizes: dict[str, int] = {}
        """Per database: the page size to read it with (``page_size`` unless a page timed out)."""
        self._saved: FetchMeta | None = None
        self._id_rows: dict[str, list[list[Any]]] = {}
        """Per database fetched: its rows projected on ``volatile_keys``, as an id listing answers."""
        self._early_files: dict[str, str] = {}
        self._early_tried: set[str] = set()
        """What the last read downloaded (``files_of``), and every secret it asked for."""
        self._polite = PoliteTransport(
            transport or httpx.AsyncHTTPTransport(),
            limiter=RateLimiter(requests_per_second),
            stats=self.stats,
            retries=retries,
            backoff=backoff,
            deadline=timeout,
        )

    @classmethod
    def from_config(cls, connection: Connection, config: SiteConfig, **kwargs: Any) -> FiberyClient:
        """Build a client with the request settings of ``kb.toml``."""
        refresh = config.full_refresh_hours
        return cls(
            connection=connection,
            page_size=config.page_size,
            requests_per_second=config.requests_per_second,
            timeout=config.timeout,
            retries=config.retries,
            deadline=config.fetch_deadline,
            full_refresh=timedelta(hours=refresh) if refresh else None,
            **kwargs,
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.connection.token.get_secret_value()}"}

    def fetch_workspace(
        self,
        *,
        select: Selector = lambda dbs: dbs,
        progress: ProgressCallback | None = None,
        files_of: FilesOf | None = None,
    ) -> Workspace:
        """Fetch every entity of the databases ``select`` keeps (given all discovered ones,
        with their fields, before any entity is fetched: excluded databases cost nothing and
        are returned without entities). With ``files_of`` (the publish rules' choice), the
        files of each database read in full are downloaded as soon as it is complete, for
        ``download_files`` to hand over."""
        self._saved = None
        self._early_files, self._early_tried = {}, set()
        if self._prefetched is None:  # else the deadline started with ``fingerprint``'s requests
            self._read_until = time.monotonic() + self._deadline
        work = self._fetch_workspace(select, progress, files_of)
        return asyncio.run(self._within_deadline(work, "reading the space"))

    def download_files(self, secrets: Iterable[str]) -> dict[str, str]:
        """Download the files of ``secrets`` (secret → base64; a failed or refused one is left
        out with a warning), within what is left of the read's deadline. Called after the
        publish rules, with the secrets of published content only; those the read downloaded
        already (``files_of``) are not asked for again."""
        wanted = list(dict.fromkeys(secrets))
        files = {s: self._early_files[s] for s in wanted if s in self._early_files}
        rest = [s for s in wanted if s not in self._early_tried]
        if not rest:
            return files
        if self._read_until is None:
            self._read_until = time.monotonic() + self._deadline
        return files | asyncio.run(self._within_deadline(self._download_files(rest), "downloading the files"))

    async def _within_deadline(self, work: Coroutine[Any, Any, T], what: str) -> T:
        left = (self._read_until or math.inf) - time.monotonic()
        try:
            return await asyncio.wait_for(work, max(0.0, left))
        except TimeoutError:
            raise FiberyError(
                f"{what} from {self.connection.fibery_url} took longer than {self._deadline:g} s "
                "(kb.toml fetch_deadline)"
            ) from None

    def _load_syncs(self) -> tuple[FetchMeta | None, dict[str, Sync]]:
        """The cached fetch and how to bring each database of it up to date, unless the
        last full read is older than ``full_refresh`` (see ``docs/architecture.md``)."""
        meta = self.cache.load_meta() if self.cache else None
        if meta is not None:
            self._page_sizes.update(meta.page_sizes)
        if meta is not None and self._full_refresh is not None:
            full_at = parse_datetime(meta.full_at)
            if full_at is None or datetime.now(UTC) - full_at > self._full_refresh:
                log.info("the last full read of the space is older than kb.toml full_refresh_hours: a full fetch")
                return None, {}
        syncs = {key: Sync.of(n, entry) for n, (key, entry) in enumerate((meta.databases if meta else {}).items())}
        return meta, {key: sync for key, sync in syncs.items() if sync.entry.since}

    def fingerprint(self) -> str | None:
        """What the fetch cache holds (a digest), when Fibery confirms that it is current: the
        requests an incremental fetch starts with (the schema with the changes and id listings
        riding along, ``GET /api/schema``), then their answers compared with the digests the
        last fetch recorded, without reading the cached entities. None when anything changed
        or cannot be confirmed; ``fetch_workspace`` then goes on from those answers, so the
        check costs no request. After a fetch: what it saved, without asking."""
        saved, self._saved = self._saved, None
        if saved is not None:
            return meta_identity(saved)
        if self.cache is None:
            return None
        meta, syncs = self._load_syncs()
        if meta is None or not syncs or len(syncs) != len(meta.databases):
            return None
        self._read_until = time.monotonic() + self._deadline
        return asyncio.run(self._within_deadline(self._confirm_current(meta, syncs), "reading the space"))

    def _graphql_transport(self) -> GraphQLTransport:
        return GraphQLTransport(
            url=self.connection.endpoint, headers=self._headers(), timeout=self._timeout, transport=self._polite
        )

    async def _confirm_current(self, meta: FetchMeta, syncs: dict[str, Sync]) -> str | None:
        transport = self._graphql_transport()
        async with Client(transport=transport, execute_timeout=None) as session:
            (introspection, schema_hash), rest = await asyncio.gather(
                self._read_schema(session, list(syncs.values())), self._rest_schema(meta)
            )
            started = server_time(transport.response_headers)
            rest_now = (rest.etag, rest.body if rest.etag else None)
            # The same schema and REST schema as the last fetch (whose databases and list
            # queries the digests were recorded for): no need to build the schema again.
            same = schema_hash == meta.schema_hash and rest_now == (meta.rest_etag, meta.rest_schema)
            if same and meta.listing_digests:
                await self._rounds(session, [listing for sync in syncs.values() for listing in sync.listings])
            current = (
                same
                and bool(meta.listing_digests)
                and all(
                    key in syncs and listed_digest(syncs[key]) == digest for key, digest in meta.listing_digests.items()
                )
            )
            if not current:  # ``fetch_workspace`` goes on from these answers
                self._prefetched = _Prefetched(meta, syncs, self._schema(introspection), schema_hash, rest, started)
                return None
        log.info("Fibery confirms that nothing changed since the last fetch")
        self.stats.cached += sum(len(syncs[key].ids.rows) for key in meta.listing_digests)
        return meta_identity(meta)

    async def _fetch_workspace(
        self, select: Selector, progress: ProgressCallback | None, files_of: FilesOf | None
    ) -> Workspace:
        transport = self._graphql_transport()
        pre, self._prefetched = self._prefetched, None
        meta, syncs = (pre.meta, pre.syncs) if pre else self._load_syncs()
        async with Client(transport=transport, execute_timeout=None) as session:
            # The cached entities are parsed in a thread while the first requests travel.
            loading = (
                asyncio.create_task(asyncio.to_thread(self.cache.load_entities, meta)) if syncs and self.cache else None
            )
            if pre:  # ``fingerprint`` asked already
                (schema, schema_hash), rest, started = (pre.schema, pre.schema_hash), pre.rest, pre.started
            else:
                (schema, schema_hash), rest = await asyncio.gather(
                    self._introspect(session, list(syncs.values())), self._rest_schema(meta)
                )
                started = server_time(transport.response_headers)
            plans = discover(schema, self.connection.space, rest, self.formats)
            kept = {id(db) for db in select([p.database for p in plans])}
            fetched = [p for p in plans if id(p.database) in kept]
            cached = (await loading if loading else None) or {}
            syncs = self._usable(syncs, fetched, cached)
            full = [p for p in fetched if p.database.key not in syncs]
            async with self._early_downloads(files_of if full else None) as early:

                async def read_in_full(plan: DatabasePlan) -> int | None:
                    end = await self._fetch_all(session, plan, progress)
                    if early:  # a round last page may hide more entities, confirmed below: not fewer
                        early.start(plan.database)
                    return end

                *ends, _ = await asyncio.gather(
                    *(read_in_full(plan) for plan in full),
                    self._catch_up(session, list(syncs.values()), cached, progress),
                )
                await self._confirm_ends(session, list(zip(full, ends, strict=True)), progress)
                if early:
                    for plan, end in zip(full, ends, strict=True):
                        if end is not None:  # the files of entities the confirmation added
                            early.start(plan.database)
                    self._early_files, self._early_tried = await early.results(), early.tried
            complete_lists(fetched)
            for plan in plans:
                infer_text_kinds(plan)
            # Databases not kept come back too, with their fields and no entity, so that the
            # publish rules are checked against the whole space (issue 7). Files come later
            # (``download_files``), once the rules have said which are published.
            databases = [p.database for p in plans]
        if self.cache:
            changed = bool(full) or any(s.updated or s.refetch for s in syncs.values()) or self.stats.deleted
            self._save_cache(meta, plans, fetched, cached, schema_hash=schema_hash, rest=rest, started=started,
                             entities_changed=bool(changed), read_in_full=not syncs)  # fmt: skip
        return Workspace(fibery_url=self.connection.fibery_url, space=self.connection.space, databases=databases)

    # ----------------------------------------------------------------------- errors

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
            detail = server_message(exc)
            raise FiberyError(status_message(self.connection, self.stats.retries, exc.code, what, detail)) from None
        except TransportProtocolError:
            raise FiberyError(f"Fibery sent an invalid answer (not GraphQL JSON) while {what}") from None
        except TransportConnectionFailed as exc:
            if shrink_on_timeout.get() and isinstance(exc.__cause__, httpx.TimeoutException):
                raise _TimedOut from None
            raise FiberyError(
                connection_message(self.connection, exc.__cause__, self._timeout, self._retries)
            ) from None

    # ----------------------------------------------------------------------- schema

    async def _introspect(self, session: Any, syncs: list[Sync] | None = None) -> tuple[GraphQLSchema, str]:
        """Read the schema (and its hash); the first page of each sync's listings rides along."""
        introspection, digest = await self._read_schema(session, syncs)
        return self._schema(introspection), digest

    async def _read_schema(self, session: Any, syncs: list[Sync] | None = None) -> tuple[dict[str, Any], str]:
        """The introspection answer and its hash; the first page of each sync's listings rides along.

        If those cached queries no longer fit the schema (a field was removed), Fibery
        rejects the whole request: the schema is then read alone, one request more."""
        document = get_introspection_query(descriptions=True)
        data = None
        if syncs:
            listings = [listing for sync in syncs for listing in sync.listings]
            limits = self._limits(listings)
            fields = [listing.field(limits[listing.alias]) for listing in listings]
            what = "reading the schema and what changed"
            data = await self._execute(session, with_fields(document, fields), what, query_errors=False)
            if data is None:
                log.info("the cached list queries no longer fit Fibery's schema; reading the schema alone")
            else:
                for listing in listings:
                    listing.take(data.get(listing.alias), limits[listing.alias])
        if data is None:
            data = await self._execute(session, document, "reading the schema")
        introspection = {"__schema": (data or {}).get("__schema")}
        return introspection, hashlib.sha256(json.dumps(introspection, sort_keys=True).encode()).hexdigest()[:32]

    def _schema(self, introspection: dict[str, Any]) -> GraphQLSchema:
        """The schema of an introspection answer, checked to hold databases."""
        try:
            schema = build_client_schema(introspection)  # type: ignore[arg-type]  # checked by graphql-core
        except (TypeError, KeyError, ValueError) as exc:
            raise FiberyError(f"Fibery sent an unusable schema: {exc}") from None
        if not database_queries(schema):
            raise FiberyError(no_databases_message(self.connection))
        return schema

    async def _rest_schema(self, meta: FetchMeta | None = None) -> RestSchema:
        """``GET /api/schema`` for the kinds only REST knows; any failure means kinds are
        inferred. Conditional when cached: ``304 Not Modified`` reuses the cached document."""
        url = f"{self.connection.fibery_url}/api/schema"
        headers = self._headers()
        if meta is not None and meta.rest_etag and meta.rest_schema is not None:
            headers["If-None-Match"] = meta.rest_etag
        try:
            async with httpx.AsyncClient(transport=Unclosed(self._polite), timeout=self._timeout) as http:
                response = await http.get(url, headers=headers, params={"with-description": "true"})
            if response.status_code == 304 and meta is not None:
                return RestSchema(meta.rest_schema, meta.rest_etag)
            if response.status_code == 200:
                data = response.json()
                return RestSchema(data, response.headers.get("ETag")) if isinstance(data, dict) else RestSchema()
            log.debug("GET /api/schema answered %s; kinds are inferred from values", response.status_code)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("GET /api/schema failed (%s); kinds are inferred from values", type(exc).__name__)
        return RestSchema()

    @contextlib.asynccontextmanager
    async def _downloader(self) -> AsyncIterator[Callable[[list[str]], Coroutine[Any, Any, dict[str, str]]]]:
        """A function that downloads files (secret → base64), each once (they need the token,
        so a public site must serve its own copy), within the file policy and through the
        download cache (see ``files.py``), on a client of this event loop. Redirects are
        followed; httpx drops the token when one leaves the workspace's host. A failed or
        refused file is a warning: the page shows a placeholder. ``Unclosed``: whoever owns
        the event loop's requests closes the shared transport."""
        async with httpx.AsyncClient(
            transport=Unclosed(self._polite), timeout=self._timeout, follow_redirects=True
        ) as http:
            headers, base = self._headers(), self.connection.fibery_url

            async def download(secrets: list[str]) -> dict[str, str]:
                return await download_files(http, base, headers, secrets, self._file_policy)

            yield download

    @contextlib.asynccontextmanager
    async def _early_downloads(self, files_of: FilesOf | None) -> AsyncIterator[EarlyDownloads | None]:
        """Downloads started during the read (the read's own session closes the shared
        transport when it ends)."""
        if files_of is None:
            yield None
            return
        async with self._downloader() as download:
            base = self.connection.fibery_url
            early = EarlyDownloads(lambda database: files_of(database, base), download)
            try:
                yield early
            finally:
                early.cancel()  # nothing left to cancel once ``results`` was awaited

    async def _download_files(self, secrets: list[str]) -> dict[str, str]:
        """Download the files of ``secrets`` (``_downloader``). The connections are closed
        at the end: they belong to this call's event loop."""
        try:
            async with self._downloader() as download:
                return await download(secrets)
        finally:
            await self._polite.aclose()

    # ----------------------------------------------------------------------- full fetch

    async def _page(self, session: Any, plan: DatabasePlan, limit: int, offset: int) -> list[Any] | None:
        """One page of a database, or None when it timed out (the caller shrinks the page)."""
        document = list_query(plan, limit=limit, offset=offset)
        token = shrink_on_timeout.set(True)
        try:
            data = await self._execute(session, document, f"reading {plan.database.title} (offset {offset})")
        except _TimedOut:
            return None
        finally:
            shrink_on_timeout.reset(token)
        rows = data.get(plan.database.query) if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise FiberyError(f"malformed data from Fibery: {plan.database.query} did not return a list")
        return rows

    async def _fetch_all(
        self, session: Any, plan: DatabasePlan, progress: ProgressCallback | None, offset: int = 0
    ) -> int | None:
        """Page through one database from ``offset``; keep each entity once. Returns None when
        the database is complete, or the offset to check when its last page was short but of
        a round length, which may be a silent cap (``_confirm_ends`` checks them together).

        Each request asks for one row more than a page: that extra row only tells whether
        another page exists, so a database of exactly k pages costs k requests, not k + 1.
        A page that times out is asked again at half the size."""
        entities = plan.database.entities
        seen, before = {e.id for e in entities}, len(entities)
        size = min(self.page_size, self._page_sizes.get(plan.database.key, self.page_size))
        keys = volatile_keys(plan)
        id_rows = self._id_rows.setdefault(plan.database.key, [])
        if offset == 0:
            id_rows.clear()
        while True:
            rows = await self._page(session, plan, size + 1, offset)
            if rows is None:
                if size <= MIN_PAGE_SIZE:
                    raise FiberyError(
                        connection_message(self.connection, httpx.ReadTimeout(""), self._timeout, self._retries)
                    )
                size = max(MIN_PAGE_SIZE, size // 2)
                log.warning("%s: a page timed out; asking for %d entities a page", plan.database.title, size)
                continue
            arrived = len(entities)
            for raw in rows[:size]:
                entity = to_entity(plan, raw)
                if entity.id not in seen:
                    seen.add(entity.id)
                    entities.append(entity)
                    id_rows.append([raw.get(key) for key in keys])
            if self.on_entities:  # in a thread: the event loop sends the next requests on time meanwhile
                await asyncio.to_thread(self.on_entities, plan.database, entities[arrived:])
            if progress:
                progress(plan.database.title, len(entities))
            offset += min(len(rows), size)
            if len(rows) <= size:
                self._page_sizes[plan.database.key] = size  # what worked, for the next full read
                self.stats.fetched += len(entities) - before
                return offset if round_page(len(rows)) else None

    async def _confirm_ends(
        self, session: Any, ends: list[tuple[DatabasePlan, int | None]], progress: ProgressCallback | None
    ) -> None:
        """Ask, in one request, whether anything follows the short round pages; read on where
        something does. A database of exactly 100 or 500 entities then costs one request
        for the whole space, not one each."""
        while pending := [(f"more{n}", plan, offset) for n, (plan, offset) in enumerate(ends) if offset is not None]:
            fields = [
                f"{alias}: {plan.database.query}(limit: 1, offset: {offset}"
                + (f", orderBy: {{{plan.order_by}: ASC}}" if plan.order_by else "")
                + ") { id }"
                for alias, plan, offset in pending
            ]
            data = await self._execute(session, "query More { " + " ".join(fields) + " }", "checking the last pages")
            ends = []
            for alias, plan, offset in pending:
                if isinstance(data, dict) and data.get(alias):
                    log.info("%s: a short page of a round length had more after it", plan.database.title)
                    ends.append((plan, await self._fetch_all(session, plan, progress, offset)))

    # ----------------------------------------------------------------------- incremental

    def _limits(self, listings: list[Listing]) -> dict[str, int]:
        """Rows per listing in one request: ids ``ID_PAGE_SIZE`` each; full rows share one
        page, so that a batched request is never bigger than a cold build's."""
        full = sum(1 for listing in listings if listing.full_rows)
        share = max(1, self.page_size // max(1, full))
        return {listing.alias: share if listing.full_rows else ID_PAGE_SIZE for listing in listings}

    async def _rounds(self, session: Any, listings: list[Listing]) -> None:
        """Continue every unfinished listing, all of them in one request per round."""
        while pending := [listing for listing in listings if not listing.done]:
            limits = self._limits(pending)
            document = "query Changes { " + " ".join(p.field(limits[p.alias]) for p in pending) + " }"
            data = await self._execute(session, document, "reading what changed")
            for listing in pending:
                listing.take(data.get(listing.alias) if isinstance(data, dict) else None, limits[listing.alias])

    @staticmethod
    def _usable(syncs: dict[str, Sync], fetched: list[DatabasePlan], cached: dict[str, list[Entity]]):
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
        syncs: list[Sync],
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
                    Listing(f"missing{number}_{start}", sync.entry.query, sync.entry.order_by,
                            sync.entry.selection, where=f"id: {{in: {chunk}}}")
                )  # fmt: skip
                unknown.append(sync.missing[-1])
        await self._rounds(session, unknown)
        for sync in syncs:
            assert sync.plan is not None
            if sync.refetch:
                end = await self._fetch_all(session, sync.plan, progress)
                await self._confirm_ends(session, [(sync.plan, end)], progress)
                continue
            self._merge(sync, cached[sync.plan.database.key])
            if progress:
                progress(sync.plan.database.title, len(sync.plan.database.entities))

    def _merge(self, sync: Sync, cached: list[Entity]) -> None:
        """The database now (``sync.merge``), its counts added to the stats."""
        merged = merge(sync, cached)
        if self.on_entities:
            self.on_entities(merged.database, merged.changed)
        self._id_rows[merged.database.key] = merged.id_rows
        self.stats.fetched += len(merged.changed)
        self.stats.cached += merged.cached
        self.stats.deleted += merged.deleted

    def _save_cache(
        self,
        meta: FetchMeta | None,
        plans: list[DatabasePlan],
        fetched: list[DatabasePlan],
        cached: dict[str, list[Entity]],
        *,
        schema_hash: str,
        rest: RestSchema,
        started: datetime | None,
        entities_changed: bool,
        read_in_full: bool,
    ) -> None:
        """Remember this fetch. Databases not fetched this time keep their cached entities
        while their list query is unchanged."""
        assert self.cache is not None
        current = {p.database.key: p for p in plans}
        databases, entities, digests = {}, {}, {}
        for key, entry in (meta.databases if meta else {}).items():
            plan = current.get(key)
            if plan and plan not in fetched and plan.fingerprint == entry.fingerprint and key in cached:
                databases[key], entities[key] = entry, cached[key]
        for plan in fetched:
            db = plan.database
            since = next_since(db.entities, started) if plan.since else None
            databases[db.key] = CachedDatabase(
                fingerprint=plan.fingerprint, query=db.query, order_by=plan.order_by, selection=plan.selection,
                since=since, by_id=plan.by_id, volatile=plan.volatile_selection, volatile_keys=volatile_keys(plan),
            )  # fmt: skip
            entities[db.key] = db.entities
            if since and db.key in self._id_rows:
                recent = [(e.id, e.modification_date) for e in db.entities]
                digests[db.key] = listing_digest(self._id_rows[db.key], recent, since)
        if meta is not None and meta.schema_hash != schema_hash:
            log.info("Fibery's schema changed: databases whose list query changed were read in full")
        now = fibery_datetime(datetime.now(UTC))
        new_meta = FetchMeta(
            fibery_url=self.connection.fibery_url,
            space=self.connection.space,
            schema_hash=schema_hash,
            fetched_at=fibery_datetime(started) if started else None,
            built_at=now,
            full_at=now if read_in_full or meta is None else meta.full_at,
            rest_etag=rest.etag,
            rest_schema=rest.body if rest.etag else None,
            databases=databases,
            listing_digests=digests,
            page_sizes={key: self._page_sizes[key] for key in databases if key in self._page_sizes},
        )
        rewrite = entities_changed or meta is None or set(entities) != set(cached)
        self.cache.save(new_meta, entities if rewrite else None, previous=meta)
        self._saved = new_meta


class _TimedOut(Exception):
    """A list page timed out, and its caller would rather ask for a smaller one."""
