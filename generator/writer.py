"""Write the site atomically: into a temporary folder beside the output, swapped in only when
every file was written. A failed build leaves the previous site exactly as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from types import TracebackType

from .errors import RenderError


class SiteWriter:
    """Collect a site's files in a staging folder; ``commit`` replaces ``out`` with it.

    Refuses any path that would escape the site or that was already written (two pages
    colliding is a bug, never something to overwrite silently)."""

    def __init__(self, out: Path) -> None:
        self.out = out.resolve()
        self.files = 0
        self._digests: dict[str, str] = {}
        self._staging: Path | None = None

    def __enter__(self) -> SiteWriter:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._staging is not None and self._staging.exists():
            shutil.rmtree(self._staging, ignore_errors=True)

    def _target(self, relative: str) -> Path:
        pure = PurePosixPath(relative)
        if pure.is_absolute() or not pure.parts or any(part in ("", ".", "..") for part in pure.parts):
            raise RenderError(f"refusing to write outside the site: {relative!r}")
        if relative in self._digests:
            raise RenderError(f"two pages want the same file: {relative}")
        assert self._staging is not None, "use SiteWriter as a context manager"
        return self._staging.joinpath(*pure.parts)

    def write(self, relative: str, data: bytes) -> None:
        """Write one file of the site (buffered, parents created)."""
        target = self._target(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(target, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise RenderError(f"cannot write {relative}: {exc.strerror}") from None
        self._digests[relative] = hashlib.sha256(data).hexdigest()
        self.files += 1

    def content_hash(self) -> str:
        """A hash of every file written so far (paths and bytes), independent of order."""
        digest = hashlib.sha256()
        for path in sorted(self._digests):
            digest.update(f"{path}\0{self._digests[path]}\n".encode())
        return digest.hexdigest()

    def commit(self) -> None:
        """Swap the staged site in for ``out`` (old site removed only after the swap)."""
        assert self._staging is not None
        staging, old = self._staging, None
        staging.chmod(0o755)
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old-{os.getpid()}")
            self.out.rename(old)
        staging.rename(self.out)
        self._staging = None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
