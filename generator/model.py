"""The workspace model: what was read from a Fibery space, independent of where it came from.

Every source (live Fibery, a JSON snapshot, the shipped demo) produces a ``Workspace``;
the renderer, ``gen segments`` and the snapshot writer consume it. Values are kept as the
plain JSON Fibery returns (normalised per field kind, see ``FieldKind``) so that a snapshot
is just ``msgspec.json.encode(workspace)`` and round-trips exactly. The classes are msgspec
structs: a snapshot is decoded and checked straight from its bytes, and importing them costs
a few milliseconds (issue 18).

Value shapes by kind::

    text, url, email, date, datetime  -> str | None
    number                            -> int | float | None
    boolean                           -> bool | None
    date_range                        -> {"start": str | None, "end": str | None} | None
    rich_text                         -> {"md": str, "html": str} | None
    state                             -> {"name": str, "final"?: bool} | None
    select                            -> {"name": str} | None
    multi_select                      -> [{"name": str}, ...]
    user                              -> {"name": str} | None      (a Fibery user: never an e-mail)
    users                             -> [{"name": str}, ...]
    relation                          -> {"id": str} | None      (id of an entity of ``target``)
    collection                        -> [{"id": str}, ...]
    files                             -> [{"secret": str, "name": str, "contentType": str}, ...]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec

from .naming import name_key
from .structs import FieldError, about, decode_json

SNAPSHOT_VERSION = 1
_FILE_REFERENCE = re.compile(r"(?:(?:https?:)?//([^/\s\"'<>()]+))?/api/files/([A-Za-z0-9_-]+)")


class FieldKind(StrEnum):
    """How a field's value is shaped and rendered; decided from its GraphQL type."""

    TEXT = "text"
    URL = "url"
    EMAIL = "email"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    DATE_RANGE = "date_range"
    RICH_TEXT = "rich_text"
    STATE = "state"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    RELATION = "relation"
    COLLECTION = "collection"
    FILES = "files"
    USER = "user"
    USERS = "users"

    @property
    def is_person(self) -> bool:
        """Whether values of this kind are Fibery users (people, shown by name only)."""
        return self in (FieldKind.USER, FieldKind.USERS)

    @property
    def links_entities(self) -> bool:
        """Whether values of this kind point at other entities."""
        return self in (FieldKind.RELATION, FieldKind.COLLECTION)


class _Model(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A record of the workspace: built by keyword, and an unknown key in a snapshot is an
    error (a typo must not silently drop data). Mutable: ``build.clean_names`` edits names
    in place."""


class Field(_Model, kw_only=True):
    """One field of a database."""

    key: Annotated[str, about("GraphQL field name, e.g. 'completionDate'.")]
    title: Annotated[str, about("Readable name, e.g. 'Completion Date'.")]
    kind: FieldKind
    target: Annotated[str | None, about("Key of the database a relation or collection points at.")] = None
    rest_name: Annotated[str, about("Fibery's own name of the field, e.g. 'Things/Author' ('' when unknown).")] = ""

    def is_named(self, name: str) -> bool:
        """Whether ``name`` designates this field: as Fibery shows it ("Last Reviewed"), by its
        REST name ("Nursery/Last Reviewed") or by its GraphQL name (``lastReviewed``), compared
        as ``naming.name_key`` compares names."""
        key = name_key(name)
        return key in (name_key(self.title), name_key(self.key)) or (
            bool(self.rest_name) and key == name_key(self.rest_name)
        )


class Entity(_Model, kw_only=True):
    """One entity (row) of a database, with its field values keyed by ``Field.key``."""

    id: str
    public_id: str
    name: str
    creation_date: str | None = None
    modification_date: str | None = None
    values: dict[str, Any] = {}

    def public_id_key(self) -> tuple[int, int, str, str]:
        """Sort key of public-id order: numeric ids numerically ("9" before "10"), then the
        others as text; the id breaks ties."""
        public_id = self.public_id
        return (0, int(public_id), "", self.id) if public_id.isdigit() else (1, 0, public_id, self.id)

    def related_ids(self, key: str) -> list[str]:
        """The ids of the entities the relation or collection ``key`` points at, in its order
        (none when the value is empty or not a relation's)."""
        value = self.values.get(key)
        items = value if isinstance(value, list) else [value]
        return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]


class Database(_Model, kw_only=True):
    """One Fibery database of the space, with its fields and every entity."""

    key: Annotated[str, about("GraphQL type name, e.g. 'NurseryProcessSegments'.")]
    title: Annotated[str, about("Name as Fibery shows it, e.g. 'Process Segments'.")]
    query: Annotated[str, about("Root query field, e.g. 'findProcessSegments'.")]
    web_name: Annotated[str, about("Database segment of Fibery web URLs, e.g. 'Process_Segments'.")]
    rest_name: Annotated[str, about("Fibery's own name, 'Space/Database', e.g. 'Nursery/Process Segments'.")] = ""
    fields: list[Field] = []
    entities: list[Entity] = []

    def field(self, key: str) -> Field | None:
        """Return the field called ``key`` (GraphQL name), if there is one."""
        return next((f for f in self.fields if f.key == key), None)

    def is_named(self, name: str) -> bool:
        """Whether ``name`` designates this database: as Fibery shows it ("Process Segments"),
        as ``Space/Database`` ("Nursery/Process Segments"), or by its GraphQL type
        (``NurseryProcessSegments``) or query (``findProcessSegments``, with or without ``find``)."""
        key = name_key(name)
        names = (self.title, self.key, self.query, self.query.removeprefix("find"), self.rest_name)
        return key in {name_key(n) for n in names if n}

    def find_field(self, name: str) -> Field | None:
        """Return the field ``name`` designates by any of its names (``Field.is_named``)."""
        return next((f for f in self.fields if f.is_named(name)), None)

    def fields_of(self, *kinds: FieldKind) -> list[Field]:
        """The fields of these kinds, in order."""
        return [f for f in self.fields if f.kind in kinds]

    @property
    def linking_fields(self) -> list[Field]:
        """The relations and collections: the fields whose values point at other entities."""
        return [f for f in self.fields if f.kind.links_entities]

    def entity_files(self, entity: Entity, fibery_url: str) -> list[str]:
        """The file secrets ``entity`` (of this database) references, each once, in order:
        those of its files fields, then those its rich texts embed. Only ``/api/files/`` URLs
        on the host of ``fibery_url`` (or without a host) count: an image pasted from another
        account stays a link to it."""
        return list(self._files_of([entity], urlsplit(fibery_url).netloc.casefold()))

    def _files_of(self, entities: Iterable[Entity], host: str) -> dict[str, None]:
        file_fields = [f.key for f in self.fields if f.kind is FieldKind.FILES]
        text_fields = [f.key for f in self.fields if f.kind is FieldKind.RICH_TEXT]
        secrets: dict[str, None] = {}
        for entity in entities:
            for key in file_fields:
                secrets.update((f["secret"], None) for f in entity.values.get(key) or [])
            for key in text_fields:
                value = entity.values.get(key) or {}
                for text in (value.get("html") or "", value.get("md") or ""):
                    if "/api/files/" in text:  # most texts embed no file: skip the pattern
                        secrets.update(
                            (secret, None)
                            for found, secret in _FILE_REFERENCE.findall(text)
                            if not found or found.casefold() == host
                        )
        return secrets


class Workspace(_Model, kw_only=True, dict=True):
    """A Fibery space as read at one moment: the single input of every output we produce.
    (``dict=True``: room for the ``cached_property`` index.)"""

    version: int = SNAPSHOT_VERSION
    fibery_url: str
    space: str
    databases: list[Database] = []
    files: Annotated[
        dict[str, str], about("Embedded file contents (base64) by Fibery file secret; demo/snapshots only.")
    ] = {}

    def __post_init__(self) -> None:
        """Every page links to ``fibery_url``: a snapshot must not make it ``javascript:``."""
        url = self.fibery_url.strip()
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise FieldError("fibery_url", "must be an http:// or https:// URL")
        self.fibery_url = url

    def __rich_repr__(self) -> list[tuple[str, Any]]:
        """Name the workspace and count its entities, not list them: the whole repr is tens of
        MB at 10,000 entities, and Python (3.11, 3.12) builds it when ``asyncio.run`` ends the
        fetch (restoring the Ctrl-C handler formats the main task, result and all), which
        once added 80 MB to a build's peak memory. ``__repr__`` says the same."""
        return [
            ("fibery_url", self.fibery_url),
            ("space", self.space),
            ("databases", [db.key for db in self.databases]),
            ("entities", self.entity_count),
        ]

    def __repr__(self) -> str:
        return f"Workspace({', '.join(f'{name}={value!r}' for name, value in self.__rich_repr__())})"

    @cached_property
    def entities_by_id(self) -> dict[str, tuple[Database, Entity]]:
        """Index every entity by id, once, so relations resolve in O(1)."""
        return {e.id: (db, e) for db in self.databases for e in db.entities}

    def database(self, key: str) -> Database | None:
        """Return the database whose key is ``key``."""
        return next((d for d in self.databases if d.key == key), None)

    def find_database(self, name: str) -> Database | None:
        """Return the database ``name`` designates by any of its names (``Database.is_named``)."""
        return find_database(self.databases, name)

    def referenced_files(self) -> list[str]:
        """Every file secret of this workspace that a files field or a rich text uses, each
        once, in order (see ``Database.entity_files``)."""
        return referenced_files(self.databases, self.fibery_url)

    def with_files(self, files: dict[str, str]) -> Workspace:
        """The same workspace holding ``files`` (base64 by secret) instead of its own."""
        return msgspec.structs.replace(self, files=files)

    def deep_copy(self) -> Workspace:
        """A copy sharing nothing with this workspace. Through JSON, which is all a workspace
        holds: several times faster than ``copy.deepcopy``."""
        return decode_json(msgspec.json.encode(self), Workspace)

    def in_stable_order(self) -> Workspace:
        """Return the workspace with databases by title and entities by public id (numeric
        where numeric), whatever order the source gave them in: same input, same site."""
        databases = sorted(self.databases, key=lambda d: (d.title.casefold(), d.key))
        ordered = [msgspec.structs.replace(d, entities=sorted(d.entities, key=Entity.public_id_key)) for d in databases]
        return msgspec.structs.replace(self, databases=ordered)

    @property
    def entity_count(self) -> int:
        """Number of entities over all databases."""
        return sum(len(d.entities) for d in self.databases)


def find_database(databases: Iterable[Database], name: str) -> Database | None:
    """Return the first of ``databases`` that ``name`` designates (``Database.is_named``)."""
    return next((db for db in databases if db.is_named(name)), None)


def referenced_files(databases: Iterable[Database], fibery_url: str) -> list[str]:
    """Every file secret of the workspace at ``fibery_url`` that the entities of ``databases``
    reference (``Database.entity_files``), each once, in order."""
    host = urlsplit(fibery_url).netloc.casefold()
    secrets: dict[str, None] = {}
    for db in databases:
        secrets.update(db._files_of(db.entities, host))
    return list(secrets)
