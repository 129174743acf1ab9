"""Publish rules from ``kb.toml``: which databases, fields and entities reach the site.

The rules, each optional::

    include_databases = ["Guides", "Equipment"]       # only these (every database when empty)
    exclude_databases = ["Team Members"]              # never these
    hide_fields = { "*" = ["Internal notes"], "Guides" = ["Owner"] }
    publish_when = { "Guides" = { "State" = ["Published", "Reviewed"] } }
    expect_kinds = { "Guides" = { "State" = "state", "Body" = "rich_text" } }

``publish_when`` maps a database to ``{field: allowed values}``. The field must be a
workflow state, a single select or a multi select, and the values are option names,
compared exactly. An entity is published only when, for every field listed, its value (for
a multi select: one of its values) is allowed; an entity with no value is not published.

``expect_kinds`` pins the kind of a field (``text``, ``url``, ``state``, ``rich_text``…, see
``model.FieldKind``), so that a field whose type changed in Fibery stops the build.

**Fail closed.** Every name in the rules must exist in the space, and is checked against
the whole space (sources return excluded databases too, without entities): a database or
field that was renamed or deleted in Fibery fails the build loudly, naming it, instead of
silently publishing more, or less, than intended. A live build checks before fetching any
entity.

**No leaks.** What is not published is removed from the workspace before anything is
rendered: relations to an unpublished entity have no name to show and render as
"(not published)", an unpublished entity links to nothing (no backlinks), hidden fields
take their values with them, and files that only unpublished content referenced are
dropped too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from . import model
from .config import SiteConfig
from .errors import ConfigError
from .model import Database, Entity, Field, FieldKind, Workspace

log = logging.getLogger(__name__)

PUBLISH_WHEN_KINDS = (FieldKind.STATE, FieldKind.SELECT, FieldKind.MULTI_SELECT)
ALL_DATABASES = "*"


def find_database(databases: list[Database], name: str, *, setting: str) -> Database:
    """Return the database called ``name`` (by any of its names, ``Database.is_named``), or
    fail listing the databases that exist."""
    found = model.find_database(databases, name)
    if found is None:
        existing = ", ".join(sorted(db.title for db in databases)) or "none"
        raise ConfigError(f"{setting}: no database '{name}' in the space (it has: {existing})")
    return found


def find_field(db: Database, name: str, *, setting: str) -> Field:
    """Return the field of ``db`` called ``name`` (``Field.is_named``), or fail naming both."""
    found = db.find_field(name)
    if found is None:
        raise ConfigError(f"{setting}: database '{db.title}' has no field '{name}'")
    return found


# --------------------------------------------------------------------------- checks


def _per_database(
    databases: list[Database], rules: dict[str, Any], setting: str, *, allow_all: bool = False
) -> Iterable[tuple[Database, Any]]:
    """Yield (database, rule) for each per-database entry of a rule table. "*" (every
    database) is refused where it is not supported, rather than silently ignored."""
    for name, rule in rules.items():
        if name == ALL_DATABASES and not allow_all:
            raise ConfigError(f"{setting}: name a database; '*' (every database) is only for hide_fields")
        if name != ALL_DATABASES:
            yield find_database(databases, name, setting=setting), rule


def check_rules(databases: list[Database], config: SiteConfig) -> None:
    """Check every name and kind the rules use against the space's ``databases``."""
    for name in config.include_databases:
        find_database(databases, name, setting="kb.toml include_databases")
    for name in config.exclude_databases:
        find_database(databases, name, setting="kb.toml exclude_databases")
    for db, names in _per_database(databases, config.hide_fields, "kb.toml hide_fields", allow_all=True):
        for name in names:
            find_field(db, name, setting=f"kb.toml hide_fields.{db.title}")
    for name in config.hide_fields.get(ALL_DATABASES, []):
        if not any(db.find_field(name) is not None for db in databases):
            raise ConfigError(f"kb.toml hide_fields: no database has a field '{name}'")
    for db, rule in _per_database(databases, config.publish_when, "kb.toml publish_when"):
        for name in rule:
            fld = find_field(db, name, setting=f"kb.toml publish_when.{db.title}")
            if fld.kind not in PUBLISH_WHEN_KINDS:
                allowed = ", ".join(k.value for k in PUBLISH_WHEN_KINDS)
                raise ConfigError(
                    f"kb.toml publish_when.{db.title}: field '{fld.title}' is {fld.kind.value}, not one of {allowed}"
                )
    for db, kinds in _per_database(databases, config.expect_kinds, "kb.toml expect_kinds"):
        for name, kind in kinds.items():
            fld = find_field(db, name, setting=f"kb.toml expect_kinds.{db.title}")
            if fld.kind is not kind:
                raise ConfigError(
                    f"kb.toml expect_kinds.{db.title}: field '{fld.title}' is now {fld.kind.value}, "
                    f"expected {kind.value}"
                )


def is_selected(db: Database, config: SiteConfig) -> bool:
    """Whether ``include_databases`` / ``exclude_databases`` let ``db`` be published."""
    included = not config.include_databases or any(db.is_named(n) for n in config.include_databases)
    return included and not any(db.is_named(n) for n in config.exclude_databases)


def select_databases(databases: list[Database], config: SiteConfig) -> list[Database]:
    """Check the rules against every database of the space, then keep those to publish
    (the live client fetches entities only for these)."""
    check_rules(databases, config)
    return [db for db in databases if is_selected(db, config)]


# --------------------------------------------------------------------------- entities and fields


def _option_names(kind: FieldKind, value: Any) -> set[str]:
    """The option names a state, select or multi-select value holds."""
    items = value if kind is FieldKind.MULTI_SELECT else [value]
    return {str(item["name"]) for item in items or [] if isinstance(item, dict) and item.get("name")}


@dataclass(frozen=True)
class _Condition:
    """One ``publish_when`` entry: the field, and the option names that publish."""

    field: Field
    allowed: frozenset[str]

    def admits(self, entity: Entity) -> bool:
        return bool(_option_names(self.field.kind, entity.values.get(self.field.key)) & self.allowed)


def _conditions(db: Database, config: SiteConfig) -> list[_Condition]:
    conditions = []
    for name, rule in config.publish_when.items():
        if name != ALL_DATABASES and db.is_named(name):
            conditions += [
                _Condition(find_field(db, f, setting=f"kb.toml publish_when.{db.title}"), frozenset(values))
                for f, values in rule.items()
            ]
    return conditions


def _warn_unused_values(db: Database, conditions: list[_Condition]) -> None:
    """A value no entity has is most likely a typo: say so (it publishes nothing)."""
    if not db.entities:
        return
    for condition in conditions:
        fld = condition.field
        seen = set().union(*(_option_names(fld.kind, e.values.get(fld.key)) for e in db.entities))
        for value in sorted(condition.allowed - seen):
            log.warning("kb.toml publish_when.%s.%s: no entity has '%s'", db.title, fld.title, value)


def _hidden_keys(db: Database, config: SiteConfig) -> set[str]:
    """GraphQL names of the fields of ``db`` that ``hide_fields`` hides."""
    names = [n for key, ns in config.hide_fields.items() if key == ALL_DATABASES or db.is_named(key) for n in ns]
    hidden = {f.key for f in db.fields if any(f.is_named(n) for n in names)}
    if not config.publish_email_fields:  # people's addresses stay out unless the owner says so
        hidden |= {f.key for f in db.fields_of(FieldKind.EMAIL)}
    return hidden


def _published_database(db: Database, config: SiteConfig) -> Database:
    """A copy of ``db`` with only the entities ``publish_when`` admits and no hidden field."""
    conditions = _conditions(db, config)
    _warn_unused_values(db, conditions)
    entities = _admitted(db, conditions)
    hidden = _hidden_keys(db, config)
    if hidden:
        entities = [
            msgspec.structs.replace(e, values={k: v for k, v in e.values.items() if k not in hidden}) for e in entities
        ]
    fields = [f for f in db.fields if f.key not in hidden]
    return msgspec.structs.replace(db, fields=fields, entities=entities)


def _admitted(db: Database, conditions: list[_Condition]) -> list[Entity]:
    return [e for e in db.entities if all(c.admits(e) for c in conditions)]


def published_files(config: SiteConfig, db: Database, fibery_url: str) -> list[str]:
    """The file secrets of ``db`` that ``apply_publish_rules`` keeps: those its published
    entities reference in fields that are not hidden. A live source downloads them while
    it reads the other databases; the rules are per database, so this is exactly what the
    published workspace will reference of ``db``. Warns of nothing (the rules do that once)."""
    if not is_selected(db, config):
        return []
    hidden = _hidden_keys(db, config)
    fields = [f for f in db.fields if f.key not in hidden]
    visible = msgspec.structs.replace(db, fields=fields, entities=_admitted(db, _conditions(db, config)))
    return model.referenced_files([visible], fibery_url)


def apply_publish_rules(workspace: Workspace, config: SiteConfig) -> Workspace:
    """Return the part of ``workspace`` that may be published (the input is not changed)."""
    check_rules(workspace.databases, config)
    databases = [_published_database(db, config) for db in workspace.databases if is_selected(db, config)]
    used = set(model.referenced_files(databases, workspace.fibery_url))
    # A new struct: replace copies no cached property, so the input's index (entities_by_id)
    # is not carried over with entities that are no longer published.
    return msgspec.structs.replace(
        workspace, databases=databases, files={s: data for s, data in workspace.files.items() if s in used}
    )


# --------------------------------------------------------------------------- dry run


def describe_publication(workspace: Workspace, published: Workspace) -> list[str]:
    """Lines for ``gen build --dry-run``: each database that would be published with its
    entity count and fields, then what the rules leave out."""
    totals = {db.key: len(db.entities) for db in workspace.databases}
    lines = [
        f"Would publish {len(published.databases)} databases, {published.entity_count} entities "
        f"and {len(published.files)} files from '{published.space}' (dry run: nothing written)"
    ]
    for db in published.in_stable_order().databases:
        count = len(db.entities)
        entities = f"{count} entities" if count == totals[db.key] else f"{count} of {totals[db.key]} entities"
        fields = ", ".join(f"{f.title} ({f.kind.value})" for f in db.fields) or "none"
        lines.append(f"  {db.title}: {entities}; fields: {fields}")
    kept = {db.key for db in published.databases}
    left_out = sorted(db.title for db in workspace.databases if db.key not in kept)
    if left_out:
        lines.append(f"  not published: {', '.join(left_out)}")
    return lines
