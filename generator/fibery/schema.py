"""Schema discovery: the databases of a space, their fields and kinds, and their real names.

Two documents describe a space. GraphQL introspection (with descriptions) says what can be
queried: each ``find…`` root field is a database, and its type's fields are what a list
query selects. ``GET /api/schema`` (REST) says what each field *is*: a ``fibery/text``
shown as a URL, a date, a user, a formula. The two are joined exactly by the REST names
that GraphQL's descriptions carry (``names.py``); without descriptions, by comparing names.
Kinds come from REST where it describes a field and from the GraphQL type otherwise; text
fields neither describes are inferred from their values after the fetch (``values.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
)

from ..errors import FiberyError
from ..model import Database, Field, FieldKind
from ..naming import fibery_web_path, name_key
from .names import database_title, field_title, strip_space_prefix, type_rest_name
from .names import field_rest_name as described_rest_name

log = logging.getLogger(__name__)

BASE_FIELDS = ("id", "publicId", "name", "creationDate", "modificationDate")
SYSTEM_FIELDS = frozenset({*BASE_FIELDS, "rank", "createdBy"})
"""Selected by every list query (the base), or never published: ``rank`` is an ordering
detail, and ``createdBy`` (on every database) names whoever typed the record in."""
ORDER_KEYS = ("publicId", "creationDate", "id")
COLLECTION_LIMIT = 1000
"""Items asked for in each nested list. Fibery returns 100 unless told otherwise and has no
``offset`` there; a list exactly this long may still be cut short (the build log says so),
unless it is rebuilt from the other side of its relation (``values.rebuild_inverses``)."""
USER_TYPE = "fibery/user"
_REST_KINDS = {
    "fibery/url": FieldKind.URL,
    "fibery/email": FieldKind.EMAIL,
    "fibery/date": FieldKind.DATE,
    "fibery/date-time": FieldKind.DATETIME,
}
_UI_TYPES = {"url": FieldKind.URL, "email": FieldKind.EMAIL, "phone": FieldKind.TEXT, "text": FieldKind.TEXT}


# --------------------------------------------------------------------------- REST schema


@dataclass(frozen=True)
class RestField:
    """One field of ``/api/schema``: its REST name, Fibery type and meta data."""

    name: str
    type: str
    meta: Mapping[str, Any]

    @property
    def kind(self) -> FieldKind | None:
        """The kind REST tells apart and GraphQL cannot (every text is a ``String`` there)."""
        if self.type == "fibery/text":
            return _UI_TYPES.get(str(self.meta.get("ui/type") or "text"), FieldKind.TEXT)
        return _REST_KINDS.get(self.type)

    @property
    def volatile(self) -> bool:
        """Computed from other entities: may change while this one's ``modificationDate`` does not."""
        return bool(self.meta.get("formula/formula?") or self.meta.get("formula/lookup?"))

    @property
    def order(self) -> float:
        """Where Fibery's entity view shows the field (GraphQL lists fields by name instead)."""
        value = self.meta.get("ui/object-editor-order")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.inf

    @property
    def relation(self) -> str | None:
        """The id both ends of a relation share."""
        value = self.meta.get("fibery/relation")
        return str(value) if value else None


@dataclass
class RestSchema:
    """The answer of ``GET /api/schema``: types by REST name (empty when unavailable), with
    the ETag that makes the next request conditional."""

    body: dict[str, Any] | None = None
    etag: str | None = None

    def __post_init__(self) -> None:
        self.types: dict[str, dict[str, RestField]] = {}
        self._by_key: dict[str, str] = {}
        types = self.body.get("fibery/types") if isinstance(self.body, dict) else None
        for type_ in types if isinstance(types, list) else []:
            if not isinstance(type_, dict) or type_.get("fibery/deleted?") or "fibery/name" not in type_:
                continue
            name = str(type_["fibery/name"])
            fields = {}
            for raw in type_.get("fibery/fields") or []:
                if isinstance(raw, dict) and raw.get("fibery/name") and not raw.get("fibery/deleted?"):
                    meta = raw.get("fibery/meta")
                    meta = meta if isinstance(meta, dict) else {}
                    fields[str(raw["fibery/name"])] = RestField(
                        str(raw["fibery/name"]), str(raw.get("fibery/type", "")), meta
                    )
            self.types[name] = fields
            self._by_key.setdefault(name_key(name), name)
            self._by_key.setdefault(f"{name_key(name.partition('/')[0])}/{name_key(name.partition('/')[2])}", name)

    @property
    def available(self) -> bool:
        return bool(self.types)

    def guess_type(self, type_name: str, space: str) -> str | None:
        """The REST name whose letters are those of a GraphQL type name (``ThingsEvent`` →
        ``Things/Event``, or ``Event`` in ``Things``): the join when a server sends no
        descriptions."""
        return self._by_key.get(name_key(type_name)) or self._by_key.get(f"{name_key(space)}/{name_key(type_name)}")

    def field(self, type_rest: str, field_rest: str | None, field_key: str) -> RestField | None:
        """A field of a type, by its REST name, else by comparing names with the GraphQL one."""
        fields = self.types.get(type_rest) or {}
        if field_rest is not None:
            return fields.get(field_rest)
        wanted = name_key(field_key)
        return next((f for name, f in fields.items() if name_key(name.partition("/")[2]) == wanted), None)


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class FieldPlan:
    """How to select one field, what it is, and whether it needs care on incremental builds."""

    field: Field
    selection: str
    described: bool = False
    """REST gave its kind: its values are never used to guess one."""
    volatile: bool = False
    """May change without the entity's ``modificationDate`` (collections, formulas, lookups)."""
    relation: str | None = None
    """REST's relation id, shared by both ends of a relation."""
    order: float = math.inf
    """Fibery's order of the field in its entity view, when REST gives it."""
    limited: bool = False
    """A nested list asked for ``COLLECTION_LIMIT`` items: one that long may be cut short."""


@dataclass(frozen=True)
class DatabasePlan:
    """One database as discovered, with the selection of its list queries."""

    database: Database
    fields: tuple[FieldPlan, ...]
    order_by: str | None
    base: tuple[str, ...] = BASE_FIELDS
    shape: str = ""
    """The fields as GraphQL types them (name, kind before REST refinement, selection)."""
    since: bool = False
    """Whether the list query filters ``modificationDate: {greater: …}`` (incremental fetch)."""
    by_id: bool = False
    """Whether the list query filters ``id: {in: […]}``."""

    @property
    def selection(self) -> str:
        return " ".join([*self.base, *(p.selection for p in self.fields)])

    @property
    def volatile_selection(self) -> str:
        """What every incremental build reads again for all entities, with their ids."""
        return " ".join(["id", *(p.selection for p in self.fields if p.volatile)])

    @property
    def fingerprint(self) -> str:
        """What the cached entities of this database were read with: a different list query
        or differently typed fields make them unusable."""
        text = json.dumps([self.database.query, self.order_by, self.shape, self.selection, self.volatile_selection])
        return hashlib.sha256(text.encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- discovery


def _subfields(type_: GraphQLObjectType, wanted: Iterable[str]) -> list[str]:
    return [name for name in wanted if name in type_.fields]


def _is_entity_type(type_: GraphQLObjectType) -> bool:
    """A database's type (of this space or another): entities have dates, options do not."""
    return {"id", "creationDate", "modificationDate"} <= type_.fields.keys()


def _is_user_type(type_: GraphQLNamedType) -> bool:
    return type_.name == "FiberyUser" or type_rest_name(type_.description) == USER_TYPE


def _list_arguments(gql_field: GraphQLField) -> str:
    """Nested lists come back with 100 items unless ``limit`` says otherwise."""
    return f"(limit: {COLLECTION_LIMIT})" if "limit" in gql_field.args else ""


def _classify(
    name: str, gql_field: GraphQLField, db_types: set[str], formats: tuple[str, ...]
) -> tuple[FieldKind, str | None, str] | None:
    """Decide a field's kind (and relation target) from its GraphQL type alone.

    Returns ``(kind, target type, selection)``, or None for fields we do not publish."""
    is_list = isinstance(get_nullable_type(gql_field.type), GraphQLList)
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
    args = _list_arguments(gql_field) if is_list else ""
    subs = inner.fields
    if _is_user_type(inner):
        return (FieldKind.USERS if is_list else FieldKind.USER), None, f"{name}{args} {{ name }}"
    if inner.name in db_types or _is_entity_type(inner):
        kind = FieldKind.COLLECTION if is_list else FieldKind.RELATION
        return kind, inner.name, f"{name}{args} {{ id }}"
    if not is_list and ("md" in subs or "html" in subs):
        wanted = _subfields(inner, formats) or _subfields(inner, ("html", "md"))
        return FieldKind.RICH_TEXT, None, f"{name} {{ {' '.join(wanted)} }}"
    if not is_list and "start" in subs and "end" in subs:
        return FieldKind.DATE_RANGE, None, f"{name} {{ start end }}"
    if is_list and "secret" in subs:
        return (
            FieldKind.FILES,
            None,
            f"{name}{args} {{ {' '.join(_subfields(inner, ('secret', 'name', 'contentType')))} }}",
        )
    if "name" in subs:
        if is_list:
            return FieldKind.MULTI_SELECT, None, f"{name}{args} {{ name }}"
        if name == "state" or inner.name.startswith("WorkflowState"):
            return FieldKind.STATE, None, f"{name} {{ {' '.join(_subfields(inner, ('name', 'final')))} }}"
        return FieldKind.SELECT, None, f"{name} {{ name }}"
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


def database_queries(schema: GraphQLSchema) -> dict[str, tuple[GraphQLField, GraphQLObjectType]]:
    """The root ``find…`` fields that list a database, by name (read, never pluralised by us)."""
    query_type = schema.query_type
    if query_type is None:
        raise FiberyError("Fibery's schema has no Query type")
    finds = {}
    for qname, qfield in query_type.fields.items():
        inner = get_named_type(qfield.type)
        if (
            qname.startswith("find")
            and isinstance(get_nullable_type(qfield.type), GraphQLList)
            and isinstance(inner, GraphQLObjectType)
        ):
            finds[qname] = (qfield, inner)
    return finds


class _Namer:
    """The REST names of one space's types and fields, from descriptions or, failing them,
    from the REST schema or the type name itself."""

    def __init__(self, space: str, rest: RestSchema) -> None:
        self.space = space
        self.rest = rest

    def database(self, type_: GraphQLObjectType) -> str:
        described = type_rest_name(type_.description)
        if described:
            return described
        guessed = self.rest.guess_type(type_.name, self.space)
        return guessed or f"{self.space}/{strip_space_prefix(type_.name, self.space)}"

    def field(self, type_rest: str, name: str, gql_field: GraphQLField) -> tuple[str, RestField | None]:
        """(REST name, REST field if ``/api/schema`` has it) of one field."""
        described = described_rest_name(gql_field.description)
        found = self.rest.field(type_rest, described, name)
        if described:
            return described, found
        return (found.name if found else f"{type_rest.partition('/')[0]}/{name}"), found


def _field_plan(
    namer: _Namer, type_rest: str, fname: str, gql_field: GraphQLField, db_types: set[str], formats: tuple[str, ...]
) -> tuple[FieldPlan, tuple[str, str, str | None]] | None:
    classified = _classify(fname, gql_field, db_types, formats)
    if classified is None:
        log.debug("skipping field %s of unsupported type", fname)
        return None
    kind, target, selection = classified
    rest_name, rest_field = namer.field(type_rest, fname, gql_field)
    rest_kind = rest_field.kind if rest_field else None
    if rest_field is not None and rest_field.type == USER_TYPE and kind in (FieldKind.SELECT, FieldKind.MULTI_SELECT):
        kind = FieldKind.USER if kind is FieldKind.SELECT else FieldKind.USERS
    if rest_kind is not None and kind is FieldKind.TEXT:
        kind = rest_kind
    field_ = Field(key=fname, title=field_title(rest_name), kind=kind, target=target, rest_name=rest_name)
    plan = FieldPlan(
        field_,
        selection,
        described=rest_field is not None,
        volatile=kind is FieldKind.COLLECTION or bool(rest_field and rest_field.volatile),
        relation=rest_field.relation if rest_field else None,
        order=rest_field.order if rest_field else math.inf,
        limited="(limit:" in selection,
    )
    return plan, (fname, classified[0].value, target)


def discover(schema: GraphQLSchema, space: str, rest: RestSchema, formats: tuple[str, ...]) -> list[DatabasePlan]:
    """Find the databases (object types the root ``Query`` lists through a ``find…`` field),
    with their fields, kinds and Fibery names. ``formats`` are the rich-text formats to read."""
    finds = database_queries(schema)
    namer = _Namer(space, rest)
    db_types = {type_.name for _, type_ in finds.values()}
    plans = []
    for qname, (qfield, type_) in sorted(finds.items()):
        type_rest = namer.database(type_)
        fields, shape = [], []
        for fname, gql_field in type_.fields.items():
            if fname in SYSTEM_FIELDS:
                continue
            planned = _field_plan(namer, type_rest, fname, gql_field, db_types, formats)
            if planned is not None:
                fields.append(planned[0])
                shape.append(planned[1])
        # Fibery's own order where REST gives it; GraphQL's (by REST name) for the rest.
        fields.sort(key=lambda p: p.order)
        database = Database(
            key=type_.name,
            title=database_title(type_rest),
            query=qname,
            web_name=fibery_web_path(type_rest).partition("/")[2],
            rest_name=type_rest,
            fields=[p.field for p in fields],
        )
        plans.append(
            DatabasePlan(
                database,
                tuple(fields),
                _order_key(qfield),
                base=tuple(f for f in BASE_FIELDS if f in type_.fields),
                shape=json.dumps(shape),
                since=_filters(qfield, "modificationDate", "greater"),
                by_id=_filters(qfield, "id", "in"),
            )
        )
    return plans
