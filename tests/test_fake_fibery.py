"""Tests of the fake Fibery server itself (plain httpx + graphql-core, no client code)."""

from __future__ import annotations

import base64
import difflib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from graphql import build_client_schema, build_schema, get_introspection_query, print_schema, print_type

try:
    from tests import fake_fibery as ff
except ImportError:  # pragma: no cover - tests/ imported as a rootdir-less directory
    import fake_fibery as ff  # type: ignore[no-redef]

FakeFibery = ff.FakeFibery

TOKEN = "test-token"
AUTH = {"Authorization": f"Token {TOKEN}"}
PNG = b"\x89PNG\r\n\x1a\nfake-image-bytes"


def _snapshot() -> dict:
    """A small space: Company, Café Notes (rich text, state, select, files, relation) and Task."""
    companies = [
        {"id": f"c{i}", "public_id": str(i), "name": name, "creation_date": f"2024-01-0{i}T10:00:00.000Z",
         "modification_date": f"2024-02-0{i}T10:00:00.000Z",
         "values": {"website": f"https://{name.lower()}.example", "employees": emp}}
        for i, (name, emp) in enumerate([("Acme", 50), ("Globex", 7), ("Initech", None)], start=1)
    ]  # fmt: skip
    notes = [
        {"id": "n1", "public_id": "11", "name": "Opening", "creation_date": "2024-03-01T09:00:00.000Z",
         "modification_date": "2024-05-01T09:00:00.000Z",
         "values": {"body": {"md": "Hello **café**", "html": "<p>Hello <b>café</b> &amp; co</p>"},
                    "state": {"name": "Done"}, "company": {"id": "c1"}, "priority": {"name": "High"},
                    "tags": [{"name": "a"}, {"name": "b"}], "period": {"start": "2024-01-01", "end": "2024-01-31"},
                    "attachments": [{"secret": "sec-1", "name": "logo.png", "contentType": "image/png"}],
                    "rating": 4.5}},
        {"id": "n2", "public_id": "12", "name": "Menu", "creation_date": "2024-03-02T09:00:00.000Z",
         "modification_date": "2024-04-01T09:00:00.000Z",
         "values": {"body": None, "state": {"name": "Open"}, "company": {"id": "c2"}, "priority": None,
                    "tags": [], "attachments": [{"secret": "sec-2", "name": "menu.pdf", "contentType": ""}],
                    "rating": 3}},
        {"id": "n3", "public_id": "13", "name": "Zebra", "creation_date": "2024-03-03T09:00:00.000Z",
         "modification_date": "2024-06-01T09:00:00.000Z",
         "values": {"state": {"name": "Done"}, "company": None, "rating": None}},
    ]  # fmt: skip
    companies[0]["values"]["notes"] = [{"id": "n1"}, {"id": "n3"}]
    companies[1]["values"]["notes"] = [{"id": "n2"}]
    tasks = [
        {"id": f"t{i:03d}", "public_id": str(100 + i), "name": f"Task {i:03d}",
         "creation_date": f"2024-01-01T00:00:{i % 60:02d}.000Z", "modification_date": None,
         "values": {"effort": i % 7, "done": i % 2 == 0, "owner": f"u{i % 3}@example.com"}}
        for i in range(130)
    ]  # fmt: skip
    return {
        "version": 1,
        "fibery_url": "https://acme.fibery.io",
        "space": "Café Space",
        "databases": [
            {"key": "IGNORED_Company", "title": "Company", "query": "ignored", "web_name": "Company",
             "fields": [{"key": "website", "title": "Website", "kind": "url"},
                        {"key": "employees", "title": "Employees", "kind": "number"},
                        {"key": "notes", "title": "Notes", "kind": "collection", "target": "CafeKey"}],
             "entities": companies},
            {"key": "CafeKey", "title": "Café Notes", "query": "findWhatever", "web_name": "Cafe_Notes",
             "fields": [{"key": "body", "title": "Body", "kind": "rich_text"},
                        {"key": "state", "title": "State", "kind": "state"},
                        {"key": "company", "title": "Company", "kind": "relation", "target": "IGNORED_Company"},
                        {"key": "priority", "title": "Priority", "kind": "select"},
                        {"key": "tags", "title": "Tags", "kind": "multi_select"},
                        {"key": "period", "title": "Period", "kind": "date_range"},
                        {"key": "attachments", "title": "Attachments", "kind": "files"},
                        {"key": "rating", "title": "Star Rating", "kind": "number"}],
             "entities": notes},
            {"key": "T", "title": "Task", "query": "findTasks", "web_name": "Task",
             "fields": [{"key": "effort", "title": "Effort", "kind": "number"},
                        {"key": "done", "title": "Done?", "kind": "boolean"},
                        {"key": "owner", "title": "Owner Email", "kind": "email"}],
             "entities": tasks},
        ],
        "files": {"sec-1": base64.b64encode(PNG).decode(), "sec-2": base64.b64encode(b"%PDF-1.4").decode()},
    }  # fmt: skip


SNAPSHOT = _snapshot()


@pytest.fixture(scope="module")
def fake():
    """A shared fake without rate limit."""
    with FakeFibery(SNAPSHOT, rate_limit=None) as f:
        yield f


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def gql(client: httpx.Client, fake: FakeFibery, query: str, variables: dict | None = None, **kw) -> httpx.Response:
    """POST a GraphQL request with the default token."""
    headers = kw.pop("headers", AUTH)
    return client.post(fake.graphql_url, json={"query": query, "variables": variables}, headers=headers, **kw)


def data(resp: httpx.Response) -> dict:
    """The ``data`` of a successful GraphQL response."""
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]


# -- naming -----------------------------------------------------------------------------


def test_naming_rules():
    assert ff.pascal_case("Café Notes") == "CafeNotes"
    assert ff.pascal_case("Sub-bug") == "SubBug"
    assert ff.pascal_case("Định kỳ") == "DinhKy"
    assert ff.pascal_case("Knowledge Base/Process Segments") == "KnowledgeBaseProcessSegments"
    assert ff.type_name_of("workflow/state_Things/Event") == "WorkflowStateThingsEvent"
    assert ff.camel_case("Completion Date") == "completionDate"
    assert ff.camel_case("Done?") == "done"
    assert [ff.field_name_of(n) for n in ["Things/allDay", "fibery/created-by", "Tasks/Actual~Finish"]] == [
        "allDay", "createdBy", "actualFinish"]  # fmt: skip
    words = ["Company", "Hotfix", "Bug", "Day", "Match", "Wish", "CafeNotes", "Quiz", "Person", "SubBug",
             "ProcessSegments", "Equipment", "Status", "Child"]  # fmt: skip
    assert [ff.pluralize(w) for w in words] == [
        "Companies", "Hotfixes", "Bugs", "Days", "Matches", "Wishes", "CafeNotes", "Quizzes", "People", "SubBugs",
        "ProcessSegments", "Equipment", "Statuses", "Children"]  # fmt: skip
    names = ff.graphql_names(SNAPSHOT)
    assert names["Café Notes"] == (
        "CafeSpaceCafeNotes", "findCafeNotes",
        {"Attachments": "attachments", "Body": "body", "Company": "company", "Period": "period",
         "Priority": "priority", "Star Rating": "starRating", "Tags": "tags", "State": "state"},
    )  # fmt: skip
    assert list(names["Café Notes"][2]) == sorted(names["Café Notes"][2], key=lambda t: t == "State")  # by REST name
    assert names["Company"][:2] == ("CafeSpaceCompany", "findCompanies")
    assert names["Task"][2]["Owner Email"] == "ownerEmail"


def test_name_clashes_get_suffix():
    snap = {
        "space": "S",
        "databases": [
            {
                "key": "k",
                "title": "Thing",
                "fields": [
                    {"key": "a", "title": "Name", "kind": "text"},
                    {"key": "b", "title": "name", "kind": "text"},
                ],
                "entities": [],
            }
        ],
    }
    assert ff.graphql_names(snap)["Thing"][2] == {"Name": "name2", "name": "name3"}


# -- transport, auth, routing -----------------------------------------------------------


def test_auth(fake, client):
    q = {"query": "{me{email}}"}
    assert client.post(fake.graphql_url, json=q).status_code == 401
    wrong = client.post(fake.graphql_url, json=q, headers={"Authorization": "Token nope"})
    assert (wrong.status_code, wrong.text) == (401, "Unauthorized")
    assert wrong.headers["content-type"].startswith("text/plain")
    assert client.get(f"{fake.url}/api/schema").status_code == 401
    ok = client.post(fake.graphql_url, json=q, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.json() == {"data": {"me": {"email": "fake.user@example.com"}}}


def test_space_paths(fake, client):
    assert fake.graphql_url.endswith("/api/graphql/space/Caf%C3%A9_Space")
    q = {"query": "{me{email}}"}
    assert client.post(f"{fake.url}/api/graphql/space/Café_Space", json=q, headers=AUTH).status_code == 200
    assert client.post(f"{fake.url}/api/graphql/space/Caf%C3%A9%20Space", json=q, headers=AUTH).status_code == 200
    for bad in ["Nope", "café_Space", "Cafe_Space"]:  # by default: a schema with only `me`
        r = client.post(f"{fake.url}/api/graphql/space/{bad}", json=q, headers=AUTH)
        assert r.json() == {"data": {"me": {"email": "fake.user@example.com"}}}
        intro = client.post(f"{fake.url}/api/graphql/space/{bad}", json={"query": get_introspection_query()},
                            headers=AUTH)  # fmt: skip
        assert list(build_client_schema(data(intro)).query_type.fields) == ["me"]
        assert gql(client, fake, "{ findTasks(limit: 1) { id } }").status_code == 200  # the right space still works
    assert client.get(f"{fake.url}/api/nothing", headers=AUTH).status_code == 404


@pytest.mark.parametrize("mode", ["404", "500"])
def test_unknown_space_modes(client, mode):
    with FakeFibery(SNAPSHOT, rate_limit=None, unknown_space=mode) as f:
        r = client.post(f"{f.url}/api/graphql/space/Nope", json={"query": "{me{email}}"}, headers=AUTH)
        assert r.status_code == int(mode)
        if mode == "404":
            assert r.headers["content-type"].startswith("text/plain") and "Nope" in r.text
        else:
            assert set(r.json()) == {"name", "message", "data"} and "Nope" in r.json()["message"]
        assert client.get(f"{f.url}/api/graphql/space/Nope", headers=AUTH).status_code == int(mode)
    with pytest.raises(ValueError, match="unknown_space"):
        FakeFibery(SNAPSHOT, unknown_space="maybe")


def test_html_pages(fake, client):
    page = client.get(fake.graphql_url, headers=AUTH)
    assert page.status_code == 200 and "<title>GraphiQL</title>" in page.text
    listing = client.get(f"{fake.url}/api/graphql", headers=AUTH)
    assert '<a href="/api/graphql/space/Café_Space">' in listing.text


def test_request_errors(fake, client):
    headers = {**AUTH, "Content-Type": "application/json"}
    bad_json = client.post(fake.graphql_url, content=b'{"query": "{me', headers=headers)
    assert bad_json.status_code == 500
    assert set(bad_json.json()) == {"name", "message", "data"} and bad_json.json()["data"] == {}
    syntax = gql(client, fake, "{ findTasks { id ")
    assert syntax.status_code == 400 and syntax.json()["errors"][0]["locations"]
    invalid = gql(client, fake, "{ findTasks { nope } }")
    assert invalid.status_code == 400 and "nope" in invalid.json()["errors"][0]["message"]
    assert "data" not in invalid.json()
    no_query = client.post(fake.graphql_url, json={}, headers=AUTH)
    assert no_query.status_code == 400


def test_execution_error_is_200_with_path(client):
    with FakeFibery(SNAPSHOT, rate_limit=None, max_limit=50) as f:
        r = gql(client, f, "{ ok: findCompanies { id } big: findTasks(limit: 51) { id } }")
        body = r.json()
        assert r.status_code == 200
        assert body["data"]["big"] is None and len(body["data"]["ok"]) == 3
        assert body["errors"][0]["path"] == ["big"] and body["errors"][0]["locations"]
        assert len(data(gql(client, f, "{ findTasks(limit: 50) { id } }"))["findTasks"]) == 50


# -- schema -----------------------------------------------------------------------------


def test_introspection(fake, client):
    r = client.post(fake.graphql_url, json={"query": get_introspection_query(descriptions=True)}, headers=AUTH)
    schema = build_client_schema(data(r))
    sdl = print_schema(schema)
    assert "findCafeNotes(" in sdl and "findCompanies(" in sdl and "me: FiberyUser" in sdl
    notes = schema.get_type("CafeSpaceCafeNotes")
    assert notes.description == "Available fields and relations for Café Space/Café Notes"
    assert schema.get_type("CafeSpaceCafeNotesFilter").description == "Filter for Café Space/Café Notes"
    assert list(notes.fields)[:7] == ["id", "publicId", "creationDate", "modificationDate", "rank", "createdBy",
                                      "attachments"]  # fmt: skip
    types = {name: str(f.type) for name, f in notes.fields.items()}
    assert types == {
        "id": "ID", "publicId": "String", "creationDate": "String", "modificationDate": "String", "rank": "Float",
        "createdBy": "FiberyUser", "attachments": "[FiberyFile]", "body": "RichField", "company": "CafeSpaceCompany",
        "name": "String", "period": "DateRange", "priority": "CafeSpacePriorityCafeSpaceCafeNotes",
        "starRating": "Float", "tags": "[CafeSpaceTagsCafeSpaceCafeNotes]", "state": "WorkflowStateCafeSpaceCafeNotes",
    }  # fmt: skip
    assert notes.fields["company"].description == "Café Space/Company"
    assert notes.fields["state"].description == "workflow/state"
    assert notes.fields["tags"].description == "Café Space/Tags. By default, the inner list is limited by 100 records"
    assert list(notes.fields["tags"].args)[:2] == ["orderBy", "limit"] and "offset" not in notes.fields["tags"].args
    assert str(schema.get_type("CafeSpaceTask").fields["effort"].type) == "Int"  # every value an integer
    args = schema.query_type.fields["findTasks"].args
    assert list(args)[:3] == ["orderBy", "limit", "offset"]
    assert {"publicId", "modificationDate", "done", "createdBy", "rank"} <= set(args)
    assert "body" not in schema.query_type.fields["findCafeNotes"].args  # rich text: no filter
    assert "body" not in schema.get_type("CafeSpaceCafeNotesOrder").fields  # … and no order key
    assert "tags" not in schema.get_type("CafeSpaceCafeNotesOrder").fields  # collections neither
    order = schema.get_type("CafeSpaceCafeNotesOrder").fields
    assert (str(order["company"].type), str(order["period"].type), str(order["createdBy"].type)) == (
        "CafeSpaceCompanyOrder", "DateRangeOrder", "FiberyUserOrder")  # fmt: skip
    assert schema.query_type.fields["findTasks"].description.startswith("Find CafeSpaceTask records.")
    assert set(schema.get_type("BooleanFilter").fields) == {"is", "isNull"}
    assert "contains" not in schema.get_type("FloatFilter").fields
    assert list(schema.get_type("FiberyUser").fields) == [
        "active", "id", "publicId", "creationDate", "modificationDate", "rank", "email", "name"]  # fmt: skip
    assert list(schema.get_type("WorkflowStateCafeSpaceCafeNotes").fields) == [
        "id", "publicId", "rank", "icon", "name", "final"]  # fmt: skip


def test_values(fake, client):
    q = """{ findCafeNotes { id publicId name creationDate rank state { id name final } priority { name }
        tags { name } company { name website } period { start end } attachments { id secret name contentType }
        body { secret text md html jsonString } starRating createdBy { name email } } }"""
    first, second, third = data(gql(client, fake, q))["findCafeNotes"]
    assert first["publicId"] == "11" and first["state"]["name"] == "Done" and first["state"]["id"]
    assert first["state"]["final"] is False and isinstance(first["rank"], int | float)
    assert first["company"] == {"name": "Acme", "website": "https://acme.example"}
    assert first["tags"] == [{"name": "a"}, {"name": "b"}] and first["period"]["end"] == "2024-01-31"
    assert first["body"]["text"] == "Hello café & co" and first["body"]["md"] == "Hello **café**"
    assert json.loads(first["body"]["jsonString"]) and first["body"]["secret"]
    assert first["attachments"][0]["secret"] == "sec-1" and first["attachments"][0]["id"]
    assert second["priority"] is None and second["body"] is None and second["tags"] == []
    assert third["company"] is None and third["period"] is None and third["starRating"] is None
    authors = {(a["name"], a["email"]) for a in ff.DEFAULT_AUTHORS}
    assert all((n["createdBy"]["name"], n["createdBy"]["email"]) in authors for n in (first, second, third))
    raw = gql(client, fake, "{ findCafeNotes(offset: 1, limit: 1) { starRating } }")
    assert b'"starRating": 3}' in raw.content or b'"starRating":3}' in raw.content  # integral float -> int


def test_users_and_states_as_real(client):
    snap = _snapshot()
    notes = snap["databases"][1]
    notes["fields"] += [{"key": "owner", "title": "Owner", "kind": "user"},
                        {"key": "assignees", "title": "Assignees", "kind": "users"}]  # fmt: skip
    notes["entities"][0]["values"].update(owner={"name": "Ada Lovelace"}, assignees=[{"name": "Bo"}],
                                          state={"name": "Done", "final": True})  # fmt: skip
    with FakeFibery(snap, rate_limit=None) as f:
        notes_type = f.schema.get_type("CafeSpaceCafeNotes")
        assert str(notes_type.fields["owner"].type) == "FiberyUser"
        assert str(notes_type.fields["assignees"].type) == "[FiberyUser]"
        assert notes_type.fields["assignees"].description.startswith("assignments/assignees. By default")
        q = "{ findCafeNotes(limit: 1) { owner { name email } assignees { name email } state { name final } } }"
        row = data(gql(client, f, q))["findCafeNotes"][0]
        assert row == {"owner": {"name": "Ada Lovelace", "email": "ada.lovelace@example.com"},
                       "assignees": [{"name": "Bo", "email": "bo@example.com"}],
                       "state": {"name": "Done", "final": True}}  # fmt: skip
        q = """{ findCafeNotes(createdBy: {email: {contains: "@example.com"}}, owner: {name: {is: "Ada Lovelace"}})
                 { name } }"""
        assert data(gql(client, f, q))["findCafeNotes"] == [{"name": "Opening"}]
        types = {t["fibery/name"]: t for t in f.rest_schema["fibery/types"]}
        fields = {x["fibery/name"]: x for x in types["Café Space/Café Notes"]["fibery/fields"]}
        assert fields["assignments/assignees"]["fibery/type"] == "fibery/user"
        assert fields["assignments/assignees"]["fibery/meta"]["fibery/collection?"] is True
        assert fields["Café Space/Owner"]["fibery/type"] == "fibery/user"
        assert fields["fibery/created-by"]["fibery/type"] == "fibery/user"


# -- pagination, ordering, filters ------------------------------------------------------


def test_pagination(fake, client):
    everything = data(gql(client, fake, "{ findTasks { publicId } }"))["findTasks"]
    assert len(everything) == 100 and everything[0]["publicId"] == "100"
    q = "query($l:Int!,$o:Int){ findTasks(limit:$l, offset:$o) { name } }"
    page = data(gql(client, fake, q, {"l": 20, "o": 120}))
    assert [t["name"] for t in page["findTasks"]] == [f"Task {i}" for i in range(120, 130)]
    assert data(gql(client, fake, "{ findTasks(limit: 0) { id } }"))["findTasks"] == []
    assert len(data(gql(client, fake, "{ findTasks(limit: 1000) { id } }"))["findTasks"]) == 130


def test_order_by(fake, client):
    r = data(gql(client, fake, "{ findCompanies(orderBy: {name: DESC}) { name } }"))
    assert [c["name"] for c in r["findCompanies"]] == ["Initech", "Globex", "Acme"]
    r = data(gql(client, fake, "{ findCompanies(orderBy: {employees: ASC}) { name } }"))
    assert [c["name"] for c in r["findCompanies"]] == ["Globex", "Acme", "Initech"]  # nulls last
    # keys apply in the order written: effort first, then name descending
    r = data(gql(client, fake, "{ findTasks(limit: 3, orderBy: {effort: ASC, name: DESC}) { name effort } }"))
    assert [t["name"] for t in r["findTasks"]] == ["Task 126", "Task 119", "Task 112"]
    r = data(gql(client, fake, "{ findTasks(limit: 3, orderBy: {name: DESC, effort: ASC}) { name } }"))
    assert [t["name"] for t in r["findTasks"]] == ["Task 129", "Task 128", "Task 127"]
    variables = {"o": {"effort": "DESC", "publicId": "ASC"}}
    q = "query($o: CafeSpaceTaskOrder){ findTasks(limit: 2, orderBy: $o) { publicId } }"
    r = data(gql(client, fake, q, variables))
    assert [t["publicId"] for t in r["findTasks"]] == ["106", "113"]
    r = data(gql(client, fake, "{ findCafeNotes(orderBy: {company: {name: DESC}}) { name } }"))
    assert [n["name"] for n in r["findCafeNotes"]] == ["Zebra", "Menu", "Opening"]  # DESC: nulls first


def test_filters(fake, client):
    def names(query: str, variables: dict | None = None) -> list[str]:
        return [e["name"] for e in next(iter(data(gql(client, fake, query, variables)).values()))]

    assert names('{ findCafeNotes(modificationDate: {greater: "2024-04-15"}) { name } }') == ["Opening", "Zebra"]
    assert names('query($ids:[String]){ findTasks(publicId: {in: $ids}) { name } }', {"ids": ["101", "105", "x"]}) == [
        "Task 001", "Task 005"]  # fmt: skip
    assert names('{ findCafeNotes(state: {name: {is: "Done"}}) { name } }') == ["Opening", "Zebra"]
    assert names('{ findCafeNotes(company: {id: {is: "c2"}}) { name } }') == ["Menu"]
    assert names('{ findCafeNotes(company: {name: {contains: "acm"}}) { name } }') == ["Opening"]
    assert names("{ findCafeNotes(company: {id: {isNull: true}}) { name } }") == ["Zebra"]
    assert names('{ findCafeNotes(priority: {name: {isNot: "High"}}) { name } }') == ["Menu", "Zebra"]
    assert names('{ findCafeNotes(tags: {contains: [{name: {is: "b"}}]}) { name } }') == ["Opening"]
    assert names("{ findCafeNotes(tags: {isEmpty: true}) { name } }") == ["Menu", "Zebra"]
    assert names('{ findCafeNotes(period: {start: {greaterOrEquals: "2024-01-01"}}) { name } }') == ["Opening"]
    assert names("{ findCafeNotes(starRating: {greater: 3.5}) { name } }") == ["Opening"]
    assert names('{ findCompanies(notes: {containsAny: [{name: {is: "Menu"}}]}) { name } }') == ["Globex"]
    assert len(names("{ findTasks(limit: 500, done: {is: true}, effort: {in: [0, 1]}) { name } }")) == 19
    assert names('{ findCompanies(id: {notIn: ["c1", "c2"]}) { name } }') == ["Initech"]


def test_nested_relations(fake, client):
    q = """{ findCompanies(limit: 1) { name notes { name company { name notes(orderBy: {name: DESC}) { name } } }
             some: notes(limit: 1, name: {isNot: "Opening"}) { name } } }"""
    acme = data(gql(client, fake, q))["findCompanies"][0]
    assert [n["name"] for n in acme["notes"]] == ["Opening", "Zebra"]
    assert acme["notes"][0]["company"]["notes"] == [{"name": "Zebra"}, {"name": "Opening"}]
    assert acme["some"] == [{"name": "Zebra"}]
    no_offset = gql(client, fake, "{ findCompanies { notes(offset: 1) { name } } }")
    assert no_offset.status_code == 400 and "offset" in no_offset.json()["errors"][0]["message"]


def _parent_with_children(n: int) -> dict:
    """A space where one Type has ``n`` things in its inverse collection."""
    things = [{"id": f"th-{i}", "public_id": str(i), "name": f"Thing {i}", "values": {"type": {"id": "ty-1"}}}
              for i in range(1, n + 1)]  # fmt: skip
    types = [
        {"id": "ty-1", "public_id": "1", "name": "Chairs", "values": {"things": [{"id": t["id"]} for t in things]}}
    ]
    return {"space": "Things", "databases": [
        {"key": "T", "title": "Thing", "fields": [{"key": "type", "title": "Type", "kind": "relation", "target": "Y"}],
         "entities": things},
        {"key": "Y", "title": "Type", "fields": [{"key": "things", "title": "Things", "kind": "collection",
                                                 "target": "T"}], "entities": types},
    ]}  # fmt: skip


def test_nested_collections_are_cut_at_100_unless_limit(client):
    with FakeFibery(_parent_with_children(150), rate_limit=None) as f:

        def count(args: str) -> int:
            return len(data(gql(client, f, f"{{ findTypes {{ things{args} {{ id }} }} }}"))["findTypes"][0]["things"])

        assert count("") == 100
        assert (count("(limit: 1000)"), count("(limit: 150)"), count("(limit: 7)")) == (150, 150, 7)
        assert len(data(gql(client, f, "{ findThings { id } }"))["findThings"]) == 100  # root default
        assert len(data(gql(client, f, "{ findThings(limit: 3000) { id } }"))["findThings"]) == 150
    with FakeFibery(_parent_with_children(150), rate_limit=None, collection_default_limit=None) as f:
        assert len(data(gql(client, f, "{ findTypes { things { id } } }"))["findTypes"][0]["things"]) == 150


def test_root_cap_is_silent(client):
    with FakeFibery(SNAPSHOT, rate_limit=None, root_cap=50) as f:
        q = "query($o:Int){ findTasks(limit: 100, offset: $o) { id } }"
        sizes = [len(data(gql(client, f, q, {"o": o}))["findTasks"]) for o in (0, 50, 100)]
        assert sizes == [50, 50, 30]  # a short, round page that is not the end


def test_cross_space_database_has_types_but_no_query(client):
    snap = _parent_with_children(2)
    snap["databases"].append({"key": "I", "title": "Idea", "rest_name": "Ideation/Idea", "fields": [
        {"key": "state", "title": "State", "kind": "state"},
        {"key": "thing", "title": "Thing", "kind": "relation", "target": "T", "rest_name": "Things/Thing"}],
        "entities": [{"id": "i-1", "public_id": "9", "name": "Idea 9", "values": {
            "state": {"name": "New"}, "thing": {"id": "th-1"}}}]})  # fmt: skip
    snap["databases"][0]["fields"].append({"key": "idea", "title": "Idea", "kind": "relation", "target": "I"})
    snap["databases"][0]["entities"][0]["values"]["idea"] = {"id": "i-1"}
    with FakeFibery(snap, rate_limit=None) as f:
        assert f.names["Idea"] == ("IdeationIdea", None, {"State": "state", "Thing": "thing"})
        assert sorted(f.schema.query_type.fields) == ["findThings", "findTypes", "me"]
        idea = f.schema.get_type("IdeationIdea")
        assert idea.description == "Available fields and relations for Ideation/Idea"
        assert str(idea.fields["state"].type) == "WorkflowStateIdeationIdea"
        assert idea.fields["name"].description == "Ideation/Name"
        q = "{ findThings(limit: 1) { idea { name publicId state { name } thing { name } } } }"
        assert data(gql(client, f, q))["findThings"][0]["idea"] == {
            "name": "Idea 9", "publicId": "9", "state": {"name": "New"}, "thing": {"name": "Thing 1"}}  # fmt: skip
        types = {t["fibery/name"] for t in f.rest_schema["fibery/types"]}
        assert {"Ideation/Idea", "workflow/state_Ideation/Idea", "Things/Thing"} <= types


# -- rate limit -------------------------------------------------------------------------


def test_rate_limit(client):
    with FakeFibery(SNAPSHOT, extra_tokens=["other"]) as f:
        statuses = [gql(client, f, "{me{email}}").status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
        r = gql(client, f, "{me{email}}")
        assert (r.status_code, r.text, r.headers.get("retry-after")) == (429, "Too Many Requests", None)
        other = gql(client, f, "{me{email}}", headers={"Authorization": "Token other"})
        assert other.status_code == 200  # limits are per token
        assert f.stats.rate_limited == 3 and f.stats.by_status[200] == 4
        time.sleep(1.05)
        assert gql(client, f, "{me{email}}").status_code == 200


def test_rate_limit_spaced_and_retry_after(client):
    with FakeFibery(SNAPSHOT, retry_after=2) as f:
        for _ in range(3):
            assert gql(client, f, "{me{email}}").status_code == 200
        time.sleep(1.02)
        for _ in range(3):
            assert gql(client, f, "{me{email}}").status_code == 200
        r = gql(client, f, "{me{email}}")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"


def test_rate_limit_counts_from_arrival_or_from_handling(client):
    """``count_from="arrival"`` counts a request as it comes in (a slow answer does not move
    it); ``"handling"`` counts it after the latency and faults, i.e. late."""
    import concurrent.futures

    for mode, refused in (("arrival", 0), ("handling", 1)):
        with FakeFibery(SNAPSHOT, count_from=mode) as f, concurrent.futures.ThreadPoolExecutor(4) as pool:
            f.faults.append(ff.delay(0.6, count=1))  # the first answer is slow
            start = time.monotonic()
            pool.submit(gql, client, f, "{me{email}}").result()  # counted at 0 s, or at 0.6 s
            for _ in range(2):  # counted at about 0.6 s either way
                assert gql(client, f, "{me{email}}").status_code == 200
            # At 1.25 s the first arrival is out of the last second, its handling is not (±0.3 s).
            time.sleep(max(0.0, start + 1.25 - time.monotonic()))
            r = gql(client, f, "{me{email}}")
            assert (r.status_code == 429) == bool(refused), mode
    with pytest.raises(ValueError, match="count_from"):
        FakeFibery(SNAPSHOT, count_from="answer")


def test_rate_limit_windows_hold_arrivals_taken_out_of_order():
    """Handler threads reach the limiter in any order; the windows are of arrivals."""
    limiter = ff._RateLimiter(3.0)
    assert all(limiter.allow("k", at) for at in (10.0, 10.5, 10.9))
    assert not limiter.allow("k", 10.2)  # taken last, arrived second: [10.0, 11.0) would hold 4
    assert not limiter.allow("k", 10.95)
    assert limiter.allow("k", 11.05)  # [10.5, 11.5) holds 10.5, 10.9 and it
    assert limiter.allow("other", 10.2)


@pytest.mark.skipif(sys.platform != "linux", reason="kernel receive time stamps (SO_TIMESTAMPNS)")
def test_a_request_counts_from_when_its_first_byte_arrives():
    """A request that trickles in counts from its first byte, as a server that counts
    starts would count it, not from when the fake's thread has read it all."""
    import socket

    seen: list[tuple[float | None, float]] = []
    with FakeFibery(SNAPSHOT) as f:
        f.faults.append(lambda ctx: seen.append((ctx.arrived, time.monotonic())) and None)
        body = json.dumps({"query": "{me{email}}"}).encode()
        head = (f"POST {f.space_path} HTTP/1.1\r\nHost: x\r\nAuthorization: Token {TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n")  # fmt: skip
        with socket.create_connection((f.host, f.port)) as sock:
            began = time.monotonic()
            sock.sendall(head.encode()[:5])
            time.sleep(0.3)
            sock.sendall(head.encode()[5:] + body)
            assert sock.recv(12).startswith(b"HTTP/1.1 200")
    ((arrived, handled),) = seen
    assert arrived is not None and abs(arrived - began) < 0.05 and handled - began >= 0.3


# -- REST schema and files --------------------------------------------------------------


def test_rest_schema(fake, client):
    r = client.get(f"{fake.url}/api/schema?with-description=true&with-soft-deleted=false", headers=AUTH)
    body = r.json()
    assert {"fibery/id", "fibery/version", "fibery/types"} <= set(body)
    types = {t["fibery/name"]: t for t in body["fibery/types"]}
    notes = types["Café Space/Café Notes"]
    assert notes["fibery/meta"]["fibery/domain?"] is True
    fields = {f["fibery/name"]: f for f in notes["fibery/fields"]}
    assert list(fields)[:6] == ["fibery/id", "fibery/public-id", "fibery/creation-date", "fibery/modification-date",
                                "fibery/rank", "fibery/created-by"]  # fmt: skip
    assert fields["Café Space/Body"]["fibery/type"] == "Collaboration~Documents/Document"
    assert fields["workflow/state"]["fibery/type"] == "workflow/state_Café Space/Café Notes"
    assert fields["Café Space/Company"]["fibery/type"] == "Café Space/Company"
    assert fields["Café Space/Company"]["fibery/meta"]["fibery/collection?"] is False
    assert fields["Café Space/Name"]["fibery/meta"]["ui/title?"] is True
    assert fields["Café Space/Tags"]["fibery/meta"]["fibery/collection?"] is True
    assert fields["Café Space/Tags"]["fibery/type"] == "Café Space/Tags_Café Space/Café Notes"
    company = {f["fibery/name"]: f for f in types["Café Space/Company"]["fibery/fields"]}
    assert company["Café Space/Employees"]["fibery/type"] == "fibery/int"
    assert company["Café Space/Website"]["fibery/type"] == "fibery/text"
    assert company["Café Space/Website"]["fibery/meta"]["ui/type"] == "url"
    task = {f["fibery/name"]: f for f in types["Café Space/Task"]["fibery/fields"]}
    owner = task["Café Space/Owner Email"]
    assert (owner["fibery/type"], owner["fibery/meta"]["ui/type"]) == ("fibery/text", "email")
    assert types["Café Space/Tags_Café Space/Café Notes"]["fibery/meta"]["fibery/enum?"] is True
    assert types["fibery/user"]["fibery/meta"]["fibery/domain?"] is True
    assert any(n.endswith("-mixin") for n in types)
    assert any(t["fibery/deleted?"] for t in types.values())
    etag = r.headers["etag"]
    again = client.get(f"{fake.url}/api/schema", headers={**AUTH, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get(f"{fake.url}/api/schema", headers={**AUTH, "If-None-Match": '"x"'}).status_code == 200


def test_rest_and_name_quirks():
    meta = {("Café Space/Task", "Café Space/Effort"): {"formula/formula?": True}}
    f = FakeFibery(SNAPSHOT, rest=ff.RestOptions(deprecated_kinds=True, meta=meta), legacy_names=["Task"],
                   tilde_names=True)  # fmt: skip
    types = {t["fibery/name"]: t for t in f.rest_schema["fibery/types"]}
    company = {x["fibery/name"]: x["fibery/type"] for x in types["Café Space/Company"]["fibery/fields"]}
    assert company["Café Space/Website"] == "fibery/url"
    task = {x["fibery/name"]: x for x in types["Café Space/Task"]["fibery/fields"]}
    assert task["Café Space/owner~Email"]["fibery/type"] == "fibery/email"  # legacy and ~ together
    assert "Café Space/name" in task and {
        k: v for k, v in task["Café Space/effort"]["fibery/meta"].items() if k != "ui/object-editor-order"
    } == {"fibery/readonly?": False}
    assert f.names["Task"][2] == {"Done?": "done", "Effort": "effort", "Owner Email": "ownerEmail"}
    assert f.schema.get_type("CafeSpaceTask").fields["ownerEmail"].description == "Café Space/owner~Email"
    plain = FakeFibery(SNAPSHOT, rest=ff.RestOptions(meta=meta))
    task_type = next(t for t in plain.rest_schema["fibery/types"] if t["fibery/name"] == "Café Space/Task")
    task = {x["fibery/name"]: x for x in task_type["fibery/fields"]}
    assert task["Café Space/Effort"]["fibery/meta"]["formula/formula?"] is True
    snap = _snapshot()
    snap["databases"][2]["fields"][0].update(lookup=True, rest_meta={"ui/type": "phone"})
    task_type = next(t for t in FakeFibery(snap).rest_schema["fibery/types"] if t["fibery/name"] == "Café Space/Task")
    effort = next(x for x in task_type["fibery/fields"] if x["fibery/name"] == "Café Space/Effort")
    assert effort["fibery/meta"]["formula/lookup?"] is True and effort["fibery/meta"]["ui/type"] == "phone"


def test_files(fake, client):
    r = client.get(f"{fake.url}/api/files/sec-1", headers=AUTH)
    assert r.content == PNG and r.headers["content-type"] == "image/png"
    assert client.get(f"{fake.url}/api/files/sec-2", headers=AUTH).headers["content-type"] == "application/pdf"
    assert client.get(f"{fake.url}/api/files/nope", headers=AUTH).status_code == 404
    assert client.get(f"{fake.url}/api/files/sec-1").status_code == 401


# -- stats, latency, faults -------------------------------------------------------------


def test_stats_and_latency(client):
    with FakeFibery(SNAPSHOT, rate_limit=None, latency=0.1) as f:
        t0 = time.monotonic()
        gql(client, f, "query Q($n:Int){ findTasks(limit:$n) { id } }", {"n": 1})
        assert time.monotonic() - t0 >= 0.1
        client.get(f"{f.url}/api/schema")
        entry = f.stats.log[0]
        assert (entry.method, entry.status, entry.operation, entry.variables) == ("POST", 200, "findTasks", {"n": 1})
        assert f.stats.total == 2 and f.stats.by_status == {200: 1, 401: 1}
        assert f.stats.count(operation="findTasks") == 1


def test_fault_fail_every_and_burst(client):
    with FakeFibery(SNAPSHOT, rate_limit=None) as f:
        f.faults.append(ff.fail_every(2, status=503))
        assert [gql(client, f, "{me{email}}").status_code for _ in range(4)] == [200, 503, 200, 503]
        f.faults[:] = [ff.burst_429(2)]
        assert [gql(client, f, "{me{email}}").status_code for _ in range(3)] == [429, 429, 200]
        assert f.stats.rate_limited == 2


def test_fault_truncated_json(client):
    with FakeFibery(SNAPSHOT, rate_limit=None) as f:
        f.faults.append(ff.truncated_json())
        r = gql(client, f, "{ findTasks { id name } }")
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            r.json()
        assert len(data(gql(client, f, "{ findTasks { id } }"))["findTasks"]) == 100  # only once
        f.faults[:] = [ff.truncated_json(declare_full_length=True)]
        with pytest.raises(httpx.RemoteProtocolError):
            gql(client, f, "{ findTasks { id name } }")


def test_fault_hang_and_stop(client):
    f = FakeFibery(SNAPSHOT, rate_limit=None).start()
    f.faults.append(ff.hang())
    with pytest.raises(httpx.ReadTimeout):
        gql(client, f, "{me{email}}", timeout=0.3)
    assert f.stats.log[-1].status is None
    assert data(gql(client, f, "{me{email}}"))  # only the first request hangs
    f.faults.append(ff.hang(count=None))
    with httpx.Client() as other:
        import threading

        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", _try(other, f)))
        t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        f.stop()
        assert time.monotonic() - t0 < 2
        t.join(2)
        assert isinstance(result["r"], httpx.HTTPError)


def _try(client: httpx.Client, f: FakeFibery):
    try:
        return gql(client, f, "{me{email}}", timeout=10)
    except httpx.HTTPError as e:
        return e


def test_fault_graphql_errors_on_page(client):
    with FakeFibery(SNAPSHOT, rate_limit=None) as f:
        f.faults.append(ff.graphql_errors_on_page("findTasks", 100, message="boom", times=1))
        q = "query($o:Int){ findTasks(limit: 100, offset: $o) { id } me { email } }"
        assert len(data(gql(client, f, q, {"o": 0}))["findTasks"]) == 100
        r = gql(client, f, q, {"o": 100})
        body = r.json()
        assert r.status_code == 200 and body["data"]["findTasks"] is None and body["data"]["me"]
        assert body["errors"][0]["message"] == "boom" and body["errors"][0]["path"] == ["findTasks"]
        assert len(data(gql(client, f, q, {"o": 100}))["findTasks"]) == 30  # times=1


def test_fault_schema_drift(client):
    with FakeFibery(SNAPSHOT, rate_limit=None) as f:
        f.faults.append(ff.drop_field("Café Notes", "Star Rating"))
        r = gql(client, f, "{ findCafeNotes { starRating } }")
        assert r.status_code == 400 and "starRating" in r.json()["errors"][0]["message"]
        schema = client.get(f"{f.url}/api/schema", headers=AUTH).json()
        notes = next(t for t in schema["fibery/types"] if t["fibery/name"] == "Café Space/Café Notes")
        assert "Café Space/Star Rating" not in {x["fibery/name"] for x in notes["fibery/fields"]}
        f.faults[:] = [ff.rename_field("Task", "Effort", "Effort Points")]
        assert data(gql(client, f, "{ findTasks(limit: 1) { effortPoints } }"))
        f.faults.clear()
        assert data(gql(client, f, "{ findCafeNotes { starRating } }"))


def test_update_snapshot(client):
    snap = _snapshot()
    with FakeFibery(snap, rate_limit=None) as f:
        snap["databases"][0]["entities"][0]["name"] = "Acme 2"
        assert data(gql(client, f, "{ findCompanies(limit: 1) { name } }"))["findCompanies"][0]["name"] == "Acme"
        f.update_snapshot(snap)
        assert data(gql(client, f, "{ findCompanies(limit: 1) { name } }"))["findCompanies"][0]["name"] == "Acme 2"


def test_cli(tmp_path: Path):
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(SNAPSHOT))
    script = Path(ff.__file__)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), "--token", "cli", "--rate-limit", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = httpx.post(f"{url}/api/graphql/space/Café_Space", json={"query": "{me{email}}"},
                       headers={"Authorization": "Bearer cli"})  # fmt: skip
        assert r.json()["data"]["me"]["email"]
    finally:
        proc.terminate()
        proc.wait(5)


# -- conformance with the schemas a live Fibery served (shared/fibery-real) -------------

REAL = ff.real_sdl_dir()
needs_real = pytest.mark.skipif(REAL is None, reason="shared/fibery-real is not beside the project")
MUTATION_SIDE = re.compile(r"^(Mutation|MutationResult|Entity|Doc|.*Operations|.*Input)$")
"""Types only mutations use: the fake generates no mutations (DateRangeInput aside)."""


def _field(key: str, title: str, kind: str, rest: str, target: str | None = None) -> dict:
    return {"key": key, "title": title, "kind": kind, "rest_name": rest, "target": target}


def _entity(i: int, name: str, **values: object) -> dict:
    return {"id": f"00000000-0000-4000-8000-{i:012d}", "public_id": str(i), "name": name,
            "creation_date": "2023-01-01T00:00:00.000Z", "modification_date": "2023-01-02T00:00:00.000Z",
            "values": values}  # fmt: skip


def _db(key: str, title: str, fields: list[dict], **extra: object) -> dict:
    return {"key": key, "title": title, "query": "ignored", "web_name": title, "fields": fields,
            "entities": [_entity(len(fields) + len(title), f"A {title}")], **extra}  # fmt: skip


def things_space() -> dict:
    """A snapshot shaped like the space of ``things.graphql`` (7 databases, Event's workflow)."""
    desc = _field("description", "Description", "rich_text", "Things/description")
    return {"version": 1, "fibery_url": "https://everything.fibery.io", "space": "Things", "databases": [
        _db("doc", "Document", [_field("author", "Author", "text", "Things/Author"), desc]),
        _db("email", "Email", [_field("description", "Description", "rich_text", "Things/Description")]),
        _db("event", "Event", [
            _field("contacts", "Contacts", "text", "Things/Contacts"), _field("end", "End", "datetime", "Things/End"),
            _field("start", "Start", "datetime", "Things/Start"), _field("title", "Title", "text", "Things/Title"),
            _field("allDay", "All day", "boolean", "Things/allDay"), desc,
            _field("source", "Source", "text", "Things/source"), _field("url", "URL", "url", "Things/url"),
            _field("state", "State", "state", "workflow/state")]),
        _db("idea", "Idea", [desc]),
        _db("person", "Person", [
            _field("accountId", "Account Id", "text", "Things/accountId"), desc,
            _field("email", "Email", "email", "Things/email"), _field("widget", "Widget", "text", "Things/widgetSrc")]),
        _db("post", "Post", [desc]),
        _db("thing", "Thing", [_field("description", "Description", "rich_text", "Things/Description")]),
    ]}  # fmt: skip


def things_relations_space() -> dict:
    """A snapshot shaped like ``things_relations.graphql``: Thing -> Type and its inverse
    collection, and a one-to-one relation into the space Ideation."""
    return {"version": 1, "fibery_url": "https://everything.fibery.io", "space": "Things", "databases": [
        _db("thing", "Thing", [
            _field("description", "Description", "rich_text", "Things/Description"),
            _field("idea", "Idea", "relation", "Things/Idea", "idea"),
            _field("type", "Type", "relation", "Things/Type", "type")]),
        _db("type", "Type", [_field("things", "Things", "collection", "Things/Things", "thing"),
                             _field("description", "Description", "rich_text", "Things/description")]),
        _db("idea", "Idea", [
            _field("description", "Description", "rich_text", "Ideation/Description"),
            _field("cases", "Number of Recent Cases", "number", "Ideation/Number of Recent Cases"),
            _field("thing", "Thing", "relation", "Things/Thing", "thing"),
            _field("state", "State", "state", "workflow/state")], rest_name="Ideation/Idea"),
    ]}  # fmt: skip


LEGACY = ["Document", "Idea", "Person", "Post", "Type"]
"""Databases whose name field is the legacy ``Things/name`` in the real schemas."""


@needs_real
@pytest.mark.parametrize(
    ("sdl_file", "snapshot"),
    [("things.graphql", things_space), ("things_relations.graphql", things_relations_space)],
)
def test_generated_schema_is_the_real_one_type_by_type(sdl_file, snapshot):
    real = build_schema((REAL / sdl_file).read_text())
    snap = snapshot()
    snap["databases"][-1]["entities"][0]["values"]["cases"] = 3  # an Int field where there is one
    mine = FakeFibery(snap, legacy_names=LEGACY if sdl_file == "things.graphql" else ["Type"]).schema
    real_types = {n for n in real.type_map if not n.startswith("__") and not MUTATION_SIDE.match(n)}
    mine_types = {n for n in mine.type_map if not n.startswith("__")} - {"DateRangeInput"}
    assert mine_types == real_types
    diffs = []
    for name in sorted(real_types | {"DateRangeInput"}):
        want, got = print_type(real.get_type(name)), print_type(mine.get_type(name))
        if want != got:
            diffs.append(
                "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), name, "fake", lineterm=""))
            )
    assert diffs == [], "\n\n".join(diffs)
    assert real.query_type.fields["findThings"].description == mine.query_type.fields["findThings"].description


@needs_real
def test_the_real_shape_in_words():
    """The rules the type-by-type comparison checks, spelt out (so a failure says which)."""
    mine = FakeFibery(things_relations_space(), legacy_names=["Type"]).schema
    thing, type_ = mine.get_type("ThingsThing"), mine.get_type("ThingsType")
    assert type_.fields["things"].description == "Things/Things. By default, the inner list is limited by 100 records"
    assert list(type_.fields["things"].args)[:2] == ["orderBy", "limit"] and "offset" not in type_.fields["things"].args
    assert list(mine.query_type.fields["findThings"].args)[:3] == ["orderBy", "limit", "offset"]
    assert str(mine.get_type("ThingsThingOrder").fields["createdBy"].type) == "FiberyUserOrder"
    assert str(thing.fields["idea"].type) == "IdeationIdea" and "findIdeas" not in mine.query_type.fields
    assert mine.get_type("ThingsThingFilter").fields["type"].description == "Things/Type"


# -- serving an SDL verbatim, and the in-process door -----------------------------------


@needs_real
def test_from_sdl_serves_rows_with_fibery_paging(client):
    things = [{"id": f"t{i}", "publicId": str(i), "name": f"Thing {i}", "createdBy": {"name": "Ada", "email": "a@x"}}
              for i in range(1, 151)]  # fmt: skip
    chairs = {"id": "ty1", "publicId": "1", "name": "Chairs", "things": things}
    for t in things:
        t["type"] = chairs
    sdl = (REAL / "things_relations.graphql").read_text()
    rows = {"ThingsThing": things, "ThingsType": [chairs]}
    with FakeFibery.from_sdl(sdl, space="Things", rows=rows, rate_limit=None) as f:
        assert f.graphql_url.endswith("/api/graphql/space/Things")
        assert print_schema(f.schema) == print_schema(build_schema(sdl))  # verbatim
        assert len(data(gql(client, f, "{ findThings { id } }"))["findThings"]) == 100
        assert len(data(gql(client, f, "{ findThings(limit: 500) { id } }"))["findThings"]) == 150
        q = "{ findTypes { name things { id } some: things(limit: 200) { id } } }"
        chairs_out = data(gql(client, f, q))["findTypes"][0]
        assert (len(chairs_out["things"]), len(chairs_out["some"])) == (100, 150)
        q = '{ findThings(name: {is: "Thing 7"}, type: {name: {is: "Chairs"}}) { publicId type { name } } }'
        assert data(gql(client, f, q))["findThings"] == [{"publicId": "7", "type": {"name": "Chairs"}}]
        assert data(gql(client, f, "{ me { email } }"))["me"]["email"] == "fake.user@example.com"
        r = client.post(f"{f.url}/api/graphql/space/Nope", json={"query": "{ findThings { id } }"}, headers=AUTH)
        assert r.status_code == 400  # me-only schema there
        rest = client.get(f"{f.url}/api/schema", headers=AUTH).json()
        types = {t["fibery/name"]: t for t in rest["fibery/types"]}
        assert {"Things/Thing", "Things/Type", "Ideation/Idea", "workflow/state_Ideation/Idea"} <= set(types)
        fields = {x["fibery/name"]: x for x in types["Things/Type"]["fibery/fields"]}
        assert fields["Things/Things"]["fibery/type"] == "Things/Thing"
        assert fields["Things/Things"]["fibery/meta"]["fibery/collection?"] is True
        assert fields["Things/description"]["fibery/type"] == "Collaboration~Documents/Document"
        assert fields["fibery/created-by"]["fibery/type"] == "fibery/user"
        assert types["Things/Type"]["fibery/meta"]["fibery/domain?"] is True
        assert types["workflow/state_Ideation/Idea"]["fibery/meta"]["fibery/enum?"] is True
        assert types["fibery/user"]["fibery/meta"]["fibery/domain?"] is True


def test_in_process_door_is_the_server_without_a_socket():
    f = FakeFibery(SNAPSHOT, rate_limit=None)
    r = f.handle("POST", f"https://acme.fibery.io{f.space_path}", AUTH, {"query": "{ findTasks(limit: 2) { name } }"})
    assert (r.status, r.json_body()) == (200, {"data": {"findTasks": [{"name": "Task 000"}, {"name": "Task 001"}]}})
    assert f.handle("GET", "/api/schema").status == 401
    assert f.stats.total == 2 and f.stats.count(operation="findTasks") == 1
    f.faults.append(ff.hang())
    with pytest.raises(TimeoutError):
        f.handle("POST", f.space_path, AUTH, {"query": "{ me { name } }"})
    transport = httpx.MockTransport(f.httpx_handler)
    with httpx.Client(transport=transport, base_url="https://acme.fibery.io") as c:
        got = c.post(f.space_path, json={"query": "{ me { email } }"}, headers=AUTH)
        assert got.json() == {"data": {"me": {"email": "fake.user@example.com"}}}
        assert c.get("/api/files/sec-1", headers=AUTH).content == PNG


@needs_real
def test_cli_serves_an_sdl():
    proc = subprocess.Popen(
        [sys.executable, str(Path(ff.__file__)), "--sdl", str(REAL / "things.graphql"), "--space", "Things",
         "--rate-limit", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()
        r = httpx.post(f"{url}/api/graphql/space/Things", json={"query": "{ findPeople { id } me { name } }"},
                       headers=AUTH)  # fmt: skip
        assert r.json() == {"data": {"findPeople": [], "me": {"name": "Fake User"}}}
    finally:
        proc.terminate()
        proc.wait(5)
