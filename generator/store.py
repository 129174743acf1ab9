"""``gen segments store``: keep the process segments in MongoDB, idempotently.

One document per segment in ``process_segments``, keyed by the Fibery entity id::

    {_id, public_id, name, fields: {...}, fibery_created_at, fibery_modified_at,
     source: {fibery_url, space, database}, first_seen_at, updated_at, removed_at}

A run reads what is stored, compares *content* (everything but our own timestamps) and
writes only what differs, with unordered ``bulk_write`` batches: a rerun with nothing
changed in Fibery writes no segment, and one failed write does not stop the others.
``updated_at`` moves whenever fibery-kb changes a document (content, removal or return),
so readers can poll it. Nothing is deleted: a segment gone from Fibery gets ``removed_at``,
cleared again if it returns. Every run, failed ones included, appends to ``sync_runs``.

The functions take a pymongo ``Database`` (or anything that behaves like one, such as
mongomock's), so tests exercise the real calls without patching.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pymongo import ASCENDING, DESCENDING, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import (
    BulkWriteError,
    ConfigurationError,
    ConnectionFailure,
    InvalidName,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from . import __version__
from .errors import ConfigError, GenError, StoreError
from .logs import redact
from .segments import Segment, Segments

log = logging.getLogger(__name__)

DEFAULT_URI = "mongodb://localhost:27017"
DEFAULT_DATABASE = "fibery_kb"
SEGMENTS_COLLECTION = "process_segments"
RUNS_COLLECTION = "sync_runs"
BATCH_SIZE = 500
"""Writes per ``bulk_write``: one round trip for any realistic process, bounded memory
and a bounded retry unit for a very large one."""
SERVER_SELECTION_TIMEOUT_MS = 5_000
"""How long pymongo looks for a server: an unreachable MongoDB fails in ~5 s, not 30."""
CONNECT_TIMEOUT_MS = 5_000
SOCKET_TIMEOUT_MS = 30_000
"""How long one reply may take. pymongo waits forever by default, so a server that hangs
after the first ping (frozen, or a network that drops packets) would hang a scheduled job
until the runner kills it; a batch of ``BATCH_SIZE`` upserts takes well under a second."""
DEFAULT_TIMEOUTS = {
    "serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS,
    "connectTimeoutMS": CONNECT_TIMEOUT_MS,
    "socketTimeoutMS": SOCKET_TIMEOUT_MS,
}
"""Applied unless MONGODB_URI sets them: pymongo lets keyword arguments override the URI,
so passing them unconditionally would silently ignore a user's ``?socketTimeoutMS=``."""
DUPLICATE_KEY = 11000
CONTENT_KEYS = ("public_id", "name", "fields", "fibery_created_at", "fibery_modified_at", "source")
"""What decides whether a stored segment is unchanged: everything but our own timestamps."""
AUTH_FAILED = 18
MIN_SECRET_LENGTH = 4


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, kw_only=True)
class StoreSettings:
    """Where segments are stored. Read from the environment only by ``from_env``."""

    uri: str = DEFAULT_URI
    database: str = DEFAULT_DATABASE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StoreSettings:
        """Read ``MONGODB_URI`` and ``MONGODB_DB``; unset or empty means the default."""
        return cls(
            uri=environ.get("MONGODB_URI") or DEFAULT_URI,
            database=environ.get("MONGODB_DB") or DEFAULT_DATABASE,
        )

    @property
    def _raw_password(self) -> str:
        """The password as written in the URI (``scheme://user:password@hosts/...``)."""
        authority = self.uri.partition("://")[2].split("/", 1)[0]
        return authority.rpartition("@")[0].partition(":")[2]

    @property
    def password(self) -> str:
        """The password inside the URI, if any, so that it can be kept out of every message."""
        return unquote(self._raw_password)

    @property
    def secrets(self) -> list[str]:
        """What to redact anywhere in a message: the password as written and as decoded.

        A password shorter than ``MIN_SECRET_LENGTH`` is left out: replacing every "p" in
        every log line would garble them all, and ``redact`` still hides it in the URI.
        """
        return sorted(s for s in {self._raw_password, self.password} if len(s) >= MIN_SECRET_LENGTH)

    @property
    def safe_uri(self) -> str:
        """The URI for messages, password replaced by ``***``."""
        return redact(self.uri, self.secrets)


def uri_options(uri: str) -> set[str]:
    """The option names a URI sets, lower-cased as pymongo compares them.

    Read from the query string rather than with pymongo's parser, which resolves the DNS
    records of a ``mongodb+srv://`` URI.
    """
    return {name.lower() for name, _ in parse_qsl(urlsplit(uri).query, keep_blank_values=True)}


def connect(settings: StoreSettings) -> MongoClient:
    """Create a client that gives up on an unreachable or hung server within seconds.

    pymongo connects lazily: a bad URI fails here, an unreachable server at the first
    command (see ``check_connection``). The timeouts in ``DEFAULT_TIMEOUTS`` apply unless
    the URI sets its own.
    """
    try:
        given = uri_options(settings.uri)
        timeouts: dict[str, Any] = {
            name: value for name, value in DEFAULT_TIMEOUTS.items() if name.lower() not in given
        }
        with warnings.catch_warnings():
            # pymongo only warns about an unknown URI option: a typo must not pass silently
            # (nor print a multi-line warning), so it fails like any other bad URI.
            warnings.simplefilter("error", UserWarning)
            return MongoClient(settings.uri, appname="fibery-kb", **timeouts)
    except (ConfigurationError, ValueError, UserWarning) as exc:
        # A malformed URI is InvalidURI (a ConfigurationError), a bad port a ValueError.
        raise ConfigError(f"MONGODB_URI: {redact(str(exc), settings.secrets)}") from None


def database(client: MongoClient, settings: StoreSettings) -> Database:
    """Return the database ``MONGODB_DB`` names, refusing names MongoDB does not allow."""
    try:
        return client[settings.database]
    except InvalidName as exc:
        raise ConfigError(f"MONGODB_DB: {exc}") from None


def describe_failure(exc: PyMongoError, target: str, secrets: Sequence[str] = ()) -> str:
    """Turn a pymongo error into one line that says what to check, password removed."""
    text = str(exc)
    if isinstance(exc, ServerSelectionTimeoutError):
        reason = text.split(", Timeout:")[0].split(" (configured timeouts")[0]
        seconds = _timeout_in(text, r"Timeout: ([\d.]+)s", SERVER_SELECTION_TIMEOUT_MS / 1000)
        message = f"cannot reach MongoDB at {target} within {seconds:g} s: {reason}"
    elif isinstance(exc, NetworkTimeout):
        reason = text.split(" (configured timeouts")[0]
        seconds = _timeout_in(text, r"socketTimeoutMS: ([\d.]+)ms", SOCKET_TIMEOUT_MS) / 1000
        message = f"MongoDB at {target} stopped answering (no reply within {seconds:g} s, socketTimeoutMS): {reason}"
    elif isinstance(exc, OperationFailure) and exc.code == AUTH_FAILED:
        message = f"MongoDB at {target} rejected the credentials: check the user and password in MONGODB_URI"
    elif isinstance(exc, OperationFailure) and exc.code == DUPLICATE_KEY:
        message = f"MongoDB at {target} refused a write: {duplicate_key_message(exc.details or {})}"
    elif isinstance(exc, ConnectionFailure):
        message = f"lost the connection to MongoDB at {target}: {exc}"
    else:
        message = f"MongoDB at {target} failed: {exc}"
    return redact(message.splitlines()[0], secrets)


def _timeout_in(text: str, pattern: str, default: float) -> float:
    """The timeout pymongo quotes in its message (the one in force), else ``default``."""
    found = re.search(pattern, text)
    return float(found.group(1)) if found else default


def duplicate_key_message(error: Mapping[str, Any]) -> str:
    """One line for a unique-index violation (code 11000): which value, which index.

    The server's own text (``Plan executor error during update :: caused by :: E11000
    duplicate key error collection: ... index: name_1 dup key: { name: "Spacing" }``) is
    accurate but hard to read; this names the field and value first.
    """
    errmsg = str(error.get("errmsg", ""))
    index = re.search(r"index: (\S+)", errmsg)
    values = error.get("keyValue") or {}
    held = ", ".join(f"{key} {value!r}" for key, value in values.items()) or "its key"
    where = f"unique index {index.group(1)}" if index else "a unique index"
    return f"another document already has {held} ({where}): change the value in Fibery or drop the index"


def check_connection(db: Database, *, target: str, secrets: Sequence[str] = ()) -> None:
    """Ping the server before anything is fetched from Fibery, so that a wrong URI or a
    stopped server fails in seconds, not after a long read."""
    try:
        db.command("ping")
    except PyMongoError as exc:
        raise StoreError(describe_failure(exc, target, secrets)) from None


def ensure_indexes(db: Database) -> None:
    """Create the indexes readers need; creating an existing index again is a no-op."""
    segments = db[SEGMENTS_COLLECTION]
    segments.create_index([("public_id", ASCENDING)], name="public_id")
    segments.create_index([("removed_at", ASCENDING)], name="removed_at")
    segments.create_index([("updated_at", ASCENDING)], name="updated_at")
    db[RUNS_COLLECTION].create_index([("started_at", DESCENDING)], name="started_at")


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Change:
    """One write a run makes (or would make, in a dry run)."""

    action: str  # insert | update | remove | return
    id: str
    public_id: str
    name: str
    changed: tuple[str, ...]
    operation: UpdateOne

    def describe(self) -> str:
        """One line for ``--dry-run`` and the log."""
        detail = f" ({', '.join(self.changed)})" if self.changed else ""
        return f"{self.action:<6} {self.public_id} {self.name}{detail}"


@dataclass
class StoreResult:
    """What a run did: the result line, the audit counts and any failed writes."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    returned: int = 0
    dry_run: bool = False
    changes: list[Change] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "returned": self.returned,
            "failed": len(self.failed),
        }

    def summary(self) -> str:
        """``inserted 0 / updated 1 / unchanged 7 / removed 0``, plus returns and failures."""
        line = " / ".join(f"{k} {self.counts()[k]}" for k in ("inserted", "updated", "unchanged", "removed"))
        extra = [f"{k} {v}" for k, v in self.counts().items() if k in ("returned", "failed") and v]
        line += f" ({', '.join(extra)})" if extra else ""
        return f"dry run, would write: {line}" if self.dry_run else line

    def failure_message(self) -> str:
        """One line naming the segments whose write failed."""
        ids = ", ".join(sorted(self.failed))
        first = next(iter(self.failed.values()), "")
        return f"{len(self.failed)} segment write(s) failed ({first}): {ids}"


def to_content(segment: Segment, source: dict[str, str]) -> dict[str, Any]:
    """The stored content of a segment: what is compared and written on change."""
    return {
        "public_id": segment.public_id,
        "name": segment.name,
        "fields": segment.fields,
        "fibery_created_at": parse_date(segment.creation_date),
        "fibery_modified_at": parse_date(segment.modification_date),
        "source": source,
    }


def parse_date(value: str | None) -> datetime | None:
    """Fibery's ISO timestamp as a BSON-ready UTC datetime (millisecond precision)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def comparable(value: Any) -> Any:
    """Normalise a value as MongoDB gives it back: datetimes come back naive UTC with
    millisecond precision, so compare them that way."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def changed_keys(stored: Mapping[str, Any], content: Mapping[str, Any]) -> tuple[str, ...]:
    """Which content keys differ (field changes named as ``fields.<key>``)."""
    keys: list[str] = []
    for key, value in content.items():
        old = stored.get(key)
        if key == "fields" and isinstance(old, dict):
            names = sorted(set(old) | set(value))
            keys += [f"fields.{k}" for k in names if comparable(old.get(k)) != comparable(value.get(k))]
        elif comparable(old) != comparable(value):
            keys.append(key)
    return tuple(keys)


def _upsert(segment_id: str, content: dict[str, Any], now: datetime) -> UpdateOne:
    """Write a segment's content; ``first_seen_at`` is set only when the document is new."""
    return UpdateOne(
        {"_id": segment_id},
        {"$set": {**content, "updated_at": now, "removed_at": None}, "$setOnInsert": {"first_seen_at": now}},
        upsert=True,
    )


def _change_for(
    segment: Segment, stored: Mapping[str, Any] | None, source: dict[str, str], now: datetime
) -> Change | None:
    """Decide what a present segment needs: nothing, an insert, an update or a return."""
    content = to_content(segment, source)
    if stored is None:
        return Change("insert", segment.id, segment.public_id, segment.name, (), _upsert(segment.id, content, now))
    changed = changed_keys(stored, content)
    action = "return" if stored.get("removed_at") is not None else "update"
    if action == "update" and not changed:
        return None
    return Change(action, segment.id, segment.public_id, segment.name, changed, _upsert(segment.id, content, now))


def _removal(stored: Mapping[str, Any], now: datetime) -> Change:
    """Mark a segment that is no longer in Fibery; the filter keeps a concurrent return."""
    operation = UpdateOne({"_id": stored["_id"], "removed_at": None}, {"$set": {"removed_at": now, "updated_at": now}})
    return Change("remove", stored["_id"], str(stored.get("public_id", "")), str(stored.get("name", "")), (), operation)


def plan_changes(segments: Segments, stored: dict[str, dict[str, Any]], now: datetime) -> StoreResult:
    """Compare what Fibery has with what is stored, and list the writes that reconcile them."""
    result = StoreResult()
    present = set()
    for segment in segments.items:
        present.add(segment.id)
        change = _change_for(segment, stored.get(segment.id), segments.source, now)
        if change is None:
            result.unchanged += 1
        else:
            result.changes.append(change)
    for doc_id, doc in stored.items():
        if doc_id not in present and doc.get("removed_at") is None and _same_space(doc, segments.source):
            result.changes.append(_removal(doc, now))
    _count(result)
    return result


def _same_space(doc: Mapping[str, Any], source: dict[str, str]) -> bool:
    """Whether a stored segment came from the space being synced: segments of another
    space sharing the collection are not "removed" just because this one lacks them."""
    stored = doc.get("source") or {}
    return stored.get("fibery_url") == source["fibery_url"] and stored.get("space") == source["space"]


_COUNTERS = {"insert": "inserted", "update": "updated", "remove": "removed", "return": "returned"}


def _count(result: StoreResult) -> None:
    """Count planned changes by action, leaving out those whose write failed."""
    for counter in _COUNTERS.values():
        setattr(result, counter, 0)
    for change in result.changes:
        if change.id not in result.failed:
            counter = _COUNTERS[change.action]
            setattr(result, counter, getattr(result, counter) + 1)


# --------------------------------------------------------------------------- writing


def read_stored(collection: Collection) -> dict[str, dict[str, Any]]:
    """Every stored segment's content and ``removed_at``, by id, in one query."""
    projection = {key: 1 for key in (*CONTENT_KEYS, "removed_at")}
    return {doc["_id"]: doc for doc in collection.find({}, projection)}


def write_changes(collection: Collection, changes: list[Change], *, batch_size: int = BATCH_SIZE) -> dict[str, str]:
    """Apply the changes with unordered bulk writes; return failed ids with the reason.

    Unordered, so the server still applies the rest of a batch after one write fails.
    """
    failed: dict[str, str] = {}
    for start in range(0, len(changes), batch_size):
        batch = changes[start : start + batch_size]
        try:
            collection.bulk_write([c.operation for c in batch], ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                change = batch[error["index"]]
                if error.get("code") == DUPLICATE_KEY:
                    failed[change.id] = duplicate_key_message(error)
                else:
                    failed[change.id] = str(error.get("errmsg", "write failed")).splitlines()[0]
                log.error("cannot write segment %s (%s): %s", change.public_id, change.id, failed[change.id])
            if exc.details.get("writeConcernErrors"):
                raise
    return failed


def record_run(db: Database, run: dict[str, Any]) -> None:
    """Append the audit document; a failure to do so is logged, never hides the outcome."""
    try:
        db[RUNS_COLLECTION].insert_one(run)
    except PyMongoError as exc:
        log.warning("cannot record the run in %s: %s", RUNS_COLLECTION, type(exc).__name__)


def _run_document(started: datetime, target: dict[str, str], source: dict[str, str] | None) -> dict[str, Any]:
    return {
        "started_at": started,
        "finished_at": None,
        "tool": f"fibery-kb {__version__}",
        "source": source,
        "target": target,
        "counts": None,
        "outcome": None,
        "error": None,
        "failed_ids": [],
    }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def sync(
    db: Database,
    load: Callable[[], Segments],
    *,
    dry_run: bool = False,
    target: str | None = None,
    secrets: Sequence[str] = (),
    batch_size: int = BATCH_SIZE,
    now: Callable[[], datetime] = _utcnow,
) -> StoreResult:
    """Store the segments ``load`` returns in ``db``, and record the run in ``sync_runs``.

    The server is checked before ``load`` runs, so an unreachable MongoDB fails before a
    long Fibery read. ``target`` names the server in messages (the URI without its
    password). A dry run reads but writes nothing: no segment, no index, no audit.
    """
    target = target or f"database {db.name}"
    check_connection(db, target=target, secrets=secrets)
    run = _run_document(now(), {"database": db.name, "collection": SEGMENTS_COLLECTION}, None)
    try:
        segments = load()
        run["source"] = segments.source
        result = _store(db, segments, dry_run=dry_run, batch_size=batch_size, now=now())
    except PyMongoError as exc:
        error = StoreError(describe_failure(exc, target, secrets))
        _finish(db, run, dry_run, None, error)
        raise error from None
    except GenError as exc:
        _finish(db, run, dry_run, None, exc)
        raise
    _finish(db, run, dry_run, result, None)
    return result


def _store(db: Database, segments: Segments, *, dry_run: bool, batch_size: int, now: datetime) -> StoreResult:
    """Plan the writes against what is stored and, unless this is a dry run, apply them."""
    collection = db[SEGMENTS_COLLECTION]
    if not dry_run:
        ensure_indexes(db)
    result = plan_changes(segments, read_stored(collection), now)
    result.dry_run = dry_run
    if not dry_run:
        result.failed = write_changes(collection, result.changes, batch_size=batch_size)
        _count(result)
    return result


def _finish(
    db: Database, run: dict[str, Any], dry_run: bool, result: StoreResult | None, error: GenError | None
) -> None:
    """Complete and append the audit document (not for a dry run, which writes nothing)."""
    if dry_run:
        return
    run["finished_at"] = _utcnow()
    if result is not None:
        run["counts"] = result.counts()
        run["failed_ids"] = sorted(result.failed)
        if result.failed:
            error = StoreError(result.failure_message())
    run["outcome"] = "error" if error else "success"
    run["error"] = error.format_message() if error else None
    record_run(db, run)
