"""Where a workspace comes from: live Fibery, a JSON snapshot, or the shipped demo.

A source is anything with ``load() -> Workspace``, ``files(secrets)`` and a ``stats``
attribute; the build does not know which one it has. ``load`` reads the databases and
entities (with the file contents the source carries: a snapshot's; a live source carries
none); ``files`` hands over the contents of the files asked for, downloading those it must.
The build asks only once the publish rules have run, for the files published content
references: a file only hidden content uses is never downloaded, and commands that publish
nothing (``gen segments``) download nothing. Snapshots are ``Workspace`` serialised as JSON (with a format
``version``), so ``gen pull`` then ``gen build --snapshot`` gives the same site as a live
build, and the demo is just a snapshot inside the package. A snapshot is decoded and checked
by msgspec straight from its bytes, with no intermediate JSON tree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from .config import Connection, SiteConfig
from .errors import ConfigError, SnapshotError
from .fibery.stats import PAGE_FORMATS, RequestStats
from .model import SNAPSHOT_VERSION, Workspace
from .structs import decode_json, explain

if TYPE_CHECKING:
    from .cache import BuildCache
    from .fibery import FiberyClient, FilesOf, ProgressCallback, Selector
    from .text import RichText

DEMO_SNAPSHOT = "demo/workspace.json"


@runtime_checkable
class Source(Protocol):
    """Anything that can produce a ``Workspace`` and the files it references. A source may
    also offer ``fingerprint() -> str | None``: a cheap digest of what ``load`` would return
    (``nochange.py``); one without it is always loaded."""

    stats: RequestStats

    def load(self) -> Workspace:
        """Read the whole workspace (with the file contents the source carries, if any)."""
        ...

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        """The contents (base64) of the files of ``secrets`` this source can provide, by
        secret: a file it cannot provide is left out (its page shows a placeholder)."""
        ...


class StaticSource:
    """A workspace already in memory: ``load`` hands it out, ``files`` what it carries."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.stats = RequestStats()

    def load(self) -> Workspace:
        return self.workspace

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        return carried_files(self.workspace.files, secrets)


def carried_files(carried: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """Those of ``carried`` (file contents by secret) that ``secrets`` asks for, in the
    order they are carried."""
    wanted = set(secrets)
    return {secret: data for secret, data in carried.items() if secret in wanted}


class _CarryingSource:
    """A source written before ``files`` existed (a plugin's ``load`` and ``stats`` only):
    its files are those its workspace carries."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.stats = inner.stats
        self._carried: dict[str, str] = {}

    def load(self) -> Workspace:
        workspace: Workspace = self._inner.load()
        self._carried = dict(workspace.files)
        return workspace

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        return carried_files(self._carried, secrets)


def as_source(source: Any) -> Source:
    """``source`` as a ``Source``: one with ``load`` and ``stats`` only (a plugin's, written
    before ``files`` existed) provides the files its workspace carries."""
    return source if isinstance(source, Source) else _CarryingSource(source)


class FiberySource:
    """The live workspace, read over Fibery's GraphQL API."""

    def __init__(
        self,
        client: FiberyClient,
        *,
        select: Selector = lambda dbs: dbs,
        progress: ProgressCallback | None = None,
        files_of: FilesOf | None = None,
    ) -> None:
        self.client = client
        self.stats = client.stats
        self._select = select
        self._progress = progress
        self._files_of = files_of
        """The publish rules' files of a database: downloaded while the rest is read."""

    @classmethod
    def from_config(
        cls,
        connection: Connection,
        config: SiteConfig,
        *,
        build_cache: BuildCache | None = None,
        formats: tuple[str, ...] = PAGE_FORMATS,
        rich_text: RichText | None = None,
        **kwargs: Any,
    ) -> FiberySource:
        """The live space with kb.toml's request settings and file policy, reading through the
        build's fetch and download caches when it has them. The fetch waits on Fibery's
        3 requests/s most of the time: each page's rich text is prepared as it arrives, by the
        build's ``rich_text``, rather than in the render phase."""
        from .fibery import FetchCache, FiberyClient  # httpx, gql: live builds only
        from .files import FilePolicy

        fetch_cache = None
        if build_cache is not None:
            folder = build_cache.fetch_folder(connection.fibery_url, connection.space)
            fetch_cache = FetchCache(
                folder, fibery_url=connection.fibery_url, space=connection.space, read=build_cache.read
            )
        client = FiberyClient.from_config(
            connection,
            config,
            cache=fetch_cache,
            formats=formats,
            file_policy=FilePolicy.from_config(config, build_cache),
            on_entities=rich_text.warm if rich_text else None,
        )
        return cls(client, **kwargs)

    def load(self) -> Workspace:
        """Read the space. Its files are ``files``' to hand over, but with ``files_of`` those
        of each database read in full are downloaded as soon as it is complete."""
        return self.client.fetch_workspace(select=self._select, progress=self._progress, files_of=self._files_of)

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        """Download the files of ``secrets`` within kb.toml's file policy, through the
        download cache when the build has one."""
        return self.client.download_files(secrets)

    def fingerprint(self) -> str | None:
        """What the fetch cache holds, once Fibery has confirmed that nothing in it changed
        (``FiberyClient.fingerprint``; after ``load``, of what it just fetched)."""
        return self.client.fingerprint()


class SnapshotSource:
    """A workspace saved earlier with ``gen pull`` (no network)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats = RequestStats()
        self._carried: dict[str, str] = {}

    def fingerprint(self) -> str | None:
        """The snapshot file's identity (any write changes its ctime), without reading it."""
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        parts = (self.path.resolve(), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        return "snapshot\0" + "\0".join(map(str, parts))

    def load(self) -> Workspace:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"snapshot {self.path}: cannot read: {exc.strerror}") from None
        workspace = parse_snapshot(data, str(self.path))
        self._carried = dict(workspace.files)
        return workspace

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        """The files the snapshot carries (those of the last ``load``); nothing is downloaded."""
        return carried_files(self._carried, secrets)


class DemoSource(SnapshotSource):
    """The demo workspace shipped inside the package."""

    def __init__(self) -> None:
        super().__init__(Path(str(resources.files("generator").joinpath(DEMO_SNAPSHOT))))


class _Snapshot(Workspace, kw_only=True):
    """A snapshot file's top level: a workspace whose format ``version`` is written down
    (a ``Workspace`` made in code defaults to the current one)."""

    version: int


def parse_snapshot(data: bytes | str, name: str) -> Workspace:
    """Decode and check snapshot JSON, with one clear line for each way it can be wrong."""
    try:
        snapshot = decode_json(data, _Snapshot)
    except msgspec.DecodeError as exc:
        raise SnapshotError(f"snapshot {name}: {_snapshot_problem(exc, data)}") from None
    if snapshot.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot {name}: {_unsupported(snapshot.version)}")
    return Workspace(**msgspec.structs.asdict(snapshot))  # shallow: shares the databases


def _unsupported(version: Any) -> str:
    return (
        f"format version {version!r} is not supported "
        f"(this fibery-kb reads version {SNAPSHOT_VERSION}); pull it again with `gen pull`"
    )


def _snapshot_problem(error: msgspec.DecodeError, data: bytes | str) -> str:
    """What is wrong with snapshot ``data``, which msgspec could not decode (``error``). It is
    decoded again as plain JSON, to tell first whether it is JSON at all (msgspec may find a
    wrong type before the end of the text), then whether it is a snapshot of this format."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        head = msgspec.json.decode(raw)
    except msgspec.DecodeError as malformed:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return "not a UTF-8 text file"
        return f"not valid JSON ({_at_line(str(malformed), raw)})"
    if not isinstance(head, dict) or "version" not in head:
        return "not a fibery-kb snapshot (no 'version' key)"
    if head["version"] != SNAPSHOT_VERSION:
        return _unsupported(head["version"])
    assert isinstance(error, msgspec.ValidationError)  # the JSON is valid: its content is not
    where, problem = explain(error, _Snapshot, head)
    return f"invalid at {where or '(top level)'}: {problem}"


def _at_line(message: str, raw: bytes) -> str:
    """msgspec's ``JSON is malformed: invalid character (byte 12)`` as ``invalid character
    at line 1``: a line is what an editor shows."""
    message = message.removeprefix("JSON is malformed: ")
    found = re.search(r" \(byte (\d+)\)$", message)
    if found is None:
        return message[:1].lower() + message[1:]
    line = raw.count(b"\n", 0, int(found[1])) + 1
    return f"{message[: found.start()]} at line {line}"


def write_snapshot(workspace: Workspace, path: Path) -> None:
    """Save a workspace as a snapshot, atomically (a failed write leaves the old file).
    Indented (one space), so that two snapshots can be compared line by line."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(workspace), indent=1))
    tmp.replace(path)


# --------------------------------------------------------------------------- built-in factories
# Registered as the ``fibery_kb.sources`` entry points ``fibery``, ``snapshot`` and ``demo``
# (pyproject.toml), exactly like a plugin's. ``options`` are kb.toml's ``[plugins.<name>]``
# merged with the command-line values (``fibery_url``, ``space``, ``token_file``, ``path``,
# ``progress``, ``cache``, ``rich_text``: the build's ``text.RichText``, which a live source
# warms as entities arrive, ``select``: the publish rules' choice of databases, which the
# command hands in so that a live source fetches the entities of published databases only,
# and ``files_of``: the publish rules' files of a database, which ``gen build`` hands in so that
# a live source downloads them while it reads the rest).


def fibery_source(config: SiteConfig, options: Mapping[str, Any]) -> FiberySource:
    """The live space: connection from options and environment; the token joins the secrets
    the log filter redacts; the fetch cache is used when the build has one."""
    from .config import load_connection
    from .logs import SECRETS

    connection = load_connection(
        fibery_url=options.get("fibery_url"), space=options.get("space"), token_file=options.get("token_file")
    )
    SECRETS.add(connection.token.get_secret_value())
    return FiberySource.from_config(
        connection,
        config,
        build_cache=options.get("cache"),
        formats=tuple(options.get("rich_text_formats") or PAGE_FORMATS),
        rich_text=options.get("rich_text"),
        select=options.get("select") or (lambda dbs: dbs),
        progress=options.get("progress"),
        files_of=options.get("files_of"),
    )


def snapshot_source(config: SiteConfig, options: Mapping[str, Any]) -> SnapshotSource:
    """A snapshot file: ``--snapshot FILE`` or ``[plugins.snapshot] path = "…"``."""
    path = options.get("path")
    if not path:
        raise ConfigError("the snapshot source needs a file: use --snapshot FILE or [plugins.snapshot] path")
    return SnapshotSource(Path(path))


def demo_source(config: SiteConfig, options: Mapping[str, Any]) -> DemoSource:
    """The demo workspace shipped in the package."""
    return DemoSource()


BUILTIN_SOURCES = {"fibery": fibery_source, "snapshot": snapshot_source, "demo": demo_source}
