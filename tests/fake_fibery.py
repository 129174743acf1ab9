"""A local fake of Fibery's GraphQL API, for end-to-end tests and benchmarks.

The fake follows ``/work/shared/FIBERY_API.md`` (what the *real* Fibery does), not what any
client expects. It is populated from a workspace snapshot given as a plain dict (the JSON of
``generator.model.Workspace``) and imports nothing from ``generator``.

Names are derived from titles by Fibery's rules; the snapshot's ``key``/``query`` are ignored:

* type name: title transliterated to ASCII (NFKD + a few extra letters), split into words
  (lodash-style: spaces, punctuation, case changes and digit runs separate words), each word
  capitalised and lower-cased after its first letter, joined: ``Café Notes`` -> ``CafeNotes``,
  ``Sub-bug`` -> ``SubBug``, ``API Key`` -> ``ApiKey``.
* field name: the same words in camelCase: ``Completion Date`` -> ``completionDate``.
* query name: ``find`` + English plural of the type name: consonant+``y`` -> ``ies``;
  ``s``/``x``/``z``/``ch``/``sh`` -> ``+es``; else ``+s`` (``CafeNotes`` -> ``findCafeNoteses``).

Served routes (all ``/api/*`` routes need ``Authorization: Token <t>`` or ``Bearer <t>``):

* ``POST /api/graphql/space/{Space_Name}`` - GraphQL; ``GET`` shows a GraphiQL shell.
* ``GET /api/graphql`` - HTML list of space endpoints.
* ``GET /api/schema`` - REST schema (``fibery/types``) with ``ETag`` / ``If-None-Match``.
* ``GET /api/files/{secret}`` - file bytes from the snapshot's ``files``.

Choices where FIBERY_API.md is UNCERTAIN (documented so tests do not over-fit):

* GraphQL syntax/validation errors and request errors (no query, bad variables, unknown
  operation) -> HTTP 400 ``{"errors": [...]}``; execution errors -> HTTP 200 with ``data``.
* Malformed JSON body -> HTTP 500 ``{"name": "SyntaxError", "message": ..., "data": {}}``.
  A body whose ``Content-Type`` is not JSON is ignored (like express' body-parser) -> 400.
* No ``Retry-After`` on 429 unless ``retry_after`` is given. Every authenticated ``/api/*``
  request counts towards the per-token limit (GraphQL, schema, files, HTML pages).
* ``contains``/``notContains`` are case-insensitive substring tests; ``isNot``/``notIn`` match
  null values; ordering comparisons never match null.
* Collection filters (``isEmpty, contains, containsAny, notContains, notContainsAny``) take a
  list of inner filters: ``contains`` = every inner filter matches some item, ``containsAny`` =
  some inner filter matches some item; the ``not`` forms negate those.
* Nested collection fields accept the same arguments as ``find*`` but have no default limit
  (configurable with ``collection_default_limit``).
* Sorting puts nulls last for ``ASC`` and first for ``DESC`` (PostgreSQL's default); ties keep
  snapshot order. ``publicId`` sorts as a string.
* Empty lists (collections, multi-selects, files) are ``[]``; other empty values are ``null``.
  Integral floats are sent as JSON integers (as a JavaScript server would).
* ``/api/schema`` always includes a soft-deleted type and a soft-deleted field, whatever
  ``with-soft-deleted`` says, so that clients must filter them out.
* Field names colliding with ``limit``/``offset``/``orderBy`` get no filter argument; a field
  name colliding with a built-in or earlier field gets a numeric suffix (``name2``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import hashlib
import html
import itertools
import json
import mimetypes
import re
import socket
import threading
import time
import unicodedata
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, quote, unquote, urlsplit

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLError,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    assert_valid_schema,
    execute_sync,
    get_named_type,
    parse,
    validate,
    value_from_ast,
)
from graphql.error import GraphQLSyntaxError
from graphql.language import DocumentNode, FieldNode, ObjectValueNode, VariableNode
from graphql.pyutils import Undefined

__all__ = [
    "HANG",
    "FakeFibery",
    "FaultContext",
    "LogEntry",
    "Response",
    "Stats",
    "burst_429",
    "camel_case",
    "delay",
    "drift",
    "drop_database",
    "drop_field",
    "fail_every",
    "graphql_errors_on_page",
    "graphql_names",
    "hang",
    "pascal_case",
    "pluralize",
    "rename_field",
    "space_url_name",
    "transliterate",
    "truncated_json",
]

DEFAULT_LIMIT = 100
BUILTIN_FIELDS = ("id", "publicId", "name", "creationDate", "modificationDate")
RESERVED_ARGS = ("limit", "offset", "orderBy")
STRING_KINDS = {"text", "url", "email", "date", "datetime"}
_NS = uuid.UUID("6f1b3c2e-8d0a-4c59-9a8e-f1be27000000")


# --------------------------------------------------------------------------------------
# Naming rules
# --------------------------------------------------------------------------------------

_EXTRA_LETTERS = str.maketrans(
    {
        "ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O",
        "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D",
        "ı": "i",
    }
)  # fmt: skip
_WORD_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def transliterate(text: str) -> str:
    """Return ``text`` in ASCII: NFKD decomposition without marks, plus a few extra letters."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA_LETTERS))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _words(title: str) -> list[str]:
    """Split a title into words the way lodash's ``words`` does (after transliteration)."""
    return _WORD_RE.findall(transliterate(title))


def _valid_name(name: str, fallback: str) -> str:
    """Make ``name`` a legal GraphQL name (non-empty, not starting with a digit)."""
    if not name:
        return fallback
    return "_" + name if name[0].isdigit() else name


def pascal_case(title: str) -> str:
    """``"Café Notes"`` -> ``"CafeNotes"``; the GraphQL type name of a database."""
    name = "".join(w[:1].upper() + w[1:].lower() for w in _words(title))
    return _valid_name(name, "Unnamed")


def camel_case(title: str) -> str:
    """``"Completion Date"`` -> ``"completionDate"``; the GraphQL name of a field."""
    words = _words(title)
    if not words:
        return "unnamed"
    first, rest = words[0].lower(), words[1:]
    return _valid_name(first + "".join(w[:1].upper() + w[1:].lower() for w in rest), "unnamed")


def pluralize(word: str) -> str:
    """English plural: ``Company`` -> ``Companies``, ``Hotfix`` -> ``Hotfixes``, ``Bug`` -> ``Bugs``."""
    if re.search(r"[^aeiou]y$", word, re.IGNORECASE):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word, re.IGNORECASE):
        return word + "es"
    return word + "s"


def space_url_name(space: str) -> str:
    """The space's segment in ``/api/graphql/space/{name}``: whitespace -> ``_``, case kept."""
    return re.sub(r"\s", "_", space)


@dataclass
class _FieldSpec:
    """One snapshot field with the GraphQL names the fake derives for it."""

    title: str
    input_key: str
    kind: str
    name: str
    pascal: str
    target_key: str | None = None
    target: _DbSpec | None = None


@dataclass
class _DbSpec:
    """One snapshot database with its derived GraphQL names."""

    title: str
    input_key: str
    type_name: str
    query_name: str
    fields: list[_FieldSpec]
    entities: list[dict[str, Any]]


def _derive_specs(snapshot: dict[str, Any]) -> list[_DbSpec]:
    """Derive type, query and field names for every database of ``snapshot``."""
    specs: list[_DbSpec] = []
    seen_types: dict[str, str] = {}
    for db in snapshot.get("databases", []):
        type_name = pascal_case(db["title"])
        if type_name in seen_types:
            raise ValueError(
                f"databases {seen_types[type_name]!r} and {db['title']!r} both map to {type_name}"
            )
        seen_types[type_name] = db["title"]
        specs.append(
            _DbSpec(
                title=db["title"],
                input_key=db.get("key", db["title"]),
                type_name=type_name,
                query_name="find" + pluralize(type_name),
                fields=_derive_fields(db.get("fields", [])),
                entities=list(db.get("entities", [])),
            )
        )
    by_key = {s.input_key: s for s in specs}
    for spec in specs:
        for f in spec.fields:
            if f.kind in ("relation", "collection"):
                f.target = by_key.get(f.target_key or "")
        spec.fields = [
            f for f in spec.fields if f.kind not in ("relation", "collection") or f.target
        ]
    return specs


def _derive_fields(fields: list[dict[str, Any]]) -> list[_FieldSpec]:
    """Name the fields of one database, de-duplicating clashes with numeric suffixes."""
    used = set(BUILTIN_FIELDS)
    out = []
    for f in fields:
        base = camel_case(f["title"])
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        out.append(
            _FieldSpec(f["title"], f["key"], f["kind"], name, pascal_case(f["title"]), f.get("target"))
        )
    return out


def graphql_names(snapshot: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, str]]]:
    """Predict the fake's names: ``{db_title: (type_name, query_name, {field_title: name})}``."""
    return {
        s.title: (s.type_name, s.query_name, {f.title: f.name for f in s.fields})
        for s in _derive_specs(snapshot)
    }


# --------------------------------------------------------------------------------------
# Rows: entity values shaped as the GraphQL API returns them
# --------------------------------------------------------------------------------------


def _uuid(*parts: str) -> str:
    """A stable UUID derived from ``parts`` (for ids the snapshot does not carry)."""
    return str(uuid.uuid5(_NS, "\x1f".join(parts)))


def _html_to_text(source: str) -> str:
    """Plain text of an HTML fragment: block ends become newlines, tags are dropped."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", source)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|blockquote|pre|tr)>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{2,}", "\n", html.unescape(text)).strip()


def _rich_text(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Shape a snapshot rich text ``{md, html}`` into ``{text, md, html, jsonString}``."""
    if not value:
        return None
    md, doc_html = value.get("md") or "", value.get("html") or ""
    text = _html_to_text(doc_html) if doc_html else md
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.split("\n")
        if line
    ]
    doc = {"doc": {"type": "doc", "content": paragraphs}}
    return {"text": text, "md": md, "html": doc_html, "jsonString": json.dumps(doc)}


def _shape_value(db: _DbSpec, f: _FieldSpec, value: Any) -> Any:
    """Turn a snapshot value of ``f`` into its GraphQL output (links resolved later)."""
    kind = f.kind
    if kind in STRING_KINDS:
        return value if value not in ("", None) else None
    if kind in ("number", "boolean"):
        return value
    if kind == "date_range":
        return {"start": value.get("start"), "end": value.get("end")} if value else None
    if kind == "rich_text":
        return _rich_text(value)
    if kind in ("state", "select"):
        return _enum_value(db, f, value) if value and value.get("name") is not None else None
    if kind == "multi_select":
        return [_enum_value(db, f, v) for v in value or []]
    if kind == "relation":
        return value.get("id") if value else None
    if kind == "collection":
        return [v["id"] for v in value or [] if v and v.get("id")]
    if kind == "files":
        return [_file_value(v) for v in value or []]
    return value


def _enum_value(db: _DbSpec, f: _FieldSpec, value: dict[str, Any]) -> dict[str, Any]:
    """A workflow state or select option as ``{id, name}``."""
    return {"id": value.get("id") or _uuid(db.title, f.title, value["name"]), "name": value["name"]}


def _file_value(value: dict[str, Any]) -> dict[str, Any]:
    """A file as ``{id, secret, name, contentType}``."""
    secret = value.get("secret", "")
    return {
        "id": value.get("id") or _uuid("file", secret),
        "secret": secret,
        "name": value.get("name"),
        "contentType": value.get("contentType"),
    }


def _build_rows(specs: list[_DbSpec]) -> dict[str, list[dict[str, Any]]]:
    """Build one row dict per entity (keyed by GraphQL field names), with links resolved."""
    rows: dict[str, list[dict[str, Any]]] = {}
    index: dict[str, dict[str, dict[str, Any]]] = {}
    for db in specs:
        rows[db.type_name] = []
        index[db.type_name] = {}
        for e in db.entities:
            row = {
                "id": e["id"],
                "publicId": None if e.get("public_id") is None else str(e["public_id"]),
                "name": e.get("name"),
                "creationDate": e.get("creation_date"),
                "modificationDate": e.get("modification_date"),
            }
            values = e.get("values") or {}
            for f in db.fields:
                row[f.name] = _shape_value(db, f, values.get(f.input_key))
            rows[db.type_name].append(row)
            index[db.type_name][row["id"]] = row
    for db in specs:
        for f in db.fields:
            if f.kind not in ("relation", "collection"):
                continue
            targets = index[f.target.type_name]  # type: ignore[union-attr]
            for row in rows[db.type_name]:
                if f.kind == "relation":
                    row[f.name] = targets.get(row[f.name]) if row[f.name] else None
                else:
                    row[f.name] = [targets[i] for i in row[f.name] if i in targets]
    return rows


# --------------------------------------------------------------------------------------
# Filtering, ordering, paging
# --------------------------------------------------------------------------------------

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "greater": lambda a, b: a > b,
    "greaterOrEquals": lambda a, b: a >= b,
    "less": lambda a, b: a < b,
    "lessOrEquals": lambda a, b: a <= b,
}


def _kind_of(t: GraphQLNamedType) -> str | None:
    """The fake's tag on a filter input type: ``scalar``, ``list`` or ``None`` (nested)."""
    return (t.extensions or {}).get("fake_kind")


def _scalar_matches(value: Any, ops: dict[str, Any]) -> bool:
    """Apply operator object ``ops`` (``is``, ``in``, ``greater``...) to one value."""
    for op, arg in ops.items():
        if op == "isNull":
            ok = arg is None or (value is None) == arg
        elif op == "is":
            ok = value == arg
        elif op == "isNot":
            ok = value != arg
        elif op in ("contains", "notContains"):
            found = value is not None and str(arg or "").lower() in str(value).lower()
            ok = found if op == "contains" else not found
        elif op in _COMPARISONS:
            ok = value is not None and arg is not None and _COMPARISONS[op](value, arg)
        elif op == "in":
            ok = value in (arg or [])
        elif op == "notIn":
            ok = value not in (arg or [])
        else:  # pragma: no cover - the schema allows no other operator
            ok = True
        if not ok:
            return False
    return True


def _list_matches(items: list[Any], ops: dict[str, Any], inner: GraphQLInputObjectType) -> bool:
    """Apply a collection filter (``isEmpty``, ``contains``, ``containsAny``...) to a list."""

    def some_item(f: dict[str, Any]) -> bool:
        return any(_matches(item, f, inner) for item in items)

    for op, filters in ops.items():
        if filters is None:
            continue
        if op == "isEmpty":
            ok = (not items) == filters
        elif op in ("contains", "notContains"):
            ok = all(some_item(f) for f in filters) == (op == "contains")
        else:  # containsAny / notContainsAny
            ok = any(some_item(f) for f in filters) == (op == "containsAny")
        if not ok:
            return False
    return True


def _matches(obj: Any, filters: dict[str, Any], ftype: GraphQLInputObjectType) -> bool:
    """Whether ``obj`` (a row or nested object, possibly None) passes every filter."""
    for key, cond in filters.items():
        if cond is None:
            continue
        sub_type = get_named_type(ftype.fields[key].type)
        value = obj.get(key) if isinstance(obj, dict) else None
        kind = _kind_of(sub_type)
        if kind == "scalar":
            ok = _scalar_matches(value, cond)
        elif kind == "list":
            inner = get_named_type(sub_type.fields["contains"].type)
            ok = _list_matches(value or [], cond, inner)
        else:
            ok = _matches(value, cond, sub_type)
        if not ok:
            return False
    return True


def _ast_hint(node: Any, raw_variables: dict[str, Any]) -> Any:
    """Mirror an argument's literal/variable so that the caller's key order is known."""
    if isinstance(node, ObjectValueNode):
        return {f.name.value: _ast_hint(f.value, raw_variables) for f in node.fields}
    if isinstance(node, VariableNode):
        return raw_variables.get(node.name.value)
    return None


def _order_terms(value: dict[str, Any], hint: Any, prefix: tuple[str, ...] = ()) -> Iterator:
    """Yield ``(path, "ASC"|"DESC")`` sort terms in the order the caller wrote them."""
    ordered = [k for k in hint if k in value] if isinstance(hint, dict) else []
    ordered += [k for k in value if k not in ordered]
    for key in ordered:
        sub, sub_hint = value[key], hint.get(key) if isinstance(hint, dict) else None
        if isinstance(sub, dict):
            yield from _order_terms(sub, sub_hint, (*prefix, key))
        elif sub is not None:
            yield (*prefix, key), sub


def _dig(row: Any, path: tuple[str, ...]) -> Any:
    """Follow ``path`` through nested dicts; None when a step is missing."""
    for part in path:
        row = row.get(part) if isinstance(row, dict) else None
    return row


def _sort_rows(rows: list[dict[str, Any]], terms: list[tuple]) -> list[dict[str, Any]]:
    """Stable multi-key sort; nulls last for ASC and first for DESC."""
    rows = list(rows)
    for path, direction in reversed(terms):
        rows.sort(
            key=lambda r, p=path: (_dig(r, p) is None, _dig(r, p) if _dig(r, p) is not None else 0),
            reverse=direction == "DESC",
        )
    return rows


@dataclass
class _Paging:
    """Settings that apply to one list field (root ``find*`` or a nested collection)."""

    filter_type: GraphQLInputObjectType
    default_limit: int | None
    max_limit: int | None


def _min_limit(a: int | None, b: int | None) -> int | None:
    """The smaller of two optional limits (None = unlimited)."""
    return b if a is None else a if b is None else min(a, b)


def _select_rows(
    rows: list[dict[str, Any]], args: dict[str, Any], info: GraphQLResolveInfo, paging: _Paging
) -> list[dict[str, Any]]:
    """Apply filter arguments, ``orderBy``, ``offset`` and ``limit`` to ``rows``."""
    args = dict(args)
    limit = args.pop("limit", None)
    offset = args.pop("offset", None) or 0
    order = args.pop("orderBy", None)
    if limit is not None and limit < 0:
        raise GraphQLError(f"limit must not be negative, got {limit}")
    if offset < 0:
        raise GraphQLError(f"offset must not be negative, got {offset}")
    if paging.max_limit is not None and limit is not None and limit > paging.max_limit:
        raise GraphQLError(f"limit {limit} exceeds the maximum of {paging.max_limit}")
    if limit is None:  # an omitted limit never exceeds max_limit
        limit = _min_limit(paging.default_limit, paging.max_limit)
    selected = [r for r in rows if _matches(r, args, paging.filter_type)] if args else list(rows)
    if order:
        raw = (info.context or {}).get("raw_variables") or {}
        node = next((a.value for a in info.field_nodes[0].arguments if a.name.value == "orderBy"), None)
        selected = _sort_rows(selected, list(_order_terms(order, _ast_hint(node, raw))))
    end = None if limit is None else offset + limit
    return selected[offset:end]


# --------------------------------------------------------------------------------------
# GraphQL schema
# --------------------------------------------------------------------------------------


def _ops_type(name: str, scalar: Any, ops: Iterable[str]) -> GraphQLInputObjectType:
    """An operator input object such as ``StringFilter {is, isNot, contains, ...}``."""
    fields = {}
    for op in ops:
        if op in ("in", "notIn"):
            fields[op] = GraphQLInputField(GraphQLList(scalar))
        elif op == "isNull":
            fields[op] = GraphQLInputField(GraphQLBoolean)
        else:
            fields[op] = GraphQLInputField(scalar)
    return GraphQLInputObjectType(name, fields, extensions={"fake_kind": "scalar"})


_COMPARE_OPS = ("greater", "greaterOrEquals", "less", "lessOrEquals")
_STRING_OPS = ("is", "isNot", "contains", "notContains", *_COMPARE_OPS, "in", "notIn", "isNull")
_NUMBER_OPS = ("is", "isNot", *_COMPARE_OPS, "in", "notIn", "isNull")


class _SchemaBuilder:
    """Builds the GraphQL schema of one space from its database specs and rows."""

    def __init__(
        self,
        specs: list[_DbSpec],
        rows: dict[str, list[dict[str, Any]]],
        *,
        max_limit: int | None,
        collection_default_limit: int | None,
        me: dict[str, Any],
    ) -> None:
        self.specs, self.rows, self.me = specs, rows, me
        self.max_limit, self.collection_default_limit = max_limit, collection_default_limit
        self.types: dict[str, GraphQLNamedType] = {}
        self._shared_types()

    def _add(self, t: Any) -> Any:
        """Register a named type, refusing two types with one name."""
        if t.name in self.types:
            raise ValueError(f"GraphQL type name clash: {t.name}")
        self.types[t.name] = t
        return t

    def _shared_types(self) -> None:
        """Types that do not depend on the databases."""
        add = self._add
        self.string_filter = add(_ops_type("StringFilter", GraphQLString, _STRING_OPS))
        self.float_filter = add(_ops_type("FloatFilter", GraphQLFloat, _NUMBER_OPS))
        self.bool_filter = add(_ops_type("BooleanFilter", GraphQLBoolean, ("is", "isNull")))
        self.id_filter = add(
            _ops_type("IDFilter", GraphQLID, ("is", "isNot", "in", "notIn", "isNull"))
        )
        self.direction = add(
            GraphQLEnumType(
                "OrderDirection", {"ASC": GraphQLEnumValue("ASC"), "DESC": GraphQLEnumValue("DESC")}
            )
        )
        s = GraphQLField(GraphQLString)
        self.date_range = add(GraphQLObjectType("DateRange", {"start": s, "end": s}))
        self.date_range_filter = add(
            GraphQLInputObjectType(
                "DateRangeFilter",
                {"start": GraphQLInputField(self.string_filter), "end": GraphQLInputField(self.string_filter)},
            )
        )
        d = GraphQLInputField(self.direction)
        self.date_range_order = add(GraphQLInputObjectType("DateRangeOrderBy", {"start": d, "end": d}))
        self.enum_order = add(GraphQLInputObjectType("EnumValueOrderBy", {"id": d, "name": d}))
        self.rich_text = add(
            GraphQLObjectType("RichText", {"text": s, "md": s, "html": s, "jsonString": s})
        )
        self.file = add(
            GraphQLObjectType(
                "File", {"id": GraphQLField(GraphQLID), "secret": s, "name": s, "contentType": s}
            )
        )
        self.user = add(
            GraphQLObjectType("CurrentUser", {"id": GraphQLField(GraphQLID), "email": s, "name": s})
        )

    def build(self) -> GraphQLSchema:
        """Create every database's types and the root ``Query``; validate the result."""
        self.objects: dict[str, GraphQLObjectType] = {}
        self.filters: dict[str, GraphQLInputObjectType] = {}
        self.list_filters: dict[str, GraphQLInputObjectType] = {}
        self.orders: dict[str, GraphQLInputObjectType] = {}
        self.enums: dict[tuple[str, str], tuple[GraphQLObjectType, GraphQLInputObjectType]] = {}
        for spec in self.specs:
            self._database_types(spec)
        query = self._add(GraphQLObjectType("Query", self._query_fields))
        schema = GraphQLSchema(query=query)
        assert_valid_schema(schema)
        return schema

    def _database_types(self, spec: _DbSpec) -> None:
        """Create the object, filter, collection-filter and orderBy types of one database."""
        t = spec.type_name
        self.objects[t] = self._add(GraphQLObjectType(t, lambda: self._object_fields(spec)))
        self.filters[t] = self._add(
            GraphQLInputObjectType(f"{t}Filter", lambda: self._filter_fields(spec))
        )
        self.list_filters[t] = self._add(self._collection_filter(f"{t}CollectionFilter", self.filters[t]))
        self.orders[t] = self._add(
            GraphQLInputObjectType(f"{t}OrderBy", lambda: self._order_fields(spec))
        )
        for f in spec.fields:
            if f.kind in ("state", "select", "multi_select"):
                self._enum_types(spec, f)

    def _collection_filter(
        self, name: str, inner: GraphQLInputObjectType
    ) -> GraphQLInputObjectType:
        """``isEmpty, contains, containsAny, notContains, notContainsAny`` over ``inner``."""
        inner_list = GraphQLInputField(GraphQLList(inner))
        ops = {op: inner_list for op in ("contains", "containsAny", "notContains", "notContainsAny")}
        return GraphQLInputObjectType(
            name, {"isEmpty": GraphQLInputField(GraphQLBoolean), **ops}, extensions={"fake_kind": "list"}
        )

    def _enum_types(self, spec: _DbSpec, f: _FieldSpec) -> None:
        """``WorkflowState<Type>`` or ``<Type><Field>Enum`` with its filter types."""
        name = f"WorkflowState{spec.type_name}" if f.kind == "state" else f"{spec.type_name}{f.pascal}Enum"
        obj = self._add(
            GraphQLObjectType(name, {"id": GraphQLField(GraphQLID), "name": GraphQLField(GraphQLString)})
        )
        filt = self._add(
            GraphQLInputObjectType(
                f"{name}Filter",
                {"id": GraphQLInputField(self.id_filter), "name": GraphQLInputField(self.string_filter)},
            )
        )
        if f.kind == "multi_select":
            filt = self._add(self._collection_filter(f"{name}CollectionFilter", filt))
        self.enums[(spec.type_name, f.name)] = (obj, filt)

    def _builtin(self) -> dict[str, GraphQLField]:
        """Fields every database type has."""
        s = GraphQLField(GraphQLString)
        return {"id": GraphQLField(GraphQLID), "publicId": s, "name": s, "creationDate": s, "modificationDate": s}

    def _object_fields(self, spec: _DbSpec) -> dict[str, GraphQLField]:
        """Output fields of a database type."""
        fields = self._builtin()
        for f in spec.fields:
            fields[f.name] = self._output_field(spec, f)
        return fields

    def _output_field(self, spec: _DbSpec, f: _FieldSpec) -> GraphQLField:
        """The output field for one snapshot field kind."""
        kind = f.kind
        if kind in STRING_KINDS:
            return GraphQLField(GraphQLString)
        simple = {"number": GraphQLFloat, "boolean": GraphQLBoolean, "date_range": self.date_range,
                  "rich_text": self.rich_text, "files": GraphQLList(self.file)}  # fmt: skip
        if kind in simple:
            return GraphQLField(simple[kind])
        if kind in ("state", "select"):
            return GraphQLField(self.enums[(spec.type_name, f.name)][0])
        if kind == "multi_select":
            return GraphQLField(GraphQLList(self.enums[(spec.type_name, f.name)][0]))
        target = f.target.type_name  # type: ignore[union-attr]
        if kind == "relation":
            return GraphQLField(self.objects[target])
        paging = _Paging(self.filters[target], self.collection_default_limit, self.max_limit)
        return GraphQLField(
            GraphQLList(self.objects[target]),
            args=self._list_args(target),
            resolve=lambda src, info, _n=f.name, **args: _select_rows(src.get(_n) or [], args, info, paging),
        )

    def _filter_fields(self, spec: _DbSpec) -> dict[str, GraphQLInputField]:
        """Filterable fields of a database (also used as ``find*`` arguments)."""
        sf = GraphQLInputField(self.string_filter)
        fields = {"id": GraphQLInputField(self.id_filter), "publicId": sf, "name": sf,
                  "creationDate": sf, "modificationDate": sf}  # fmt: skip
        for f in spec.fields:
            t = self._filter_type(spec, f)
            if t is not None:
                fields[f.name] = GraphQLInputField(t)
        return fields

    def _filter_type(self, spec: _DbSpec, f: _FieldSpec) -> GraphQLInputObjectType | None:
        """The filter input type of one field, or None if it cannot be filtered."""
        kind = f.kind
        if kind in STRING_KINDS:
            return self.string_filter
        if kind in ("number", "boolean", "date_range"):
            return {"number": self.float_filter, "boolean": self.bool_filter,
                    "date_range": self.date_range_filter}[kind]  # fmt: skip
        if kind in ("state", "select", "multi_select"):
            return self.enums[(spec.type_name, f.name)][1]
        if kind == "relation":
            return self.filters[f.target.type_name]  # type: ignore[union-attr]
        if kind == "collection":
            return self.list_filters[f.target.type_name]  # type: ignore[union-attr]
        return None  # rich_text, files

    def _order_fields(self, spec: _DbSpec) -> dict[str, GraphQLInputField]:
        """Sortable fields: scalars, date range parts, state/select names, relations."""
        d = GraphQLInputField(self.direction)
        fields = dict.fromkeys(BUILTIN_FIELDS, d)
        for f in spec.fields:
            if f.kind in STRING_KINDS or f.kind in ("number", "boolean"):
                fields[f.name] = d
            elif f.kind == "date_range":
                fields[f.name] = GraphQLInputField(self.date_range_order)
            elif f.kind in ("state", "select"):
                fields[f.name] = GraphQLInputField(self.enum_order)
            elif f.kind == "relation":
                fields[f.name] = GraphQLInputField(self.orders[f.target.type_name])  # type: ignore[union-attr]
        return fields

    def _list_args(self, type_name: str) -> dict[str, GraphQLArgument]:
        """``limit``, ``offset``, ``orderBy`` and one argument per filterable field."""
        args = {
            "limit": GraphQLArgument(GraphQLInt),
            "offset": GraphQLArgument(GraphQLInt),
            "orderBy": GraphQLArgument(self.orders[type_name]),
        }
        for name, f in self.filters[type_name].fields.items():
            if name not in RESERVED_ARGS:
                args[name] = GraphQLArgument(f.type)
        return args

    def _query_fields(self) -> dict[str, GraphQLField]:
        """Root fields: ``me`` and one ``find<Plural>`` per database."""
        fields = {"me": GraphQLField(self.user, resolve=lambda *_: self.me)}
        for spec in self.specs:
            t = spec.type_name
            paging = _Paging(self.filters[t], DEFAULT_LIMIT, self.max_limit)
            fields[spec.query_name] = GraphQLField(
                GraphQLList(self.objects[t]),
                args=self._list_args(t),
                resolve=lambda _src, info, _rows=self.rows[t], _p=paging, **args: _select_rows(
                    _rows, args, info, _p
                ),
            )
        return fields


# --------------------------------------------------------------------------------------
# REST schema (GET /api/schema)
# --------------------------------------------------------------------------------------

_REST_SCALARS = {
    "text": "fibery/text", "url": "fibery/url", "email": "fibery/email", "boolean": "fibery/bool",
    "date": "fibery/date", "datetime": "fibery/date-time", "date_range": "fibery/date-range",
    "rich_text": "Collaboration~Documents/Document", "files": "fibery/file",
}  # fmt: skip


def _rest_field(name: str, ftype: str, deleted: bool = False, **meta: Any) -> dict[str, Any]:
    """One ``fibery/fields`` entry."""
    return {
        "fibery/id": _uuid("field", name, ftype),
        "fibery/name": name,
        "fibery/type": ftype,
        "fibery/deleted?": deleted,
        "fibery/meta": {"fibery/readonly?": False, **meta},
    }


def _rest_type(name: str, meta: dict[str, Any], fields: list[dict[str, Any]], deleted: bool = False) -> dict:
    """One ``fibery/types`` entry."""
    return {
        "fibery/id": _uuid("type", name),
        "fibery/name": name,
        "fibery/deleted?": deleted,
        "fibery/meta": meta,
        "fibery/fields": fields,
    }


def _mandatory_fields(space: str) -> list[dict[str, Any]]:
    """Fields every domain type has (id, public id, dates, name)."""
    ro = {"fibery/readonly?": True}
    return [
        _rest_field("fibery/id", "fibery/uuid", **ro, **{"fibery/id?": True}),
        _rest_field("fibery/public-id", "fibery/text", **ro, **{"fibery/public-id?": True}),
        _rest_field("fibery/creation-date", "fibery/date-time", **ro),
        _rest_field("fibery/modification-date", "fibery/date-time", **ro),
        _rest_field(f"{space}/Name", "fibery/text", **{"ui/title?": True}),
    ]


def _enum_fields() -> list[dict[str, Any]]:
    """Fields of a single-select / workflow-state enum type."""
    return [
        _rest_field("fibery/id", "fibery/uuid", **{"fibery/id?": True}),
        _rest_field("enum/name", "fibery/text", **{"ui/title?": True}),
        _rest_field("fibery/rank", "fibery/int"),
    ]


def _rest_db_fields(space: str, db: _DbSpec, extra: list[dict]) -> list[dict[str, Any]]:
    """The ``fibery/fields`` of one database; enum types it needs go into ``extra``."""
    fields = _mandatory_fields(space)
    for f in db.fields:
        name = f"{space}/{f.title}"
        if f.kind == "number":
            values = [(e.get("values") or {}).get(f.input_key) for e in db.entities]
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values if v is not None)
            fields.append(_rest_field(name, "fibery/int" if ints and any(values) else "fibery/decimal"))
        elif f.kind in _REST_SCALARS:
            meta = {"fibery/collection?": True} if f.kind == "files" else {}
            if f.kind == "rich_text":
                meta = {"fibery/entity-component?": True}
            fields.append(_rest_field(name, _REST_SCALARS[f.kind], **meta))
        elif f.kind == "state":
            enum = f"workflow/state_{space}/{db.title}"
            extra.append(_rest_type(enum, {"fibery/enum?": True, "fibery/domain?": False}, _enum_fields()))
            meta = {"fibery/relation": _uuid("rel", enum), "fibery/required?": True}
            fields.append(_rest_field("workflow/state", enum, **meta))
        elif f.kind in ("select", "multi_select"):
            enum = f"{space}/{f.title}_{db.title}"
            extra.append(_rest_type(enum, {"fibery/enum?": True, "fibery/domain?": True}, _enum_fields()))
            meta = {"fibery/relation": _uuid("rel", enum), "fibery/collection?": f.kind == "multi_select"}
            fields.append(_rest_field(name, enum, **meta))
        elif f.kind in ("relation", "collection"):
            target = f"{space}/{f.target.title}"  # type: ignore[union-attr]
            meta = {"fibery/relation": _uuid("rel", db.title, f.title), "fibery/collection?": f.kind == "collection"}
            fields.append(_rest_field(name, target, **meta))
    return fields


def _rest_schema(space: str, specs: list[_DbSpec]) -> dict[str, Any]:
    """The ``GET /api/schema`` document: domain types plus system types clients must skip."""
    extra: list[dict[str, Any]] = []
    types = [
        _rest_type("fibery/user", {"fibery/domain?": True, "fibery/secured?": True},
                   [*_mandatory_fields("user")[:4], _rest_field("user/email", "fibery/email")]),
        _rest_type("fibery/file", {"fibery/platform?": True, "fibery/domain?": False},
                   [_rest_field("fibery/secret", "fibery/text"), _rest_field("fibery/name", "fibery/text")]),
        _rest_type("Collaboration~Documents/Document", {"fibery/domain?": False},
                   [_rest_field("Collaboration~Documents/secret", "fibery/text")]),
        _rest_type("Files/Files-mixin", {"fibery/domain?": True, "app/mixin?": True},
                   [_rest_field("Files/Files", "fibery/file", **{"fibery/collection?": True})]),
    ]  # fmt: skip
    for i, db in enumerate(specs):
        fields = _rest_db_fields(space, db, extra)
        if i == 0:
            fields.append(_rest_field(f"{space}/Old Field", "fibery/text", deleted=True))
        mixins = {"workflow/workflow": any(f.kind == "state" for f in db.fields),
                  "Files/Files-mixin": any(f.kind == "files" for f in db.fields)}  # fmt: skip
        meta = {"fibery/domain?": True, "fibery/secured?": True, "fibery/primitive?": False,
                "ui/color": "#" + hashlib.sha1(db.title.encode()).hexdigest()[:6],
                "app/mixins": {k: v for k, v in mixins.items() if v}}  # fmt: skip
        types.append(_rest_type(f"{space}/{db.title}", meta, fields))
    types += extra
    types.append(
        _rest_type(f"{space}/Deleted Database", {"fibery/domain?": True}, _mandatory_fields(space), deleted=True)
    )
    body = json.dumps(types, sort_keys=True).encode()
    return {
        "fibery/id": _uuid("schema", space),
        "fibery/version": int(hashlib.sha1(body).hexdigest()[:8], 16),
        "fibery/types": types,
    }


# --------------------------------------------------------------------------------------
# Space state: everything derived from one snapshot
# --------------------------------------------------------------------------------------


class _SpaceState:
    """Schema, rows, REST schema and files of one snapshot (immutable once built)."""

    def __init__(
        self,
        snapshot: dict[str, Any],
        *,
        max_limit: int | None = None,
        collection_default_limit: int | None = None,
        me: dict[str, Any] | None = None,
    ) -> None:
        self.space: str = snapshot["space"]
        self.url_name = space_url_name(self.space)
        self.specs = _derive_specs(snapshot)
        self.rows = _build_rows(self.specs)
        self.schema = _SchemaBuilder(
            self.specs, self.rows, max_limit=max_limit,
            collection_default_limit=collection_default_limit, me=me or {},
        ).build()  # fmt: skip
        self.rest_body = json.dumps(_rest_schema(self.space, self.specs), ensure_ascii=False).encode()
        self.rest_etag = '"' + hashlib.sha1(self.rest_body).hexdigest()[:20] + '"'
        self.files = self._decode_files(snapshot.get("files") or {})
        self.file_meta = {
            v["secret"]: v
            for spec in self.specs
            for f in spec.fields
            if f.kind == "files"
            for row in self.rows[spec.type_name]
            for v in (row.get(f.name) or [])
        }

    @staticmethod
    def _decode_files(files: dict[str, str]) -> dict[str, bytes]:
        """Decode the snapshot's base64 file contents, skipping undecodable ones."""
        out = {}
        for secret, data in files.items():
            try:
                out[secret] = base64.b64decode(data)
            except ValueError:
                continue
        return out

    def matches_space(self, segment: str) -> bool:
        """Whether a URL path segment names this space (``_`` or lenient ``%20``)."""
        return space_url_name(unquote(segment)) == self.url_name


# --------------------------------------------------------------------------------------
# HTTP plumbing: responses, fault contexts, statistics, rate limiting
# --------------------------------------------------------------------------------------


@dataclass
class Response:
    """An HTTP response the fake (or a fault) sends.

    ``declared_length`` overrides ``Content-Length`` (to simulate a cut transfer) and
    ``close`` closes the connection after sending.
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False
    declared_length: int | None = None

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        """A plain-text response."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})

    @classmethod
    def json(cls, status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
        """A JSON response (integral floats written as integers, like JavaScript)."""
        body = json.dumps(_js_numbers(obj), ensure_ascii=False).encode()
        return cls(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})

    @classmethod
    def html(cls, status: int, text: str) -> Response:
        """An HTML response."""
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def json_body(self) -> Any:
        """Parse the body as JSON (None if it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class _Hang:
    """Sentinel: accept the request and never answer (until the server stops)."""

    def __repr__(self) -> str:
        return "HANG"


HANG = _Hang()


def _js_numbers(obj: Any) -> Any:
    """Replace integral floats by ints recursively, as ``JSON.stringify`` would print them."""
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    if isinstance(obj, dict):
        return {k: _js_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_js_numbers(v) for v in obj]
    return obj


@dataclass
class FaultContext:
    """What a fault hook sees about one request.

    ``respond(state=None)`` runs the normal handling (auth, rate limit, routing) and returns
    its ``Response``, so a fault can post-process a real answer.
    """

    number: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw_body: bytes
    body: Any
    body_error: str | None
    fake: FakeFibery

    @property
    def is_graphql(self) -> bool:
        """Whether this is a POST to a space's GraphQL endpoint."""
        return self.method == "POST" and self.path.startswith("/api/graphql/space/")

    @property
    def variables(self) -> dict[str, Any] | None:
        """The GraphQL variables, if the body carries any."""
        v = self.body.get("variables") if isinstance(self.body, dict) else None
        return v if isinstance(v, dict) else None

    @property
    def document(self) -> DocumentNode | None:
        """The parsed GraphQL document, or None."""
        q = self.body.get("query") if isinstance(self.body, dict) else None
        if not isinstance(q, str):
            return None
        try:
            return parse(q)
        except GraphQLSyntaxError:
            return None

    def root_fields(self) -> list[FieldNode]:
        """Root field nodes of the operation that would run."""
        doc = self.document
        if doc is None:
            return []
        wanted = self.body.get("operationName")
        ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
        op = next((o for o in ops if wanted is None or (o.name and o.name.value == wanted)), None)
        if op is None:
            return []
        return [s for s in op.selection_set.selections if isinstance(s, FieldNode)]

    @property
    def operation(self) -> str | None:
        """The first root field's name (e.g. ``findTasks``), else the operation name."""
        roots = self.root_fields()
        if roots:
            return roots[0].name.value
        return self.body.get("operationName") if isinstance(self.body, dict) else None

    def respond(self, state: _SpaceState | None = None) -> Response:
        """The response the fake would give without faults (optionally for another state)."""
        return self.fake._handle(self, state)


class LogEntry(NamedTuple):
    """One served request."""

    time: float
    method: str
    path: str
    status: int | None  # None: the request was hung and never answered
    operation: str | None
    variables: dict[str, Any] | None


class Stats:
    """Thread-safe request statistics; attributes return copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._log: list[LogEntry] = []
            self._by_status: Counter[int] = Counter()

    def record(self, entry: LogEntry) -> None:
        """Record one request."""
        with self._lock:
            self._log.append(entry)
            if entry.status is not None:
                self._by_status[entry.status] += 1

    @property
    def total(self) -> int:
        """Number of requests received (answered or hung)."""
        with self._lock:
            return len(self._log)

    @property
    def by_status(self) -> dict[int, int]:
        """Count of responses per HTTP status."""
        with self._lock:
            return dict(self._by_status)

    @property
    def rate_limited(self) -> int:
        """Number of 429 responses."""
        with self._lock:
            return self._by_status[429]

    @property
    def log(self) -> list[LogEntry]:
        """Every request, in the order they were answered (or hung)."""
        with self._lock:
            return list(self._log)

    def count(self, status: int | None = None, operation: str | None = None) -> int:
        """Requests with the given status and/or root field."""
        return sum(
            1
            for e in self.log
            if (status is None or e.status == status) and (operation is None or e.operation == operation)
        )


class _RateLimiter:
    """Sliding one-second windows of accepted requests, per key."""

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Record and allow a request for ``key``, or refuse it (not recorded)."""
        if self.per_second is None:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= 1.0:
                hits.popleft()
            if len(hits) + 1 > self.per_second:
                return False
            hits.append(now)
            return True


def _bearer(headers: dict[str, str]) -> str | None:
    """The token from ``Authorization: Token <t>`` or ``Bearer <t>``."""
    m = re.fullmatch(r"\s*(?:Token|Bearer)\s+(\S+)\s*", headers.get("authorization", ""), re.IGNORECASE)
    return m.group(1) if m else None


def _etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison)."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


_GRAPHIQL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL</title>
<link rel="stylesheet" href="https://unpkg.com/graphiql/graphiql.min.css"></head>
<body style="margin:0"><div id="graphiql" style="height:100vh" data-endpoint="{endpoint}">Loading...</div>
<script src="https://unpkg.com/react/umd/react.production.min.js"></script>
<script src="https://unpkg.com/react-dom/umd/react-dom.production.min.js"></script>
<script src="https://unpkg.com/graphiql/graphiql.min.js"></script>
<script>ReactDOM.render(React.createElement(GraphiQL, {{fetcher: GraphiQL.createFetcher({{url: "{endpoint}"}})}}),
document.getElementById("graphiql"));</script></body></html>
"""


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threading HTTP server that knows its fake and never blocks on close."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeFibery) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the fake answer it, writes the response."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeFibery/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log (see ``FakeFibery.stats``)."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        """Read the request body (``Content-Length`` or chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        fake = self.server.fake
        ctx = fake._context(self.command, self.path, dict(self.headers.items()), self._read_body())
        resp = fake._respond(ctx)
        if isinstance(resp, _Hang):
            fake._log(ctx, None)
            fake._stopping.wait()
            self.close_connection = True
            return
        fake._log(ctx, resp.status)
        self._write(resp)

    def _write(self, resp: Response) -> None:
        """Send ``resp``; bodies are omitted for HEAD and 304."""
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if resp.status not in (204, 304):
            length = resp.declared_length if resp.declared_length is not None else len(resp.body)
            self.send_header("Content-Length", str(length))
        if resp.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and resp.status not in (204, 304):
            self.wfile.write(resp.body)
        self.wfile.flush()


Fault = Callable[[FaultContext], "Response | _Hang | None"]


class FakeFibery:
    """A fake Fibery account serving one space from a snapshot dict.

    Use as a context manager (``with FakeFibery(snap) as fake: httpx.post(fake.graphql_url...)``)
    or call ``start()``/``stop()``. ``faults`` is a list of hooks ``(FaultContext) -> Response |
    HANG | None`` run, in order, before normal handling; the first non-None answer wins.
    """

    def __init__(
        self,
        snapshot: dict[str, Any],
        *,
        token: str = "test-token",
        rate_limit: float | None = 3.0,
        latency: float = 0.0,
        max_limit: int | None = None,
        retry_after: float | None = None,
        extra_tokens: Iterable[str] = (),
        collection_default_limit: int | None = None,
        email: str = "fake.user@example.com",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.tokens = {token, *extra_tokens}
        self.latency = latency
        self.retry_after = retry_after
        self.max_limit = max_limit
        self.collection_default_limit = collection_default_limit
        self.me = {"id": _uuid("user", email), "email": email, "name": "Fake User"}
        self.host, self._port = host, port
        self.faults: list[Fault] = []
        self.stats = Stats()
        self._limiter = _RateLimiter(rate_limit)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.update_snapshot(snapshot)

    # -- data ------------------------------------------------------------------------

    def build_state(self, snapshot: dict[str, Any]) -> _SpaceState:
        """Derive a servable state from a snapshot with this fake's options."""
        return _SpaceState(
            snapshot, max_limit=self.max_limit,
            collection_default_limit=self.collection_default_limit, me=self.me,
        )  # fmt: skip

    def update_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Serve ``snapshot`` from now on (e.g. after editing an entity)."""
        snapshot = copy.deepcopy(snapshot)
        state = self.build_state(snapshot)
        with self._lock:
            self._snapshot, self._state = snapshot, state

    @property
    def snapshot(self) -> dict[str, Any]:
        """A copy of the snapshot being served."""
        with self._lock:
            return copy.deepcopy(self._snapshot)

    @property
    def state(self) -> _SpaceState:
        """The state being served."""
        with self._lock:
            return self._state

    @property
    def schema(self) -> GraphQLSchema:
        """The GraphQL schema being served."""
        return self.state.schema

    @property
    def names(self) -> dict[str, tuple[str, str, dict[str, str]]]:
        """``graphql_names`` of the served snapshot."""
        return graphql_names(self._snapshot)

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        if self._server is None:
            raise RuntimeError("FakeFibery is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def space_path(self) -> str:
        """``/api/graphql/space/{Space_Name}`` (percent-encoded)."""
        return "/api/graphql/space/" + quote(self.state.url_name, safe="")

    @property
    def graphql_url(self) -> str:
        """Full URL of the space's GraphQL endpoint."""
        return self.url + self.space_path

    @property
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate with the main token."""
        return {"Authorization": f"Token {self.token}"}

    def start(self) -> FakeFibery:
        """Start serving in a daemon thread (no-op if already running)."""
        if self._server is None:
            self._stopping.clear()
            self._server = _Server((self.host, self._port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"FakeFibery:{self.port}", daemon=True,
            )  # fmt: skip
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hung requests are released and open connections closed."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeFibery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        """Remember open connections so ``stop()`` can close them."""
        with self._lock:
            (self._connections.add if opened else self._connections.discard)(conn)

    # -- request handling ------------------------------------------------------------

    def _context(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> FaultContext:
        """Parse one raw request into a ``FaultContext``."""
        parts = urlsplit(target)
        body, error = None, None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as e:
                error = f"{getattr(e, 'msg', str(e))} in JSON at position {getattr(e, 'pos', 0)}"
        with self._lock:
            number = next(self._numbers)
        return FaultContext(
            number=number, method=method, path=parts.path, query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in headers.items()}, raw_body=raw, body=body,
            body_error=error, fake=self,
        )  # fmt: skip

    def _respond(self, ctx: FaultContext) -> Response | _Hang:
        """Latency, then faults, then normal handling."""
        if self.latency:
            self._stopping.wait(self.latency)
        for fault in list(self.faults):
            answer = fault(ctx)
            if answer is not None:
                return answer
        return self._handle(ctx)

    def _log(self, ctx: FaultContext, status: int | None) -> None:
        """Record a request in ``stats``."""
        self.stats.record(LogEntry(time.time(), ctx.method, ctx.path, status, ctx.operation, ctx.variables))

    def _handle(self, ctx: FaultContext, state: _SpaceState | None = None) -> Response:
        """Normal handling: auth, rate limit, routing."""
        state = state or self.state
        if not (ctx.path == "/api" or ctx.path.startswith("/api/")):
            return Response.text(404, "Not Found")
        token = _bearer(ctx.headers)
        if token not in self.tokens:
            return Response.text(401, "Unauthorized")
        if not self._limiter.allow(token):  # type: ignore[arg-type]
            headers = {"Retry-After": f"{self.retry_after:g}"} if self.retry_after is not None else {}
            return Response.text(429, "Too Many Requests", headers)
        return self._route(ctx, state)

    def _route(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """Dispatch an authenticated request to its route."""
        path, method = ctx.path, ctx.method
        routes: list[tuple[str, dict[str, Callable[[], Response]]]] = [
            (r"/api/graphql/?", {"GET": lambda: self._space_list(state)}),
            (r"/api/graphql/space/([^/]+)", {
                "GET": lambda: self._graphiql(ctx, state), "POST": lambda: self._graphql(ctx, state)}),
            (r"/api/schema/?", {"GET": lambda: self._rest_schema(ctx, state)}),
            (r"/api/files/([^/]+)", {"GET": lambda: self._file(ctx, state)}),
        ]  # fmt: skip
        for pattern, handlers in routes:
            if re.fullmatch(pattern, path):
                handler = handlers.get("GET" if method == "HEAD" else method)
                return handler() if handler else Response.text(405, "Method Not Allowed")
        return Response.text(404, "Not Found")

    def _last_segment(self, ctx: FaultContext) -> str:
        """The last path segment (space name or file secret)."""
        return ctx.path.rsplit("/", 1)[1]

    def _space_list(self, state: _SpaceState) -> Response:
        """``GET /api/graphql``: HTML list of space endpoints."""
        href = "/api/graphql/space/" + html.escape(state.url_name)
        return Response.html(
            200,
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Endpoints List</title></head>"
            f"<body><h1>Endpoints List</h1><ul><li><a href=\"{href}\">{html.escape(state.space)}</a>"
            "</li></ul></body></html>",
        )

    def _graphiql(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``GET /api/graphql/space/X``: a GraphiQL shell page."""
        if not state.matches_space(self._last_segment(ctx)):
            return Response.text(404, f"Space {unquote(self._last_segment(ctx))} not found")
        return Response.html(200, _GRAPHIQL.format(endpoint=html.escape(ctx.path)))

    def _graphql(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``POST /api/graphql/space/X``: run a GraphQL request."""
        if not state.matches_space(self._last_segment(ctx)):
            return Response.text(404, f"Space {unquote(self._last_segment(ctx))} not found")
        if "json" not in ctx.headers.get("content-type", "").lower():
            return _request_error("Must provide query string.")
        if ctx.body_error is not None:
            return Response.json(500, {"name": "SyntaxError", "message": ctx.body_error, "data": {}})
        body = ctx.body
        if not isinstance(body, dict):
            return _request_error("POST body sent invalid JSON object.")
        query, variables, op_name = body.get("query"), body.get("variables"), body.get("operationName")
        if not isinstance(query, str) or not query.strip():
            return _request_error("Must provide query string.")
        if variables is not None and not isinstance(variables, dict):
            return _request_error("Variables must be an object.")
        if op_name is not None and not isinstance(op_name, str):
            return _request_error("Operation name must be a string.")
        return _execute(state.schema, query, variables, op_name)

    def _rest_schema(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``GET /api/schema`` with ``ETag`` / ``If-None-Match``."""
        headers = {"ETag": state.rest_etag, "Cache-Control": "no-cache"}
        if _etag_matches(ctx.headers.get("if-none-match", ""), state.rest_etag):
            return Response(304, b"", headers)
        return Response(200, state.rest_body, {"Content-Type": "application/json; charset=utf-8", **headers})

    def _file(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``GET /api/files/{secret}``: the file's bytes."""
        secret = unquote(self._last_segment(ctx))
        data = state.files.get(secret)
        if data is None:
            return Response.text(404, "Not Found")
        meta = state.file_meta.get(secret, {})
        ctype = meta.get("contentType") or (mimetypes.guess_type(meta.get("name") or "")[0])
        headers = {"Content-Type": ctype or "application/octet-stream"}
        if meta.get("name"):
            headers["Content-Disposition"] = "inline; filename*=UTF-8''" + quote(meta["name"], safe="")
        return Response(200, data, headers)


def _request_error(message: str) -> Response:
    """HTTP 400 with a GraphQL ``errors`` list (UNCERTAIN: real status may be 200)."""
    return Response.json(400, {"errors": [{"message": message}]})


def _execute(
    schema: GraphQLSchema, query: str, variables: dict[str, Any] | None, op_name: str | None
) -> Response:
    """Parse, validate and execute; 400 for request errors, 200 otherwise."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as e:
        return Response.json(400, {"errors": [e.formatted]})
    errors = validate(schema, document)
    if errors:
        return Response.json(400, {"errors": [e.formatted for e in errors]})
    result = execute_sync(
        schema, document, variable_values=variables, operation_name=op_name,
        context_value={"raw_variables": variables or {}},
    )  # fmt: skip
    if result.data is None and result.errors:  # request error (variables, operation name)
        return Response.json(400, {"errors": result.formatted["errors"]})
    return Response.json(200, result.formatted)


# --------------------------------------------------------------------------------------
# Fault helpers: each returns a hook to append to ``fake.faults``
# --------------------------------------------------------------------------------------


class _Budget:
    """A thread-safe countdown; ``None`` means unlimited."""

    def __init__(self, count: int | None) -> None:
        self.left, self._lock = count, threading.Lock()

    def take(self) -> bool:
        """Use one unit; False when exhausted."""
        with self._lock:
            if self.left is None:
                return True
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def fail_every(n: int, status: int = 502, body: str = "Bad Gateway") -> Fault:
    """Answer every ``n``-th request (counted by this hook) with ``status`` and plain text."""
    counter, lock = itertools.count(1), threading.Lock()

    def fault(ctx: FaultContext) -> Response | None:
        with lock:
            k = next(counter)
        return Response.text(status, body) if k % n == 0 else None

    return fault


def burst_429(count: int, retry_after: float | None = None) -> Fault:
    """Answer the next ``count`` requests with ``429 Too Many Requests``."""
    budget = _Budget(count)
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}

    def fault(ctx: FaultContext) -> Response | None:
        return Response.text(429, "Too Many Requests", headers) if budget.take() else None

    return fault


def truncated_json(
    count: int | None = 1, *, fraction: float = 0.5, declare_full_length: bool = False
) -> Fault:
    """Cut the next ``count`` GraphQL responses' JSON body to ``fraction`` of its length.

    By default the response is a valid HTTP 200 whose ``Content-Length`` matches the cut body
    (so the client sees invalid JSON). With ``declare_full_length`` the header announces the
    full length and the connection is closed early (the client sees an incomplete transfer).
    """
    budget = _Budget(count)

    def fault(ctx: FaultContext) -> Response | None:
        if not ctx.is_graphql or not budget.take():
            return None
        real = ctx.respond()
        cut = real.body[: max(1, int(len(real.body) * fraction))]
        declared = len(real.body) if declare_full_length else None
        return Response(200, cut, dict(real.headers), close=declare_full_length, declared_length=declared)

    return fault


def hang(count: int | None = 1, *, only_graphql: bool = True) -> Fault:
    """Accept the next ``count`` (GraphQL) requests and never answer until ``stop()``."""
    budget = _Budget(count)

    def fault(ctx: FaultContext) -> _Hang | None:
        if only_graphql and not ctx.is_graphql:
            return None
        return HANG if budget.take() else None

    return fault


def delay(seconds: float, count: int | None = None) -> Fault:
    """Sleep ``seconds`` before normal handling of the next ``count`` requests."""
    budget = _Budget(count)

    def fault(ctx: FaultContext) -> None:
        if budget.take():
            ctx.fake._stopping.wait(seconds)

    return fault


def _offset_of(node: FieldNode, variables: dict[str, Any]) -> int:
    """The value of a root field's ``offset`` argument (0 when absent)."""
    arg = next((a for a in node.arguments if a.name.value == "offset"), None)
    if arg is None:
        return 0
    value = value_from_ast(arg.value, GraphQLInt, variables)
    return 0 if value is None or value is Undefined else value


def graphql_errors_on_page(
    query_name: str, offset: int, message: str = "Internal Server Error", times: int | None = None
) -> Fault:
    """Make root field ``query_name`` fail at ``offset``: HTTP 200, ``data.<field>: null``
    and an ``errors`` entry with ``locations`` and ``path`` (at most ``times`` times)."""
    budget = _Budget(times)

    def fault(ctx: FaultContext) -> Response | None:
        if not ctx.is_graphql:
            return None
        hits = [
            n for n in ctx.root_fields()
            if n.name.value == query_name and _offset_of(n, ctx.variables or {}) == offset
        ]  # fmt: skip
        if not hits:
            return None
        real = ctx.respond()
        body = real.json_body()
        if real.status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return real
        if not budget.take():
            return real
        errors = body.setdefault("errors", [])
        for n in hits:
            key = (n.alias or n.name).value
            body["data"][key] = None
            errors.append(GraphQLError(message, nodes=[n], path=[key]).formatted)
        return Response.json(200, body, {k: v for k, v in real.headers.items() if k != "Content-Type"})

    return fault


def drift(mutate: Callable[[dict[str, Any]], None]) -> Fault:
    """Serve (GraphQL, schema, files) from a copy of the snapshot changed by ``mutate``."""
    cache: dict[str, _SpaceState] = {}
    lock = threading.Lock()

    def fault(ctx: FaultContext) -> Response:
        with lock:
            if "state" not in cache:
                snap = ctx.fake.snapshot
                mutate(snap)
                cache["state"] = ctx.fake.build_state(snap)
        return ctx.respond(cache["state"])

    return fault


def _database(snapshot: dict[str, Any], db_title: str) -> dict[str, Any]:
    """The snapshot database titled ``db_title``."""
    for db in snapshot["databases"]:
        if db["title"] == db_title:
            return db
    raise KeyError(db_title)


def drop_field(db_title: str, field_title: str) -> Fault:
    """Schema drift: the field titled ``field_title`` disappears from ``db_title``."""

    def mutate(snap: dict[str, Any]) -> None:
        db = _database(snap, db_title)
        keys = {f["key"] for f in db["fields"] if f["title"] == field_title}
        db["fields"] = [f for f in db["fields"] if f["title"] != field_title]
        for e in db["entities"]:
            for k in keys:
                (e.get("values") or {}).pop(k, None)

    return drift(mutate)


def rename_field(db_title: str, old_title: str, new_title: str) -> Fault:
    """Schema drift: a field of ``db_title`` is renamed (so its GraphQL name changes)."""

    def mutate(snap: dict[str, Any]) -> None:
        for f in _database(snap, db_title)["fields"]:
            if f["title"] == old_title:
                f["title"] = new_title

    return drift(mutate)


def drop_database(db_title: str) -> Fault:
    """Schema drift: a database disappears (relations pointing at it vanish too)."""

    def mutate(snap: dict[str, Any]) -> None:
        snap["databases"] = [d for d in snap["databases"] if d["title"] != db_title]

    return drift(mutate)


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """``python tests/fake_fibery.py SNAPSHOT.json [--port N] [--token T] ...``"""
    parser = argparse.ArgumentParser(description="Serve a Fibery snapshot as a fake Fibery API.")
    parser.add_argument("snapshot", help="workspace snapshot JSON")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--rate-limit", type=float, default=3.0, help="requests/s per token; 0 = off")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--max-limit", type=int, default=None)
    args = parser.parse_args(argv)
    with open(args.snapshot, encoding="utf-8") as fh:
        snapshot = json.load(fh)
    fake = FakeFibery(
        snapshot, token=args.token, rate_limit=args.rate_limit or None, latency=args.latency,
        max_limit=args.max_limit, host=args.host, port=args.port,
    )  # fmt: skip
    with fake:
        print(fake.url, flush=True)
        print(f"GraphQL: {fake.graphql_url}  (Authorization: Token {args.token})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
