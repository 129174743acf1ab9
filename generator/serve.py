"""``gen serve``: build, serve the site on 127.0.0.1, rebuild when templates or content change.

The workspace is read once (a live Fibery read costs requests and time) and every rebuild
renders a fresh copy of it, so editing a template or a Markdown page shows up in about a
second. Watching is polling: no dependency, same behaviour everywhere. A rebuild that fails
is logged and the previous site keeps being served (the writer swaps only complete sites).
"""

from __future__ import annotations

import functools
import http.server
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from .build import build
from .config import SiteConfig
from .errors import GenError
from .fibery import RequestStats
from .model import Workspace

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
POLL_SECONDS = 1.0
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
    # Pagefind's index chunks are gzipped binary read with fetch().
    ".pagefind": "application/octet-stream",
    ".pf_meta": "application/octet-stream",
    ".pf_index": "application/octet-stream",
    ".pf_fragment": "application/octet-stream",
}


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve the site folder with the content types a static host would send."""

    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map, **CONTENT_TYPES}

    def end_headers(self) -> None:
        # A preview must show the latest build, never a cached page from the previous one.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(site: Path, port: int = DEFAULT_PORT) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``site`` on 127.0.0.1 (port 0: any free port).

    The folder is looked up by path on every request, so a rebuilt (swapped) site is
    served at once."""
    handler = functools.partial(SiteHandler, directory=str(site))
    try:
        return http.server.ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        raise GenError(f"cannot serve on {HOST}:{port}: {exc.strerror}") from None


def snapshot(folders: Iterable[Path]) -> dict[str, tuple[int, int]]:
    """(modification time, size) of every file under ``folders``: what a rebuild depends on."""
    state = {}
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                try:
                    if path.is_file():
                        info = path.stat()
                        state[str(path)] = (info.st_mtime_ns, info.st_size)
                except OSError:
                    continue
    return state


class LoadedSource:
    """A source that hands out a fresh copy of a workspace read once (publish rules edit
    the workspace in place, so each build gets its own)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.stats = RequestStats()

    def load(self) -> Workspace:
        return self.workspace.model_copy(deep=True)


class Preview:
    """The site being previewed: builds it, and rebuilds it when its inputs change."""

    def __init__(
        self,
        workspace: Workspace,
        config: SiteConfig,
        *,
        out: Path,
        root: Path,
        announce: Callable[[str], None] = print,
    ) -> None:
        self.source = LoadedSource(workspace)
        self.announce = announce
        self.config = config
        self.out = out
        self.root = root
        self.watched = [root / config.templates_dir, root / config.content_dir]
        self._state = snapshot(self.watched)
        self.builds = 0

    def build(self) -> bool:
        """Build the site; False (logged) when the build fails and the old site stays."""
        try:
            report = build(self.source, self.config, out=self.out, root=self.root)
        except GenError as exc:
            log.error("rebuild failed, still serving the previous site: %s", exc.format_message())
            return False
        self.builds += 1
        self.announce(f"Built {self.out}/: {report.summary()}")
        return True

    def rebuild_if_changed(self) -> bool:
        """Rebuild when a watched file was added, removed or changed; True when it did."""
        state = snapshot(self.watched)
        if state == self._state:
            return False
        self._state = state
        self.announce("Change detected: rebuilding")
        return self.build()

    def watch(self, stop: threading.Event, interval: float = POLL_SECONDS) -> None:
        """Poll for changes until ``stop`` is set."""
        while not stop.wait(interval):
            self.rebuild_if_changed()


def serve(preview: Preview, *, port: int = DEFAULT_PORT) -> None:
    """Build, then serve until interrupted (Ctrl+C), rebuilding on changes."""
    if not preview.build():
        raise GenError("the site could not be built")
    server = make_server(preview.out, port)
    stop = threading.Event()
    watcher = threading.Thread(target=preview.watch, args=(stop,), name="watch", daemon=True)
    watcher.start()
    host, actual_port = server.server_address[:2]
    preview.announce(f"Serving {preview.out}/ at http://{host}:{actual_port}/ (rebuilds on changes; Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
