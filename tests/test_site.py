"""The built site: complete, linked, escaped, deterministic and atomically written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator.build import build
from generator.errors import RenderError, SnapshotError
from generator.model import Entity
from generator.site.writer import SiteWriter
from generator.sources import DemoSource, SnapshotSource, StaticSource, write_snapshot

from .conftest import ROOT, make_config
from .sitecheck import crawl, dangerous, parse


@pytest.fixture
def demo_site(tmp_path: Path) -> Path:
    build(DemoSource(), make_config(), out=tmp_path / "site", root=ROOT)
    return tmp_path / "site"


def test_demo_site_has_no_broken_link_and_a_page_for_every_entity(demo_site: Path, demo) -> None:
    result = crawl(demo_site)
    assert result.broken == []
    for db in demo.databases:
        assert any(p.startswith("db/") and p.endswith("/index.html") for p in result.pages)
        for entity in db.entities:
            pages = [p for p in result.pages if p.endswith(f"-{entity.public_id}.html") and p.startswith("db/")]
            assert pages, f"no reachable page for {db.title} #{entity.public_id}"
    html_files = {p.relative_to(demo_site).as_posix() for p in demo_site.rglob("*.html")}
    assert html_files - result.pages == {"404.html"}  # everything else reachable from home


def test_home_page_has_model_card_and_databases(demo_site: Path, demo) -> None:
    html = (demo_site / "index.html").read_text()
    assert 'href="https://demo.fibery.io/Nursery_Knowledge_Base"' in html
    assert 'href="https://demo.fibery.io/api/graphql"' in html
    assert 'href="https://demo.fibery.io/api/graphql/space/Nursery_Knowledge_Base"' in html
    for db in demo.databases:
        assert f">{db.title}</a>" in html
        assert f"{len(db.entities)} items" in html or f"{len(db.entities)} item" in html
    assert "Welcome" not in parse(demo_site / "index.html").ids  # intro heading dropped, h1 is the site's


def test_entity_page_renders_every_kind(demo_site: Path) -> None:
    page = next((demo_site / "db").glob("guides/watering-schedule*.html")).read_text()
    assert 'class="badge s-done"' in page  # workflow state, final: coloured as done
    assert "Open in Fibery" in page and "https://demo.fibery.io/Nursery_Knowledge_Base/Guides/1" in page
    assert "<table>" in page  # rich text table survives sanitising
    scouting = next((demo_site / "db").glob("guides/pest-scouting*.html")).read_text()
    assert re.search(r'<img [^>]*src="\.\./\.\./assets/files/[0-9a-f]{20}\.png"', scouting)  # image served by the site
    assert ">Body<" not in page  # the main text has no label
    assert "Referenced by" not in page and "Nothing links here" not in page  # nothing links to it: no section
    linked = next((demo_site / "db").glob("equipment/potting-machine-pm-2-*.html")).read_text()
    assert '<h2 id="backlinks-heading">Referenced by</h2>' in linked
    assert '<time datetime="' in page


def test_relations_link_both_ways(demo_site: Path) -> None:
    potting = next((demo_site / "db" / "process-segments").glob("potting-*.html")).read_text()
    assert "Referenced by" in potting
    assert "../../db/equipment/potting-machine" in potting
    spacing = next((demo_site / "db" / "process-segments").glob("spacing-*.html")).read_text()
    assert 'href="../../db/process-segments/potting-' in spacing  # predecessor


def test_untrusted_text_is_escaped_and_rich_text_sanitised(tmp_path: Path, demo) -> None:
    guides = demo.database("Guides")
    guides.entities[0].name = '<script>alert("x")</script>'
    guides.entities[0].values["body"] = {
        "md": "",
        "html": '<p onclick="x()">hi<script>alert(1)</script><a href="javascript:alert(1)">j</a>'
        '<img src=x onerror="alert(1)"><iframe src="https://evil.example"></iframe></p>',
    }
    guides.entities[0].values["source"] = "javascript:alert(1)"
    build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT)
    page = next((tmp_path / "site" / "db" / "guides").glob("script-alert-x-script-1.html")).read_text()
    assert "&lt;script&gt;" in page  # the name is shown, escaped
    assert dangerous(page) == []  # parsed: no script/iframe, no on* handler, no javascript: URL


def test_file_names_are_safe_and_unique(tmp_path: Path, demo) -> None:
    guides = demo.database("Guides")
    names = ["../../etc/passwd", "!!!", "x" * 300, "🌱 שלום", "Same", "Same"]
    guides.entities = [Entity(id=f"h{i}", public_id="", name=n) for i, n in enumerate(names)]
    build(StaticSource(demo), make_config(), out=tmp_path / "site", root=ROOT)
    files = sorted(p.name for p in (tmp_path / "site" / "db" / "guides").iterdir())
    assert len(files) == len(names) + 1
    assert all(len(f) <= 70 and f.replace("-", "").replace(".", "").isalnum() for f in files)
    assert not (tmp_path / "etc").exists()


def test_builds_are_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        build(DemoSource(), make_config(), out=tmp_path / name, root=ROOT)
    files_a = {p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()}
    files_b = {p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert files_a == files_b
    different = [f for f in files_a if (tmp_path / "a" / f).read_bytes() != (tmp_path / "b" / f).read_bytes()]
    # Only the two files holding the build's time may differ (and may not, within one second).
    assert {str(f) for f in different} <= {"build-info.json", "status.html"}
    info = json.loads((tmp_path / "a" / "build-info.json").read_text())
    assert info["content_hash"] == json.loads((tmp_path / "b" / "build-info.json").read_text())["content_hash"]
    assert info["entities"] == 33 and info["requests"] == 0


def test_sitemap_only_with_base_url(tmp_path: Path) -> None:
    build(DemoSource(), make_config(base_url="https://org.github.io/kb/"), out=tmp_path / "s", root=ROOT)
    sitemap = (tmp_path / "s" / "sitemap.xml").read_text()
    assert "<loc>https://org.github.io/kb/index.html</loc>" in sitemap
    assert '<base href="https://org.github.io/kb/">' in (tmp_path / "s" / "404.html").read_text()
    build(DemoSource(), make_config(), out=tmp_path / "t", root=ROOT)
    assert not (tmp_path / "t" / "sitemap.xml").exists()


def test_failed_build_keeps_the_previous_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    build(DemoSource(), make_config(), out=site, root=ROOT)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SnapshotError):
        build(SnapshotSource(broken), make_config(), out=site, root=ROOT)
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_writer_refuses_escaping_and_duplicate_paths(tmp_path: Path) -> None:
    with SiteWriter(tmp_path / "out") as writer:
        for bad in ("../x.html", "/etc/passwd", "a/../../b", ""):
            with pytest.raises(RenderError):
                writer.write(bad, b"x")
        writer.write("a.html", b"x")
        with pytest.raises(RenderError, match="same file"):
            writer.write("a.html", b"y")


def test_snapshot_round_trip_builds_the_same_site(tmp_path: Path, demo) -> None:
    write_snapshot(demo, tmp_path / "snap.json")
    build(SnapshotSource(tmp_path / "snap.json"), make_config(), out=tmp_path / "a", root=ROOT)
    build(DemoSource(), make_config(), out=tmp_path / "b", root=ROOT)
    for page in (tmp_path / "b").rglob("*.html"):
        if page.name != "status.html":  # holds the build time
            assert page.read_bytes() == (tmp_path / "a" / page.relative_to(tmp_path / "b")).read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not valid JSON"),
        ('{"databases": []}', "no 'version' key"),
        ('{"version": 99, "fibery_url": "x", "space": "y"}', "format version 99 is not supported"),
        ('{"version": 1, "space": "y"}', "invalid at fibery_url"),
    ],
)
def test_bad_snapshots_are_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "snap.json"
    path.write_text(content)
    with pytest.raises(SnapshotError, match=message):
        SnapshotSource(path).load()


def test_wheel_ships_templates_and_demo(tmp_path: Path) -> None:
    """A plain (non-editable) install must find its templates and the demo."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("fibery_kb-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "generator/templates/base.html" in names
    assert "generator/templates/assets/style.css" in names
    assert "generator/demo/workspace.json" in names
    target = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(target)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from generator.cli import main; main()",
            "build",
            "--demo",
            "--out",
            str(tmp_path / "s"),
            "-q",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "s" / "index.html").is_file()
