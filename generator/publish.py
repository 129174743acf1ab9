"""Publish rules from ``kb.toml``: which databases and fields reach the site.

Every name in the rules must exist in the space: a database or field that was renamed or
deleted in Fibery fails the build loudly (naming it) instead of silently publishing more,
or less, than intended.
"""

from __future__ import annotations

from .config import SiteConfig
from .errors import ConfigError
from .model import Database, Workspace
from .naming import name_key


def database_matches(db: Database, name: str) -> bool:
    """Whether ``name`` designates ``db`` by title ("Process Segments"), GraphQL type
    (``ProcessSegment``) or query plural (``findProcessSegments``)."""
    key = name_key(name)
    return key in {name_key(db.title), name_key(db.key), name_key(db.query.removeprefix("find"))}


def find_database(databases: list[Database], name: str, *, setting: str) -> Database:
    """Return the database called ``name``, or fail listing the databases that exist."""
    for db in databases:
        if database_matches(db, name):
            return db
    existing = ", ".join(sorted(db.title for db in databases)) or "none"
    raise ConfigError(f"{setting}: no database '{name}' in the space (it has: {existing})")


def select_databases(databases: list[Database], config: SiteConfig) -> list[Database]:
    """Apply ``include_databases`` / ``exclude_databases``; unknown names are errors."""
    for name in config.include_databases:
        find_database(databases, name, setting="kb.toml include_databases")
    for name in config.exclude_databases:
        find_database(databases, name, setting="kb.toml exclude_databases")
    return [
        db
        for db in databases
        if (not config.include_databases or any(database_matches(db, n) for n in config.include_databases))
        and not any(database_matches(db, n) for n in config.exclude_databases)
    ]


def _hidden_keys(db: Database, names: list[str], setting: str) -> set[str]:
    keys = set()
    for name in names:
        wanted = name_key(name)
        match = next((f for f in db.fields if wanted in (name_key(f.title), name_key(f.key))), None)
        if match is None:
            raise ConfigError(f"{setting}: database '{db.title}' has no field '{name}'")
        keys.add(match.key)
    return keys


def hide_fields(workspace: Workspace, config: SiteConfig) -> None:
    """Remove hidden fields (definitions and values) from the workspace, in place."""
    global_names = config.hide_fields.get("*", [])
    for db_name in config.hide_fields:
        if db_name != "*":
            find_database(workspace.databases, db_name, setting="kb.toml hide_fields")
    for db in workspace.databases:
        names = [n for key, ns in config.hide_fields.items() if key != "*" and database_matches(db, key) for n in ns]
        hidden = _hidden_keys(db, names, f"kb.toml hide_fields.{db.title}")
        hidden |= {
            f.key for f in db.fields for n in global_names if name_key(n) in (name_key(f.title), name_key(f.key))
        }
        if hidden:
            db.fields = [f for f in db.fields if f.key not in hidden]
            for entity in db.entities:
                for key in hidden:
                    entity.values.pop(key, None)


def apply_publish_rules(workspace: Workspace, config: SiteConfig) -> Workspace:
    """Return the part of ``workspace`` that may be published."""
    selected = select_databases(workspace.databases, config)
    published = workspace.model_copy(update={"databases": selected})
    hide_fields(published, config)
    return published
