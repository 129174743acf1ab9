"""``gen serve``: build, serve the site on 127.0.0.1, rebuild when templates or content change,
and reload the pages open in a browser.

The workspace is read once (a live Fibery read costs requests and time) and every rebuild
renders a fresh copy of it, so editing a template or a Markdown page shows up in about a
second. Watching is polling: no dependency, same behaviour everywhere. A rebuild that fails
is logged and the previous site keeps being served (the writer swaps only complete sites).
"""

from __future__ import annotations

import functools
import http.server
import logging
import os
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from .build import build
from .config import SiteConfig
from .errors import GenError
from .model import Workspace
from .sources import Source

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


RELOAD_PATH = "/__gen_serve/build"
"""Answers the number of the current build; the preview's pages poll it to reload."""
RELOAD_JS_PATH = "/__gen_serve/reload.js"
RELOAD_JS = (
    "(()=>{let seen=null;const poll=async()=>{try{const r=await fetch('" + RELOAD_PATH + "',{cache:'no-store'});"
    "const n=await r.text();if(seen!==null&&n!==seen){location.reload();return}seen=n}catch(e){}"
    "setTimeout(poll,1000)};poll()})();\n"
).encode()
RELOAD_TAG = f'<script src="{RELOAD_JS_PATH}" defer></script>'.encode()
"""Live reload, added to every HTML page as served (never to the built files); an external
script, so that a Content-Security-Policy allowing only the site's own scripts lets it run."""


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve the site folder as a static host would: its content types, the site's own
    ``404.html`` (status 404) for anything missing, never a folder listing. ``build_number``
    (a preview's) turns on live reload."""

    # Not a ClassVar: typeshed declares extensions_map an instance variable (http.server sets
    # it on the class, as this does), and mypy refuses a ClassVar overriding one.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **CONTENT_TYPES}  # noqa: RUF012

    def __init__(self, *args: Any, build_number: Callable[[], int] | None = None, **kwargs: Any) -> None:
        self.build_number = build_number
        super().__init__(*args, **kwargs)

    def end_headers(self) -> None:
        # A preview must show the latest build, never a cached page from the previous one.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if self.build_number is not None and self.path.split("?")[0] == RELOAD_PATH:
            self._send(200, "text/plain; charset=utf-8", str(self.build_number()).encode())
            return
        if self.build_number is not None and self.path.split("?")[0] == RELOAD_JS_PATH:
            self._send(200, CONTENT_TYPES[".js"], RELOAD_JS)
            return
        path = self.translate_path(self.path)
        if self.build_number is not None and path.endswith(".html") and os.path.isfile(path):
            self._send_page(path)
            return
        super().do_GET()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        """No listings: a folder without ``index.html`` is not found, as on a static host."""
        self.send_error(HTTPStatus.NOT_FOUND)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The site's ``404.html`` for a missing page, with status 404, at any depth: a
        ``<base href="/">`` makes its styles and links work from ``/db/x/missing.html`` too."""
        page = Path(self.directory, "404.html")
        if code != HTTPStatus.NOT_FOUND or not page.is_file():
            super().send_error(code, message, explain)
            return
        try:
            html = page.read_bytes()
        except OSError:
            super().send_error(code, message, explain)
            return
        if b"<base " not in html:
            html = html.replace(b"<head>", b'<head>\n<base href="/">', 1)
        self._send(code, CONTENT_TYPES[".html"], self._with_reload(html))

    def _send_page(self, path: str) -> None:
        try:
            html = Path(path).read_bytes()
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self._send(200, CONTENT_TYPES[".html"], self._with_reload(html))

    def _with_reload(self, html: bytes) -> bytes:
        if self.build_number is None:
            return html
        at = html.rfind(b"</body>")
        return html[:at] + RELOAD_TAG + html[at:] if at >= 0 else html + RELOAD_TAG

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def make_server(
    site: Path,
    port: int = DEFAULT_PORT,
    *,
    host: str = HOST,
    build_number: Callable[[], int] | None = None,
) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``site`` on ``host`` (127.0.0.1 unless told; port 0: any free port).

    The folder is looked up by path on every request, so a rebuilt (swapped) site is
    served at once."""
    handler = functools.partial(SiteHandler, directory=str(site), build_number=build_number)
    try:
        return http.server.ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise GenError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


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
    """A source read once and built many times: the workspace is read when this is made,
    and each file is asked of the source once. Each build gets its own copy of the
    workspace, as if read again."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self.stats = source.stats
        self.workspace = source.load()
        self._files: dict[str, str] = {}
        self._asked: set[str] = set()

    def load(self) -> Workspace:
        return self.workspace.deep_copy()

    def files(self, secrets: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(secrets))
        new = [secret for secret in wanted if secret not in self._asked]
        if new:
            self._files.update(self._source.files(new))
            self._asked.update(new)
        chosen = set(wanted)
        return {secret: data for secret, data in self._files.items() if secret in chosen}


class Preview:
    """The site being previewed: builds it, and rebuilds it when its inputs change."""

    def __init__(
        self,
        source: Source,
        config: SiteConfig,
        *,
        out: Path,
        root: Path,
        announce: Callable[[str], None] = print,
    ) -> None:
        self.source = source
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


def serve(preview: Preview, *, port: int = DEFAULT_PORT, host: str = HOST) -> None:
    """Build, then serve until interrupted (Ctrl+C: ``KeyboardInterrupt`` goes on to the
    caller once the server is closed), rebuilding on changes; open pages reload themselves."""
    if not preview.build():
        raise GenError("the site could not be built")
    server = make_server(preview.out, port, host=host, build_number=lambda: preview.builds)
    stop = threading.Event()
    watcher = threading.Thread(target=preview.watch, args=(stop,), name="watch", daemon=True)
    watcher.start()
    bound_host, actual_port = str(server.server_address[0]), server.server_address[1]
    preview.announce(
        f"Serving {preview.out}/ at http://{bound_host}:{actual_port}/ (rebuilds on changes; Ctrl+C to stop)"
    )
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
