"""The build caches: what lets a rebuild ask Fibery only for what changed and write only the
files whose bytes changed.

Everything lives under ``cache_dir`` of ``kb.toml`` (default ``.cache/fibery-kb/``, ignored
by git)::

    fetch/<space>-<hash>/               per (Fibery URL, space): the fetch cache, owned by
                                        the Fibery client (``fibery/fetchcache.py``)
    render/<hash>.json                  per output folder: the key each page was rendered
                                        from and each file's digest, size and mtime
    files/                              downloaded files (``files.py``)

A cache is only ever a hint: one that is missing, damaged, from another version of
fibery-kb or for another space is ignored, and the build is a full one. ``gen build --full``
ignores both caches (and refreshes them). The fetch cache holds the space as read, hidden
fields included: keep it out of anything published.

The keys that decide which pages are rendered again are ``keys.py``'s.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .files import remove_stale_temporaries, write_atomically
from .naming import slugify

log = logging.getLogger(__name__)

RENDER_CACHE_VERSION = 1


# --------------------------------------------------------------------------- render cache


class RenderState(BaseModel):
    """What one output folder was built from and holds (the render cache's record)."""

    version: int = RENDER_CACHE_VERSION
    out: str
    site_key: str
    content_hash: str
    pages: int
    unpublished_links: int
    entity_keys: dict[str, str]
    """Entity page path → the key it was rendered from."""
    unpublished: dict[str, int] = {}
    """Page path → links to unpublished entities counted while rendering it."""
    files: dict[str, tuple[str, int, int]]
    """Every file of the folder → (sha256, size, mtime in ns) as written."""

    def matches(self, out: Path) -> bool:
        """Whether ``out`` still holds exactly the files recorded (by size and mtime)."""
        found = dict(scan(out))
        return found.keys() == self.files.keys() and all(
            (size, mtime) == tuple(self.files[path][1:]) for path, (size, mtime) in found.items()
        )


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


class BuildCache:
    """The caches of one project (``cache_dir``); ``read=False`` (``--full``) ignores what
    they hold but still refreshes them."""

    def __init__(self, folder: Path, *, read: bool = True) -> None:
        self.folder = folder
        self.read = read
        # A build killed while writing a cache file left a temporary file: remove it.
        if folder.is_dir():
            remove_stale_temporaries(folder)

    @property
    def files(self) -> Path:
        """The download cache (``files.py``)."""
        return self.folder / "files"

    def fetch_folder(self, fibery_url: str, space: str) -> Path:
        """Where the fetch cache of one space lives (the Fibery client owns what is in it)."""
        key = hashlib.sha256(f"{fibery_url}\0{space}".encode()).hexdigest()[:12]
        return self.folder / "fetch" / f"{slugify(space, fallback='space')}-{key}"

    def _render_file(self, out: Path) -> Path:
        return self.folder / "render" / f"{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]}.json"

    def render_state(self, out: Path) -> RenderState | None:
        """What ``out`` was last built from, or None."""
        path = self._render_file(out)
        if not self.read or not path.is_file():
            return None
        try:
            state = RenderState.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError) as exc:
            log.info("render cache ignored (%s): every page is rendered", type(exc).__name__)
            return None
        return state if (state.version, state.out) == (RENDER_CACHE_VERSION, str(out.resolve())) else None

    def save_render_state(self, state: RenderState) -> None:
        try:
            write_atomically(self._render_file(Path(state.out)), state.model_dump_json().encode(), dir_mode=0o700)
        except OSError as exc:
            log.warning("render cache not written to %s: %s", self.folder, exc.strerror or exc)
