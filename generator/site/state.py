"""The render cache's record of one output folder: what it was built from and holds.

A rebuild reads it to find what it may carry over (``site_key``: the whole site unchanged;
``entity_keys``: each entity page's key) and whether the folder is still as written
(``files``). It lives in the build cache's ``render/`` folder (``cache.BuildCache.render``),
one file per output folder; a record that is missing, damaged or from another version is
ignored, and the build is a full one.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import msgspec

from ..files import write_atomically
from .writer import scan

log = logging.getLogger(__name__)

RENDER_CACHE_VERSION = 1


class RenderState(msgspec.Struct, kw_only=True):
    """What one output folder was built from and holds (the render cache's record)."""

    version: int = RENDER_CACHE_VERSION
    out: str
    site_key: str
    content_hash: str
    pages: int
    unpublished_links: int
    entity_keys: dict[str, str]
    """Path of an entity page or of a database's table file → the key it was rendered from."""
    unpublished: dict[str, int] = {}
    """Page path → links to unpublished entities its render returned."""
    files: dict[str, tuple[str, int, int]]
    """Every file of the folder → (sha256, size, mtime in ns) as written."""
    global_key: str = ""
    """The global key (``keys.global_key``) of the build: what ``text_links`` is valid for."""
    text_links: dict[str, tuple[str, list[tuple[str, str, str]]]] = {}
    """Entity id → its digest and the links of its rich text (``keys.text_links``), so that
    a rebuild cleans only the rich text of the entities that changed."""

    def matches(self, out: Path) -> bool:
        """Whether ``out`` still holds exactly the files recorded (by size and mtime)."""
        found = dict(scan(out))
        return found.keys() == self.files.keys() and all(
            (size, mtime) == tuple(self.files[path][1:]) for path, (size, mtime) in found.items()
        )


def _record(folder: Path, out: Path) -> Path:
    return folder / f"{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]}.json"


def links_file(folder: Path, out: Path) -> Path:
    """Where the link check of ``out`` remembers each page's links (``check.PageFacts``),
    beside its render record."""
    return _record(folder, out).with_suffix(".links.json")


def load_render_state(folder: Path, out: Path) -> RenderState | None:
    """What ``out`` was last built from (its record in the render cache ``folder``), or None."""
    path = _record(folder, out)
    if not path.is_file():
        return None
    try:
        state = msgspec.json.decode(path.read_bytes(), type=RenderState)
    except (OSError, ValueError) as exc:  # msgspec's errors are ValueErrors
        log.info("render cache ignored (%s): every page is rendered", type(exc).__name__)
        return None
    return state if (state.version, state.out) == (RENDER_CACHE_VERSION, str(out.resolve())) else None


def save_render_state(folder: Path, state: RenderState) -> None:
    """Record ``state`` in the render cache ``folder`` (a warning when it cannot be written)."""
    try:
        write_atomically(_record(folder, Path(state.out)), msgspec.json.encode(state), dir_mode=0o700)
    except OSError as exc:
        log.warning("render cache not written to %s: %s", folder.parent, exc.strerror or exc)
