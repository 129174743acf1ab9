"""Helpers for end-to-end tests that run the real `gen` against the fake Fibery
(tests/test_e2e.py, tests/test_faults.py, tests/test_hostile.py, tests/test_publish.py).

The fixtures built on them (``fake``, ``old_site``) are in conftest.py.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generator.serve import make_server

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN

DEMO = json.loads((ROOT / "generator" / "demo" / "workspace.json").read_text())


def snapshot_at(url: str, snapshot: dict | None = None) -> dict:
    """The demo snapshot (or ``snapshot``) as if it lived at ``url`` (rich-text links included)."""
    snapshot = snapshot or DEMO
    return json.loads(json.dumps(snapshot).replace(snapshot["fibery_url"], url))


def gen_env(fake: ff.FakeFibery, **extra: str) -> dict[str, str]:
    """The environment of a `gen` run against ``fake``."""
    space = fake.snapshot["space"]
    return {"FIBERY_URL": fake.url, "FIBERY_SPACE": space, "FIBERY_TOKEN": TOKEN, **extra}


def site_files(site: Path) -> dict[str, bytes]:
    """Every file of a built site, by its path inside the site."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def readable(data: bytes) -> bytes:
    """A file's bytes, gunzipped when compressed (Pagefind's index), to search them."""
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError):
            return data
    return data


def files_containing(root: Path, *needles: str) -> dict[str, list[str]]:
    """Which files under ``root`` (decompressed when gzipped) contain which of ``needles``."""
    found: dict[str, list[str]] = {}
    for path, data in site_files(root).items():
        text = readable(data)
        hits = [n for n in needles if n.encode() in text]
        if hits:
            found[path] = hits
    return found


def closed_port() -> int:
    """A local TCP port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(site: Path) -> Iterator[str]:
    """Serve ``site`` with `gen serve`'s server on a free 127.0.0.1 port; yield its URL."""
    server = make_server(site, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
