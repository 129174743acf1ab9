"""The fetch cache: what the last fetch of one space read, so that the next asks Fibery only
for what changed (``client.py`` decides what to ask; this module only keeps it).

Two files per (Fibery URL, space), in the folder ``BuildCache.fetch_folder`` names::

    meta.json       schema hash, REST schema and its ETag, each database's list query,
                    fingerprint and ``modificationDate`` bound, when the last fetch began
    entities.jsonl  the entities of the last fetch, one database a line

It holds the space as read, hidden fields included: folders are created 0700.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import msgspec

from ..files import temporary_file, write_atomically
from ..model import Entity
from ..structs import decode_json

log = logging.getLogger(__name__)

FETCH_CACHE_VERSION = 2
"""2: REST names, user kinds and nested-list limits in the list queries (issue 13)."""


def _write_lines(path: Path, entities: dict[str, list[Entity]]) -> str:
    """Write one ``key<TAB>[entities]`` line per database, atomically; return the sha256."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, tmp = temporary_file(path)  # named so that the next build removes it after a kill
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            for key, items in entities.items():
                line = key.encode() + b"\t" + msgspec.json.encode(items) + b"\n"
                digest.update(line)
                out.write(line)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


class CachedDatabase(msgspec.Struct, kw_only=True):
    """How one database's cached entities were read, and from when to ask for changes."""

    fingerprint: str
    query: str
    order_by: str | None
    selection: str
    since: str | None
    """``modificationDate`` bound of the next fetch; None: fetch the database in full."""
    by_id: bool = False
    volatile: str = "id"
    volatile_keys: list[str] = []
    """The keys of the id listing's rows: ``id`` and the volatile fields."""
    """What is read again for every entity on each incremental fetch: its id (deletions) and
    the fields that can change without its ``modificationDate`` (collections, formulas)."""


class FetchMeta(msgspec.Struct, kw_only=True):
    """The small part of the fetch cache, read before the first request is sent."""

    version: int = FETCH_CACHE_VERSION
    fibery_url: str
    space: str
    schema_hash: str
    fetched_at: str | None = None
    """Fibery's clock when the last fetch began (its ``Date`` header)."""
    built_at: str
    """Our clock when the last fetch ended."""
    full_at: str | None = None
    """Our clock when the space was last read in full (``FULL_REFRESH`` bounds its age)."""
    rest_etag: str | None = None
    rest_schema: dict[str, Any] | None = None
    databases: dict[str, CachedDatabase]
    entities_digest: str = ""
    page_sizes: dict[str, int] = {}
    """Per database: the list page size its last full read ended with (halved on each
    timeout), where the next full read starts."""
    listing_digests: dict[str, str] = {}
    """Per database: what its id listing and its changes since ``since`` will answer if
    nothing changed (``sync.listing_digest``): lets a build confirm, from those answers
    alone, that the cached entities are current, without reading them."""


class FetchCache:
    """The last workspace fetched from one (Fibery URL, space), with what it takes to ask
    Fibery only for what changed since."""

    def __init__(self, folder: Path, *, fibery_url: str, space: str, read: bool = True) -> None:
        self.folder = folder
        self.fibery_url = fibery_url
        self.space = space
        self.read = read
        self._meta = folder / "meta.json"
        self._entities = folder / "entities.jsonl"

    def load_meta(self) -> FetchMeta | None:
        """The cached meta data, or None (no cache, ``--full``, damaged, other space)."""
        if not self.read or not self._meta.is_file():
            return None
        try:
            meta = msgspec.json.decode(self._meta.read_bytes(), type=FetchMeta)
        except (OSError, ValueError) as exc:  # msgspec's errors are ValueErrors
            log.info("fetch cache ignored (%s): a full fetch", type(exc).__name__)
            return None
        if (meta.version, meta.fibery_url, meta.space) != (FETCH_CACHE_VERSION, self.fibery_url, self.space):
            log.info("fetch cache is for another space or version: a full fetch")
            return None
        return meta

    def load_entities(self, meta: FetchMeta | None) -> dict[str, list[Entity]] | None:
        """The cached entities by database key, or None when they do not match ``meta``.
        One database at a time, so that memory holds its parsed JSON only briefly."""
        if meta is None:
            return None
        entities, digest = {}, hashlib.sha256()
        try:
            with open(self._entities, "rb") as handle:
                for line in handle:
                    digest.update(line)
                    key, _, data = line.partition(b"\t")
                    entities[key.decode()] = decode_json(data, list[Entity])
        except (OSError, ValueError) as exc:  # msgspec's errors are ValueErrors
            log.info("fetch cache entities ignored (%s): a full fetch", type(exc).__name__)
            return None
        if digest.hexdigest() != meta.entities_digest:
            log.info("fetch cache entities do not match their meta data: a full fetch")
            return None
        return entities

    def save(
        self, meta: FetchMeta, entities: dict[str, list[Entity]] | None, *, previous: FetchMeta | None = None
    ) -> None:
        """Store ``meta`` and, unless None (unchanged since ``previous``), ``entities``.
        A cache that cannot be written is a warning: the next build is just a full one."""
        try:
            if entities is None and previous is not None:
                meta.entities_digest = previous.entities_digest
            else:
                meta.entities_digest = _write_lines(self._entities, entities or {})
            write_atomically(self._meta, msgspec.json.encode(meta), dir_mode=0o700)
        except OSError as exc:
            log.warning("fetch cache not written to %s: %s", self.folder, exc.strerror or exc)


def meta_identity(meta: FetchMeta) -> str:
    """What a fetch cache holds, as one digest (not when it was read, nor from when to ask)."""
    parts = [meta.fibery_url, meta.space, meta.schema_hash, meta.rest_etag, meta.entities_digest]
    parts += [f"{key}={entry.fingerprint}" for key, entry in sorted(meta.databases.items())]
    return "fibery\0" + hashlib.sha256(json.dumps(parts).encode()).hexdigest()
