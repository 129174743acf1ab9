"""A local fake of Fibery's GraphQL API, for end-to-end tests and benchmarks.

The fake follows ``shared/FIBERY_API.md`` and the two schemas a live Fibery server produced
(``shared/fibery-real/*.graphql``), not what any client expects. It serves one space in one
of two modes, with one HTTP layer:

* **generated** (``FakeFibery(snapshot)``): from a workspace snapshot given as a plain dict
  (the JSON of ``generator.model.Workspace``) it generates the schema the way Fibery does;
* **verbatim SDL** (``FakeFibery.from_sdl(sdl, rows=...)``): it serves a given SDL (a real
  captured one) with canned rows, and an ``/api/schema`` derived from its descriptions.

It imports nothing from ``generator``. ``fake.handle(...)`` / ``fake.httpx_handler`` answer
in-process (for respx or ``httpx.MockTransport``) through the same code as the server.

Naming in generated mode (the snapshot's ``key``/``query`` are ignored; its ``rest_name``s
are honoured). Words are split lodash-style after transliteration to ASCII (spaces,
punctuation, ``~``, ``/``, ``_``, case changes and digit runs separate words):

* REST type ``{Space}/{Database}`` (a database ``rest_name`` in another space, e.g.
  ``Ideation/Idea``, puts it there: its types appear, with no ``find…`` in this space).
* type name: PascalCase of the REST type name: ``Things/Event`` -> ``ThingsEvent``,
  ``Knowledge Base/Process Segments`` -> ``KnowledgeBaseProcessSegments``; workflow
  ``workflow/state_Things/Event`` -> ``WorkflowStateThingsEvent``; a select's enum type
  ``Things/Priority_Things/Event`` -> ``ThingsPriorityThingsEvent`` (select GraphQL names are
  inferred from the workflow ones: UNCERTAIN); ``fibery/user`` -> ``FiberyUser``.
* root query: ``find`` + English plural of PascalCase(database title) by the rules of the npm
  package ``pluralize`` (ported below): ``findPeople``, ``findCompanies``, ``findHotfixes``;
  a title already plural or uncountable stays (``findProcessSegments``, ``findEquipment``).
  That Fibery uses exactly these rules is UNCERTAIN; clients must read names from
  introspection. No mutation roots are generated.
* REST field name: ``{Space}/{Field Title}``; ``workflow/state`` for a state; a ``users``
  field titled Assignees is ``assignments/assignees``; a field's snapshot ``rest_name`` wins.
  ``SchemaOptions.legacy`` makes generated names lower-case legacy (``Things/name``),
  ``tilde`` writes spaces as ``~`` (``Tasks/Actual~Finish``).
* field name: camelCase of the REST name after the ``/`` (``allDay``, ``createdBy``).
* snapshot keys only the fake reads (``Workspace`` forbids them; use them in snapshots made
  for the fake): a field's ``formula``/``lookup`` (``formula/formula?``/``formula/lookup?`` in
  REST) and ``rest_meta`` (any REST field meta, e.g. ``{"ui/type": "phone"}``); an entity's
  ``rank``. ``RestOptions`` does the same per ``(REST type, REST field)`` from outside.
* field order: ``id publicId creationDate modificationDate rank createdBy``, then every other
  field (``name`` included) sorted by REST name, as in the real SDL.
* descriptions: type ``Available fields and relations for Things/Event``, filter ``Filter for
  Things/Event``, each field and argument its REST name, nested collections ``Things/Things.
  By default, the inner list is limited by 100 records``, root queries ``Find ThingsEvent
  records.`` with the default paging, all worded as in the real SDL.

Kinds: text/url/email/date/datetime -> ``String``; number -> ``Int`` when every value is a
32-bit integer (REST ``fibery/int``), else ``Float`` (``fibery/decimal``); ``DateRange``;
rich text -> ``RichField {secret md html jsonString text}`` (no filter, no order key);
state -> ``WorkflowState…{id publicId rank icon name final}``; select/multi-select ->
the enum type ``{id publicId rank icon name}`` or a list of it; user/users -> ``FiberyUser``
/ ``[FiberyUser]``; relation/collection -> the target type or a list of it; files ->
``[FiberyFile {id secret name contentType}]`` (UNCERTAIN). Every entity has ``createdBy``:
one of ``SchemaOptions.authors`` (users with e-mail addresses), and every user served has an
e-mail address, so tests can prove none reaches a site.

Served routes (all ``/api/*`` routes need ``Authorization: Token <t>`` or ``Bearer <t>``):

* ``POST /api/graphql/space/{Space_Name}`` - GraphQL; ``GET`` shows a GraphiQL shell.
* ``GET /api/graphql`` - HTML list of space endpoints.
* ``GET /api/schema`` - REST schema (``fibery/types``) with ``ETag`` / ``If-None-Match``.
* ``GET /api/files/{secret}`` - file bytes from the snapshot's ``files``.

Choices where FIBERY_API.md is UNCERTAIN (documented so tests do not over-fit):

* Unknown space (``unknown_space``): ``"me-only"`` (default, the hardest case for a client:
  HTTP 200 and a schema whose ``Query`` holds only ``me``), ``"404"`` (plain text) or ``"500"``
  (JSON ``{name, message, data}``).
* GraphQL syntax/validation errors and request errors (no query, bad variables, unknown
  operation) -> HTTP 400 ``{"errors": [...]}``; execution errors -> HTTP 200 with ``data``.
* Malformed JSON body -> HTTP 500 ``{"name": "SyntaxError", "message": ..., "data": {}}``.
  A body whose ``Content-Type`` is not JSON is ignored (like express' body-parser) -> 400.
* No ``Retry-After`` on 429 unless ``retry_after`` is given. Every authenticated ``/api/*``
  request counts towards the per-token limit (GraphQL, schema, files, HTML pages), over a
  sliding second. When a request counts is ``count_from``: ``"arrival"`` (default: when its
  first byte reached the server, by the kernel's receive time stamp on Linux, so that a
  handler thread kept waiting by another's work does not move it; before ``latency`` and
  faults; ``arrival_jitter`` delays each arrival by up to that many seconds, as a network
  would) or ``"handling"`` (after latency and faults, i.e. late for slow answers: stricter
  than anything FIBERY_API.md documents).
  ``latency_jitter`` adds up to that many seconds to each answer's ``latency``.
* Root ``find…`` default to 100 rows; no maximum unless ``max_limit`` (an error above it) or
  ``root_cap`` (a silent cap, the dangerous case). Nested collections (every to-many field:
  relations, multi-selects, users, files) take ``orderBy``, ``limit`` and the target's
  filters, no ``offset``, and are cut at 100 without ``limit`` (``inner_limit``).
* ``contains``/``notContains`` are case-insensitive substring tests; ``isNot``/``notIn`` match
  null values; ordering comparisons never match null. ``orderBy``/``limit``/``offset`` inside
  a nested ``<Type>Filter`` are ignored.
* Collection filters (``isEmpty, contains, containsAny, notContains, notContainsAny``) take a
  list of inner filters: ``contains`` = every inner filter matches some item, ``containsAny`` =
  some inner filter matches some item; the ``not`` forms negate those.
* Sorting puts nulls last for ``ASC`` and first for ``DESC`` (PostgreSQL's default); ties keep
  snapshot order. ``publicId`` sorts as a string.
* Empty lists (collections, multi-selects, files) are ``[]``; other empty values are ``null``.
  Integral floats are sent as JSON integers (as a JavaScript server would).
* ``/api/schema``: URL and e-mail fields are ``fibery/text`` with ``ui/type`` (or, with
  ``RestOptions.deprecated_kinds``, ``fibery/url``/``fibery/email``); ``fibery/user`` has
  ``domain? true``; a soft-deleted type and a soft-deleted field are always included, whatever
  ``with-soft-deleted`` says, so that clients must filter them out.
* Field names colliding with ``limit``/``offset``/``orderBy`` get no filter argument; a field
  name colliding with a system or earlier field gets a numeric suffix (``name2``).
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
import os
import random
import re
import socket
import struct
import sys
import threading
import time
import unicodedata
import uuid
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
    build_schema,
    execute_sync,
    get_named_type,
    get_nullable_type,
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
    "RestOptions",
    "SchemaOptions",
    "Stats",
    "attach_resolvers",
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
    "real_sdl_dir",
    "rename_field",
    "rest_name_of",
    "rest_schema_from_sdl",
    "rest_type_id",
    "rich_field",
    "space_url_name",
    "transliterate",
    "truncated_json",
]

DEFAULT_LIMIT = 100
"""Fibery's default page: root ``find…`` queries and nested collections without ``limit``."""


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
    """Split a title into words the way lodash's ``words`` does (after transliteration);
    ``~``, ``/``, ``_`` and ``-`` separate words like spaces do."""
    return _WORD_RE.findall(transliterate(title))


def _valid_name(name: str, fallback: str) -> str:
    """Make ``name`` a legal GraphQL name (non-empty, not starting with a digit)."""
    if not name:
        return fallback
    return "_" + name if name[0].isdigit() else name


def pascal_case(title: str) -> str:
    """``"Café Notes"`` -> ``"CafeNotes"``; ``"Things/Event"`` -> ``"ThingsEvent"``."""
    name = "".join(w[:1].upper() + w[1:].lower() for w in _words(title))
    return _valid_name(name, "Unnamed")


def camel_case(title: str) -> str:
    """``"Completion Date"`` -> ``"completionDate"``, ``"allDay"`` -> ``"allDay"``."""
    words = _words(title)
    if not words:
        return "unnamed"
    first, rest = words[0].lower(), words[1:]
    return _valid_name(first + "".join(w[:1].upper() + w[1:].lower() for w in rest), "unnamed")


# A port of the rules of the npm package ``pluralize`` (blakeembrey/pluralize), the usual
# English pluraliser of Node servers: it reproduces every plural seen in real schemas
# (Person -> People, Company -> Companies, Hotfix -> Hotfixes, Sub-bug -> SubBugs) and leaves
# words that are already plural (Segments, Notes) or uncountable (Equipment) alone.
# UNCERTAIN: that Fibery uses this very package; clients must read names from introspection.
_UNCOUNTABLE_WORDS = (
    "adulthood advice agenda aid aircraft alcohol ammo analytics anime athletics audio bison blood "
    "bream buffalo butter carp cash chassis chess clothing cod commerce cooperation corps debris "
    "diabetes digestion elk energy equipment excretion expertise firmware flounder fun gallows garbage "
    "graffiti hardware headquarters health herpes highjinks homework housework information jeans "
    "justice kudos labour literature machinery mackerel mail media mews moose music mud manga news "
    "only personnel pike plankton pliers police pollution premises rain research rice salmon scissors "
    "series sewage shambles shrimp software species staff swine tennis traffic transportation trout "
    "tuna wealth welfare whiting wildebeest wildlife you"
)
_UNCOUNTABLE = frozenset(_UNCOUNTABLE_WORDS.split())
_UNCOUNTABLE_RE = re.compile(r"(pok[eé]mon|[^aeiou]ese|deer|fish|measles|o[iu]s|pox|sheep)$", re.IGNORECASE)
_IRREGULAR = {
    "i": "we", "me": "us", "he": "they", "she": "they", "them": "them", "myself": "ourselves",
    "yourself": "yourselves", "itself": "themselves", "herself": "themselves", "himself": "themselves",
    "themself": "themselves", "is": "are", "was": "were", "has": "have", "this": "these",
    "that": "those", "echo": "echoes", "dingo": "dingoes", "volcano": "volcanoes", "tornado": "tornadoes",
    "torpedo": "torpedoes", "genus": "genera", "viscus": "viscera", "stigma": "stigmata",
    "stoma": "stomata", "dogma": "dogmata", "lemma": "lemmata", "schema": "schemata",
    "anathema": "anathemata", "ox": "oxen", "axe": "axes", "die": "dice", "yes": "yeses",
    "foot": "feet", "eave": "eaves", "goose": "geese", "tooth": "teeth", "quiz": "quizzes",
    "human": "humans", "proof": "proofs", "carve": "carves", "valve": "valves", "looey": "looies",
    "thief": "thieves", "groove": "grooves", "pickaxe": "pickaxes", "passerby": "passersby",
}  # fmt: skip
_IRREGULAR_PLURALS = frozenset(_IRREGULAR.values())
_PLURAL_RULES = [  # the last matching rule wins, as in pluralize
    (r"s?$", "s"),
    (r"([^aeiou]ese)$", r"\1"),
    (r"(ax|test)is$", r"\1es"),
    (r"(alias|[^aou]us|t[lm]as|gas|ris)$", r"\1es"),
    (r"(e[mn]u)s?$", r"\1s"),
    (r"([^l]ias|[aeiou]las|[ejzr]as|[iu]am)$", r"\1"),
    (r"(alumn|syllab|vir|radi|nucle|fung|cact|stimul|termin|bacill|foc|uter|loc|strat)(?:us|i)$", r"\1i"),
    (r"(alumn|alg|vertebr)(?:a|ae)$", r"\1ae"),
    (r"(seraph|cherub)(?:im)?$", r"\1im"),
    (r"(her|at|gr)o$", r"\1oes"),
    (r"(agend|addend|millenni|dat|extrem|bacteri|desiderat|strat|candelabr|errat|ov|symposi|curricul"
     r"|automat|quor)(?:a|um)$", r"\1a"),
    (r"(apheli|hyperbat|periheli|asyndet|noumen|phenomen|criteri|organ|prolegomen|hedr|automat)(?:a|on)$",
     r"\1a"),
    (r"sis$", "ses"),
    (r"(?:(kni|wi|li)fe|(ar|l|ea|eo|oa|hoo)f)$", r"\1\2ves"),
    (r"([^aeiouy]|qu)y$", r"\1ies"),
    (r"([^ch][ieo][ln])ey$", r"\1ies"),
    (r"(x|ch|ss|sh|zz)$", r"\1es"),
    (r"(matr|cod|mur|sil|vert|ind|append)(?:ix|ex)$", r"\1ices"),
    (r"\b((?:tit)?m|l)(?:ice|ouse)$", r"\1ice"),
    (r"(pe)(?:rson|ople)$", r"\1ople"),
    (r"(child)(?:ren)?$", r"\1ren"),
    (r"eaux$", r"\g<0>"),
    (r"m[ae]n$", "men"),
]  # fmt: skip
_PLURAL_RES = [(re.compile(p, re.IGNORECASE), r) for p, r in reversed(_PLURAL_RULES)]


def _restore_case(original: str, plural: str) -> str:
    """Give ``plural`` the case pattern of ``original`` (as pluralize's ``restoreCase``)."""
    if original.isupper() and len(original) > 1:
        return plural.upper()
    if original[:1].isupper():
        return plural[:1].upper() + plural[1:]
    return plural


def pluralize(word: str) -> str:
    """English plural of a PascalCase name, judged on its last word (``ProcessSegments`` stays,
    ``SubBug`` -> ``SubBugs``, ``Person`` -> ``People``, ``Equipment`` stays)."""
    words = _words(word)
    if not words:
        return word
    last = words[-1]
    head = word[: len(word) - len(last)] if word.endswith(last) else word[: word.rfind(last)]
    lower = last.lower()
    if lower in _UNCOUNTABLE or _UNCOUNTABLE_RE.search(lower) or lower in _IRREGULAR_PLURALS:
        return word
    if lower in _IRREGULAR:
        return head + _restore_case(last, _IRREGULAR[lower])
    for pattern, repl in _PLURAL_RES:
        if pattern.search(last):
            return head + pattern.sub(repl, last, count=1)
    return word  # pragma: no cover - the first rule always matches


def space_url_name(space: str) -> str:
    """The space's segment in ``/api/graphql/space/{name}``: whitespace -> ``_``, case kept."""
    return re.sub(r"\s", "_", space)


def type_name_of(rest_type: str) -> str:
    """GraphQL name of a REST type: ``Things/Event`` -> ``ThingsEvent``, ``workflow/state_Things/Event``
    -> ``WorkflowStateThingsEvent``, ``fibery/user`` -> ``FiberyUser``."""
    return pascal_case(rest_type)


def field_name_of(rest_field: str) -> str:
    """GraphQL name of a REST field: camelCase of the part after the namespace
    (``Things/allDay`` -> ``allDay``, ``fibery/created-by`` -> ``createdBy``)."""
    return camel_case(rest_field.split("/", 1)[-1])


def rest_title(title: str, *, legacy: bool = False, tilde: bool = False) -> str:
    """The title part of a generated REST field name: as is, ``legacy`` lower-cases the first
    letter (``Things/name``, ``Things/allDay``), ``tilde`` writes spaces as ``~``."""
    if legacy:
        title = title[:1].lower() + title[1:]
    return title.replace(" ", "~") if tilde else title


INNER_LIST_NOTE = ". By default, the inner list is limited by 100 records"
"""What Fibery appends to the description of a nested collection field."""


def find_description(type_name: str, query_name: str) -> str:
    """The description Fibery gives a root ``find…`` query."""
    return (
        f"Find {type_name} records.\n\nBy default, offset equals to 0 and limit equals to 100\n\n"
        f"```{{{query_name}{{id,name}}}}```"
    )


SYSTEM_FIELDS = (
    ("id", "fibery/id"),
    ("publicId", "fibery/public-id"),
    ("creationDate", "fibery/creation-date"),
    ("modificationDate", "fibery/modification-date"),
    ("rank", "fibery/rank"),
    ("createdBy", "fibery/created-by"),
)
"""The fields every database type starts with, in Fibery's order, with their REST names."""
RESERVED_NAMES = frozenset(n for n, _ in SYSTEM_FIELDS) | {"name"}
RESERVED_ARGS = ("limit", "offset", "orderBy")
STRING_KINDS = {"text", "url", "email", "date", "datetime"}
_NS = uuid.UUID("6f1b3c2e-8d0a-4c59-9a8e-f1be27000000")


def _uuid(*parts: str) -> str:
    """A stable UUID derived from ``parts`` (for ids the snapshot does not carry)."""
    return str(uuid.uuid5(_NS, "\x1f".join(parts)))


@dataclass
class _FieldSpec:
    """One snapshot field (or the entity name) with the names the fake derives for it."""

    title: str
    input_key: str | None  # None: the entity's name
    kind: str
    rest_name: str
    name: str
    target_key: str | None = None
    target: _DbSpec | None = None
    number_type: str = "Float"  # "Int" when every value is a 32-bit integer
    ui_order: int = 0  # where the snapshot (Fibery's entity view) puts it; REST ui/object-editor-order

    @property
    def is_collection(self) -> bool:
        """Whether Fibery marks the field ``fibery/collection?`` (a to-many list)."""
        return self.kind in ("collection", "multi_select", "users", "files")

    @property
    def enum_rest(self) -> str | None:
        """REST name of the enum type of a workflow or select field."""
        if self.kind == "state":
            return f"workflow/state_{self.db_rest}"
        if self.kind in ("select", "multi_select"):
            return f"{self.rest_name}_{self.db_rest}"
        return None

    db_rest: str = ""
    rest_meta: dict[str, Any] = field(default_factory=dict)
    """Extra REST field meta from the snapshot field (fake-only keys, see ``_snapshot_meta``)."""


@dataclass
class _DbSpec:
    """One snapshot database with its derived names."""

    title: str
    space: str
    input_key: str
    rest_name: str
    type_name: str
    query_name: str | None  # None: a database of another space (no find… here)
    fields: list[_FieldSpec]  # the entity name included, sorted by REST name
    entities: list[dict[str, Any]]

    def field_by_key(self, key: str) -> _FieldSpec | None:
        """The field whose snapshot key is ``key``."""
        return next((f for f in self.fields if f.input_key == key), None)


def _db_rest_name(space: str, db: dict[str, Any]) -> tuple[str, str]:
    """``(space, database title)`` of a snapshot database; a ``rest_name`` wins over the title."""
    rest = db.get("rest_name") or ""
    if "/" in rest:
        db_space, _, title = rest.partition("/")
        return db_space, title
    return space, db["title"]


def _derive_specs(snapshot: dict[str, Any], *, legacy: Iterable[str] = (), tilde: bool = False) -> list[_DbSpec]:
    """Derive type, query and field names for every database of ``snapshot``.

    ``legacy`` names databases (by title) whose generated REST field names are the old
    lower-case style (``Things/name``); ``tilde`` writes spaces in generated REST field names
    as ``~``. A field's own ``rest_name`` in the snapshot always wins."""
    legacy = set(legacy)
    space = snapshot["space"]
    specs: list[_DbSpec] = []
    seen_types: dict[str, str] = {}
    for db in snapshot.get("databases", []):
        db_space, db_title = _db_rest_name(space, db)
        rest = f"{db_space}/{db_title}"
        type_name = type_name_of(rest)
        if type_name in seen_types:
            raise ValueError(f"databases {seen_types[type_name]!r} and {db['title']!r} both map to {type_name}")
        seen_types[type_name] = db["title"]
        is_legacy = db["title"] in legacy or legacy == {"*"}
        specs.append(
            _DbSpec(
                title=db["title"],
                space=db_space,
                input_key=db.get("key", db["title"]),
                rest_name=rest,
                type_name=type_name,
                query_name="find" + pluralize(pascal_case(db_title)) if db_space == space else None,
                fields=_derive_fields(db_space, rest, db, legacy=is_legacy, tilde=tilde),
                entities=list(db.get("entities", [])),
            )
        )
    by_key = {s.input_key: s for s in specs}
    for spec in specs:
        for f in spec.fields:
            if f.kind in ("relation", "collection"):
                f.target = by_key.get(f.target_key or "")
        spec.fields = [f for f in spec.fields if f.kind not in ("relation", "collection") or f.target]
    return specs


def _default_rest(space: str, f: dict[str, Any], *, legacy: bool, tilde: bool) -> str:
    """The REST name Fibery gives a field created from the UI."""
    if f["kind"] == "state":
        return "workflow/state"
    if f["kind"] == "users" and f["title"].casefold() == "assignees":
        return "assignments/assignees"
    return f"{space}/{rest_title(f['title'], legacy=legacy, tilde=tilde)}"


def _snapshot_meta(f: dict[str, Any]) -> dict[str, Any]:
    """REST meta a snapshot field asks for with keys only the fake reads (``Workspace``
    forbids them, so use them in snapshots made for the fake): ``"formula": true`` ->
    ``formula/formula?``, ``"lookup": true`` -> ``formula/lookup?``, ``"rest_meta": {...}``
    as is (e.g. ``{"ui/type": "phone"}``)."""
    meta = dict(f.get("rest_meta") or {})
    if f.get("formula"):
        meta["formula/formula?"] = True
    if f.get("lookup"):
        meta["formula/lookup?"] = True
    return meta


def _number_type(db: dict[str, Any], key: str) -> str:
    """``Int`` when every value of a number field is a 32-bit integer (and one exists)."""
    values = [(e.get("values") or {}).get(key) for e in db.get("entities", [])]
    present = [v for v in values if v is not None]
    ints = all(isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31 for v in present)
    return "Int" if present and ints else "Float"


def _derive_fields(space: str, db_rest: str, db: dict[str, Any], *, legacy: bool, tilde: bool) -> list[_FieldSpec]:
    """Name the fields of one database (the entity name first), de-duplicating clashes with
    numeric suffixes, then order them as Fibery does: by REST name."""
    name_rest = f"{space}/{rest_title('Name', legacy=legacy)}"
    out = [_FieldSpec("Name", None, "text", name_rest, "name", db_rest=db_rest)]
    used = set(RESERVED_NAMES)
    for f in db.get("fields", []):
        rest = f.get("rest_name") or _default_rest(space, f, legacy=legacy, tilde=tilde)
        base = field_name_of(rest)
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}{n}"
        used.add(name)
        spec = _FieldSpec(
            f["title"], f["key"], f["kind"], rest, name, f.get("target"), db_rest=db_rest, rest_meta=_snapshot_meta(f)
        )
        if f["kind"] == "number":
            spec.number_type = _number_type(db, f["key"])
        spec.ui_order = len(out)
        out.append(spec)
    return sorted(out, key=lambda s: s.rest_name)


def graphql_names(snapshot: dict[str, Any]) -> dict[str, tuple[str, str | None, dict[str, str]]]:
    """Predict the fake's names: ``{db_title: (type_name, query_name, {field_title: name})}``
    (``query_name`` is None for a database of another space; the entity name is not listed)."""
    return {
        s.title: (s.type_name, s.query_name, {f.title: f.name for f in s.fields if f.input_key is not None})
        for s in _derive_specs(snapshot)
    }


# --------------------------------------------------------------------------------------
# Rows: entity values shaped as the GraphQL API returns them
# --------------------------------------------------------------------------------------

DEFAULT_AUTHORS = (
    {"name": "Ada Lovelace", "email": "ada.lovelace@example.com"},
    {"name": "Grace Hopper", "email": "grace.hopper@example.com"},
    {"name": "Alan Turing", "email": "alan.turing@example.com"},
)
"""The users the fake makes ``createdBy`` of every entity (by a stable hash of its id)."""
_EPOCH = "2023-01-02T03:04:05.678Z"


def _email_for(name: str) -> str:
    """An e-mail address for a user the snapshot names without one."""
    local = ".".join(w.lower() for w in _words(name)) or "user"
    return f"{local}@example.com"


class _Users:
    """Every Fibery user the fake serves (``fibery/user`` rows), by name."""

    def __init__(self, authors: Iterable[dict[str, Any]], me: dict[str, Any]) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.authors = [self.get(a["name"], a.get("email")) for a in authors]
        self.me = self.get(me["name"], me.get("email"))

    def get(self, name: str, email: str | None = None) -> dict[str, Any]:
        """The user row called ``name`` (created on first use, with an e-mail address)."""
        if name not in self.rows:
            n = len(self.rows) + 1
            self.rows[name] = {
                "active": True, "id": _uuid("user", name), "publicId": str(n), "creationDate": _EPOCH,
                "modificationDate": _EPOCH, "rank": float(n * 1000), "email": email or _email_for(name),
                "name": name,
            }  # fmt: skip
        return self.rows[name]

    def author_of(self, entity_id: str) -> dict[str, Any]:
        """The ``createdBy`` of an entity: one of the authors, stable per entity id."""
        digest = int(hashlib.sha1(entity_id.encode()).hexdigest()[:8], 16)
        return self.authors[digest % len(self.authors)]


def _html_to_text(source: str) -> str:
    """Plain text of an HTML fragment: block ends become newlines, tags are dropped."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", source)
    text = re.sub(r"(?i)</(p|div|h[1-6]|li|blockquote|pre|tr)>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{2,}", "\n", html.unescape(text)).strip()


def rich_field(md: str = "", doc_html: str = "", secret: str | None = None) -> dict[str, Any]:
    """A ``RichField`` value ``{secret, md, html, jsonString, text}`` from Markdown and HTML."""
    text = _html_to_text(doc_html) if doc_html else md
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.split("\n") if line
    ]
    doc = {"doc": {"type": "doc", "content": paragraphs}}
    return {
        "secret": secret or _uuid("doc", md, doc_html), "md": md, "html": doc_html,
        "jsonString": json.dumps(doc), "text": text,
    }  # fmt: skip


class _Enums:
    """Workflow states and select options as rows ``{id publicId rank icon name [final]}``,
    one row per (enum type, option name), numbered in order of first appearance."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: Counter[str] = Counter()

    def get(self, enum_rest: str, value: dict[str, Any], *, workflow: bool) -> dict[str, Any]:
        """The option row of ``value`` (``{"name", "final"?}``) in the enum ``enum_rest``."""
        key = (enum_rest, value["name"])
        if key not in self.rows:
            self._counts[enum_rest] += 1
            n = self._counts[enum_rest]
            row = {"id": value.get("id") or _uuid(enum_rest, value["name"]), "publicId": str(n),
                   "rank": float(n * 1000), "icon": None, "name": value["name"]}  # fmt: skip
            if workflow:
                row["final"] = bool(value.get("final", False))
            self.rows[key] = row
        return self.rows[key]


def _file_value(value: dict[str, Any]) -> dict[str, Any]:
    """A file as ``{id, secret, name, contentType}``."""
    secret = value.get("secret", "")
    return {
        "id": value.get("id") or _uuid("file", secret),
        "secret": secret,
        "name": value.get("name"),
        "contentType": value.get("contentType"),
    }


def _shape_value(f: _FieldSpec, value: Any, users: _Users, enums: _Enums, owner: str) -> Any:
    """Turn a snapshot value of ``f`` into its GraphQL output (links resolved later)."""
    kind = f.kind
    if kind in STRING_KINDS:
        return value if value not in ("", None) else None
    if kind == "number":
        return float(value) if value is not None and f.number_type == "Float" else value
    if kind == "boolean":
        return value
    if kind == "date_range":
        return {"start": value.get("start"), "end": value.get("end")} if value else None
    if kind == "rich_text":
        if not value:
            return None
        return rich_field(value.get("md") or "", value.get("html") or "", _uuid("doc", owner, f.rest_name))
    if kind in ("state", "select"):
        if not value or value.get("name") is None:
            return None
        return enums.get(f.enum_rest, value, workflow=kind == "state")  # type: ignore[arg-type]
    if kind == "multi_select":
        return [enums.get(f.enum_rest, v, workflow=False) for v in value or [] if v and v.get("name")]  # type: ignore[arg-type]
    if kind == "user":
        return users.get(value["name"], value.get("email")) if value and value.get("name") else None
    if kind == "users":
        return [users.get(v["name"], v.get("email")) for v in value or [] if v and v.get("name")]
    if kind == "relation":
        return value.get("id") if value else None
    if kind == "collection":
        return [v["id"] for v in value or [] if v and v.get("id")]
    if kind == "files":
        return [_file_value(v) for v in value or []]
    return value


def _build_rows(specs: list[_DbSpec], users: _Users) -> dict[str, list[dict[str, Any]]]:
    """Build one row dict per entity (keyed by GraphQL field names), with links resolved;
    also the rows of ``FiberyUser`` (every user met) under its type name."""
    rows: dict[str, list[dict[str, Any]]] = {}
    index: dict[str, dict[str, dict[str, Any]]] = {}
    enums = _Enums()
    for db in specs:
        rows[db.type_name] = []
        index[db.type_name] = {}
        for n, e in enumerate(db.entities, start=1):
            row = {
                "id": e["id"],
                "publicId": None if e.get("public_id") is None else str(e["public_id"]),
                "creationDate": e.get("creation_date"),
                "modificationDate": e.get("modification_date"),
                "rank": float(e.get("rank", n * 1000)),
                "createdBy": users.author_of(e["id"]),
            }
            values = e.get("values") or {}
            for f in db.fields:
                raw = e.get("name") if f.input_key is None else values.get(f.input_key)
                row[f.name] = _shape_value(f, raw, users, enums, e["id"])
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
    rows["FiberyUser"] = list(users.rows.values())
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
    """What a filter input is, judged by its shape (so SDL-built schemas work alike):
    ``list`` (``<Type>CollectionFilter``), ``scalar`` (``StringFilter``…) or None (nested)."""
    fields = getattr(t, "fields", None) or {}
    if "containsAny" in fields and "isEmpty" in fields:
        return "list"
    if "is" in fields and "orderBy" not in fields:
        return "scalar"
    return None


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
    """Whether ``obj`` (a row or nested object, possibly None) passes every filter.

    ``orderBy``/``limit``/``offset`` inside a nested ``<Type>Filter`` select nothing and are
    ignored; a nested ``isNull`` (``DateRangeFilter``) tests the object itself."""
    for key, cond in filters.items():
        if cond is None or key in RESERVED_ARGS:
            continue
        if key == "isNull":
            if (obj is None) != cond:
                return False
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
    cap: int | None = None
    """A silent cap: never more rows than this per request, whatever ``limit`` says."""


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
    limit = _min_limit(limit, paging.cap)
    selected = [r for r in rows if _matches(r, args, paging.filter_type)] if args else list(rows)
    if order:
        raw = (info.context or {}).get("raw_variables") or {}
        node = next((a.value for a in info.field_nodes[0].arguments if a.name.value == "orderBy"), None)
        selected = _sort_rows(selected, list(_order_terms(order, _ast_hint(node, raw))))
    end = None if limit is None else offset + limit
    return selected[offset:end]


def _list_target(field_: GraphQLField) -> GraphQLObjectType | None:
    """The object type of a list field (``[ThingsThing]`` -> ``ThingsThing``), else None."""
    nullable = get_nullable_type(field_.type)
    named = get_named_type(field_.type)
    return named if isinstance(nullable, GraphQLList) and isinstance(named, GraphQLObjectType) else None


def attach_resolvers(
    schema: GraphQLSchema,
    rows: dict[str, list[dict[str, Any]]],
    me: dict[str, Any],
    *,
    root_default: int | None = DEFAULT_LIMIT,
    inner_default: int | None = DEFAULT_LIMIT,
    max_limit: int | None = None,
    root_cap: int | None = None,
) -> GraphQLSchema:
    """Make ``schema`` (generated or built from SDL) serve ``rows``, keyed by type name.

    Root ``find…`` lists read ``rows[<type>]`` with ``<type>Filter`` semantics and a default
    limit of ``root_default``; every nested list field that takes ``limit`` (a collection)
    reads its parent row's value, cut at ``inner_default`` when no ``limit`` is given, as
    Fibery does; ``me`` answers ``Query.me``. Other fields read row keys (graphql-core's
    default resolver)."""
    query = schema.query_type
    assert query is not None
    for qname, qfield in query.fields.items():
        target = _list_target(qfield)
        if qname == "me":
            qfield.resolve = lambda *_a, **_k: me
        elif target is not None and qname.startswith("find"):
            filter_type = schema.get_type(f"{target.name}Filter")
            paging = _Paging(filter_type, root_default, max_limit, root_cap)  # type: ignore[arg-type]
            type_rows = rows.setdefault(target.name, [])
            qfield.resolve = lambda _src, info, _rows=type_rows, _p=paging, **args: _select_rows(_rows, args, info, _p)
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_ is query or type_.name.startswith("__"):
            continue
        for fname, fdef in type_.fields.items():
            target = _list_target(fdef)
            if target is None or "limit" not in fdef.args:
                continue
            filter_type = schema.get_type(f"{target.name}Filter")
            paging = _Paging(filter_type, inner_default, max_limit)  # type: ignore[arg-type]
            fdef.resolve = lambda src, info, _n=fname, _p=paging, **args: _select_rows(
                (src or {}).get(_n) or [], args, info, _p
            )
    return schema


# --------------------------------------------------------------------------------------
# GraphQL schema
# --------------------------------------------------------------------------------------


@dataclass
class _Attr:
    """One field of an object type: GraphQL name, REST name, output type, to-many or not.

    ``out`` is a scalar name (``ID String Int Float Boolean``), ``RichField``, ``DateRange``
    or the name of another record type (a database, ``FiberyUser``, a workflow or select
    enum, ``FiberyFile``)."""

    name: str
    rest: str
    out: str
    many: bool = False


@dataclass
class _Record:
    """A record type as Fibery describes it: every one gets an object type, ``<T>Filter``,
    ``<T>CollectionFilter`` and ``<T>Order``; a database of this space also gets ``find…``."""

    name: str
    rest: str
    attrs: list[_Attr]
    find: str | None = None


_SCALARS = {"ID": GraphQLID, "String": GraphQLString, "Int": GraphQLInt, "Float": GraphQLFloat,
            "Boolean": GraphQLBoolean}  # fmt: skip
_COMPARE_OPS = ("greater", "greaterOrEquals", "less", "lessOrEquals")
_STRING_OPS = ("is", "isNot", "contains", "notContains", *_COMPARE_OPS, "in", "notIn", "isNull")
_NUMBER_OPS = ("is", "isNot", *_COMPARE_OPS, "in", "notIn", "isNull")
_SCALAR_OPS = {"String": _STRING_OPS, "Float": _NUMBER_OPS, "ID": ("is", "isNot", "in", "notIn", "isNull"),
               "Int": _NUMBER_OPS, "Boolean": ("is", "isNull")}  # fmt: skip

FIBERY_USER = _Record(
    "FiberyUser", "fibery/user",
    [_Attr("active", "fibery/active?", "Boolean"), _Attr("id", "fibery/id", "ID"),
     _Attr("publicId", "fibery/public-id", "String"), _Attr("creationDate", "fibery/creation-date", "String"),
     _Attr("modificationDate", "fibery/modification-date", "String"), _Attr("rank", "fibery/rank", "Float"),
     _Attr("email", "user/email", "String"), _Attr("name", "user/name", "String")],
)  # fmt: skip
FIBERY_FILE = _Record(
    "FiberyFile", "fibery/file",
    [_Attr("id", "fibery/id", "ID"), _Attr("secret", "fibery/secret", "String"),
     _Attr("name", "fibery/name", "String"), _Attr("contentType", "fibery/content-type", "String")],
)  # fmt: skip
"""UNCERTAIN: no captured schema has a file field; the shape follows third-party clients."""


def _enum_record(rest: str, *, workflow: bool) -> _Record:
    """A workflow-state (``{id publicId rank icon name final}``) or select-option record."""
    attrs = [_Attr("id", "fibery/id", "ID"), _Attr("publicId", "fibery/public-id", "String"),
             _Attr("rank", "fibery/rank", "Float"), _Attr("icon", "enum/icon", "String"),
             _Attr("name", "enum/name", "String")]  # fmt: skip
    if workflow:
        attrs.append(_Attr("final", "workflow/Final", "Boolean"))
    return _Record(type_name_of(rest), rest, attrs)


def _field_attr(f: _FieldSpec) -> _Attr:
    """The ``_Attr`` of one snapshot field."""
    kind = f.kind
    if kind in STRING_KINDS:
        return _Attr(f.name, f.rest_name, "String")
    simple = {"number": f.number_type, "boolean": "Boolean", "date_range": "DateRange", "rich_text": "RichField",
              "user": "FiberyUser", "relation": f.target.type_name if f.target else ""}  # fmt: skip
    if kind in simple:
        return _Attr(f.name, f.rest_name, simple[kind])
    if kind in ("state", "select"):
        return _Attr(f.name, f.rest_name, type_name_of(f.enum_rest or ""))
    many = {"multi_select": type_name_of(f.enum_rest or ""), "users": "FiberyUser", "files": "FiberyFile",
            "collection": f.target.type_name if f.target else ""}  # fmt: skip
    if kind in many:
        return _Attr(f.name, f.rest_name, many[kind], many=True)
    raise ValueError(f"unknown field kind {kind!r} ({f.rest_name})")


def records_of(specs: list[_DbSpec]) -> list[_Record]:
    """Every record type a space's schema holds: its databases (and those of other spaces
    they relate to), ``FiberyUser``, workflow and select enums, ``FiberyFile`` if used."""
    records: dict[str, _Record] = {}
    users_and_files = [FIBERY_USER]
    for db in specs:
        types = ("ID", "String", "String", "String", "Float", "FiberyUser")
        system = [_Attr(n, r, t) for (n, r), t in zip(SYSTEM_FIELDS, types, strict=True)]
        records[db.type_name] = _Record(db.type_name, db.rest_name, [*system, *map(_field_attr, db.fields)],
                                        db.query_name)  # fmt: skip
        for f in db.fields:
            if f.enum_rest:
                enum = _enum_record(f.enum_rest, workflow=f.kind == "state")
                records.setdefault(enum.name, enum)
            if f.kind == "files" and FIBERY_FILE not in users_and_files:
                users_and_files.append(FIBERY_FILE)
    return [*records.values(), *users_and_files]


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
    return GraphQLInputObjectType(name, fields)


class _SchemaBuilder:
    """Builds the GraphQL schema of one space from its record types, as Fibery shapes it."""

    def __init__(self, records: list[_Record]) -> None:
        self.records = {r.name: r for r in records}
        self.types: dict[str, GraphQLNamedType] = {}
        self._shared_types()

    def _add(self, t: Any) -> Any:
        """Register a named type, refusing two types with one name."""
        if t.name in self.types:
            raise ValueError(f"GraphQL type name clash: {t.name}")
        self.types[t.name] = t
        return t

    def _shared_types(self) -> None:
        """Types that do not depend on the databases (as in the real SDL)."""
        add = self._add
        self.scalar_filters = {s: add(_ops_type(f"{s}Filter", _SCALARS[s], ops)) for s, ops in _SCALAR_OPS.items()}
        sf = GraphQLInputField(self.scalar_filters["String"])
        self.date_range_filter = add(GraphQLInputObjectType(
            "DateRangeFilter", {"start": sf, "end": sf, "isNull": GraphQLInputField(GraphQLBoolean)}))  # fmt: skip
        s = GraphQLField(GraphQLString)
        self.date_range = add(GraphQLObjectType("DateRange", {"start": s, "end": s}))
        si = GraphQLInputField(GraphQLString)
        add(GraphQLInputObjectType("DateRangeInput", {"start": si, "end": si}))
        self.rich_field = add(
            GraphQLObjectType("RichField", {k: s for k in ("secret", "md", "html", "jsonString", "text")})
        )
        add(GraphQLObjectType("Document", {"id": GraphQLField(GraphQLID), **{
            k: s for k in ("secret", "name", "md", "html", "jsonString", "text")}}))  # fmt: skip
        self.order = add(GraphQLEnumType("Order", {"ASC": GraphQLEnumValue("ASC"), "DESC": GraphQLEnumValue("DESC")}))
        d = GraphQLInputField(self.order)
        self.date_range_order = add(GraphQLInputObjectType("DateRangeOrder", {"start": d, "end": d}))

    def build(self) -> GraphQLSchema:
        """Create every record's types and the root ``Query``; validate the result."""
        self.objects: dict[str, GraphQLObjectType] = {}
        self.filters: dict[str, GraphQLInputObjectType] = {}
        self.list_filters: dict[str, GraphQLInputObjectType] = {}
        self.orders: dict[str, GraphQLInputObjectType] = {}
        for rec in self.records.values():
            self._record_types(rec)
        described = "Below the list of queries available for database."
        query = self._add(GraphQLObjectType("Query", self._query_fields, description=described))
        schema = GraphQLSchema(query=query, types=list(self.types.values()))
        assert_valid_schema(schema)
        return schema

    def _record_types(self, rec: _Record) -> None:
        """Create the object, filter, collection-filter and order types of one record."""
        t = rec.name
        described = f"Available fields and relations for {rec.rest}"
        self.objects[t] = self._add(GraphQLObjectType(t, lambda: self._object_fields(rec), description=described))
        self.orders[t] = self._add(GraphQLInputObjectType(f"{t}Order", lambda: self._order_fields(rec)))
        self.filters[t] = self._add(
            GraphQLInputObjectType(f"{t}Filter", lambda: self._filter_fields(rec), description=f"Filter for {rec.rest}")
        )
        inner = GraphQLInputField(GraphQLList(self.filters[t]))
        ops = {op: inner for op in ("contains", "containsAny", "notContains", "notContainsAny")}
        self.list_filters[t] = self._add(
            GraphQLInputObjectType(f"{t}CollectionFilter", {"isEmpty": GraphQLInputField(GraphQLBoolean), **ops})
        )

    def _out_type(self, a: _Attr) -> Any:
        """The named output type of an attribute."""
        if a.out in _SCALARS:
            return _SCALARS[a.out]
        return {"RichField": self.rich_field, "DateRange": self.date_range}.get(a.out) or self.objects[a.out]

    def _object_fields(self, rec: _Record) -> dict[str, GraphQLField]:
        """Output fields; a to-many one takes ``orderBy``, ``limit`` and the target's filters
        (never ``offset``), as Fibery's nested collections do."""
        fields = {}
        for a in rec.attrs:
            if a.many:
                fields[a.name] = GraphQLField(GraphQLList(self._out_type(a)), args=self._list_args(a.out, offset=False),
                                              description=a.rest + INNER_LIST_NOTE)  # fmt: skip
            else:
                fields[a.name] = GraphQLField(self._out_type(a), description=a.rest)
        return fields

    def _filter_type(self, a: _Attr) -> GraphQLInputObjectType | None:
        """The filter input of one attribute; rich text has none."""
        if a.out == "RichField":
            return None
        if a.out in _SCALARS:
            return self.scalar_filters[a.out]
        if a.out == "DateRange":
            return self.date_range_filter
        return (self.list_filters if a.many else self.filters)[a.out]

    def _filter_fields(self, rec: _Record) -> dict[str, GraphQLInputField]:
        """``orderBy limit offset`` then one filter per attribute (also the ``find…`` arguments)."""
        fields = {"orderBy": GraphQLInputField(self.orders[rec.name]), "limit": GraphQLInputField(GraphQLInt),
                  "offset": GraphQLInputField(GraphQLInt)}  # fmt: skip
        for a in rec.attrs:
            t = self._filter_type(a)
            if t is not None and a.name not in RESERVED_ARGS:
                fields[a.name] = GraphQLInputField(t, description=a.rest)
        return fields

    def _order_fields(self, rec: _Record) -> dict[str, GraphQLInputField]:
        """Sort keys: scalars take ``Order``, relations the target's ``<T>Order``, date ranges
        ``DateRangeOrder``; collections and rich text have none."""
        fields = {}
        for a in rec.attrs:
            if a.many or a.out == "RichField":
                continue
            if a.out in _SCALARS:
                t = self.order
            else:
                t = self.date_range_order if a.out == "DateRange" else self.orders[a.out]
            fields[a.name] = GraphQLInputField(t, description=a.rest)
        return fields

    def _list_args(self, type_name: str, *, offset: bool) -> dict[str, GraphQLArgument]:
        """``orderBy``, ``limit`` (and ``offset`` at the root), then the record's filters."""
        args = {"orderBy": GraphQLArgument(self.orders[type_name]), "limit": GraphQLArgument(GraphQLInt)}
        if offset:
            args["offset"] = GraphQLArgument(GraphQLInt)
        for name, f in self.filters[type_name].fields.items():
            if name not in RESERVED_ARGS:
                args[name] = GraphQLArgument(f.type, description=f.description)
        return args

    def _query_fields(self) -> dict[str, GraphQLField]:
        """Root fields: ``me`` and one ``find<Plural>`` per database of this space."""
        fields = {"me": GraphQLField(self.objects["FiberyUser"], description="Retrieves current user")}
        for rec in self.records.values():
            if rec.find:
                fields[rec.find] = GraphQLField(
                    GraphQLList(self.objects[rec.name]), args=self._list_args(rec.name, offset=True),
                    description=find_description(rec.name, rec.find),
                )  # fmt: skip
        return fields


# --------------------------------------------------------------------------------------
# REST schema (GET /api/schema)
# --------------------------------------------------------------------------------------

_REST_SCALARS = {
    "text": "fibery/text", "url": "fibery/text", "email": "fibery/text", "boolean": "fibery/bool",
    "date": "fibery/date", "datetime": "fibery/date-time", "date_range": "fibery/date-range",
    "rich_text": "Collaboration~Documents/Document", "files": "fibery/file", "user": "fibery/user",
    "users": "fibery/user",
}  # fmt: skip
_UI_TYPES = {"url": "url", "email": "email"}
_DEPRECATED = {"url": "fibery/url", "email": "fibery/email"}


def _rest_field(name: str, ftype: str, deleted: bool = False, **meta: Any) -> dict[str, Any]:
    """One ``fibery/fields`` entry."""
    return {
        "fibery/id": _uuid("field", name, ftype),
        "fibery/name": name,
        "fibery/type": ftype,
        "fibery/deleted?": deleted,
        "fibery/meta": {"fibery/readonly?": False, **meta},
    }


def rest_type_id(rest_name: str) -> str:
    """The ``fibery/id`` the fake gives a REST type (Markdown mentions carry it)."""
    return _uuid("type", rest_name)


def _rest_type(name: str, meta: dict[str, Any], fields: list[dict[str, Any]], deleted: bool = False) -> dict:
    """One ``fibery/types`` entry."""
    return {
        "fibery/id": rest_type_id(name),
        "fibery/name": name,
        "fibery/deleted?": deleted,
        "fibery/meta": meta,
        "fibery/fields": fields,
    }


def _system_fields() -> list[dict[str, Any]]:
    """Fields every domain type has, before its name (id, public id, dates, rank, author)."""
    ro = {"fibery/readonly?": True}
    return [
        _rest_field("fibery/id", "fibery/uuid", **ro, **{"fibery/id?": True}),
        _rest_field("fibery/public-id", "fibery/text", **ro, **{"fibery/public-id?": True}),
        _rest_field("fibery/creation-date", "fibery/date-time", **ro),
        _rest_field("fibery/modification-date", "fibery/date-time", **ro),
        _rest_field("fibery/rank", "fibery/rank", **ro),
        _rest_field("fibery/created-by", "fibery/user", **ro),
    ]


def _enum_fields(*, workflow: bool) -> list[dict[str, Any]]:
    """Fields of a single-select / workflow-state enum type."""
    fields = [
        _rest_field("fibery/id", "fibery/uuid", **{"fibery/id?": True}),
        _rest_field("fibery/public-id", "fibery/text"),
        _rest_field("fibery/rank", "fibery/rank"),
        _rest_field("enum/icon", "fibery/emoji"),
        _rest_field("enum/name", "fibery/text", **{"ui/title?": True}),
    ]
    return [*fields, _rest_field("workflow/Final", "fibery/bool")] if workflow else fields


@dataclass
class RestOptions:
    """How the fake words ``/api/schema`` where Fibery has several forms.

    ``deprecated_kinds``: URL and e-mail fields are ``fibery/url``/``fibery/email`` (old
    workspaces) instead of ``fibery/text`` with ``ui/type``. ``meta`` adds field meta by
    ``(REST type, REST field)``, e.g. ``{("Things/Event", "Things/Score"): {"formula/formula?":
    True}}`` or ``{"ui/type": "phone"}``; ``types`` overrides a field's ``fibery/type``."""

    deprecated_kinds: bool = False
    meta: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    types: dict[tuple[str, str], str] = field(default_factory=dict)

    def apply(self, type_rest: str, entry: dict[str, Any]) -> dict[str, Any]:
        """``entry`` with this option's overrides for ``type_rest``."""
        key = (type_rest, entry["fibery/name"])
        if key in self.types:
            entry["fibery/type"] = self.types[key]
        entry["fibery/meta"].update(self.meta.get(key, {}))
        return entry


def _relation_id(db: _DbSpec, f: _FieldSpec) -> str:
    """The ``fibery/relation`` id, which both ends of a relation share in Fibery. A snapshot
    does not pair its fields, so the fake pairs a field with the one field of its target that
    points back, when there is exactly one on each side; any other field is a relation alone."""
    target = f.target
    assert target is not None
    back = [g for g in target.fields if g.target is db]
    mine = [g for g in db.fields if g.target is target]
    if len(back) == 1 and len(mine) == 1 and target is not db:
        ends = sorted([(db.rest_name, f.rest_name), (target.rest_name, back[0].rest_name)])
        return _uuid("rel", *ends[0], *ends[1])
    return _uuid("rel", db.rest_name, f.rest_name)


def _rest_db_fields(db: _DbSpec, extra: dict[str, dict], options: RestOptions) -> list[dict[str, Any]]:
    """The ``fibery/fields`` of one database; enum types it needs go into ``extra``."""
    fields = _system_fields()
    for f in db.fields:
        if f.input_key is None:
            fields.append(_rest_field(f.rest_name, "fibery/text", **{"ui/title?": True, "fibery/required?": True}))
        elif f.kind == "number":
            fields.append(_rest_field(f.rest_name, "fibery/int" if f.number_type == "Int" else "fibery/decimal"))
        elif f.kind in _UI_TYPES and options.deprecated_kinds:
            fields.append(_rest_field(f.rest_name, _DEPRECATED[f.kind]))
        elif f.kind in _REST_SCALARS:
            meta: dict[str, Any] = {"fibery/collection?": f.is_collection}
            if f.kind in _UI_TYPES:
                meta["ui/type"] = _UI_TYPES[f.kind]
            if f.kind == "rich_text":
                meta = {"fibery/entity-component?": True}
            fields.append(_rest_field(f.rest_name, _REST_SCALARS[f.kind], **meta))
        elif f.enum_rest:
            workflow = f.kind == "state"
            meta = {"fibery/enum?": True, "fibery/domain?": not workflow}
            extra.setdefault(f.enum_rest, _rest_type(f.enum_rest, meta, _enum_fields(workflow=workflow)))
            meta = {"fibery/relation": _uuid("rel", f.enum_rest), "fibery/collection?": f.is_collection}
            if workflow:
                meta["fibery/required?"] = True
            fields.append(_rest_field(f.rest_name, f.enum_rest, **meta))
        elif f.target is not None:
            meta = {"fibery/relation": _relation_id(db, f), "fibery/collection?": f.is_collection}
            fields.append(_rest_field(f.rest_name, f.target.rest_name, **meta))
    extra_meta = {f.rest_name: f.rest_meta for f in db.fields if f.rest_meta}
    # Fibery's entity view order, which REST gives and GraphQL (sorted by name) does not:
    # the snapshot's order of fields, after the system fields.
    order = {f.rest_name: len(_system_fields()) + f.ui_order for f in db.fields}
    for n, entry in enumerate(fields):
        entry["fibery/meta"]["ui/object-editor-order"] = order.get(entry["fibery/name"], n)
        entry["fibery/meta"].update(extra_meta.get(entry["fibery/name"], {}))
    return [options.apply(db.rest_name, e) for e in fields]


def _system_rest_types() -> list[dict[str, Any]]:
    """Types every workspace has and clients must skip (``fibery/user`` has ``domain? true``)."""
    return [
        _rest_type("fibery/user", {"fibery/domain?": True, "fibery/secured?": True},
                   [*_system_fields()[:5], _rest_field("fibery/active?", "fibery/bool"),
                    _rest_field("user/name", "fibery/text", **{"ui/title?": True}),
                    _rest_field("user/email", "fibery/email")]),
        _rest_type("fibery/file", {"fibery/platform?": True, "fibery/domain?": False},
                   [_rest_field("fibery/secret", "fibery/text"), _rest_field("fibery/name", "fibery/text"),
                    _rest_field("fibery/content-type", "fibery/text")]),
        _rest_type("Collaboration~Documents/Document", {"fibery/domain?": False},
                   [_rest_field("Collaboration~Documents/secret", "fibery/text")]),
        _rest_type("Files/Files-mixin", {"fibery/domain?": True, "app/mixin?": True},
                   [_rest_field("Files/Files", "fibery/file", **{"fibery/collection?": True})]),
        _rest_type("assignments/assignments-mixin", {"fibery/domain?": True, "app/mixin?": True},
                   [_rest_field("assignments/assignees", "fibery/user", **{"fibery/collection?": True})]),
    ]  # fmt: skip


def _rest_document(space: str, types: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole ``/api/schema`` answer around ``types``."""
    body = json.dumps(types, sort_keys=True).encode()
    return {
        "fibery/id": _uuid("schema", space),
        "fibery/version": int(hashlib.sha1(body).hexdigest()[:8], 16),
        "fibery/meta": {"fibery/version": "1.0", "maintenance?": False},
        "fibery/types": types,
    }


def _rest_schema(space: str, specs: list[_DbSpec], options: RestOptions) -> dict[str, Any]:
    """The ``GET /api/schema`` document: domain types plus system types clients must skip, a
    soft-deleted database and a soft-deleted field (whatever ``with-soft-deleted`` says)."""
    extra: dict[str, dict[str, Any]] = {}
    types = _system_rest_types()
    for i, db in enumerate(specs):
        fields = _rest_db_fields(db, extra, options)
        if i == 0:
            fields.append(_rest_field(f"{db.space}/Old Field", "fibery/text", deleted=True))
        kinds = {f.kind for f in db.fields} | {f.rest_name for f in db.fields}
        mixins = {"workflow/workflow": "state" in kinds, "Files/Files-mixin": "files" in kinds,
                  "assignments/assignments-mixin": "assignments/assignees" in kinds}  # fmt: skip
        meta = {"fibery/domain?": True, "fibery/secured?": True, "fibery/primitive?": False,
                "ui/color": "#" + hashlib.sha1(db.rest_name.encode()).hexdigest()[:6],
                "app/mixins": {k: v for k, v in mixins.items() if v}}  # fmt: skip
        types.append(_rest_type(db.rest_name, meta, fields))
    types += extra.values()
    types.append(_rest_type(f"{space}/Deleted Database", {"fibery/domain?": True}, _system_fields(), deleted=True))
    return _rest_document(space, types)


_SDL_REST_TYPES = {"String": "fibery/text", "ID": "fibery/uuid", "Int": "fibery/int", "Float": "fibery/decimal",
                   "Boolean": "fibery/bool", "RichField": "Collaboration~Documents/Document",
                   "DateRange": "fibery/date-range"}  # fmt: skip
_SYSTEM_REST_TYPES = {
    "fibery/id": "fibery/uuid",
    "fibery/rank": "fibery/rank",
    "fibery/creation-date": "fibery/date-time",
    "fibery/modification-date": "fibery/date-time",
}


def rest_name_of(description: str | None) -> str:
    """The REST name a Fibery description carries: the text before the first ``". "``, or
    after ``Available fields and relations for`` / ``Filter for``."""
    text = (description or "").split(". ", 1)[0].strip()
    for prefix in ("Available fields and relations for ", "Filter for "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def rest_schema_from_sdl(schema: GraphQLSchema, space: str, options: RestOptions | None = None) -> dict[str, Any]:
    """An ``/api/schema`` answer derived from a (real) GraphQL schema's descriptions.

    Each object type described ``Available fields and relations for Space/Db`` becomes a type
    of that name; each of its fields a field named by its description, typed from the GraphQL
    type (``String`` -> ``fibery/text`` and so on; a record type -> its REST name; a list ->
    ``fibery/collection?``). Databases (``Space/Db`` outside the system namespaces) are
    ``domain?``, workflow types ``enum?``. The kinds GraphQL cannot show (URL, e-mail, dates)
    come from ``options``, as in a real workspace they come from Fibery's REST schema."""
    options = options or RestOptions()
    by_name = {
        t.name: rest_name_of(t.description)
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType) and (t.description or "").startswith("Available fields and relations for")
    }
    types = _system_rest_types()
    known = {t["fibery/name"] for t in types}
    for gql_name, rest in by_name.items():
        if rest in known:
            continue
        obj = schema.get_type(gql_name)
        assert isinstance(obj, GraphQLObjectType)
        fields = []
        for fname, fdef in obj.fields.items():
            frest = rest_name_of(fdef.description)
            named = get_named_type(fdef.type)
            ftype = by_name.get(named.name) or _SDL_REST_TYPES.get(named.name, "fibery/text")
            ftype = _SYSTEM_REST_TYPES.get(frest, ftype)
            meta: dict[str, Any] = {"fibery/collection?": isinstance(get_nullable_type(fdef.type), GraphQLList)}
            if named.name in by_name and not by_name[named.name].startswith("fibery/"):
                meta["fibery/relation"] = _uuid("rel", *sorted((rest, by_name[named.name])))
            if fname == "name":
                meta["ui/title?"] = True
            fields.append(options.apply(rest, _rest_field(frest, ftype, **meta)))
        namespace = rest.split("/", 1)[0]
        is_enum = namespace in ("workflow", "enum") or "_" in rest.split("/", 1)[-1]
        meta = {"fibery/domain?": not is_enum, "fibery/secured?": True, "fibery/enum?": is_enum}
        if any(f["fibery/name"] == "workflow/state" for f in fields):
            meta["app/mixins"] = {"workflow/workflow": True}
        types.append(_rest_type(rest, meta, fields))
    return _rest_document(space, types)


# --------------------------------------------------------------------------------------
# Space state: everything derived from one snapshot (or one SDL)
# --------------------------------------------------------------------------------------


@dataclass
class SchemaOptions:
    """How the fake names and pages what it generates (see the module docstring).

    ``legacy``: database titles (or ``"*"``) whose generated REST field names are lower-case
    legacy ones (``Things/name``); ``tilde``: spaces in generated REST field names become
    ``~``; ``authors``: the users who created the entities (``createdBy``), with e-mails;
    ``inner_limit``: the default cut of nested collections; ``root_cap``: a silent cap on
    root pages; ``max_limit``: a ``limit`` above it is a GraphQL error."""

    legacy: tuple[str, ...] = ()
    tilde: bool = False
    authors: tuple[dict[str, Any], ...] = DEFAULT_AUTHORS
    inner_limit: int | None = 100
    root_cap: int | None = None
    max_limit: int | None = None
    rest: RestOptions = field(default_factory=RestOptions)


def me_only_schema(me: dict[str, Any]) -> GraphQLSchema:
    """What a space endpoint with no databases (or, perhaps, a misspelt space) serves."""
    schema = _SchemaBuilder([FIBERY_USER]).build()
    return attach_resolvers(schema, {}, me)


class _SpaceState:
    """Schema, rows, REST schema and files of one space (immutable once built)."""

    def __init__(
        self,
        space: str,
        schema: GraphQLSchema,
        rest: dict[str, Any],
        *,
        me: dict[str, Any],
        files: dict[str, str] | None = None,
        file_meta: dict[str, dict[str, Any]] | None = None,
        names: dict[str, tuple[str, str | None, dict[str, str]]] | None = None,
    ) -> None:
        self.space = space
        self.url_name = space_url_name(space)
        self.schema = schema
        self.me = me
        self.empty_schema = me_only_schema(me)
        self.rest_body = json.dumps(rest, ensure_ascii=False).encode()
        self.rest_etag = '"' + hashlib.sha1(self.rest_body).hexdigest()[:20] + '"'
        self.files = self._decode_files(files or {})
        self.file_meta = file_meta or {}
        self.names = names or {}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any], options: SchemaOptions, me: dict[str, Any]) -> _SpaceState:
        """Generate the schema, rows and REST schema of a workspace snapshot."""
        specs = _derive_specs(snapshot, legacy=options.legacy, tilde=options.tilde)
        users = _Users(options.authors, me)
        rows = _build_rows(specs, users)
        schema = attach_resolvers(
            _SchemaBuilder(records_of(specs)).build(), rows, users.me, inner_default=options.inner_limit,
            max_limit=options.max_limit, root_cap=options.root_cap,
        )  # fmt: skip
        file_meta = {
            v["secret"]: v
            for spec in specs
            for f in spec.fields
            if f.kind == "files"
            for row in rows[spec.type_name]
            for v in (row.get(f.name) or [])
        }
        names = {
            s.title: (s.type_name, s.query_name, {f.title: f.name for f in s.fields if f.input_key is not None})
            for s in specs
        }
        return cls(
            snapshot["space"], schema, _rest_schema(snapshot["space"], specs, options.rest), me=users.me,
            files=snapshot.get("files"), file_meta=file_meta, names=names,
        )  # fmt: skip

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


def _sdl_state(
    rows: dict[str, list[dict[str, Any]]],
    files: dict[str, str] | None,
    *,
    sdl: str,
    space: str,
    rest_schema: dict[str, Any] | None,
    rest: RestOptions | None,
    me: dict[str, Any],
    root_cap: int | None,
    max_limit: int | None,
    inner: int | None,
) -> _SpaceState:
    """The state of a ``from_sdl`` fake: ``sdl`` built verbatim, serving ``rows``."""
    schema = attach_resolvers(
        build_schema(sdl), dict(rows), me, inner_default=inner, max_limit=max_limit, root_cap=root_cap
    )
    document = rest_schema if rest_schema is not None else rest_schema_from_sdl(schema, space, rest)
    return _SpaceState(space, schema, document, me=me, files=files)


def real_sdl_dir() -> Path | None:
    """``shared/fibery-real`` (the schemas a live Fibery served), if it is on this machine.

    It sits beside the project (``../shared`` from the project root: a worktree under the
    shared folder's parent, or CI's checkout next to it); ``FIBERY_REAL_SDL`` overrides."""
    here = Path(__file__).resolve()
    beside = [here.parents[2], here.parents[1].parent, here.parents[1]]
    candidates = [os.environ.get("FIBERY_REAL_SDL", ""), *(p / "shared" / "fibery-real" for p in beside)]
    return next((Path(c) for c in candidates if c and (Path(c) / "things.graphql").is_file()), None)


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
    admitted: bool | None = None
    """The rate limiter's verdict, once taken (``count_from="arrival"``)."""
    arrived: float | None = None
    """When the request's first byte reached the server's kernel (``time.monotonic()``
    scale), for requests that came over a socket: the moment it "starts" for the rate limit."""

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
    query: str | None = None  # the GraphQL document, as sent


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

    @property
    def queries(self) -> list[str]:
        """The GraphQL documents received, in order, each on one line (whitespace collapsed)."""
        return [" ".join(e.query.split()) for e in self.log if e.query is not None]

    def count(self, status: int | None = None, operation: str | None = None) -> int:
        """Requests with the given status and/or root field."""
        return sum(
            1
            for e in self.log
            if (status is None or e.status == status) and (operation is None or e.operation == operation)
        )


class _RateLimiter:
    """Sliding one-second windows of accepted requests, per key.

    A request is refused when some one-second window holding its arrival would then hold
    more than ``per_second`` requests. Arrivals are taken as they are given, not in the order
    the handler threads get to them: a thread held up by another's work must not make its
    request look later (or earlier) than it reached the server."""

    def __init__(self, per_second: float | None) -> None:
        self.per_second = per_second
        self._lock = threading.Lock()
        self._hits: dict[str, list[float]] = {}

    def allow(self, key: str, at: float | None = None) -> bool:
        """Record and allow a request for ``key`` that arrived ``at`` (default: now), or
        refuse it (not recorded)."""
        if self.per_second is None:
            return True
        at = time.monotonic() if at is None else at
        with self._lock:
            hits = self._hits.setdefault(key, [])
            del hits[: bisect_left(hits, at - 2.0)]  # no window holding a new arrival reaches them
            starts = [at, *hits[bisect_left(hits, at - 1.0) : bisect_left(hits, at)]]
            if any(
                bisect_left(hits, start + 1.0) - bisect_left(hits, start) + 1 > self.per_second
                for start in starts
                if start > at - 1.0
            ):
                return False
            insort(hits, at)
            return True


def _kernel_arrival(connection: socket.socket) -> float | None:
    """When the next request's first byte reached this host, from the kernel's receive
    time stamp (``SO_TIMESTAMPNS``), on the ``time.monotonic()`` scale (now, where there is
    no stamp); None when the peer closed the connection. Waits for that byte."""
    try:
        first, ancillary, _, _ = connection.recvmsg(1, socket.CMSG_SPACE(16), socket.MSG_PEEK)
    except OSError:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return time.monotonic() - (time.time() - (seconds + nanoseconds / 1e9))
    return time.monotonic() if first else None


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
"""Linux's option (and control message) number for receive time stamps in nanoseconds."""


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

    def server_bind(self) -> None:
        """Bind, asking for receive time stamps on the connections it will accept (they
        inherit the option, so even a request sent with the connection is stamped)."""
        if sys.platform == "linux":
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the fake answer it, writes the response."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeFibery/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    rbufsize = 0
    """Unbuffered reads: a request's bytes stay in the kernel until they are read, so the next
    request's arrival stamp (``_kernel_arrival``) is its own, never one read ahead with the last."""
    arrived: float | None = None

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def handle_one_request(self) -> None:
        """Stamp the request's arrival before Python reads it: how late a busy handler thread
        gets to it must not count."""
        self.arrived = _kernel_arrival(self.connection)
        super().handle_one_request()

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
                chunks.append(self._read_exactly(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self._read_exactly(length) if length > 0 else b""

    def _read_exactly(self, size: int) -> bytes:
        """``size`` bytes, or fewer if the peer closed first (``rfile`` is unbuffered, and an
        unbuffered read returns what one ``recv`` gave)."""
        parts, left = [], size
        while left > 0 and (part := self.rfile.read(left)):
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def _serve(self) -> None:
        fake = self.server.fake
        ctx = fake._context(self.command, self.path, dict(self.headers.items()), self._read_body())
        ctx.arrived = self.arrived
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
    """A fake Fibery account serving one space, generated from a snapshot dict (or, with
    ``from_sdl``, a given SDL served verbatim).

    Use as a context manager (``with FakeFibery(snap) as fake: httpx.post(fake.graphql_url...)``)
    or call ``start()``/``stop()``; ``handle()``/``httpx_handler`` answer without a server.
    ``faults`` is a list of hooks ``(FaultContext) -> Response | HANG | None`` run, in order,
    before normal handling; the first non-None answer wins.

    Schema options (see ``SchemaOptions``): ``max_limit``, ``root_cap``,
    ``collection_default_limit`` (the inner-list cut, 100 as in Fibery; None = no cut),
    ``legacy_names``, ``tilde_names``, ``authors``, ``rest`` (``RestOptions``).
    ``unknown_space`` is what a wrong space name gets (module docstring).
    """

    def __init__(
        self,
        snapshot: dict[str, Any] | None,
        *,
        token: str = "test-token",
        rate_limit: float | None = 3.0,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        count_from: str = "arrival",
        arrival_jitter: float = 0.0,
        max_limit: int | None = None,
        root_cap: int | None = None,
        retry_after: float | None = None,
        extra_tokens: Iterable[str] = (),
        collection_default_limit: int | None = 100,
        legacy_names: Iterable[str] = (),
        tilde_names: bool = False,
        authors: Iterable[dict[str, Any]] = DEFAULT_AUTHORS,
        rest: RestOptions | None = None,
        unknown_space: str = "me-only",
        email: str = "fake.user@example.com",
        host: str = "127.0.0.1",
        port: int = 0,
        _state: _SpaceState | None = None,
    ) -> None:
        if count_from not in ("arrival", "handling"):
            raise ValueError(f"count_from must be 'arrival' or 'handling', not {count_from!r}")
        if unknown_space not in ("me-only", "404", "500"):
            raise ValueError(f"unknown_space must be 'me-only', '404' or '500', not {unknown_space!r}")
        self.token = token
        self.tokens = {token, *extra_tokens}
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.count_from = count_from
        self.arrival_jitter = arrival_jitter
        self.retry_after = retry_after
        self.unknown_space = unknown_space
        self.options = SchemaOptions(
            legacy=tuple(legacy_names), tilde=tilde_names, authors=tuple(authors),
            inner_limit=collection_default_limit, root_cap=root_cap, max_limit=max_limit, rest=rest or RestOptions(),
        )  # fmt: skip
        self.me = {"email": email, "name": "Fake User"}
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
        self._sdl: dict[str, Any] | None = None
        if _state is not None:
            self._snapshot, self._state = None, _state
        else:
            self.update_snapshot(snapshot or {"space": "Space", "databases": []})

    @classmethod
    def from_sdl(
        cls,
        sdl: str,
        *,
        space: str,
        rows: dict[str, list[dict[str, Any]]] | None = None,
        rest_schema: dict[str, Any] | None = None,
        rest: RestOptions | None = None,
        files: dict[str, str] | None = None,
        me: dict[str, Any] | None = None,
        root_cap: int | None = None,
        max_limit: int | None = None,
        collection_default_limit: int | None = 100,
        **kwargs: Any,
    ) -> FakeFibery:
        """Serve ``sdl`` verbatim (``graphql.build_schema``) for ``space``, with ``rows``.

        ``rows`` maps a type name (``ThingsEvent``) to its rows, dicts keyed by GraphQL field
        names whose relation values are the related rows themselves; root ``find…`` queries
        and nested collections page, filter and sort them as in generated mode (nested lists
        cut at 100 unless ``limit``). ``/api/schema`` is ``rest_schema``, else derived from the
        SDL's descriptions (``rest_schema_from_sdl`` with ``rest``). ``files`` are base64
        contents by secret. Other keyword arguments are ``FakeFibery``'s."""
        me = me or {"active": True, "id": _uuid("user", "me"), "publicId": "1", "name": "Fake User",
                    "email": kwargs.get("email", "fake.user@example.com")}  # fmt: skip
        sdl_args = {"sdl": sdl, "space": space, "rest_schema": rest_schema, "rest": rest, "me": me,
                    "root_cap": root_cap, "max_limit": max_limit, "inner": collection_default_limit}  # fmt: skip
        fake = cls(None, _state=_sdl_state(rows or {}, files, **sdl_args), rest=rest, **kwargs)
        fake._sdl = sdl_args
        return fake

    def update_rows(self, rows: dict[str, list[dict[str, Any]]], files: dict[str, str] | None = None) -> None:
        """Serve other ``rows`` (and ``files``) from now on (``from_sdl`` fakes), e.g. rows that
        link to ``fake.url``, known once the server runs."""
        if self._sdl is None:
            raise RuntimeError("update_rows is for fakes made with from_sdl; use update_snapshot")
        state = _sdl_state(rows, files, **self._sdl)
        with self._lock:
            self._state = state

    # -- data ------------------------------------------------------------------------

    def build_state(self, snapshot: dict[str, Any]) -> _SpaceState:
        """Derive a servable state from a snapshot with this fake's options."""
        return _SpaceState.from_snapshot(snapshot, self.options, self.me)

    def update_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Serve ``snapshot`` from now on (e.g. after editing an entity)."""
        snapshot = copy.deepcopy(snapshot)
        state = self.build_state(snapshot)
        with self._lock:
            self._snapshot, self._state = snapshot, state

    @property
    def snapshot(self) -> dict[str, Any]:
        """A copy of the snapshot being served (generated mode only)."""
        with self._lock:
            if self._snapshot is None:
                raise RuntimeError("this fake serves an SDL, not a snapshot")
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
    def rest_schema(self) -> dict[str, Any]:
        """The ``/api/schema`` document being served."""
        return json.loads(self.state.rest_body)

    @property
    def names(self) -> dict[str, tuple[str, str | None, dict[str, str]]]:
        """``{db_title: (type_name, query_name, {field_title: name})}`` of the served snapshot."""
        return self.state.names

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

    def handle(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: bytes | str | Any = b""
    ) -> Response:
        """Answer one request in-process, exactly as the server would (faults, auth, rate
        limit, stats): ``target`` is a path with query (or a full URL), ``body`` bytes, text
        or a JSON-able object. A hanging fault raises ``TimeoutError``."""
        parts = urlsplit(target)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        raw = body.encode() if isinstance(body, str) else body
        ctx = self._context(method.upper(), path, dict(headers or {}), raw)
        resp = self._respond(ctx)
        if isinstance(resp, _Hang):
            self._log(ctx, None)
            raise TimeoutError(f"the fake was told to hang on {method} {parts.path}")
        self._log(ctx, resp.status)
        return resp

    def httpx_handler(self, request: Any) -> Any:
        """An ``httpx.MockTransport`` / respx side effect answering ``request`` in-process.
        A fault may raise an httpx error (``httpx.ReadTimeout``) to fail the request itself."""
        import httpx

        resp = self.handle(request.method, str(request.url), dict(request.headers.items()), request.content)
        return httpx.Response(resp.status, headers=resp.headers, content=resp.body, request=request)

    def transport(self) -> Any:
        """The in-process door: an ``httpx.MockTransport`` answering through ``httpx_handler``,
        for a client's ``transport=`` (no server, no socket)."""
        import httpx

        return httpx.MockTransport(self.httpx_handler)

    def _respond(self, ctx: FaultContext) -> Response | _Hang:
        """The rate limit's count (``count_from="arrival"``), latency, faults, normal handling."""
        if self.count_from == "arrival":
            arrived = ctx.arrived if ctx.arrived is not None else time.monotonic()
            if self.arrival_jitter:
                jitter = random.uniform(0.0, self.arrival_jitter)
                self._stopping.wait(jitter)
                arrived += jitter
            token = _bearer(ctx.headers)
            if token in self.tokens and (ctx.path == "/api" or ctx.path.startswith("/api/")):
                ctx.admitted = self._limiter.allow(token, arrived)  # type: ignore[arg-type]
        latency = self.latency + (random.uniform(0.0, self.latency_jitter) if self.latency_jitter else 0.0)
        if latency:
            self._stopping.wait(latency)
        for fault in list(self.faults):
            answer = fault(ctx)
            if answer is not None:
                return answer
        return self._handle(ctx)

    def _log(self, ctx: FaultContext, status: int | None) -> None:
        """Record a request in ``stats``."""
        query = ctx.body.get("query") if isinstance(ctx.body, dict) else None
        document = query if isinstance(query, str) else None
        self.stats.record(LogEntry(time.time(), ctx.method, ctx.path, status, ctx.operation, ctx.variables, document))

    def _handle(self, ctx: FaultContext, state: _SpaceState | None = None) -> Response:
        """Normal handling: auth, rate limit, routing."""
        state = state or self.state
        if not (ctx.path == "/api" or ctx.path.startswith("/api/")):
            return Response.text(404, "Not Found")
        token = _bearer(ctx.headers)
        if token not in self.tokens:
            return Response.text(401, "Unauthorized")
        admitted = ctx.admitted if ctx.admitted is not None else self._limiter.allow(token)  # type: ignore[arg-type]
        if not admitted:
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
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Endpoints List</title></head>'
            f'<body><h1>Endpoints List</h1><ul><li><a href="{href}">{html.escape(state.space)}</a>'
            "</li></ul></body></html>",
        )

    def _graphiql(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``GET /api/graphql/space/X``: a GraphiQL shell page."""
        unknown = self._unknown_space(ctx, state)
        if unknown is not None and self.unknown_space != "me-only":
            return unknown
        return Response.html(200, _GRAPHIQL.format(endpoint=html.escape(ctx.path)))

    def _unknown_space(self, ctx: FaultContext, state: _SpaceState) -> Response | None:
        """None for this space's endpoint; else the answer ``unknown_space`` asks for (for
        ``me-only``, the schema to use is ``state.empty_schema``)."""
        if state.matches_space(self._last_segment(ctx)):
            return None
        name = unquote(self._last_segment(ctx))
        if self.unknown_space == "404":
            return Response.text(404, f"Space {name} not found")
        if self.unknown_space == "500":
            return Response.json(500, {"name": "entity.error/space-not-found", "message": f"Space {name} not found",
                                       "data": {"space": name}})  # fmt: skip
        return Response(200)

    def _graphql(self, ctx: FaultContext, state: _SpaceState) -> Response:
        """``POST /api/graphql/space/X``: run a GraphQL request."""
        unknown = self._unknown_space(ctx, state)
        if unknown is not None and self.unknown_space != "me-only":
            return unknown
        schema = state.schema if unknown is None else state.empty_schema
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
        return _execute(schema, query, variables, op_name)

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


def _execute(schema: GraphQLSchema, query: str, variables: dict[str, Any] | None, op_name: str | None) -> Response:
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


def truncated_json(count: int | None = 1, *, fraction: float = 0.5, declare_full_length: bool = False) -> Fault:
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
    """``python tests/fake_fibery.py SNAPSHOT.json [--port N] [--token T] ...`` or
    ``python tests/fake_fibery.py --sdl ../shared/fibery-real/things.graphql --space Things``."""
    parser = argparse.ArgumentParser(description="Serve a Fibery snapshot (or an SDL) as a fake Fibery API.")
    parser.add_argument("snapshot", nargs="?", help="workspace snapshot JSON")
    parser.add_argument("--sdl", help="serve this GraphQL SDL verbatim (no rows) instead of a snapshot")
    parser.add_argument("--space", default="Things", help="the space an --sdl is served as")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--rate-limit", type=float, default=3.0, help="requests/s per token; 0 = off")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--count-from", choices=("arrival", "handling"), default="arrival",
                        help="when a request counts towards the rate limit")  # fmt: skip
    parser.add_argument("--max-limit", type=int, default=None)
    parser.add_argument("--root-cap", type=int, default=None, help="silently cap root pages at this many rows")
    parser.add_argument("--unknown-space", choices=("me-only", "404", "500"), default="me-only")
    args = parser.parse_args(argv)
    options = {"token": args.token, "rate_limit": args.rate_limit or None, "latency": args.latency,
               "count_from": args.count_from,
               "max_limit": args.max_limit, "root_cap": args.root_cap, "unknown_space": args.unknown_space,
               "host": args.host, "port": args.port}  # fmt: skip
    if args.sdl:
        with open(args.sdl, encoding="utf-8") as fh:
            fake = FakeFibery.from_sdl(fh.read(), space=args.space, **options)
    elif args.snapshot:
        with open(args.snapshot, encoding="utf-8") as fh:
            fake = FakeFibery(json.load(fh), **options)
    else:
        parser.error("give a snapshot or --sdl")
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
