"""The client against the schemas a live Fibery served (``shared/fibery-real/``), HTTP mocked
by respx: names, kinds, nested-list limits, paging and errors as Fibery really has them.

The SDL files are served verbatim: graphql-core builds them and executes each query the
client sends, so the client's documents are validated against the real shape. Only the rows
are ours; nested lists are capped at 100 when no ``limit`` is given, as Fibery caps them.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import respx
from graphql import GraphQLSchema, build_schema, graphql_sync

from generator.config import Connection, Secret
from generator.errors import FiberyError
from generator.fibery import FiberyClient
from generator.fibery.names import database_title, field_rest_name, field_title, strip_space_prefix, type_rest_name
from generator.fibery.schema import RestSchema, discover
from generator.fibery.sync import MAX_ROWS
from generator.fibery.transport import retry_delay, server_time
from generator.model import FieldKind, referenced_files

from .conftest import TOKEN


def _shared() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "shared", here.parents[1].parent / "shared"):
        if (candidate / "fibery-real").is_dir():
            return candidate / "fibery-real"
    pytest.skip("shared/fibery-real/ is not beside the project")


URL = "https://everything.fibery.io"
ENDPOINT = f"{URL}/api/graphql/space/Things"


def sdl(name: str) -> GraphQLSchema:
    return build_schema((_shared() / name).read_text(encoding="utf-8"))


def uuid(n: int, kind: str = "0") -> str:
    return f"{kind * 8}-0000-4000-8000-{n:012d}"


def row(n: int, **values: Any) -> dict[str, Any]:
    return {
        "id": uuid(n),
        "publicId": str(n),
        "name": f"Entity {n}",
        "creationDate": f"2025-01-01T00:00:{n % 60:02d}.000Z",
        "modificationDate": "2025-02-01T00:00:00.000Z",
        "createdBy": {"name": "Ada Lovelace", "email": "ada@example.org"},
        **values,
    }


class RealFibery:
    """Execute the client's requests against a real SDL, with ``rows`` per root query."""

    def __init__(self, schema: GraphQLSchema, rows: dict[str, list[dict[str, Any]]], *, cap: int | None = None):
        self.schema = schema
        self.rows = rows
        self.cap = cap
        self.queries: list[str] = []
        for type_ in schema.type_map.values():
            for field_ in getattr(type_, "fields", {}).values() if hasattr(type_, "interfaces") else ():
                if "limit" in field_.args and type_ is not schema.query_type:
                    field_.resolve = self._nested

    @staticmethod
    def _nested(obj: dict[str, Any], info: Any, limit: int = 100, **_: Any) -> list[Any]:
        """Fibery's inner lists: 100 items unless ``limit`` says otherwise, and no offset."""
        return (obj.get(info.field_name) or [])[:limit]

    def _find(self, name: str):
        def resolve(info: Any, limit: int = 100, offset: int = 0, **_: Any) -> list[Any]:
            if self.cap is not None:
                limit = min(limit, self.cap)
            return self.rows.get(name, [])[offset : offset + limit]

        return resolve

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.queries.append(body["query"])
        assert self.schema.query_type is not None
        root = {name: self._find(name) for name in self.schema.query_type.fields}
        result = graphql_sync(self.schema, body["query"], root_value=root, variable_values=body.get("variables"))
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [{"message": e.message} for e in result.errors]
        return httpx.Response(200, json=payload, headers={"Date": "Tue, 01 Dec 2026 10:00:00 GMT"})


def client(**kwargs: Any) -> FiberyClient:
    kwargs.setdefault("requests_per_second", 100)
    kwargs.setdefault("backoff", 0.0)
    return FiberyClient(connection=Connection(fibery_url=URL, space="Things", token=Secret(TOKEN)), **kwargs)


def serve(fake: Any, rest: dict[str, Any] | None = None) -> respx.MockRouter:
    mock = respx.mock(assert_all_called=False)
    mock.post(ENDPOINT).mock(side_effect=fake)
    schema_answer = httpx.Response(200, json=rest) if rest else httpx.Response(404, text="Not found")
    mock.get(f"{URL}/api/schema").mock(return_value=schema_answer)
    return mock


# --------------------------------------------------------------------------- names


def test_rest_names_come_from_descriptions() -> None:
    assert type_rest_name("Available fields and relations for Things/Event") == "Things/Event"
    assert type_rest_name("Available fields and relations for workflow/state_Things/Event") == (
        "workflow/state_Things/Event"
    )
    assert type_rest_name("Filter for Things/Event") is None
    assert field_rest_name("Things/Things. By default, the inner list is limited by 100 records") == "Things/Things"
    assert field_rest_name("fibery/created-by") == "fibery/created-by"
    assert field_rest_name(None) is None


@pytest.mark.parametrize(
    ("rest_name", "title"),
    [
        ("Things/Author", "Author"),
        ("Things/name", "Name"),
        ("Things/allDay", "All Day"),
        ("fibery/created-by", "Created By"),
        ("Tasks/Actual~Finish", "Actual Finish"),
        ("Ideation/Number of Recent Cases", "Number of Recent Cases"),
        ("assignments/assignees", "Assignees"),
    ],
)
def test_field_titles_are_fiberys(rest_name: str, title: str) -> None:
    assert field_title(rest_name) == title


def test_database_titles_and_the_fallback_without_descriptions() -> None:
    assert database_title("Knowledge Base/Process Segments") == "Process Segments"
    assert database_title("Collaboration~Documents/Document") == "Document"
    assert strip_space_prefix("ThingsEvent", "Things") == "Event"
    assert strip_space_prefix("KnowledgeBaseProcessSegments", "Knowledge Base") == "Process Segments"


# --------------------------------------------------------------------------- discovery


def test_discovery_of_the_real_things_space() -> None:
    plans = {p.database.key: p for p in discover(sdl("things.graphql"), "Things", RestSchema(), ("html",))}
    titles = {key: p.database.title for key, p in plans.items()}
    assert titles == {
        "ThingsDocument": "Document",
        "ThingsEmail": "Email",
        "ThingsEvent": "Event",
        "ThingsIdea": "Idea",
        "ThingsPerson": "Person",
        "ThingsPost": "Post",
        "ThingsThing": "Thing",
    }
    event = plans["ThingsEvent"]
    assert event.database.query == "findEvents"
    assert plans["ThingsPerson"].database.query == "findPeople"
    assert (event.database.rest_name, event.database.web_name) == ("Things/Event", "Event")
    fields = {p.field.key: p for p in event.fields}
    assert "createdBy" not in fields and "rank" not in fields  # never published
    assert fields["state"].field.kind is FieldKind.STATE and fields["state"].selection == "state { name final }"
    assert fields["description"].selection == "description { html }"  # only the format pages use
    assert fields["allDay"].field.title == "All Day"
    assert "email" not in event.selection


def test_nested_lists_ask_for_a_limit_and_cross_space_relations_are_relations() -> None:
    plans = {p.database.key: p for p in discover(sdl("things_relations.graphql"), "Things", RestSchema(), ("html",))}
    assert set(plans) == {"ThingsThing", "ThingsType"}  # IdeationIdea has no find… here
    things = next(p for p in plans["ThingsType"].fields if p.field.key == "things")
    assert things.field.kind is FieldKind.COLLECTION and things.field.target == "ThingsThing"
    assert things.selection == "things(limit: 1000) { id }" and things.volatile
    thing = {p.field.key: p.field for p in plans["ThingsThing"].fields}
    assert (thing["idea"].kind, thing["idea"].target) == (FieldKind.RELATION, "IdeationIdea")
    assert (thing["type"].kind, thing["type"].target) == (FieldKind.RELATION, "ThingsType")


def test_rest_kinds_join_by_rest_name_and_undescribed_fields_are_inferred() -> None:
    rest = {
        "fibery/types": [
            {
                "fibery/name": "Things/Event",
                "fibery/fields": [
                    {"fibery/name": "Things/url", "fibery/type": "fibery/text", "fibery/meta": {"ui/type": "url"}},
                    {"fibery/name": "Things/source", "fibery/type": "fibery/url"},
                    {"fibery/name": "Things/Start", "fibery/type": "fibery/date-time"},
                    {"fibery/name": "Things/Title", "fibery/type": "fibery/text"},
                ],
            }
        ]
    }
    fake = RealFibery(
        sdl("things.graphql"),
        {
            "findEvents": [
                row(i, url="not a url", title="https://x.example", contacts="https://c.example") for i in (1, 2)
            ]
        },
    )
    with serve(fake, rest):
        workspace = client().fetch_workspace()
    event = {f.key: f.kind for f in workspace.database("ThingsEvent").fields}
    assert event["url"] is FieldKind.URL  # REST: text shown as a URL, whatever the values
    assert event["source"] is FieldKind.URL  # the deprecated fibery/url
    assert event["start"] is FieldKind.DATETIME
    assert event["title"] is FieldKind.TEXT  # REST says plain text: values do not overrule it
    assert event["contacts"] is FieldKind.URL  # REST does not describe it: inferred


# --------------------------------------------------------------------------- fetching


def test_a_related_list_of_150_is_complete() -> None:
    types = [row(1, things=[{"id": uuid(n, "1")} for n in range(150)])]
    things = [{**row(n), "id": uuid(n, "1"), "type": {"id": uuid(1)}} for n in range(150)]
    fake = RealFibery(sdl("things_relations.graphql"), {"findTypes": types, "findThings": things})
    with serve(fake):
        workspace = client().fetch_workspace()
    listed = workspace.database("ThingsType").entities[0].values["things"]
    assert len(listed) == 150 and {item["id"] for item in listed} == {t["id"] for t in things}


def test_a_list_at_the_limit_with_no_other_side_is_logged(caplog) -> None:
    types = [row(1, things=[{"id": uuid(n, "1")} for n in range(1000)])]
    fake = RealFibery(sdl("things_relations.graphql"), {"findTypes": types, "findThings": []})
    with serve(fake):
        client().fetch_workspace(select=lambda dbs: [d for d in dbs if d.key == "ThingsType"])
    assert "may be cut short" in caplog.text


def test_paging_does_not_stop_at_a_silent_cap_on_a_round_number() -> None:
    events = [row(i) for i in range(1, 251)]
    fake = RealFibery(sdl("things.graphql"), {"findEvents": events}, cap=100)
    with serve(fake):
        workspace = client(page_size=500).fetch_workspace(select=lambda dbs: [d for d in dbs if d.key == "ThingsEvent"])
    assert len(workspace.database("ThingsEvent").entities) == 250


def test_no_request_asks_for_more_than_3000_rows() -> None:
    fake = RealFibery(sdl("things.graphql"), {"findEvents": [row(i) for i in range(1, 5)]})
    with serve(fake):
        client(page_size=5000).fetch_workspace()
    limits = [int(n) for q in fake.queries for n in re.findall(r"limit: (\d+), offset", q)]
    assert limits and max(limits) <= MAX_ROWS


def test_a_page_that_times_out_is_asked_again_at_half_the_size() -> None:
    events = [row(i) for i in range(1, 41)]
    fake = RealFibery(sdl("things.graphql"), {"findEvents": events})
    sizes: list[int] = []

    def slow_when_large(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        if "findEvents(limit:" in query:
            size = int(query.split("findEvents(limit: ")[1].split(",")[0])
            sizes.append(size)
            if size > 11:
                raise httpx.ReadTimeout("slow", request=request)
        return fake(request)

    with serve(slow_when_large):
        workspace = client(page_size=40, retries=5).fetch_workspace(
            select=lambda dbs: [d for d in dbs if d.key == "ThingsEvent"]
        )
    assert len(workspace.database("ThingsEvent").entities) == 40
    assert sizes[:3] == [41, 21, 11]  # halved, not the same request five times


def test_no_email_is_selected_or_kept() -> None:
    fake = RealFibery(sdl("things.graphql"), {"findEvents": [row(1)]})
    with serve(fake):
        workspace = client().fetch_workspace()
    pages = [q for q in fake.queries if "IntrospectionQuery" not in q]
    assert pages and not any("createdBy" in q for q in pages)  # the creator is not read at all
    assert b"ada@example.org" not in msgspec.json.encode(workspace)


def test_users_are_people_by_name() -> None:
    schema = sdl("things.graphql")
    rest = {"fibery/types": [{"fibery/name": "Things/Event", "fibery/fields": []}]}
    plans = {p.database.key: p for p in discover(schema, "Things", RestSchema(rest), ("html",))}
    assert all(
        f.kind is not FieldKind.SELECT or f.key != "createdBy" for p in plans.values() for f in p.database.fields
    )
    people = build_schema(
        "type Query { findTasks(limit: Int, offset: Int): [SpaceTask] }"
        " type FiberyUser { id: ID name: String email: String }"
        ' """Available fields and relations for Space/Task""" type SpaceTask { id: ID publicId: String name: String'
        " creationDate: String modificationDate: String assignees(limit: Int): [FiberyUser] owner: FiberyUser }"
    )
    task = discover(people, "Space", RestSchema(), ("html",))[0]
    fields = {p.field.key: p for p in task.fields}
    assert fields["assignees"].field.kind is FieldKind.USERS
    assert fields["assignees"].selection == "assignees(limit: 1000) { name }"
    assert (fields["owner"].field.kind, fields["owner"].selection) == (FieldKind.USER, "owner { name }")


def test_only_this_workspaces_files_are_referenced() -> None:
    from generator.model import Database, Entity, Field

    html = (
        '<img src="https://everything.fibery.io/api/files/own-1#width=10">'
        '<img src="/api/files/own-2"><img src="https://other.fibery.io/api/files/theirs">'
    )
    db = Database(
        key="ThingsPost",
        title="Post",
        query="findPosts",
        web_name="Post",
        fields=[Field(key="body", title="Body", kind=FieldKind.RICH_TEXT)],
        entities=[Entity(id="e", public_id="1", name="P", values={"body": {"md": "", "html": html}})],
    )
    assert referenced_files([db], URL) == ["own-1", "own-2"]


# --------------------------------------------------------------------------- errors


def test_a_space_with_only_me_fails_clearly() -> None:
    fake = RealFibery(build_schema("type Query { me: FiberyUser } type FiberyUser { id: ID name: String }"), {})
    with serve(fake), pytest.raises(FiberyError) as error:
        client().fetch_workspace()
    message = error.value.format_message()
    assert error.value.exit_code == 3
    assert "space 'Things'" in message and f"{URL}/api/graphql" in message and "become _" in message


def test_a_500_json_body_gives_its_message() -> None:
    body = {"name": "entity.error/schema-type-not-found", "message": "Type Things/Nope was not found", "data": {}}
    with serve(lambda request: httpx.Response(500, json=body)), pytest.raises(FiberyError) as error:
        client(retries=0).fetch_workspace()
    assert "Type Things/Nope was not found" in error.value.format_message()


def test_a_429_mentions_the_workspace_wide_limit() -> None:
    with serve(lambda request: httpx.Response(429, text="Too Many Requests")), pytest.raises(FiberyError) as error:
        client(retries=1).fetch_workspace()
    assert "7/s for the whole workspace" in error.value.format_message()


def test_a_connection_reset_is_retried_and_named() -> None:
    fake = RealFibery(sdl("things.graphql"), {"findEvents": [row(1)]})
    calls = {"n": 0}

    def reset_once(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        return fake(request)

    with serve(reset_once):
        assert client().fetch_workspace().database("ThingsEvent") is not None

    def reset_always(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("")

    with serve(reset_always), pytest.raises(FiberyError) as error:
        client(retries=1).fetch_workspace()
    assert "broke off its answer" in error.value.format_message()


def test_a_trickling_answer_hits_the_request_deadline() -> None:
    class Trickle(httpx.AsyncByteStream):
        async def __aiter__(self):
            import asyncio

            for _ in range(100):
                await asyncio.sleep(0.05)
                yield b" "

    started = time.monotonic()
    with serve(lambda request: httpx.Response(200, stream=Trickle())), pytest.raises(FiberyError) as error:
        client(timeout=0.3, retries=1).fetch_workspace()
    assert time.monotonic() - started < 2.5  # about timeout × (retries + 1), not 5 s of trickle
    assert "did not answer within 0.3 s" in error.value.format_message()


def test_retry_after_is_capped_and_a_date_without_zone_is_no_date(caplog) -> None:
    assert retry_delay(httpx.Response(429, headers={"Retry-After": "100000"}), 1, 1.0) == 60.0
    assert "waiting 60 s" in caplog.text
    assert server_time({"date": "Tue, 01 Dec 2026 10:00:00 -0000"}) is None
    assert server_time({"date": "Tue, 01 Dec 2026 10:00:00 GMT"}) is not None
    assert server_time({"date": "garbage"}) is None


def test_file_downloads_follow_redirects_without_the_token_leaving_the_workspace() -> None:
    post = row(1, description={"html": f'<img src="{URL}/api/files/sec-1">'})
    fake = RealFibery(sdl("things.graphql"), {"findPosts": [post]})
    with serve(fake) as mock:
        mock.get(f"{URL}/api/files/sec-1").mock(
            return_value=httpx.Response(302, headers={"Location": "https://files.example/blob/sec-1"})
        )
        elsewhere = mock.get("https://files.example/blob/sec-1").mock(
            return_value=httpx.Response(
                200, content=b"\x89PNG\r\n\x1a\n" + b"0" * 64, headers={"Content-Type": "image/png"}
            )
        )
        reader = client()
        workspace = reader.fetch_workspace()
        assert workspace.files == {}  # the read downloads nothing: the files step does, after the rules
        files = reader.download_files(workspace.referenced_files())
    assert "sec-1" in files
    assert elsewhere.called and "authorization" not in elsewhere.calls.last.request.headers
