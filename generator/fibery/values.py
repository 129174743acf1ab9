"""Entities from GraphQL rows: list queries, value shapes, and what the rows alone do not say.

Rows come back shaped by the selection of ``schema.DatabasePlan``; this module keeps only
the parts ``model.py`` defines for each kind, infers the kind of text fields REST did not
describe, and completes nested lists that Fibery may have cut short.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec

from ..errors import FiberyError
from ..model import Database, Entity, FieldKind
from .schema import COLLECTION_LIMIT, DatabasePlan

log = logging.getLogger(__name__)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LISTS = (FieldKind.COLLECTION, FieldKind.MULTI_SELECT, FieldKind.FILES, FieldKind.USERS)


def _name(item: Any) -> dict[str, str]:
    return {"name": str(item.get("name") or "")}


def normalise(kind: FieldKind, raw: Any) -> Any:
    """Keep only the parts of a raw GraphQL value the model defines for ``kind`` (a user is
    a name: an e-mail address is neither selected nor kept)."""
    if raw is None:
        return [] if kind in _LISTS else None
    match kind:
        case FieldKind.RELATION:
            return {"id": str(raw["id"])}
        case FieldKind.COLLECTION:
            return [{"id": str(item["id"])} for item in raw if item]
        case FieldKind.STATE:
            state: dict[str, Any] = _name(raw)
            if isinstance(raw.get("final"), bool):
                state["final"] = raw["final"]
            return state
        case FieldKind.SELECT | FieldKind.USER:
            return _name(raw)
        case FieldKind.MULTI_SELECT | FieldKind.USERS:
            return [_name(item) for item in raw if item]
        case FieldKind.RICH_TEXT:
            return {"md": raw.get("md") or "", "html": raw.get("html") or ""}
        case FieldKind.FILES:
            return [
                {
                    "secret": str(f["secret"]),
                    "name": str(f.get("name") or ""),
                    "contentType": str(f.get("contentType") or ""),
                }
                for f in raw
                if f and f.get("secret")
            ]
        case FieldKind.DATE_RANGE:
            return {"start": raw.get("start"), "end": raw.get("end")}
        case _:
            return raw


def to_entity(plan: DatabasePlan, raw: Any) -> Entity:
    """Turn one raw GraphQL object into an ``Entity``; reject data that is not shaped right."""
    if not isinstance(raw, dict) or not raw.get("id"):
        raise FiberyError(f"malformed data from Fibery: an entity of {plan.database.title} has no id")
    try:
        values = {p.field.key: normalise(p.field.kind, raw.get(p.field.key)) for p in plan.fields}
    except (AttributeError, KeyError, TypeError) as exc:
        raise FiberyError(f"malformed data from Fibery: entity {raw['id']} of {plan.database.title}: {exc}") from None
    return Entity(
        id=str(raw["id"]),
        public_id=str(raw.get("publicId") or ""),
        name=str(raw.get("name") or ""),
        creation_date=raw.get("creationDate"),
        modification_date=raw.get("modificationDate"),
        values=values,
    )


def with_volatile(plan: DatabasePlan, entity: Entity, raw: Any) -> Entity:
    """``entity`` with the values of its volatile fields taken from ``raw`` (a fresher row)."""
    try:
        fresh = {p.field.key: normalise(p.field.kind, raw.get(p.field.key)) for p in plan.fields if p.volatile}
    except (AttributeError, KeyError, TypeError) as exc:
        raise FiberyError(f"malformed data from Fibery: entity {entity.id} of {plan.database.title}: {exc}") from None
    if all(entity.values.get(key) == value for key, value in fresh.items()):
        return entity
    return msgspec.structs.replace(entity, values={**entity.values, **fresh})


def list_query(plan: DatabasePlan, *, limit: int, offset: int, where: str = "") -> str:
    """The list query of one page: base fields plus every field, rich text inline."""
    args = [f"limit: {limit}", f"offset: {offset}"]
    if plan.order_by:
        args.append(f"orderBy: {{{plan.order_by}: ASC}}")
    if where:
        args.append(where)
    return f"query Page{plan.database.key} {{ {plan.database.query}({', '.join(args)}) {{ {plan.selection} }} }}"


def infer_text_kinds(plan: DatabasePlan) -> None:
    """Give text fields that REST did not describe the kind all their values share (a date,
    a date-time, a URL or an e-mail address); REST's word is final where it spoke."""
    database = plan.database
    for fplan in plan.fields:
        fld = fplan.field
        if fplan.described or fld.kind is not FieldKind.TEXT:
            continue
        values = [v for e in database.entities if isinstance(v := e.values.get(fld.key), str) and v]
        if not values:
            continue
        for kind, test in (
            (FieldKind.DATE, _ISO_DATE.match),
            (FieldKind.DATETIME, _ISO_DATETIME.match),
            (FieldKind.URL, lambda v: v.startswith(("http://", "https://")) and " " not in v),
            (FieldKind.EMAIL, _EMAIL.match),
        ):
            if all(test(v) for v in values):
                fld.kind = kind
                break


# --------------------------------------------------------------------------- nested lists


def _inverse_of(plan: DatabasePlan, key: str, plans: dict[str, DatabasePlan]) -> tuple[DatabasePlan, str] | None:
    """The to-one field on the other side of collection ``key`` of ``plan``, when fetched.

    Both ends share REST's relation id; without REST, a pair is taken only when it is the
    one collection of this database into that one and the one relation back."""
    fplan = next(p for p in plan.fields if p.field.key == key)
    other = plans.get(fplan.field.target or "")
    if other is None:
        return None
    back = [p for p in other.fields if p.field.kind is FieldKind.RELATION and p.field.target == plan.database.key]
    if fplan.relation:
        back = [p for p in back if p.relation == fplan.relation]
    else:
        siblings = [
            p for p in plan.fields if p.field.kind is FieldKind.COLLECTION and p.field.target == other.database.key
        ]
        if len(siblings) != 1 or any(p.relation for p in back):
            return None
    return (other, back[0].field.key) if len(back) == 1 else None


def complete_lists(plans: list[DatabasePlan]) -> None:
    """Make nested lists whole: Fibery cuts them at ``COLLECTION_LIMIT`` and has no offset.

    A one-to-many collection is rebuilt from the to-one field of the other side, which is
    read in full at the root: complete whatever its size, and right on incremental builds
    however the other side changed. Other lists exactly at the limit are logged: they may
    still be cut short."""
    by_key = {p.database.key: p for p in plans}
    for plan in plans:
        for fplan in plan.fields:
            key = fplan.field.key
            inverse = _inverse_of(plan, key, by_key) if fplan.field.kind is FieldKind.COLLECTION else None
            if inverse is not None:
                _rebuild(plan.database, key, inverse[0].database, inverse[1])
            elif fplan.limited:
                _warn_if_capped(plan.database, key)


def _rebuild(database: Database, key: str, other: Database, back: str) -> None:
    """Collection ``key`` of ``database`` := the entities of ``other`` whose ``back`` points at each."""
    children: dict[str, list[dict[str, str]]] = {}
    for entity in other.entities:
        for parent_id in entity.related_ids(back):
            children.setdefault(parent_id, []).append({"id": entity.id})
    for number, entity in enumerate(database.entities):
        listed = entity.values.get(key) or []
        rebuilt = children.get(entity.id, [])
        if listed != rebuilt:
            # Keep Fibery's order for what it listed; add what the cap cut off after it.
            known = {item["id"] for item in rebuilt}
            kept = [item for item in listed if item.get("id") in known]
            seen = {item["id"] for item in kept}
            value = kept + [item for item in rebuilt if item["id"] not in seen]
            database.entities[number] = msgspec.structs.replace(entity, values={**entity.values, key: value})


def _warn_if_capped(database: Database, key: str) -> None:
    capped = sum(1 for e in database.entities if len(e.values.get(key) or []) >= COLLECTION_LIMIT)
    if capped:
        field = database.field(key)
        title = field.title if field else key
        log.warning(
            "%s: %d lists of '%s' have %d items, the most Fibery is asked for: they may be cut short",
            database.title,
            capped,
            title,
            COLLECTION_LIMIT,
        )
