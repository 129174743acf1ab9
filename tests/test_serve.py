"""`gen serve`: the site served on 127.0.0.1 (or --host) with the right content types, the
site's 404 page and no listings, rebuilt when templates or content change (a failed rebuild
keeps the old site) and reloaded in the browser, the URL printed, Ctrl-C exit 130."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.serve import LoadedSource, Preview, make_server
from generator.sources import DemoSource

from .conftest import ROOT, env_with, make_config
from .e2e_helpers import serving


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with its own templates/ and content/ to edit."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    (tmp_path / "templates").mkdir()
    return tmp_path


@pytest.fixture
def preview(project: Path) -> Preview:
    messages: list[str] = []
    preview = Preview(
        LoadedSource(DemoSource()), make_config(), out=project / "site", root=project, announce=messages.append
    )
    preview.messages = messages  # type: ignore[attr-defined]
    assert preview.build()
    return preview


@pytest.fixture
def server(preview: Preview) -> Iterator[str]:
    with serving(preview.out) as url:
        yield url


def get(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.headers["Content-Type"], response.read()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("assets/style.css", "text/css; charset=utf-8"),
        ("assets/search.js", "text/javascript; charset=utf-8"),
        ("assets/file-unavailable.svg", "image/svg+xml"),
        ("build-info.json", "application/json"),
        ("pagefind/pagefind.js", "text/javascript; charset=utf-8"),
        ("pagefind/wasm.en.pagefind", "application/octet-stream"),
    ],
)
def test_content_types(server: str, preview: Preview, path: str, content_type: str) -> None:
    if path.startswith("pagefind/") and not (preview.out / path).exists():
        pytest.skip("Pagefind is not installed: no search index to serve")
    assert get(server + path)[0] == content_type


def test_only_the_loopback_interface(preview: Preview) -> None:
    httpd = make_server(preview.out, 0)
    try:
        assert httpd.server_address[0] == "127.0.0.1"
    finally:
        httpd.server_close()


def test_rebuilds_when_templates_or_content_change(server: str, preview: Preview, project: Path) -> None:
    assert not preview.rebuild_if_changed()  # nothing changed: no rebuild
    (project / "content" / "about.md").write_text("# About\n\nFreshly edited.\n")
    assert preview.rebuild_if_changed()
    assert b"Freshly edited." in get(server + "about.html")[1]
    (project / "templates" / "page.html").write_text(
        '{% extends "base.html" %}{% block main %}<p>custom template</p>{{ content.html }}{% endblock %}'
    )
    assert preview.rebuild_if_changed()
    assert b"custom template" in get(server + "about.html")[1]
    assert preview.builds == 3
    assert "Change detected: rebuilding" in preview.messages  # type: ignore[attr-defined]


def test_a_broken_template_keeps_the_previous_site(server: str, preview: Preview, project: Path) -> None:
    before = get(server + "index.html")[1]
    (project / "templates" / "index.html").write_text("{% extends 'base.html' %}{% block main %}{{ nope }}")
    assert not preview.rebuild_if_changed()
    assert get(server + "index.html")[1] == before


def test_repeated_builds_do_not_alter_the_workspace(preview: Preview, project: Path) -> None:
    """Publish rules edit the workspace in place; every rebuild must start from the original."""
    preview.config = make_config(hide_fields={"Guides": ["Owner"]})
    assert preview.build() and preview.build()


def test_gen_serve_prints_the_url_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from generator.cli import main; main()", "serve", "--demo", "--port", "0"],
        cwd=tmp_path,
        env=env_with(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "Serving" not in line and time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("Serving site/ at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        assert b"Nursery Knowledge Base" in get(url + "index.html")[1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
    assert os.path.isdir(tmp_path / "site")


# --------------------------------------------------------------------------- a static host's manners


def status_of(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("path", ["missing.html", "db/guides/missing.html", "a/b/c/d/", "db/nope/x.png"])
def test_a_missing_page_is_the_sites_404_with_status_404_at_any_depth(server: str, path: str) -> None:
    status, body = status_of(server + path)
    assert status == 404
    assert b"Page not found" in body and b'<base href="/">' in body  # styles and links work from any depth
    assert b"Error response" not in body  # not Python's stock page


def test_no_folder_listings(server: str, preview: Preview) -> None:
    assert (preview.out / "assets").is_dir()
    status, body = status_of(server + "assets/")
    assert status == 404 and b"Directory listing" not in body and b"Page not found" in body


def test_host_is_an_option(preview: Preview) -> None:
    httpd = make_server(preview.out, 0, host="0.0.0.0")
    try:
        assert httpd.server_address[0] == "0.0.0.0"
    finally:
        httpd.server_close()


def test_open_pages_reload_after_a_rebuild(preview: Preview, project: Path) -> None:
    """Served pages carry the reload script (the built files do not); the build number it
    polls changes when the site is rebuilt."""
    httpd = make_server(preview.out, 0, build_number=lambda: preview.builds)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        page = get(url + "index.html")[1]
        assert b'<script src="/__gen_serve/reload.js" defer></script></body>' in page
        assert b"reload.js" not in (preview.out / "index.html").read_bytes()
        assert b"location.reload()" in get(url + "__gen_serve/reload.js")[1]
        before = get(url + "__gen_serve/build")[1]
        (project / "content" / "about.md").write_text("# About\n\nEdited.\n")
        assert preview.rebuild_if_changed()
        assert get(url + "__gen_serve/build")[1] != before
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_ctrl_c_exits_130_as_documented(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from generator.cli import main; main()", "serve", "--demo", "--port", "0"],
        cwd=tmp_path,
        env=env_with(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    line = ""
    while "Serving" not in line and time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "Stopped." in out
    assert "| 130 | interrupted (Ctrl-C) |" in (ROOT / "docs" / "cli.md").read_text()
