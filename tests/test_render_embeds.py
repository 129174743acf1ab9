"""Embeds: URL fields pointing under ``superset_url`` render as an iframe with a fallback
link (and the database lists them); every other URL stays a link; rich text can never
create an iframe, Superset or not."""

from __future__ import annotations

from pathlib import Path

from generator.build import build
from generator.config import SiteConfig
from generator.model import Workspace

from .conftest import ROOT, make_config
from .sitecheck import dangerous
from .test_site import StaticSource

SUPERSET = "https://bi.nursery.example/superset"
DASHBOARD = f"{SUPERSET}/dashboard/7/?native_filters_key=abc"


def _build(tmp_path: Path, demo: Workspace, config: SiteConfig) -> Path:
    segments = demo.database("ProcessSegments")
    segments.entities[0].values["instructionsUrl"] = DASHBOARD
    segments.entities[1].values["instructionsUrl"] = "https://bi.nursery.example/other/dashboard/7/"
    segments.entities[2].values["description"] = {
        "md": "",
        "html": f'<p>see</p><iframe src="{DASHBOARD}"></iframe><embed src="{DASHBOARD}">',
    }
    build(StaticSource(demo), config, out=tmp_path / "site", root=ROOT)
    return tmp_path / "site" / "db" / "process-segments"


def test_superset_urls_are_embedded_with_a_fallback_link(tmp_path: Path, demo: Workspace) -> None:
    folder = _build(tmp_path, demo, make_config(superset_url=SUPERSET))
    page = next(folder.glob("propagation-*.html")).read_text()
    embed = f"{SUPERSET}/dashboard/7/?native_filters_key=abc&amp;standalone=1"
    assert f'<iframe src="{embed}" title="Instructions URL" loading="lazy"' in page
    assert 'sandbox="allow-scripts allow-same-origin' in page
    assert f'<figcaption><a href="{DASHBOARD.replace("&", "&amp;")}" rel="noopener noreferrer">' in page
    # Same host, outside the Superset path: a plain link.
    potting = next(folder.glob("potting-*.html")).read_text()
    assert "<iframe" not in potting and 'href="https://bi.nursery.example/other/dashboard/7/"' in potting
    # The database lists its dashboards.
    listing = (folder / "index.html").read_text()
    assert 'id="dashboards-heading"' in listing and "open in Superset" in listing


def test_rich_text_never_creates_an_iframe(tmp_path: Path, demo: Workspace) -> None:
    folder = _build(tmp_path, demo, make_config(superset_url=SUPERSET))
    spacing = next(folder.glob("spacing-*.html")).read_text()
    assert "<iframe" not in spacing and "<embed" not in spacing
    assert dangerous(spacing) == []


def test_without_superset_url_every_url_is_a_link(tmp_path: Path, demo: Workspace) -> None:
    folder = _build(tmp_path, demo, make_config())
    assert not any("<iframe" in p.read_text() for p in folder.glob("*.html"))
    assert f'href="{DASHBOARD.replace("&", "&amp;")}"' in next(folder.glob("propagation-*.html")).read_text()
    assert "dashboards-heading" not in (folder / "index.html").read_text()


def test_superset_url_must_be_http() -> None:
    import pytest

    from generator.structs import FieldError

    with pytest.raises(FieldError, match="must be an http:// or https:// URL"):
        SiteConfig(superset_url="javascript:alert(1)")
