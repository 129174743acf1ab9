"""The workspace's queries, on the model: names, relations, files and public-id order."""

from __future__ import annotations

import pytest

from generator.model import Database, Entity, Field, FieldKind, Workspace, find_database, referenced_files

URL = "https://acme.fibery.io"


def _segments() -> Database:
    return Database(
        key="NurseryProcessSegments",
        title="Process Segments",
        query="findProcessSegments",
        web_name="Process_Segments",
        rest_name="Nursery/Process Segments",
        fields=[
            Field(key="lastReviewed", title="Last Reviewed", kind=FieldKind.DATE, rest_name="Nursery/Last Reviewed"),
            Field(key="predecessor", title="Predecessor", kind=FieldKind.RELATION, target="NurseryProcessSegments"),
            Field(key="equipment", title="Equipment", kind=FieldKind.COLLECTION, target="NurseryEquipment"),
            Field(key="attachments", title="Attachments", kind=FieldKind.FILES),
            Field(key="body", title="Body", kind=FieldKind.RICH_TEXT),
            Field(key="contact", title="Contact", kind=FieldKind.EMAIL),
        ],
    )


@pytest.mark.parametrize(
    "name",
    ["Process Segments", "process segments", "Nursery/Process Segments", "NurseryProcessSegments",
     "findProcessSegments", "ProcessSegments", "process_segments"],
)  # fmt: skip
def test_a_database_is_found_by_any_of_its_names(name: str) -> None:
    db = _segments()
    assert db.is_named(name)
    workspace = Workspace(fibery_url=URL, space="Nursery", databases=[db])
    assert workspace.find_database(name) is db
    assert find_database([db], name) is db


def test_a_database_is_not_found_by_another_name() -> None:
    workspace = Workspace(fibery_url=URL, space="Nursery", databases=[_segments()])
    assert not workspace.databases[0].is_named("Segments")
    assert workspace.find_database("Segments") is None


@pytest.mark.parametrize("name", ["Last Reviewed", "last reviewed", "lastReviewed", "Nursery/Last Reviewed"])
def test_a_field_is_found_by_title_graphql_name_or_rest_name(name: str) -> None:
    db = _segments()
    assert db.find_field(name) is db.fields[0]
    assert db.fields[0].is_named(name)


def test_a_field_without_a_rest_name_is_not_found_by_an_empty_one() -> None:
    db = _segments()
    assert db.find_field("Reviewed") is None
    assert db.find_field("") is None
    assert not db.fields[1].is_named("")


def test_fields_by_kind_and_the_linking_fields() -> None:
    db = _segments()
    assert [f.key for f in db.linking_fields] == ["predecessor", "equipment"]
    assert [f.key for f in db.fields_of(FieldKind.EMAIL, FieldKind.DATE)] == ["lastReviewed", "contact"]


def test_the_ids_of_a_relation_or_collection() -> None:
    entity = Entity(
        id="e1",
        public_id="1",
        name="Potting",
        values={"predecessor": {"id": "e0"}, "equipment": [{"id": "q1"}, {"id": "q2"}], "empty": None},
    )
    assert entity.related_ids("predecessor") == ["e0"]
    assert entity.related_ids("equipment") == ["q1", "q2"]
    assert entity.related_ids("empty") == []
    assert entity.related_ids("missing") == []


def test_public_id_order_is_numeric_then_text() -> None:
    entities = [Entity(id=f"id{p}", public_id=p, name=p) for p in ("10", "b", "9", "a", "100")]
    assert [e.public_id for e in sorted(entities, key=Entity.public_id_key)] == ["9", "10", "100", "a", "b"]
    same = [Entity(id="y", public_id="1", name=""), Entity(id="x", public_id="1", name="")]
    assert [e.id for e in sorted(same, key=Entity.public_id_key)] == ["x", "y"]


def test_the_files_an_entity_references() -> None:
    db = _segments()
    entity = Entity(
        id="e1",
        public_id="1",
        name="Potting",
        values={
            "attachments": [{"secret": "att-1", "name": "a.png", "contentType": "image/png"}],
            "body": {
                "html": f'<img src="{URL}/api/files/own-1"><img src="https://other.fibery.io/api/files/theirs">'
                '<img src="/api/files/att-1"><img src="//ACME.fibery.io/api/files/own-2">',
                "md": "![x](/api/files/own-3)",
            },
        },
    )
    db.entities.append(entity)
    assert db.entity_files(entity, URL) == ["att-1", "own-1", "own-2", "own-3"]
    workspace = Workspace(fibery_url=URL, space="Nursery", databases=[db])
    assert workspace.referenced_files() == ["att-1", "own-1", "own-2", "own-3"]
    assert referenced_files(workspace.databases, URL) == workspace.referenced_files()


def test_with_files_replaces_the_files_only() -> None:
    workspace = Workspace(fibery_url=URL, space="Nursery", databases=[_segments()], files={"old": "AA=="})
    changed = workspace.with_files({"new": "AQ=="})
    assert changed.files == {"new": "AQ=="} and workspace.files == {"old": "AA=="}
    assert changed.databases == workspace.databases
