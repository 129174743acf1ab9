"""Files and images: the publish policy (size, content types, no executables), the download
cache between builds, placeholders for files that cannot be published, and ``--strict``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from pathlib import Path

import httpx
import msgspec
import pytest

from generator.build import build
from generator.errors import RenderError
from generator.files import FileCache, FilePolicy, download_files, extension_for, sniff_type
from generator.model import Workspace
from generator.publish import apply_publish_rules

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN, make_config
from .e2e_helpers import DEMO, gen_env, site_files, snapshot_at
from .test_cli import run_gen
from .test_site import StaticSource

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64
EXE = b"MZ\x90\x00" + b"\0" * 64
ELF = b"\x7fELF" + b"\0" * 64
HTML = b"<!doctype html><script>alert(1)</script>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (PNG, None, "image/png"),
        (PNG, "application/x-msdownload", "image/png"),  # the bytes decide, not the claim
        (b"\xff\xd8\xff\xe0" + b"\0" * 8, "", "image/jpeg"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "", "image/webp"),
        (PDF, "application/pdf", "application/pdf"),
        (b"a,b\n1,2\n", "text/csv", "text/csv"),
        (b"just text", "", "text/plain"),
        (HTML, "image/png", "text/html"),  # an "image" that is really a page
        (SVG, "image/svg+xml", "image/svg+xml"),
        (b"PK\x03\x04rest", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (b"PK\x03\x04rest", "image/png", "application/zip"),
        (b"\x00\x01\x02\x03", "", "application/octet-stream"),
    ],
)  # fmt: skip
def test_content_type_is_sniffed_from_the_bytes(data: bytes, declared: str | None, expected: str) -> None:
    assert sniff_type(data, declared) == expected


def test_policy_refuses_executables_markup_unknown_types_and_large_files() -> None:
    policy = FilePolicy(max_size=100)
    assert policy.refusal(PNG) is None
    assert policy.refusal(PDF, "application/pdf") is None
    assert "executable" in (policy.refusal(EXE, "image/png") or "")
    assert "executable" in (policy.refusal(ELF) or "")
    assert "executable" in (policy.refusal(b"#!/bin/sh\nrm -rf /", "text/plain") or "")
    assert "text/html is not in kb.toml file_types" in (policy.refusal(HTML, "image/png") or "")
    assert "image/svg+xml" in (policy.refusal(SVG) or "")
    assert "over the 100 bytes limit" in (policy.refusal(b"x" * 101) or "")


def test_allow_list_takes_patterns_from_kb_toml() -> None:
    policy = FilePolicy.from_config(make_config(file_types=["image/*"], max_file_size=10**6))
    assert policy.refusal(PNG) is None
    assert policy.refusal(PDF) is not None
    assert policy.max_size == 10**6 and policy.cache_dir is None
    assert policy.refusal(SVG) is not None  # "image/*" never lets a scriptable SVG through…
    assert FilePolicy(types=("image/svg+xml",)).refusal(SVG) is None  # …naming it does


def test_extensions_are_fixed_for_common_types() -> None:
    assert [extension_for(t) for t in ("image/jpeg", "image/png", "text/csv", "x/unknown")] == [
        ".jpg",
        ".png",
        ".csv",
        ".bin",
    ]


# --------------------------------------------------------------------------- cache and download


def test_cache_is_content_addressed_and_survives_damage(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.put("sec-1", PNG, "image/png")
    cache.put("sec-2", PNG, "image/png")  # same bytes: one blob
    assert len(list((tmp_path / "blobs").rglob("*"))) == 2  # one folder, one blob
    assert cache.get("sec-1") == (PNG, "image/png")
    blob = next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    assert cache.get("sec-1") is None  # a damaged blob is a miss, never wrong bytes
    assert cache.get("../../etc/passwd") is None
    cache.put("../escape", PNG, "image/png")
    assert not (tmp_path.parent / "escape.json").exists()


def _download(files: dict[str, tuple[int, bytes, str]], policy: FilePolicy) -> tuple[dict[str, str], list[str]]:
    """Run ``download_files`` against a mock Fibery; return the result and the paths asked for."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        assert request.headers["Authorization"] == f"Token {TOKEN}"
        status, data, content_type = files[request.url.path.rsplit("/", 1)[1]]
        return httpx.Response(status, content=data, headers={"Content-Type": content_type})

    async def run() -> dict[str, str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            headers = {"Authorization": f"Token {TOKEN}"}
            return await download_files(http, "https://acme.fibery.io", headers, sorted(files), policy)

    return asyncio.run(run()), asked


def test_download_keeps_allowed_files_and_warns_about_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    files = {
        "ok": (200, PNG, "image/png"),
        "exe": (200, EXE, "application/octet-stream"),
        "big": (200, b"x" * 500, "text/plain"),
        "gone": (404, b"", "text/plain"),
    }
    with caplog.at_level(logging.WARNING):
        result, _ = _download(files, FilePolicy(max_size=200))
    assert result == {"ok": base64.b64encode(PNG).decode()}
    messages = "\n".join(caplog.messages)
    assert "file exe not published: it is an executable" in messages
    assert "file big not published: it is over the 200 bytes limit" in messages
    assert "file gone could not be downloaded (HTTP 404)" in messages


def test_downloaded_files_are_not_fetched_again(tmp_path: Path) -> None:
    files = {"a": (200, PNG, "image/png"), "b": (200, PDF, "application/pdf"), "x": (200, EXE, "")}
    policy = FilePolicy(cache_dir=tmp_path / "files")
    first, asked = _download(files, policy)
    assert len(asked) == 3 and set(first) == {"a", "b"}
    second, asked = _download(files, policy)
    assert second == first
    assert asked == ["/api/files/x"]  # refused files are never cached, allowed ones never refetched


def test_live_builds_reuse_the_download_cache(tmp_path: Path) -> None:
    """Two `gen build`s in one project: the second downloads no file (<cache_dir>/files)."""
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))
        assert run_gen("build", "--out", "one", cwd=tmp_path, **gen_env(server)).returncode == 0
        downloads = [e for e in server.stats.log if e.path.startswith("/api/files/")]
        assert len(downloads) == len(DEMO["files"])
        server.stats.reset()
        assert run_gen("build", "--out", "two", cwd=tmp_path, **gen_env(server)).returncode == 0
        assert [e for e in server.stats.log if e.path.startswith("/api/files/")] == []
    assert site_files(tmp_path / "one").keys() == site_files(tmp_path / "two").keys()
    assert list((tmp_path / ".cache" / "fibery-kb" / "files" / "secrets").glob("*.json"))


def test_only_published_files_are_downloaded(tmp_path: Path) -> None:
    """Files are downloaded after the publish rules: one only a hidden field uses is never fetched."""
    (tmp_path / "kb.toml").write_text('search = false\nhide_fields = { "Guides" = ["Attachments"] }\n')
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))
        result = run_gen("build", cwd=tmp_path, **gen_env(server))
        assert result.returncode == 0, result.stderr
        asked = sorted(e.path.removeprefix("/api/files/") for e in server.stats.log if e.path.startswith("/api/files/"))
    rules = make_config(hide_fields={"Guides": ["Attachments"]})
    published = apply_publish_rules(msgspec.convert(DEMO, Workspace), rules)
    assert asked == sorted(published.referenced_files())
    assert 0 < len(asked) < len(DEMO["files"])  # the attachments' files were left alone


def test_files_are_downloaded_while_the_rest_of_the_space_is_read(tmp_path: Path) -> None:
    """Once the guides are read, their published files download while a slow database is
    still being read: the downloads fill the rate limit's idle slots. Each is asked once."""
    (tmp_path / "kb.toml").write_text("search = false\n")
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url))

        def slow_equipment(ctx: ff.FaultContext) -> None:
            if ctx.is_graphql and (ctx.operation or "").endswith("Equipment"):
                ctx.fake._stopping.wait(2.5)

        server.faults.append(slow_equipment)
        result = run_gen("build", cwd=tmp_path, **gen_env(server))
        assert result.returncode == 0, result.stderr
        log = server.stats.log
    equipment = [e.time for e in log if (e.operation or "").endswith("Equipment")]
    downloads = [e for e in log if e.path.startswith("/api/files/")]
    assert len(downloads) == len({e.path for e in downloads}) == len(DEMO["files"])
    assert equipment and min(e.time for e in downloads) < max(equipment)


# --------------------------------------------------------------------------- placeholders and strict


def _demo_with_broken_files(demo: Workspace) -> Workspace:
    """The demo with every file gone but one, which is an executable pretending to be a PNG."""
    secrets = sorted(demo.files)
    demo.files = {secrets[0]: base64.b64encode(EXE).decode()}
    return demo


def test_missing_files_are_placeholders_and_a_warning(
    tmp_path: Path, demo: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        build(StaticSource(_demo_with_broken_files(demo)), make_config(), out=tmp_path / "site", root=ROOT)
    site = tmp_path / "site"
    assert not (site / "assets" / "files").exists()  # the only embedded file was refused
    scouting = next(site.glob("db/guides/pest-scouting*.html")).read_text()
    assert re.search(r'<img [^>]*src="\.\./\.\./assets/file-unavailable\.svg"', scouting)
    assert '<li class="file-missing">scouting-log-template.csv <span>(file unavailable)</span></li>' in scouting
    assert (site / "assets" / "file-unavailable.svg").is_file()
    assert "it is an executable" in caplog.text
    assert "referenced files are not published: their pages show a placeholder" in caplog.text
    assert not any(p.read_bytes().startswith(b"MZ") for p in site.rglob("*") if p.is_file())


def test_strict_fails_the_build_and_keeps_the_previous_site(tmp_path: Path, demo: Workspace) -> None:
    build(StaticSource(demo.deep_copy()), make_config(), out=tmp_path / "site", root=ROOT)
    before = site_files(tmp_path / "site")
    with pytest.raises(RenderError, match="cannot be published \\(strict mode\\)"):
        build(StaticSource(_demo_with_broken_files(demo)), make_config(strict=True), out=tmp_path / "site", root=ROOT)
    assert site_files(tmp_path / "site") == before


def test_strict_option_of_gen_build(tmp_path: Path) -> None:
    snapshot = dict(DEMO)
    snapshot["files"] = {}
    (tmp_path / "snap.json").write_text(json.dumps(snapshot))
    lenient = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path)
    assert lenient.returncode == 0 and "not published" in lenient.stderr
    strict = run_gen("build", "--snapshot", "snap.json", "--strict", "--out", "strict", cwd=tmp_path)
    assert strict.returncode == 1
    assert strict.stderr.strip().splitlines()[-1].startswith("error: 4 referenced files cannot be published")
    assert not (tmp_path / "strict").exists()


def test_images_of_file_fields_get_a_preview(tmp_path: Path, demo: Workspace) -> None:
    guides = demo.database("Guides")
    secret = next(s for s in sorted(demo.files) if base64.b64decode(demo.files[s]).startswith(b"\x89PNG"))
    guides.entities[0].values["attachments"] = [{"secret": secret, "name": "photo.png", "contentType": "image/png"}]
    build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT)
    page = next((tmp_path / "site").glob("db/guides/watering-schedule*.html")).read_text()
    assert re.search(r'<li class="file-image"><a href="\.\./\.\./assets/files/\w+\.png"><img src=', page)
