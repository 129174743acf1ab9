"""Write the site atomically and only where it changed.

The new site is assembled in a staging folder beside the output and swapped in only when
complete, so a failed build leaves the previous site exactly as it was. A file whose bytes
did not change is not written again: the staging folder gets a hard link to the old file
(a copy keeping its times where links are impossible), so after the swap it is the same
file, with the same modification time. When nothing changed at all, the staging folder is
dropped and the output is not touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import TracebackType

from .cache import scan
from .errors import RenderError

FileRecord = tuple[str, int, int]
"""(sha256, size, mtime in ns) of a file as written."""
_UNSAFE_PATH = re.compile(r"(?:^|/)\.{0,2}(?:/|$)|[\\\0]")
"""An empty, ``.`` or ``..`` path segment, a backslash or a NUL: never written."""


class SiteWriter:
    """Collect a site's files in a staging folder; ``commit`` replaces ``out`` with it.

    ``previous`` (the render cache's record of ``out``) lets an unchanged file be recognised
    by its digest and mtime without reading it; without it the old bytes are compared.
    Refuses any path that would escape the site or that was already written (two pages
    colliding is a bug, never something to overwrite silently)."""

    def __init__(self, out: Path, previous: Mapping[str, FileRecord] | None = None) -> None:
        self.out = out.resolve()
        self.written = 0
        """Files whose bytes are new (not carried over from the previous site)."""
        self.deleted = 0
        self.records: dict[str, FileRecord] = {}
        self._previous = previous or {}
        self._staging: Path | None = None
        self._folders: set[str] = set()
        self._had_site = self.out.is_dir()

    @property
    def files(self) -> int:
        """Files staged so far."""
        return len(self.records)

    def __enter__(self) -> SiteWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._staging is not None and self._staging.exists():
            shutil.rmtree(self._staging, ignore_errors=True)

    @property
    def staging(self) -> Path:
        """The folder being filled (for build steps that work on files, like the search index)."""
        assert self._staging is not None, "use SiteWriter as a context manager"
        return self._staging

    def _target(self, relative: str) -> str:
        if _UNSAFE_PATH.search(relative):
            raise RenderError(f"refusing to write outside the site: {relative!r}")
        if relative in self.records:
            raise RenderError(f"two pages want the same file: {relative}")
        return f"{self.staging}/{relative}"

    def write(self, relative: str, data: bytes) -> None:
        """Stage one file of the site: linked to the old one when the bytes are the same,
        else written (parents created)."""
        target = self._target(relative)
        digest = hashlib.sha256(data).hexdigest()
        self._folder(os.path.dirname(target))
        if self._had_site and self._unchanged(relative, digest, data) and self._link(relative, target):
            return
        try:
            info = _write_file(target, data)
        except OSError as exc:
            raise RenderError(f"cannot write {relative}: {exc.strerror}") from None
        self.records[relative] = (digest, info.st_size, info.st_mtime_ns)
        self.written += 1

    def _folder(self, folder: str) -> None:
        """Create a staging folder once (asking the file system for each file is slow)."""
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def can_keep(self, relative: str) -> bool:
        """Whether ``keep`` would succeed: the old file exists and, when the render cache
        recorded it, is still the file recorded."""
        if relative in self.records:
            return False
        if relative in self._previous:
            return self._current(relative)
        return self.out.joinpath(*PurePosixPath(relative).parts).is_file()

    def keep(self, relative: str) -> bool:
        """Carry a file of the previous site over unread (the caller knows it is current);
        False when it is gone or was changed since, and must be rendered again."""
        if not self.can_keep(relative):
            return False
        target = self._target(relative)
        self._folder(os.path.dirname(target))
        return self._link(relative, target)

    def _current(self, relative: str) -> bool:
        """Whether the old file is still the one the render cache recorded."""
        try:
            info = os.stat(self.out.joinpath(*PurePosixPath(relative).parts))
        except OSError:
            return False
        return (info.st_size, info.st_mtime_ns) == self._previous[relative][1:]

    def _unchanged(self, relative: str, digest: str, data: bytes) -> bool:
        """Whether the old site holds ``relative`` with exactly these bytes."""
        if relative in self._previous and self._current(relative):
            return self._previous[relative][0] == digest
        try:
            return (self.out / relative).read_bytes() == data
        except OSError:
            return False

    def _link(self, relative: str, target: str | Path) -> bool:
        """Stage the old file itself (hard link, else a copy keeping its times)."""
        source = self.out.joinpath(*PurePosixPath(relative).parts)
        try:
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
            info = os.stat(target)
        except OSError:
            Path(target).unlink(missing_ok=True)
            return False
        known = self._previous.get(relative)
        digest = known[0] if known and known[1:] == (info.st_size, info.st_mtime_ns) else _hash_file(target)
        self.records[relative] = (digest, info.st_size, info.st_mtime_ns)
        return True

    def content_hash(self) -> str:
        """A hash of every file staged so far (paths and bytes), independent of order."""
        digest = hashlib.sha256()
        for path in sorted(self.records):
            digest.update(f"{path}\0{self.records[path][0]}\n".encode())
        return digest.hexdigest()

    def adopt(self) -> None:
        """Record the files other tools wrote into the staging folder (the search index),
        relinking those identical to the old site's."""
        for relative, _ in list(scan(self.staging)):
            if relative in self.records:
                continue
            target = self.staging.joinpath(*PurePosixPath(relative).parts)
            data = target.read_bytes()
            if self._unchanged(relative, hashlib.sha256(data).hexdigest(), data):
                target.unlink()
                if self._link(relative, target):
                    continue
                target.write_bytes(data)
            info = target.stat()
            self.records[relative] = (hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns)
            self.written += 1

    @property
    def changed(self) -> bool:
        """Whether the staged site differs from the output folder (new bytes or files gone)."""
        old = {path for path, _ in scan(self.out)} if self.out.is_dir() else set()
        self.deleted = len(old - self.records.keys())
        return self.written > 0 or self.deleted > 0 or not self.out.is_dir()

    def commit(self) -> bool:
        """Swap the staged site in for ``out`` (old site removed only after the swap); when
        nothing changed, leave ``out`` untouched. Return whether the site changed."""
        self.adopt()
        if not self.changed:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._staging = None
            return False
        staging, old = self.staging, None
        staging.chmod(0o755)
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
            self.out.rename(old)
        staging.rename(self.out)
        self._staging = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return True


def _hash_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_file(path: str, data: bytes) -> os.stat_result:
    """Create ``path`` holding ``data`` and return its status: the page is whole in memory
    already, so one unbuffered write does (creating files is most of a page's writing cost;
    this keeps it to four system calls)."""
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(handle, view) :]
        return os.fstat(handle)
    finally:
        os.close(handle)
