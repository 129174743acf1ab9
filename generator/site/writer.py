"""Write the site atomically and only where it changed.

The new site is assembled in a staging folder beside the output and swapped in only when
complete, so a failed build leaves the previous site exactly as it was. A file whose bytes
did not change is not written again: the staging folder gets a hard link to the old file
(a copy keeping its times where links are impossible), so after the swap it is the same
file, with the same modification time. When nothing changed at all, the staging folder is
dropped and the output is not touched.

Four rules keep a user's files safe (``check_output``, ``OutputLock``, ``commit``):

* ``--out`` may replace only a missing or empty folder, or one fibery-kb built (it holds a
  ``build-info.json``); any other non-empty folder needs ``force``. The working folder, a
  parent of it, a project folder (``kb.toml``, ``content/``) and a mount point are refused
  even then.
* One build at a time per output folder: ``OutputLock`` (a ``flock`` on the folder holding
  it) makes a second build wait for the first.
* The swap is one atomic exchange of the staging folder and the output (Linux
  ``renameat2(RENAME_EXCHANGE)``), so a kill at any moment leaves a complete site, old or
  new. Elsewhere it is two renames; a build killed between them leaves the previous site
  as ``.<name>.fibery-kb-old-*``, and the next build puts it back first.
* Leftovers of a killed build (staging and old folders) are removed by the next build of
  the same output, under the lock.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from types import TracebackType

from ..errors import ConfigError, OutputError, RenderError

log = logging.getLogger(__name__)

FileRecord = tuple[str, int, int]
"""(sha256, size, mtime in ns) of a file as written."""
_UNSAFE_PATH = re.compile(r"(?:^|/)\.{0,2}(?:/|$)|[\\\0]")
"""An empty, ``.`` or ``..`` path segment, a backslash or a NUL: never written."""
SITE_MARKER = "build-info.json"
"""Every site fibery-kb builds holds this file: it marks a folder ``--out`` may replace."""
_LEFTOVER = "fibery-kb-"
"""Staging and old folders are named ``.<out name>.fibery-kb-{staging,old}-…``."""


def scan(folder: Path) -> Iterable[tuple[str, tuple[int, int]]]:
    """Every file under ``folder``: (relative POSIX path, (size, mtime in ns))."""
    stack = [(folder, "")]
    while stack:
        current, prefix = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), f"{prefix}{entry.name}/"))
            elif entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                yield f"{prefix}{entry.name}", (info.st_size, info.st_mtime_ns)


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
        with _io(self.out.parent):
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._had_site = self.out.is_dir()
            prefix = f".{self.out.name}.{_LEFTOVER}staging-"
            self._staging = Path(tempfile.mkdtemp(prefix=prefix, dir=self.out.parent))
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
        else written (parents created). Writing a file again with the same bytes does
        nothing: content-addressed files (two Fibery files with equal bytes) share a path."""
        digest = hashlib.sha256(data).hexdigest()
        if relative in self.records and self.records[relative][0] == digest:
            return
        target = self._target(relative)
        with _io(Path(target).parent):
            self._folder(os.path.dirname(target))
        if self._had_site and self._unchanged(relative, digest, data) and self._link(relative, target):
            return
        with _io(Path(target)):
            info = _write_file(target, data)
        self.records[relative] = (digest, info.st_size, info.st_mtime_ns)
        self.written += 1

    def _folder(self, folder: str) -> None:
        """Create a staging folder once (asking the file system for each file is slow)."""
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def staged(self, relative: str, record: FileRecord) -> None:
        """Record a file written into the staging folder by ``stage_file`` (on another
        thread: the search index's new shards, whose folders the old site cannot hold)."""
        target = self._target(relative)
        if self._had_site and self._old_digest(relative) == record[0]:
            # The old site has these bytes (a build that ignored the caches): stage that file.
            source, link = self.out.joinpath(*PurePosixPath(relative).parts), f"{target}.fibery-kb-link"
            try:
                os.link(source, link)
                os.replace(link, target)
                info = os.stat(target)
                self.records[relative] = (record[0], info.st_size, info.st_mtime_ns)
                return
            except OSError:
                Path(link).unlink(missing_ok=True)
        self.records[relative] = record
        self.written += 1

    def _old_digest(self, relative: str) -> str | None:
        """The digest of the old site's file at ``relative``, if it has one."""
        if relative in self._previous and self._current(relative):
            return self._previous[relative][0]
        try:
            return _hash_file(self.out.joinpath(*PurePosixPath(relative).parts))
        except OSError:
            return None

    def can_keep(self, relative: str) -> bool:
        """Whether ``keep`` would succeed: the old file exists and, when the render cache
        recorded it, is still the file recorded."""
        if relative in self.records:
            return False
        if relative in self._previous:
            return self._current(relative)
        return self.out.joinpath(*PurePosixPath(relative).parts).is_file()

    def recorded(self, relative: str) -> bool:
        """Whether the render cache recorded ``relative`` in the previous site."""
        return relative in self._previous

    def keep(self, relative: str) -> bool:
        """Carry a file of the previous site over unread (the caller knows it is current);
        False when it is gone or was changed since, and must be rendered again."""
        known = self._previous.get(relative)
        if known is not None and relative not in self.records:
            return self._keep_recorded(relative, known)
        if not self.can_keep(relative):
            return False
        target = self._target(relative)
        with _io(Path(target).parent):
            self._folder(os.path.dirname(target))
        return self._link(relative, target)

    def _keep_recorded(self, relative: str, known: FileRecord) -> bool:
        """``keep`` for a file the render cache recorded: a rebuild keeps nearly every file
        this way (20,000 at N = 10,000), so it is two system calls and string paths (the
        ``pathlib`` version cost more than the calls). The link is made first and its
        status compared with the record after: a file changed since is not kept."""
        target = self._target(relative)
        folder = os.path.dirname(target)
        if folder not in self._folders:
            with _io(Path(folder)):
                self._folder(folder)
        try:
            os.link(f"{self.out}/{relative}", target)
        except FileNotFoundError:
            return False
        except OSError:  # no hard links here: the copy keeping its times
            return self._current(relative) and self._link(relative, target)
        info = os.stat(target)
        if (info.st_size, info.st_mtime_ns) != known[1:]:
            os.unlink(target)
            return False
        self.records[relative] = known
        return True

    def _current(self, relative: str) -> bool:
        """Whether the old file is still the one the render cache recorded."""
        try:
            info = os.stat(f"{self.out}/{relative}")
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
        digest = known[0] if known and known[1:] == (info.st_size, info.st_mtime_ns) else _hash_file(Path(target))
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
            with _io(target):
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
        with _io(self.out):
            self.staging.chmod(0o755)
            _swap(self.staging, self.out)
        # After the exchange the staging folder holds the previous site.
        shutil.rmtree(self.staging, ignore_errors=True)
        self._staging = None
        return True


# --------------------------------------------------------------------------- the output folder


def check_output(out: Path, *, project: Path, inputs: Iterable[Path] = (), force: bool = False) -> None:
    """Refuse an output folder whose replacement would delete what is not a site.

    ``project`` is the folder of ``kb.toml``, ``inputs`` the folders a build reads (content,
    templates): neither they nor a folder holding them is ever replaced. Raises
    ``ConfigError`` (one line, exit 2)."""
    target, here = out.resolve(), Path.cwd().resolve()
    protected = [(here, "the current folder"), (project.resolve(), "the project folder")]
    protected += [(path.resolve(), f"the project's {path.name}/") for path in inputs]
    for path, what in protected:
        if path == target or path.is_relative_to(target):
            raise ConfigError(f"--out {out}: refusing to replace {what} or a folder holding it")
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"--out {out}: not a folder")
    if os.path.ismount(target):
        raise ConfigError(f"--out {out}: a mount point cannot be replaced; build into a folder inside it")
    if (target / "kb.toml").exists() or (target / "content").is_dir():
        raise ConfigError(f"--out {out}: holds a fibery-kb project (kb.toml or content/), refusing to replace it")
    if force or is_site(target) or not any(target.iterdir()):
        return
    raise ConfigError(f"--out {out}: not empty and not a site fibery-kb built; use --force to replace it")


def is_site(folder: Path) -> bool:
    """Whether ``folder`` is a site fibery-kb built: its ``build-info.json`` is ours."""
    try:
        info = json.loads((folder / SITE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and {"content_hash", "fibery_url", "space"} <= info.keys()


class OutputLock:
    """One build at a time per output folder: an exclusive ``flock`` on the folder that holds
    it (the output itself is swapped, so it cannot carry the lock, and a lock file would be
    one more file in the user's folder). A second build waits, and says so; the kernel
    releases the lock of a killed build. Where ``fcntl`` is missing (Windows) it does nothing."""

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:
            return self
        with _io(self.out.parent):
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.out.parent, os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another build into %s is running: waiting for it to finish", self.out.parent)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def recover_output(out: Path) -> None:
    """Undo what a killed build left beside ``out`` (call under ``OutputLock``): put the
    previous site back if the swap was cut between its two renames, then remove staging
    and old folders."""
    with _io(out):
        _recover(out)


def _recover(out: Path) -> None:
    leftovers = sorted(out.parent.glob(f".{glob_escape(out.name)}.{_LEFTOVER}*"))
    if not out.exists():
        old = [p for p in leftovers if p.name.startswith(f".{out.name}.{_LEFTOVER}old-") and is_site(p)]
        if old:
            old[-1].rename(out)
            log.warning("restored the previous site %s (a build was interrupted while swapping it)", out)
            leftovers.remove(old[-1])
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _swap(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``; ``staging`` then holds the previous site, if any.

    One atomic exchange where the system has it, so that no moment is without a site."""
    if not out.exists():
        staging.rename(out)
        return
    if _exchange(staging, out):
        return
    old = out.with_name(f".{out.name}.{_LEFTOVER}old-{os.getpid()}")
    out.rename(old)
    staging.rename(out)
    old.rename(staging)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False when
    the system or file system cannot (the caller falls back to two renames)."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def _io(path: Path) -> Iterator[None]:
    """Turn an ``OSError`` into an ``OutputError`` naming the path and the cause (disk
    full, read-only file system, permission denied) instead of an unexpected error."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from exc


def _hash_file(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def stage_file(staging: Path, relative: str, data: bytes) -> FileRecord:
    """Write one new file into a staging folder (safe on any thread: no shared state); its
    record for ``SiteWriter.staged``."""
    if _UNSAFE_PATH.search(relative):
        raise RenderError(f"refusing to write outside the site: {relative!r}")
    target = f"{staging}/{relative}"
    with _io(Path(target)):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        info = _write_file(target, data)
    return (hashlib.sha256(data).hexdigest(), info.st_size, info.st_mtime_ns)


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
