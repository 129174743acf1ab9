"""Nothing lost, nothing surprising: what `gen build` may replace, and the one-line errors a
user's own mistakes get (issue 14). The fault matrix with kills, concurrency and full disks
is tests/test_faults.py."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from generator.build import build
from generator.errors import ConfigError
from generator.sources import SnapshotSource

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN, make_config
from .e2e_helpers import DEMO, gen_env, site_files, snapshot_at
from .test_cli import assert_one_line_error, run_gen

DEMO_SNAPSHOT = ROOT / "generator" / "demo" / "workspace.json"


def write_project(folder: Path) -> dict[str, bytes]:
    """A user's project: kb.toml, a content page and a file of their own."""
    (folder / "content").mkdir(parents=True)
    (folder / "content" / "about.md").write_text("# About\n")
    (folder / "kb.toml").write_text('title = "Mine"\n')
    (folder / "notes.txt").write_text("my notes\n")
    return site_files(folder)


# --------------------------------------------------------------------------- --out


@pytest.mark.parametrize("out", [".", "..", "content", "sub/.."])
def test_out_never_replaces_the_project_or_a_parent(tmp_path: Path, out: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    before = write_project(project)
    (project / "sub").mkdir()
    result = run_gen("build", "--demo", "--out", out, "--force", cwd=project)
    assert_one_line_error(result, f"--out {out}: ", 2)
    assert site_files(project) == before
    assert [p.name for p in tmp_path.iterdir()] == ["project"]


def test_out_refuses_another_project(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    before = write_project(other)
    result = run_gen("build", "--demo", "--out", "other", "--force", cwd=tmp_path)
    assert_one_line_error(result, "holds a fibery-kb project", 2)
    assert site_files(other) == before


def test_an_unrelated_folder_needs_force(tmp_path: Path) -> None:
    folder = tmp_path / "some-folder"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"precious")
    result = run_gen("build", "--demo", "--out", "some-folder", cwd=tmp_path)
    assert_one_line_error(result, "--out some-folder: not empty and not a site fibery-kb built; use --force", 2)
    assert (folder / "photo.jpg").read_bytes() == b"precious"
    result = run_gen("build", "--demo", "--out", "some-folder", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (folder / "photo.jpg").exists() and (folder / "index.html").is_file()


def test_an_empty_folder_or_a_built_site_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for _ in range(2):  # the second time, over the site the first one built
        result = run_gen("build", "--demo", "--out", "empty", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "empty" / "index.html").is_file()


def test_out_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("not a folder")
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), "Directory 'site' is a file", 2)
    assert (tmp_path / "site").read_text() == "not a folder"


# --------------------------------------------------------------------------- builds that failed


def test_two_files_with_identical_bytes(tmp_path: Path) -> None:
    """The same image uploaded twice: two secrets, one content-addressed file."""
    snap = json.loads(DEMO_SNAPSHOT.read_text())
    original = "3b45297f-d7c3-56d3-b7f4-a8c5c8ddca21"
    snap["files"]["copy-of-the-checklist"] = snap["files"][original]
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    second = next(e for e in guides["entities"] if not e["values"].get("attachments"))
    second["values"]["attachments"] = [
        {"contentType": "application/pdf", "name": "again.pdf", "secret": "copy-of-the-checklist"}
    ]
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pdfs = list((tmp_path / "site" / "assets" / "files").glob("*.pdf"))
    assert len([p for p in pdfs if p.read_bytes().startswith(b"%PDF")]) >= 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_output_folder(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = run_gen("build", "--demo", "--out", "ro/site", cwd=tmp_path)
    finally:
        parent.chmod(0o755)
    assert_one_line_error(result, "cannot write", 1)
    assert "Permission denied" in result.stderr and "ro" in result.stderr


def test_read_only_output_folder_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also as root (CI containers): mkdtemp refused as a read-only file system would."""
    import tempfile

    from generator.errors import OutputError

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError(30, "Read-only file system", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path}: Read-only file system"):
        build(SnapshotSource(DEMO_SNAPSHOT), make_config(), out=tmp_path / "site", root=ROOT)


# --------------------------------------------------------------------------- configuration


def test_config_that_does_not_exist(tmp_path: Path) -> None:
    result = run_gen("build", "--demo", "--config", "kb.tmol", cwd=tmp_path)
    assert_one_line_error(result, "--config kb.tmol: no such file", 2)
    assert not (tmp_path / "site").exists()


def test_fibery_url_with_a_path(tmp_path: Path) -> None:
    result = run_gen(
        "build", cwd=tmp_path, FIBERY_URL="https://acme.fibery.io/Space", FIBERY_SPACE="KB", FIBERY_TOKEN=TOKEN
    )
    assert_one_line_error(result, "FIBERY_URL: must be the workspace address only, e.g. https://acme.fibery.io", 2)


def test_all_missing_settings_at_once(tmp_path: Path) -> None:
    result = run_gen("build", cwd=tmp_path, FIBERY_SPACE="KB")
    assert_one_line_error(result, "FIBERY_URL, FIBERY_TOKEN are not set", 2)
    assert "--fibery-url, --token-file" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("build", "--no-such-option"), "No such option '--no-such-option' (see 'gen build --help')"),
        (("no-such-command",), "No such command 'no-such-command'"),
        (("build", "--out"), "Option '--out' requires an argument"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    assert_one_line_error(run_gen(*args, cwd=tmp_path), fragment, 2)


def test_load_site_config_names_a_missing_path(tmp_path: Path) -> None:
    from generator.config import load_site_config

    with pytest.raises(ConfigError, match="no such file"):
        load_site_config(path=tmp_path / "missing.toml")
    assert load_site_config(root=tmp_path) == make_config()  # the default kb.toml may be absent


def test_pull_writes_the_snapshot_owner_only(tmp_path: Path) -> None:
    result = run_gen("pull", "--demo", "--out", "snap.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "snap.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "snap.json").read_text())["space"] == DEMO["space"]


def test_the_download_cache_lives_in_cache_dir_and_full_ignores_it(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('cache_dir = "var/kb-cache"\nsearch = false\n')

    def downloads() -> int:
        return len([e for e in server.stats.log if e.path.startswith("/api/files/")])

    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))
        assert run_gen("build", cwd=tmp_path, **gen_env(server)).returncode == 0
        assert downloads() == len(DEMO["files"])
        server.stats.reset()
        assert run_gen("build", "--out", "two", cwd=tmp_path, **gen_env(server)).returncode == 0
        assert downloads() == 0
        server.stats.reset()
        assert run_gen("build", "--full", cwd=tmp_path, **gen_env(server)).returncode == 0
        assert downloads() == len(DEMO["files"])
    assert list((tmp_path / "var" / "kb-cache" / "files" / "secrets").glob("*.json"))
    assert not (tmp_path / ".cache").exists()


@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_verbose_logs_never_show_a_file_secret(tmp_path: Path, verbosity: str) -> None:
    """A file's secret opens it in Fibery without the token: redacted like the token."""
    (tmp_path / "kb.toml").write_text("search = false\n")
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))
        server.faults.append(ff.fail_every(3, 502))  # retries are logged with the path
        result = run_gen("build", verbosity, cwd=tmp_path, **gen_env(server))
    assert result.returncode == 0, result.stderr
    assert "/api/files/***" in result.stderr
    assert [s for s in DEMO["files"] if s in result.stderr + result.stdout] == []
    assert TOKEN not in result.stderr


def test_redact_file_urls() -> None:
    from generator.logs import redact

    assert (
        redact("GET https://a.fibery.io/api/files/abc-123?x=1 failed")
        == "GET https://a.fibery.io/api/files/***?x=1 failed"
    )


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Привет мир", "privet-mir"),
        ("東京の手順", "dong-jing-no-shou-shun"),
        ("Ελληνικά", "ellinika"),
        ("Straße", "strasse"),
    ],
)
def test_non_latin_titles_get_readable_page_names(title: str, slug: str) -> None:
    from generator.naming import slugify

    assert slugify(title) == slug


def test_non_latin_entity_pages_are_readable_and_unique(tmp_path: Path) -> None:
    snap = json.loads(DEMO_SNAPSHOT.read_text())
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    for entity, name in zip(guides["entities"], ["Привет мир", "Привет мир", "東京の手順"], strict=False):
        entity["name"] = name
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pages = {p.name for p in (tmp_path / "site" / "db" / "guides").glob("*.html")}
    assert len([p for p in pages if p.startswith("privet-mir-")]) == 2, pages  # unique: <slug>-<public id>
    assert len([p for p in pages if p.startswith("dong-jing-no-shou-shun-")]) == 1, pages


def test_controls_and_bidi_overrides_never_reach_the_html(tmp_path: Path) -> None:
    snap = json.loads(DEMO_SNAPSHOT.read_text())
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    guides["entities"][0]["name"] = "Invoice\u202egpj.exe\u202c \x07bell\x1b[31m"
    guides["entities"][1]["name"] = "שלום 2"
    guides["title"] = "Guides\u2066\u2067"
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    assert run_gen("build", "--snapshot", "snap.json", "--out", "site", cwd=tmp_path).returncode == 0
    html = {p: d.decode() for p, d in site_files(tmp_path / "site").items() if p.endswith((".html", ".xml", ".json"))}
    for char in ("\u202e", "\u202c", "\x07", "\x1b", "\u2066", "\u2067"):
        assert [p for p, text in html.items() if char in text] == [], repr(char)
    assert any("Invoice gpj.exe bell [31m" in text for text in html.values())
    isolated = "\u2068שלום 2\u2069"
    pages = [p for p, text in html.items() if "שלום" in text]
    assert pages and all(text.count("שלום") == text.count(isolated) for p, text in html.items() if p in pages)


def test_display_name() -> None:
    from generator.naming import display_name

    assert display_name("Plain name") == "Plain name"
    assert display_name("a\u202eb\tc\nd") == "a b c d"
    assert display_name("مرحبا") == "\u2068مرحبا\u2069"


# --------------------------------------------------------------------------- content URLs


def snapshot_with_body(tmp_path: Path, html: str, kb_toml: str = "") -> None:
    snap = json.loads(DEMO_SNAPSHOT.read_text())
    guides = next(db for db in snap["databases"] if db["title"] == "Guides")
    body = next(f["key"] for f in guides["fields"] if f["kind"] == "rich_text")
    guides["entities"][0]["values"][body] = {"md": "", "html": html}
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    (tmp_path / "kb.toml").write_text("search = false\n" + kb_toml)


HOSTILE_URLS = (
    '<p><img src="x"> <a href="Nursery/Guides/1">rel</a> <img src="https://tracker.example/p.png" alt="pixel">'
    ' <img src="//cdn.example/i.png"></p>'
)


def built_html(tmp_path: Path) -> str:
    return "\n".join(d.decode() for p, d in site_files(tmp_path / "site").items() if p.endswith(".html"))


def test_relative_and_external_content_urls_by_default(tmp_path: Path) -> None:
    snapshot_with_body(tmp_path, HOSTILE_URLS)
    result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = built_html(tmp_path)
    assert 'src="x"' not in html and "its relative URL is not a file the site has" in result.stderr
    assert 'href="Nursery/Guides/1"' not in html  # resolved against the workspace
    for host in ("tracker.example", "cdn.example"):
        assert not re.search(rf'<img[^>]+src="(https:)?//{host}', html)  # no hotlinking by default
    assert '<a href="https://tracker.example/p.png" class="external-image" rel="noopener noreferrer">pixel</a>' in html
    assert "gen check" not in result.stderr  # what gen build wrote passes gen check
    check = run_gen("check", "site", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(("policy", "shown"), [("drop", False), ("hotlink", True)])
def test_external_images_policy(tmp_path: Path, policy: str, shown: bool) -> None:
    snapshot_with_body(tmp_path, HOSTILE_URLS, f'external_images = "{policy}"\n')
    result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = built_html(tmp_path)
    assert bool(re.search(r'<img[^>]+src="https://tracker\.example/p\.png"', html)) is shown
    assert "external-image" not in html


def test_gen_build_runs_gen_check(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "about.md").write_text("# About\n\n[gone](nowhere.html)\n")
    result = run_gen("build", "--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING: gen check: broken link: about.html → nowhere.html" in result.stderr
    before = site_files(tmp_path / "site")
    (tmp_path / "content" / "about.md").write_text("# About\n\n[still gone](nowhere.html)\n")
    strict = run_gen("build", "--demo", "--strict", cwd=tmp_path)
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1] == "error: the built site has 1 broken links or anchors (strict mode)"
    assert site_files(tmp_path / "site") == before


def test_external_images_can_be_downloaded(tmp_path: Path) -> None:
    """external_images = "download": the image is the site's own copy; an HTML page behind an
    image URL is refused and shown as a link."""
    import base64
    import functools
    import http.server
    import threading

    public = tmp_path / "public"
    public.mkdir()
    png = base64.b64decode(next(v for v in json.loads(DEMO_SNAPSHOT.read_text())["files"].values()))
    (public / "pic.png").write_bytes(png)
    (public / "page.png").write_text("<!doctype html><script>alert(1)</script>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{httpd.server_address[1]}"
    try:
        body = f'<p><img src="http://{host}/pic.png" alt="a"><img src="http://{host}/page.png" alt="b"></p>'
        snapshot_with_body(tmp_path, body, 'external_images = "download"\n')
        result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert result.returncode == 0, result.stderr
    html = built_html(tmp_path)
    assert host not in html.replace(f'<a href="http://{host}/page.png"', "")  # only the refused one, as a link
    copies = [d for p, d in site_files(tmp_path / "site").items() if p.startswith("assets/files/")]
    assert png in copies
    assert "external image" in result.stderr and "page.png not published" in result.stderr


def test_the_pages_address_from_the_environment_makes_404_work_at_any_depth(tmp_path: Path, monkeypatch) -> None:
    """GitHub Pages serves 404.html for a missing page at any depth: its links must not be
    relative to the root. The Pages workflow passes configure-pages' address as KB_BASE_URL."""
    from generator.config import load_site_config

    monkeypatch.setenv("KB_BASE_URL", "https://org.github.io/kb")
    assert load_site_config(tmp_path).base_url == "https://org.github.io/kb"
    (tmp_path / "kb.toml").write_text('base_url = "https://docs.example/"\n')
    assert load_site_config(tmp_path).base_url == "https://docs.example/"  # kb.toml wins
    (tmp_path / "kb.toml").unlink()
    result = run_gen("build", "--demo", "--out", "site", cwd=tmp_path, KB_BASE_URL="https://org.github.io/kb")
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "site" / "404.html").read_text()
    assert '<base href="https://org.github.io/kb/">' in page
    for workflow in (ROOT / ".github/workflows/pages.yml", ROOT / "generator/init_files/pages.yml"):
        assert workflow.read_text().count("KB_BASE_URL: ${{ steps.pages.outputs.base_url }}") == 2, workflow
