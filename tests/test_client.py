"""Unit tests of the Fibery client, against the one fake Fibery (``tests/fake_fibery.py``).

The fake serves a small SDL of Fibery's shape (``FakeFibery.from_sdl``): graphql-core
executes each query, so the client's documents are validated for real; it answers
in-process, through ``fake.transport()`` (an ``httpx.MockTransport``) or as a respx side
effect. Failures of the transport itself are mocked with respx.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import httpx
import pytest
import respx

from generator.config import Connection, Secret, SiteConfig
from generator.errors import FiberyError
from generator.fibery import FiberyClient, RateLimiter, retry_delay
from generator.model import FieldKind

from . import fake_fibery as ff
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


def rows(articles: int = 3, notes: int = 1) -> dict[str, list[dict]]:
    """The space's rows by type: ``articles`` articles and ``notes`` café notes."""
    return {
        "Article": [article(i) for i in range(1, articles + 1)],
        "CafeNotes": [
            {"id": f"n-{i}", "publicId": str(i), "name": f"Café {i}", "reviewedOn": "2026-02-03",
             "website": "https://cafe.example"}
            for i in range(1, notes + 1)
        ],
    }  # fmt: skip


def no_rest_schema(ctx: ff.FaultContext) -> ff.Response | None:
    """``GET /api/schema`` fails: kinds are inferred from the values."""
    return ff.Response.text(404, "Not found") if ctx.path == "/api/schema" else None


def graphql_answers(*answers: ff.Response | Exception) -> ff.Fault:
    """Answer the next GraphQL requests with ``answers`` in turn (an exception is raised, as a
    failed connection would); then let the fake answer."""
    pending = list(answers)

    def fault(ctx: ff.FaultContext) -> ff.Response | None:
        if not ctx.is_graphql or not pending:
            return None
        answer = pending.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return fault


def fake_fibery(*, rest_schema: dict[str, Any] | None = None, **counts: int) -> ff.FakeFibery:
    """The test space in the fake, without ``/api/schema`` unless ``rest_schema`` is given."""
    fake = ff.FakeFibery.from_sdl(
        SDL, space="Knowledge Base", rows=rows(**counts), rest_schema=rest_schema, token=TOKEN, rate_limit=None
    )
    if rest_schema is None:
        fake.faults.append(no_rest_schema)
    return fake


def make_client(fake: ff.FakeFibery | None = None, **kwargs) -> FiberyClient:
    """A client of the test space; with ``fake``, talking to it in-process."""
    connection = Connection(fibery_url=URL, space="Knowledge Base", token=Secret(TOKEN))
    kwargs.setdefault("requests_per_second", 3)
    kwargs.setdefault("backoff", 0.0)
    if fake is not None:
        kwargs.setdefault("transport", fake.transport())
    return FiberyClient(connection=connection, **kwargs)


@pytest.fixture
def fibery() -> ff.FakeFibery:
    return fake_fibery()


def test_discovers_databases_fields_and_kinds_by_introspection(fibery) -> None:
    workspace = make_client(fibery, requests_per_second=100).fetch_workspace()
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
    fibery.update_rows(rows(articles=7))
    client = make_client(fibery, page_size=3, requests_per_second=100)
    workspace = client.fetch_workspace()
    articles = workspace.database("Article")
    assert [e.public_id for e in articles.entities] == [str(i) for i in range(1, 8)]
    pages = [q for q in fibery.stats.queries if "findArticles" in q]
    assert len(pages) == 3  # ⌈7 / 3⌉: no per-entity requests
    assert all("body { html }" in q and "orderBy: { publicId: ASC }" in q for q in pages)
    # 1 introspection + 1 REST schema + 3 article pages + 1 notes page
    assert client.stats.requests == 6


def test_an_exact_multiple_of_the_page_size_costs_no_extra_request(fibery) -> None:
    fibery.update_rows(rows(articles=6))
    workspace = make_client(fibery, page_size=3, requests_per_second=100).fetch_workspace()
    assert len(workspace.database("Article").entities) == 6
    assert len([q for q in fibery.stats.queries if "findArticles" in q]) == 2  # ⌈6 / 3⌉, not 3


def test_select_skips_databases_before_fetching(fibery) -> None:
    workspace = make_client(fibery, requests_per_second=100).fetch_workspace(
        select=lambda dbs: [d for d in dbs if d.key == "CafeNotes"]
    )
    assert not any("findArticles" in q for q in fibery.stats.queries)
    # A database not selected is still described (publish rules check names against the
    # whole space), but has no entity.
    assert [db.key for db in workspace.databases] == ["Article", "CafeNotes"]
    assert workspace.database("Article").entities == [] and workspace.database("Article").fields


def test_rest_schema_gives_real_titles_and_kinds() -> None:
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
    workspace = make_client(fake_fibery(rest_schema=rest), requests_per_second=100).fetch_workspace()
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
    fibery.faults.append(graphql_answers(ff.Response.text(429, "Too Many Requests", {"Retry-After": "0.2"})))
    client = make_client(fibery, requests_per_second=100)
    started = time.monotonic()
    client.fetch_workspace()
    assert time.monotonic() - started >= 0.2
    assert client.stats.retries == 1 and client.stats.statuses[429] == 1
    limiter = client._polite._limiter
    assert limiter.window == pytest.approx(RateLimiter.WINDOW * 1.1)  # one 429: wider from now on
    assert limiter.interval == pytest.approx(1.1 / 100)


def test_the_rate_limiter_widens_its_window_after_a_429_up_to_a_limit() -> None:
    limiter = RateLimiter(3.0)
    limiter.slow_down()
    assert (limiter.window, limiter.interval) == (pytest.approx(1.166), pytest.approx(1.1 / 3))
    for _ in range(20):
        limiter.slow_down()
    assert limiter.window == RateLimiter.WIDEST
    assert limiter.interval == pytest.approx(RateLimiter.WIDEST / RateLimiter.WINDOW / 3)


def test_persistent_429_fails_after_the_retries() -> None:
    with respx.mock as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(429, text="Too Many Requests"))
        mock.get(f"{URL}/api/schema").mock(return_value=httpx.Response(404))
        with pytest.raises(FiberyError, match=r"kept rate-limiting \(429\)"):
            make_client(retries=2, requests_per_second=100).fetch_workspace()
    assert route.call_count == 3


def test_502_and_timeouts_are_retried(fibery) -> None:
    fibery.faults.append(graphql_answers(ff.Response.text(502, "Bad Gateway"), httpx.ReadTimeout("slow")))
    client = make_client(fibery, requests_per_second=100)
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
    fibery.update_rows({**rows(), "Article": [{"name": "no id"}]})
    with pytest.raises(FiberyError, match=r"malformed data from Fibery: an entity of Article has no id"):
        make_client(fibery, requests_per_second=100).fetch_workspace()


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


def test_rate_limiter_serves_one_event_loop_after_another() -> None:
    """A read and then its file downloads run in two ``asyncio.run``s through one limiter:
    its lock must not be bound to the first loop, and its spacing spans both."""
    import asyncio

    limiter = RateLimiter(50.0)

    async def contended() -> list[float]:
        async def start() -> float:
            await limiter.wait()
            return time.monotonic()

        return list(await asyncio.gather(*(start() for _ in range(4))))

    first, second = asyncio.run(contended()), asyncio.run(contended())
    starts = sorted(first + second)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= limiter.interval * 0.99


def test_a_read_downloads_no_file_and_the_files_step_does(fibery) -> None:
    png = "iVBORw0KGgoAAAAAAAAAAA=="  # the PNG signature and a few bytes
    fibery.update_rows(
        {**rows(), "Article": [{**article(1), "files": [{"id": "f", "secret": "sec-1", "name": "a.png",
                                                         "contentType": "image/png"}]}]},
        files={"sec-1": png},
    )  # fmt: skip
    client = make_client(fibery, requests_per_second=100)
    workspace = client.fetch_workspace()
    assert workspace.files == {} and not any(e.path.startswith("/api/files/") for e in fibery.stats.log)
    assert workspace.referenced_files() == ["sec-1"]
    assert client.download_files(workspace.referenced_files()) == {"sec-1": png}
    assert [e.path for e in fibery.stats.log if e.path.startswith("/api/files/")] == ["/api/files/sec-1"]
    assert client.download_files([]) == {}


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
    fibery.update_rows(rows(articles=7))
    arrived: list[tuple[str, list[str]]] = []
    client = make_client(
        fibery,
        page_size=3,
        requests_per_second=100,
        on_entities=lambda db, entities: arrived.append((db.key, [e.public_id for e in entities])),
    )
    client.fetch_workspace()
    assert [ids for key, ids in arrived if key == "Article"] == [["1", "2", "3"], ["4", "5", "6"], ["7"]]


def test_the_fibery_source_cleans_rich_text_during_the_fetch(fibery, monkeypatch) -> None:
    from generator import text
    from generator.sources import FiberySource

    connection = Connection(fibery_url=URL, space="Knowledge Base", token=Secret(TOKEN))
    rich_text = text.RichText()  # the build's, handed to the source
    with respx.mock(assert_all_called=False) as mock:  # the source makes its own client: no transport to hand in
        mock.route(host="acme.fibery.io").mock(side_effect=fibery.httpx_handler)
        FiberySource.from_config(connection, SiteConfig(requests_per_second=3), rich_text=rich_text).load()
    cleaned: list[str] = []
    monkeypatch.setattr(text, "clean_html", lambda html: cleaned.append(html) or html)
    for i in range(1, 4):
        rich_text.clean(article(i)["body"]["html"])  # what rendering asks for: already done
    assert cleaned == []
    assert text.RichText().clean("<p>x</p>") == "<p>x</p>" and cleaned == ["<p>x</p>"]  # not shared


def test_a_workspace_repr_names_it_without_listing_its_entities() -> None:
    """``asyncio.run`` formats the fetch's result when it ends (Python 3.11, 3.12): a repr
    listing every entity cost 80 MB of peak memory at 10,000 entities."""
    from generator.sources import DemoSource

    workspace = DemoSource().load()
    text = repr(workspace)
    assert text.startswith("Workspace(fibery_url='https://demo.fibery.io'") and "entities=33" in text
    assert len(text) < 300 and not any(e.name in text for db in workspace.databases for e in db.entities)
