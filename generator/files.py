"""Files referenced by Fibery content: what may be published, a download cache, the download.

Fibery files (``/api/files/{secret}``) need the token, so the site serves its own copies.
Three rules keep that safe and cheap:

* **Policy.** A file is published only when it is at most ``max_file_size`` bytes and its
  content type (sniffed from its first bytes, the declared type only as a hint) is in the
  ``file_types`` allow-list. Executables, HTML and SVG are never published by default: on the
  site's origin they could run scripts. A refused file is a warning and a placeholder.
* **Cache.** A downloaded file is stored content-addressed (``blobs/<sha256>``) in
  ``<cache_dir>/files/``, with ``secrets/<secret>.json`` pointing at it. Fibery never changes the
  bytes behind a secret, so a cached secret is never fetched again.
* **Download.** Streamed, stopping as soon as the size limit is passed.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import mimetypes
import os
import re
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .config import DEFAULT_FILE_TYPES, DEFAULT_MAX_FILE_SIZE, SiteConfig
from .logs import add_file_secret

if TYPE_CHECKING:  # httpx and asyncio are loaded by the client that downloads, not by a snapshot build
    import asyncio

    import httpx

    from .model import Database

log = logging.getLogger(__name__)

SECRET = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
OCTET_STREAM = "application/octet-stream"
SCRIPTABLE_TYPES = frozenset({"image/svg+xml", "text/html", "application/xhtml+xml", "text/javascript"})

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",  # Mach-O, both byte orders, 32 and 64 bit, and universal
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",  # scripts
)
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
)
_MARKUP = re.compile(rb"<(!doctype\s+html|html|svg|script|\?xml|body|iframe)[\s>/]", re.IGNORECASE)
# Fixed extensions for the common types, so every machine names an asset the same way
# (``mimetypes`` answers differ between Python versions and platforms).
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/avif": ".avif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/markdown": ".md",
    "application/zip": ".zip",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
}


def _base_type(content_type: str | None) -> str:
    """``Text/CSV; charset=utf-8`` → ``text/csv``."""
    return (content_type or "").split(";")[0].strip().lower()


def is_executable(data: bytes) -> bool:
    """Whether ``data`` starts like a program (PE, ELF, Mach-O or a ``#!`` script)."""
    return data.startswith(_EXECUTABLE_MAGIC)


def sniff_type(data: bytes, declared: str | None = None) -> str:
    """The content type of ``data``, from its first bytes; ``declared`` only refines it.

    A declared type never overrides what the bytes say they are: an ``image/png`` that is
    really HTML is ``text/html``."""
    declared = _base_type(declared)
    head = data[:512]
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            # Office documents are ZIP (OOXML, ODF) or OLE files; trust the declaration there.
            if content_type in ("application/zip", "application/x-ole-storage") and declared.startswith(
                ("application/vnd.", "application/msword")
            ):
                return declared
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "image/avif" if head[8:12] in (b"avif", b"avis") else "video/mp4"
    if _MARKUP.search(head.lstrip(b"\xef\xbb\xbf \t\r\n")[:256]):
        return "image/svg+xml" if b"<svg" in head.lower() else "text/html"
    if _is_text(head):
        return declared if declared.startswith("text/") and declared != "text/html" else "text/plain"
    return declared or OCTET_STREAM


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a multi-byte character cut by the 512-byte window
    return True


def extension_for(content_type: str) -> str:
    """The file-name extension of an asset of ``content_type`` (``.bin`` when unknown)."""
    return EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type, strict=False) or ".bin"


def format_size(size: int) -> str:
    """``25000000`` → ``25 MB`` (decimal units, as file managers show them)."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


class CacheHome(Protocol):
    """What the file policy reads of the build's caches (``cache.BuildCache``): named by
    its shape, so that this module, which the cache itself uses, need not import it."""

    @property
    def files(self) -> Path: ...

    @property
    def read(self) -> bool: ...


@dataclass(frozen=True)
class FilePolicy:
    """Which files may be published, and where downloads are cached (None: no cache).

    ``read_cache=False`` (``gen build --full``) downloads every file again but still
    refreshes the cache."""

    max_size: int = DEFAULT_MAX_FILE_SIZE
    types: tuple[str, ...] = DEFAULT_FILE_TYPES
    cache_dir: Path | None = None
    read_cache: bool = True

    @classmethod
    def from_config(cls, config: SiteConfig, cache: CacheHome | None = None) -> FilePolicy:
        """The policy of ``kb.toml``; with the build's ``cache``, downloads are cached in its
        ``files/`` (under ``cache_dir``) and read from it unless the build is ``--full``."""
        return cls(
            max_size=config.max_file_size,
            types=tuple(config.file_types),
            cache_dir=cache.files if cache is not None else None,
            read_cache=cache.read if cache is not None else True,
        )

    def allows_type(self, content_type: str) -> bool:
        """Whether the allow-list has ``content_type``. Patterns like ``image/*`` match, but
        never a type that runs scripts when opened (SVG, HTML): those must be listed by name."""
        if content_type in SCRIPTABLE_TYPES:
            return content_type in {_base_type(t) for t in self.types}
        return any(fnmatch.fnmatchcase(content_type, _base_type(t)) for t in self.types)

    def refusal(self, data: bytes, declared: str | None = None) -> str | None:
        """Why ``data`` may not be published, or None when it may."""
        if len(data) > self.max_size:
            return _over_limit(self, len(data))
        if is_executable(data):
            return "it is an executable"
        content_type = sniff_type(data, declared)
        if not self.allows_type(content_type):
            return f"type {content_type} is not in kb.toml file_types"
        return None


@dataclass
class FileCache:
    """Downloaded files by secret, stored content-addressed on disk between builds.

    A cache that cannot be read or written is only a slower build, never a failed one."""

    root: Path
    read: bool = True
    """False: every ``get`` misses (``--full``); ``put`` still stores."""
    hits: int = field(default=0, init=False)

    def _pointer(self, secret: str) -> Path | None:
        return self.root / "secrets" / f"{secret}.json" if SECRET.match(secret) else None

    def get(self, secret: str) -> tuple[bytes, str] | None:
        """(bytes, content type) of a cached secret, or None; a damaged entry is a miss."""
        pointer = self._pointer(secret)
        try:
            if not self.read or pointer is None or not pointer.is_file():
                return None
            entry = json.loads(pointer.read_text(encoding="utf-8"))
            digest = str(entry["sha256"])
            data = (self.root / "blobs" / digest[:2] / digest).read_bytes()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("file cache entry %s unusable (%s)", secret, type(exc).__name__)
            return None
        if hashlib.sha256(data).hexdigest() != digest:
            return None
        self.hits += 1
        return data, str(entry.get("content_type") or "")

    def put(self, secret: str, data: bytes, content_type: str) -> None:
        """Store ``data`` for ``secret`` (blob first, then the pointer: never a dangling one)."""
        pointer = self._pointer(secret)
        if pointer is None:
            return
        digest = hashlib.sha256(data).hexdigest()
        entry = json.dumps({"sha256": digest, "content_type": content_type, "size": len(data)})
        try:
            blob = self.root / "blobs" / digest[:2] / digest
            if not blob.is_file():
                write_atomically(blob, data)
            write_atomically(pointer, entry.encode("utf-8"))
        except OSError as exc:
            log.debug("file cache not written for %s (%s)", secret, exc.strerror)


TEMPORARY = re.compile(r"^\..+\.(?P<pid>\d+)-[^.]+\.tmp$")
"""A temporary file of ``temporary_file``: ``.<name>.<pid>-<random>.tmp``."""


def temporary_file(path: Path) -> tuple[int, str]:
    """Create the temporary file that will replace ``path`` (open descriptor, name). Its
    name holds our process id, so that ``remove_stale_temporaries`` can tell the file of a
    killed build from one being written."""
    return tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporary files under ``folder`` whose process is gone (a build killed
    while writing a cache file); return how many. Only files named by ``temporary_file``."""
    removed = 0
    for current, _, names in os.walk(folder):
        for name in names:
            match = TEMPORARY.match(name)
            if match and not _running(int(match["pid"])):
                Path(current, name).unlink(missing_ok=True)
                removed += 1
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` is running (ours counts as not: we have written nothing yet
    when we look, so such a file is a killed process's whose id was reused)."""
    if pid == os.getpid():
        return False
    if os.name == "nt":  # signal 0 would not probe there: never remove
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_atomically(path: Path, data: bytes, *, dir_mode: int = 0o777) -> None:
    """Replace ``path`` with ``data`` in one step (a crash leaves the old file or the new).
    Shared with the fetch cache, which passes ``dir_mode=0o700`` (it holds hidden fields)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = temporary_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _TooLarge(Exception):
    """The response passed the size limit while streaming."""


async def _fetch(http: httpx.AsyncClient, url: str, headers: dict[str, str], limit: int) -> tuple[int, bytes, str]:
    """GET ``url`` streamed; (status, bytes, content type). Raises ``_TooLarge`` early."""
    async with http.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            return response.status_code, b"", ""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise _TooLarge
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
        return 200, b"".join(chunks), response.headers.get("Content-Type", "")


async def download_files(
    http: httpx.AsyncClient, base_url: str, headers: dict[str, str], secrets: list[str], policy: FilePolicy
) -> dict[str, str]:
    """Download each referenced file once (cached ones not at all): secret → base64.

    A file that fails or that the policy refuses is left out with a warning naming why;
    the page then shows a placeholder (and ``strict`` fails the build at render time)."""
    import asyncio

    import httpx

    cache = FileCache(policy.cache_dir, read=policy.read_cache) if policy.cache_dir is not None else None
    files: dict[str, str] = {}
    for secret in secrets:  # a file's secret opens it without the token: never in a log line
        add_file_secret(secret)

    async def one(secret: str) -> None:
        cached = cache.get(secret) if cache else None
        if cached is not None:
            data, content_type = cached
        else:
            try:
                status, data, content_type = await _fetch(
                    http, f"{base_url}/api/files/{secret}", headers, policy.max_size
                )
            except _TooLarge:
                log.warning("file %s not published: %s", secret, _over_limit(policy))
                return
            except httpx.HTTPError as exc:
                log.warning("file %s could not be downloaded (%s)", secret, type(exc).__name__)
                return
            if status != 200:
                log.warning("file %s could not be downloaded (HTTP %d)", secret, status)
                return
        reason = policy.refusal(data, content_type)
        if reason:
            log.warning("file %s not published: %s", secret, reason)
            return
        if cache and cached is None:
            cache.put(secret, data, content_type)
        files[secret] = base64.b64encode(data).decode("ascii")

    await asyncio.gather(*(one(secret) for secret in secrets))
    if cache and cache.hits:
        log.info("%d of %d files taken from the download cache", cache.hits, len(secrets))
    return dict(sorted(files.items()))


def _over_limit(policy: FilePolicy, size: int | None = None) -> str:
    what = format_size(size) if size is not None else "it"
    return f"{what} is over the {format_size(policy.max_size)} limit (kb.toml max_file_size)"


class EarlyDownloads:
    """Downloads started while a space is still being read: the published files of each
    database read in full, as soon as it is complete (``FiberyClient.fetch_workspace``). Their
    requests fill the rate limit's slots that slow answers leave idle, instead of queueing
    after the read."""

    def __init__(
        self,
        files_of: Callable[[Database], list[str]],
        download: Callable[[list[str]], Coroutine[Any, Any, dict[str, str]]],
    ) -> None:
        self._files_of = files_of
        self._download = download
        self._tasks: list[asyncio.Task[dict[str, str]]] = []
        self.tried: set[str] = set()
        """Every secret asked for, downloaded or not (a failure is warned about once)."""

    def start(self, database: Database) -> None:
        secrets = [s for s in self._files_of(database) if s not in self.tried]
        if secrets:
            import asyncio

            self.tried.update(secrets)
            self._tasks.append(asyncio.create_task(self._download(secrets)))

    async def results(self) -> dict[str, str]:
        """Secret → base64 of every file downloaded (a failed one is left out)."""
        import asyncio

        files: dict[str, str] = {}
        for part in await asyncio.gather(*self._tasks):
            files.update(part)
        return files

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
