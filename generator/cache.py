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

The keys that decide which pages are rendered again are ``site/keys.py``'s; the render
cache's record of an output folder is ``site/state.py``'s ``RenderState``. This module only
says where each cache lives.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .files import remove_stale_temporaries
from .naming import slugify


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

    @property
    def render(self) -> Path:
        """The render cache: one record per output folder (``site/state.py``)."""
        return self.folder / "render"
