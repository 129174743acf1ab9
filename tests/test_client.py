"""Unit tests of the Fibery client, with HTTP mocked by respx.

The mock answers like Fibery: a graphql-core schema of Fibery's shape executes each query,
so the client's documents are validated for real; only the transport is fake.
"""

from __future__ import annotations

import itertools
import json
import re
import time

import httpx
import pytest
import respx
from graphql import build_schema, graphql_sync

from generator.config import Connection, SiteConfig
from generator.errors import FiberyError
from generator.fibery import FiberyClient, RateLimiter, retry_delay
from generator.model import FieldKind

from .conftest import TOKEN

URL = "https://acme.fibery.io"
ENDPOINT = f"{URL}/api/graphql/space/Knowledge_Base"

SDL = """
type Query { me: Me findArticles(limit: Int, offset: Int, orderBy: ArticleOrderBy): [Article]
             findCafeNoteses(limit: Int, offset: Int): [CafeNotes] }
type Me { email: String }
input ArticleOrderBy { publicId: OrderDir creationDate: OrderDir }
enum OrderDir { ASC DESC }
type RichText { text: String md: String html: String jsonString: String }
type WorkflowStateArticle { id: ID name: String }
type ArticleTags { id: ID name: String }
type File { id: ID secret: String name: String contentType: String }
type Article { id: ID publicId: String name: String creationDate: String modificationDate: String
  body: RichText state: WorkflowStateArticle tags: [ArticleTags] note: CafeNotes
  notes: [CafeNotes] views: Float published: Boolean link: String files: [File] }
type CafeNotes { id: ID publicId: String name: String creationDate: String modificationDate: String
  reviewedOn: String website: String }
"""
SCHEMA = build_schema(SDL)


def article(i: int) -> dict:
    return {
        "id": f"a-{i}",
        "publicId": str(i),
        "name": f"Article {i}",
        "creationDate": "2026-01-01T00:00:00.000Z",
        "modificationDate": "2026-01-02T00:00:00.000Z",
        "body": {"md": f"# A{i}", "html": f"<h1>A{i}</h1>"},
        "state": {"name": "Done"},
        "tags": [{"name": "x"}],
        "note": {"id": "n-1"},
        "notes": [{"id": "n-1"}],
        "views": 3.0,
        "published": True,
        "link": "https://example.org",
        "files": [],
    }


class FakeFiberyGraphQL:
    """Execute requests against SCHEMA with ``articles`` and ``notes`` as data."""

    def __init__(self, articles: int = 3, notes: int = 1) -> None:
        self.articles = [article(i) for i in range(1, articles + 1)]
        self.notes = [
            {
                "id": f"n-{i}",
                "publicId": str(i),
                "name": f"Café {i}",
                "reviewedOn": "2026-02-03",
                "website": "https://cafe.example",
            }
            for i in range(1, notes + 1)
        ]
        self.queries: list[str] = []

    def _find(self, rows: list[dict]):
        def resolve(_info, limit: int = 100, offset: int = 0, orderBy=None):
            return rows[offset : offset + limit]

        return resolve

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Token {TOKEN}"
        body = json.loads(request.content)
        self.queries.append(" ".join(body["query"].split()))
        root = {"findArticles": self._find(self.articles), "findCafeNoteses": self._find(self.notes)}
        result = graphql_sync(SCHEMA, body["query"], root_value=root)
        payload = {"data": result.data}
        if result.errors:
            payload["errors"] = [{"message": e.message} for e in result.errors]
        return httpx.Response(200, json=payload)


def make_client(**kwargs) -> FiberyClient:
    connection = Connection(fibery_url=URL, space="Knowledge Base", token=TOKEN)
    kwargs.setdefault("requests_per_second", 3)
    kwargs.setdefault("backoff", 0.0)
    return FiberyClient(connection=connection, **kwargs)


@pytest.fixture
def fibery():
    fake = FakeFiberyGraphQL()
    with respx.mock(assert_all_called=False) as mock:
        mock.post(ENDPOINT).mock(side_effect=fake)
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(404, text="Not found"))
        yield fake, mock


def test_discovers_databases_fields_and_kinds_by_introspection(fibery) -> None:
    workspace = make_client(requests_per_second=100).fetch_workspace()
    dbs = {db.key: db for db in workspace.databases}
    assert set(dbs) == {"Article", "CafeNotes"}
    assert dbs["CafeNotes"].query == "findCafeNoteses"  # taken from introspection, not pluralised
    assert dbs["CafeNotes"].title == "Cafe Notes"
    kinds = {f.key: f.kind for f in dbs["Article"].fields}
    assert kinds == {
        "body": FieldKind.RICH_TEXT,
        "state": FieldKind.STATE,
        "tags": FieldKind.MULTI_SELECT,
        "note": FieldKind.RELATION,
        "notes": FieldKind.COLLECTION,
        "views": FieldKind.NUMBER,
        "published": FieldKind.BOOLEAN,
        "link": FieldKind.URL,
        "files": FieldKind.FILES,
    }
    assert dbs["Article"].field("note").target == "CafeNotes"
    # Without the REST schema, text kinds are inferred from the values.
    assert {f.key: f.kind for f in dbs["CafeNotes"].fields} == {"reviewedOn": FieldKind.DATE, "website": FieldKind.URL}
    # A site needs the HTML only: Markdown is not asked for (``gen segments`` asks for it).
    assert dbs["Article"].entities[0].values["body"] == {"md": "", "html": "<h1>A1</h1>"}
    assert dbs["Article"].entities[0].values["note"] == {"id": "n-1"}


def test_paginates_with_one_request_per_page_and_rich_text_inline(fibery) -> None:
    fake, _ = fibery
    fake.articles = [article(i) for i in range(1, 8)]
    client = make_client(page_size=3, requests_per_second=100)
    workspace = client.fetch_workspace()
    articles = workspace.database("Article")
    assert [e.public_id for e in articles.entities] == [str(i) for i in range(1, 8)]
    pages = [q for q in fake.queries if "findArticles" in q]
    assert len(pages) == 3  # ⌈7 / 3⌉: no per-entity requests
    assert all("body { html }" in q and "orderBy: { publicId: ASC }" in q for q in pages)
    # 1 introspection + 1 REST schema + 3 article pages + 1 notes page
    assert client.stats.requests == 6


def test_an_exact_multiple_of_the_page_size_costs_no_extra_request(fibery) -> None:
    fake, _ = fibery
    fake.articles = [article(i) for i in range(1, 7)]
    workspace = make_client(page_size=3, requests_per_second=100).fetch_workspace()
    assert len(workspace.database("Article").entities) == 6
    assert len([q for q in fake.queries if "findArticles" in q]) == 2  # ⌈6 / 3⌉, not 3


def test_select_skips_databases_before_fetching(fibery) -> None:
    fake, _ = fibery
    workspace = make_client(requests_per_second=100).fetch_workspace(
        select=lambda dbs: [d for d in dbs if d.key == "CafeNotes"]
    )
    assert not any("findArticles" in q for q in fake.queries)
    # A database not selected is still described (publish rules check names against the
    # whole space), but has no entity.
    assert [db.key for db in workspace.databases] == ["Article", "CafeNotes"]
    assert workspace.database("Article").entities == [] and workspace.database("Article").fields


def test_rest_schema_gives_real_titles_and_kinds() -> None:
    fake = FakeFiberyGraphQL()
    rest = {
        "fibery/types": [
            {
                "fibery/name": "Knowledge Base/Café Notes",
                "fibery/meta": {"fibery/domain?": True},
                "fibery/fields": [
                    {"fibery/name": "Knowledge Base/Reviewed on", "fibery/type": "fibery/date"},
                    {"fibery/name": "Knowledge Base/Website", "fibery/type": "fibery/url"},
                ],
            },
            {
                "fibery/name": "Knowledge Base/Status_Café Notes",
                "fibery/meta": {"fibery/domain?": True, "fibery/enum?": True},
            },
        ]
    }
    with respx.mock as mock:
        mock.post(ENDPOINT).mock(side_effect=fake)
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(200, json=rest))
        workspace = make_client(requests_per_second=100).fetch_workspace()
    notes = workspace.database("CafeNotes")
    assert notes.title == "Café Notes"
    assert notes.web_name == "Caf%C3%A9_Notes"
    assert [(f.title, f.kind) for f in notes.fields] == [("Reviewed on", FieldKind.DATE), ("Website", FieldKind.URL)]


@pytest.mark.parametrize(
    ("status", "fragment"),
    [(401, "rejected the token (401"), (404, "space 'Knowledge Base' not found"), (500, "HTTP 500")],
)
def test_http_errors_are_one_clear_line_without_token(status: int, fragment: str) -> None:
    with respx.mock as mock:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(status, text="Unauthorized"))
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(status))
        with pytest.raises(FiberyError) as caught:
            make_client(requests_per_second=100).fetch_workspace()
    message = caught.value.format_message()
    assert fragment in message
    assert "\n" not in message and TOKEN not in message


def test_429_is_retried_honouring_retry_after(fibery) -> None:
    fake, mock = fibery
    mock.post(ENDPOINT).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.2"}, text="Too Many Requests"), *[fake] * 10]
    )
    client = make_client(requests_per_second=100)
    started = time.monotonic()
    client.fetch_workspace()
    assert time.monotonic() - started >= 0.2
    assert client.stats.retries == 1 and client.stats.statuses[429] == 1


def test_persistent_429_fails_after_the_retries() -> None:
    with respx.mock as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(429, text="Too Many Requests"))
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(404))
        with pytest.raises(FiberyError, match=r"kept rate-limiting \(429\)"):
            make_client(retries=2, requests_per_second=100).fetch_workspace()
    assert route.call_count == 3


def test_502_and_timeouts_are_retried(fibery) -> None:
    fake, mock = fibery
    mock.post(ENDPOINT).mock(side_effect=[httpx.Response(502), httpx.ReadTimeout("slow"), *[fake] * 10])
    client = make_client(requests_per_second=100)
    assert len(client.fetch_workspace().databases) == 2
    assert client.stats.retries == 2


def test_graphql_errors_show_the_first_message() -> None:
    with respx.mock as mock:
        mock.post(ENDPOINT).mock(
            return_value=httpx.Response(200, json={"errors": [{"message": "Boom"}, {"message": "x"}]})
        )
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(404))
        with pytest.raises(FiberyError, match=r"GraphQL error while reading the schema: Boom$"):
            make_client(requests_per_second=100).fetch_workspace()


def test_invalid_json_is_a_clear_error() -> None:
    with respx.mock as mock:
        mock.post(ENDPOINT).mock(return_value=httpx.Response(200, text='{"data": {"__sch'))
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(404))
        with pytest.raises(FiberyError, match="invalid answer"):
            make_client(requests_per_second=100).fetch_workspace()


def test_unreachable_host_is_a_clear_error() -> None:
    with respx.mock as mock:
        mock.post(ENDPOINT).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
        mock.get(f"{URL}/api/schema").mock(side_effect=httpx.ConnectError("refused"))
        message = "cannot reach Fibery at https://acme.fibery.io: Connection refused"
        with pytest.raises(FiberyError, match=re.escape(message)):
            make_client(requests_per_second=100).fetch_workspace()


def test_malformed_entity_data_is_a_clear_error(fibery) -> None:
    fake, _ = fibery
    fake.articles = [{"name": "no id"}]
    with pytest.raises(FiberyError, match=r"malformed data from Fibery: an entity of Article has no id"):
        make_client(requests_per_second=100).fetch_workspace()


def test_rate_limiter_spaces_requests() -> None:
    import asyncio

    async def five_starts() -> list[float]:
        limiter, starts = RateLimiter(3.0), []
        for _ in range(5):
            await limiter.wait()
            starts.append(time.monotonic())
        return starts

    starts = asyncio.run(five_starts())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 3
    assert starts[3] - starts[0] > 1.0  # never 4 starts inside one second


def test_rate_limiter_counts_from_starts_not_answers() -> None:
    """Slow answers do not hold the next start back (the 4th starts ~1.06 s after the 1st,
    before any answer), but at most ``concurrency`` requests are in flight."""
    import asyncio

    async def six_slow_requests() -> list[float]:
        limiter, starts = RateLimiter(3.0, concurrency=4), []

        async def request() -> None:
            slot = await limiter.acquire()
            starts.append(time.monotonic())
            await asyncio.sleep(1.6)
            limiter.release(slot)

        await asyncio.gather(*(request() for _ in range(6)))
        return sorted(starts)

    starts = asyncio.run(six_slow_requests())
    assert all(b - a >= RateLimiter.WINDOW for a, b in zip(starts, starts[3:], strict=False))
    assert starts[3] - starts[0] < 1.6  # started before the first answer came
    assert starts[4] - starts[0] >= 1.6  # the 5th waited for an answer: 4 in flight at most


def test_retry_delay_reads_retry_after_seconds_and_dates() -> None:
    assert retry_delay(httpx.Response(429, headers={"Retry-After": "3"}), 1, 1.0) == 3.0
    assert retry_delay(httpx.Response(429), 3, 1.0) == 4.0
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_delay(httpx.Response(429, headers={"Retry-After": date}), 1, 1.0) == 0.0


def test_each_page_of_entities_is_handed_over_as_it_arrives(fibery) -> None:
    """The source cleans rich text while the client waits for its next slot (issue 6)."""
    fake, _ = fibery
    fake.articles = [article(i) for i in range(1, 8)]
    client = make_client(page_size=3, requests_per_second=100)
    arrived: list[tuple[str, list[str]]] = []
    client.on_entities = lambda db, entities: arrived.append((db.key, [e.public_id for e in entities]))
    client.fetch_workspace()
    assert [ids for key, ids in arrived if key == "Article"] == [["1", "2", "3"], ["4", "5", "6"], ["7"]]


def test_the_fibery_source_cleans_rich_text_during_the_fetch(fibery) -> None:
    from generator.fields import clean_html
    from generator.sources import FiberySource

    fake, _ = fibery
    fake.articles = [article(i) for i in range(1, 4)]
    connection = Connection(fibery_url=URL, space="Knowledge Base", token=TOKEN)
    FiberySource.from_config(connection, SiteConfig(requests_per_second=3)).load()
    misses = clean_html.cache_info().misses
    for i in range(1, 4):
        clean_html(article(i)["body"]["html"])  # what rendering asks for: already done
    assert clean_html.cache_info().misses == misses


def test_a_workspace_repr_names_it_without_listing_its_entities() -> None:
    """``asyncio.run`` formats the fetch's result when it ends (Python 3.11, 3.12): a repr
    listing every entity cost 80 MB of peak memory at 10,000 entities."""
    from generator.sources import DemoSource

    workspace = DemoSource().load()
    text = repr(workspace)
    assert text.startswith("Workspace(fibery_url='https://demo.fibery.io'") and "entities=33" in text
    assert len(text) < 300 and not any(e.name in text for db in workspace.databases for e in db.entities)
