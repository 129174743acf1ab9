"""The site plan: every decision that does not depend on the page being rendered, made once.

``plan_site`` decides, up front, every page's path (safe unique slugs), the navigation, the
backlinks index, the content pages (``content/*.md`` and the plugins' extra pages) and the
files the site serves, so that rendering a page is a template call and nothing else: no
per-page navigation rebuild, no quadratic backlink lookups. The plan is frozen: rendering
reads it and never changes it (what a page's render finds is returned with the page).

Site layout (all links relative, so the site works under any base URL and from disk)::

    index.html                    home: model card, databases, content/index.md
    databases.html                every database
    db/<database>/index.html      one database: fields and entity table (first 100 rows)
    db/<database>/page-<n>.html   the table's further pages of 100 rows
    db/<database>/rows.js         every row, for client-side filters and sorting (>1 page)
    db/<database>/<entity>.html   one entity
    <page>.html                   content/<page>.md
    404.html, sitemap.xml, assets/… (assets/files/: content-addressed Fibery files)
    pagefind/                     the search index, written after rendering (search.py)
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import html as html_lib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from markupsafe import Markup

from ..config import SiteConfig
from ..errors import RenderError
from ..files import FilePolicy, extension_for, sniff_type
from ..model import Database, Entity, FieldKind, Workspace
from ..naming import SlugAllocator, fibery_web_path, name_key, url_segment
from ..text import RichText
from .links import FiberyUrls, SiteLinks

log = logging.getLogger(__name__)

RESERVED_ROOT_NAMES = {"index", "databases", "db", "assets", "404", "sitemap", "status", "search", "pagefind", "feed"}
TABLE_PAGE_SIZE = 100
"""Rows per page of an entity table: a 10,000-entity database is 100 small pages, not one 10 MB page."""
_LINK_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')


@dataclass(frozen=True)
class ExtraPage:
    """A page a plugin adds to the site: written to ``{slug}.html`` at the site root, inside
    the site's layout, and listed in the navigation when ``nav`` is true. ``html`` is
    trusted markup: a plugin must escape what it takes from Fibery (``markupsafe.escape``)."""

    slug: str
    title: str
    html: Markup
    nav: bool = True


@dataclass(frozen=True)
class ContentPage:
    """A hand-written Markdown page from ``content/``."""

    slug: str
    title: str
    html: Markup
    in_nav: bool = True

    @property
    def path(self) -> str:
        return "index.html" if self.slug == "index" else f"{self.slug}.html"

    @property
    def body(self) -> Markup:
        """The page without its first ``<h1>``, for the home page (which has its own)."""
        return Markup(re.sub(r"^\s*<h1[^>]*>.*?</h1>\s*", "", str(self.html), count=1, flags=re.DOTALL))


class Backlink(NamedTuple):
    """``source`` links to an entity through the field titled ``via`` (a tuple: a site has
    several per entity)."""

    source_id: str
    via: str


@dataclass(frozen=True)
class SitePlan:
    """Every decision that does not depend on the page being rendered, made once (frozen)."""

    workspace: Workspace
    config: SiteConfig
    title: str
    db_paths: dict[str, str]
    entity_paths: dict[str, str]
    backlinks: dict[str, list[Backlink]]
    content_pages: list[ContentPage]
    rich_text: RichText = field(default_factory=RichText)
    """The build's prepared rich text (``text.RichText``)."""
    web_index: dict[tuple[str, str], str] = field(default_factory=dict)
    assets: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    db_pages: dict[str, list[str]] = field(default_factory=dict)
    missing_files: dict[str, str] = field(default_factory=dict)

    @functools.cached_property
    def fibery(self) -> FiberyUrls:
        return FiberyUrls.of(self.workspace)

    @functools.cached_property
    def _base_url(self) -> str:
        return self.workspace.fibery_url.rstrip("/")

    @functools.cached_property
    def _space_url(self) -> str:
        return f"{self._base_url}/{url_segment(self.workspace.space)}/"

    @property
    def nav(self) -> list[tuple[str, str]]:
        pages = [(p.title, p.path) for p in self.content_pages if p.slug != "index" and p.in_nav]
        return [("Home", "index.html"), ("Databases", "databases.html"), *pages]

    def table_files(self, db_key: str) -> list[str]:
        """The files of a database's table: its pages, then ``rows.js`` when there are several."""
        pages = self.db_pages[db_key]
        return [*pages, pages[0].rsplit("/", 1)[0] + "/rows.js"] if len(pages) > 1 else list(pages)

    def entity_url(self, db: Database, entity: Entity) -> str:
        """The entity's page in Fibery: ``{url}/{Space}/{Database}/{publicId}``, from Fibery's
        own name of the database (``Things/Event`` → ``/Things/Event/12``)."""
        if db.rest_name:
            return f"{self._base_url}/{fibery_web_path(db.rest_name)}/{entity.public_id}"
        return f"{self._space_url}{db.web_name}/{entity.public_id}"

    def embed_url(self, url: str) -> str | None:
        """The iframe address of a Superset URL (``superset_url`` in kb.toml), else None.

        Superset shows a dashboard without its own menus with ``standalone=1``."""
        base = self.config.superset_url
        if not base:
            return None
        try:
            parts, home = urlsplit(url.strip()), urlsplit(base)
        except ValueError:
            return None
        same_site = (parts.scheme, parts.netloc.casefold()) == (home.scheme, home.netloc.casefold())
        if not same_site or not parts.path.startswith(home.path.rstrip("/") + "/"):
            return None
        query = parse_qsl(parts.query, keep_blank_values=True)
        if not any(key == "standalone" for key, _ in query):
            query.append(("standalone", "1"))
        return urlunsplit(parts._replace(query=urlencode(query)))


# --------------------------------------------------------------------------- planning


def _read_content(content_dir: Path) -> list[ContentPage]:
    """Read ``content/*.md``; each page's title is its first heading."""
    if not content_dir.is_dir():
        return []
    import markdown  # here: a build that finds nothing changed never loads it (plugins import this module)

    slugs = SlugAllocator(RESERVED_ROOT_NAMES - {"index"})
    pages = []
    for path in sorted(content_dir.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RenderError(f"content page {path}: cannot read: {exc}") from None
        heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.MULTILINE)
        title = heading.group(1) if heading else path.stem.replace("-", " ").capitalize()
        slug = "index" if path.stem == "index" else slugs.allocate(path.stem, fallback="page")
        html = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists", "toc"])
        pages.append(ContentPage(slug=slug, title=title, html=Markup(html)))
    return sorted(pages, key=lambda p: (p.slug != "index", p.title.casefold()))


def _plan_assets(workspace: Workspace, policy: FilePolicy) -> dict[str, tuple[str, bytes]]:
    """Content-address the files embedded in the workspace that the file policy allows:
    secret → (path, bytes). A snapshot is checked like a download: no surprise executable."""
    declared = {
        f["secret"]: f.get("contentType", "")
        for db in workspace.databases
        for fld in db.fields_of(FieldKind.FILES)
        for e in db.entities
        for f in e.values.get(fld.key) or []
    }
    assets = {}
    for secret, encoded in sorted(workspace.files.items()):
        data = base64.b64decode(encoded)
        reason = policy.refusal(data, declared.get(secret))
        if reason:
            log.warning("file %s not published: %s", secret, reason)
            continue
        ext = extension_for(sniff_type(data, declared.get(secret)))
        assets[secret] = (f"assets/files/{hashlib.sha256(data).hexdigest()[:20]}{ext}", data)
    return assets


def _missing_files(workspace: Workspace, assets: dict[str, tuple[str, bytes]], config: SiteConfig) -> dict[str, str]:
    """Files the content references but the site cannot serve: a warning, or with ``strict``
    a failed build (before anything is written)."""
    missing = {s: "not available" for s in workspace.referenced_files() if s not in assets}
    if missing and config.strict:
        raise RenderError(
            f"{len(missing)} referenced files cannot be published (strict mode): {', '.join(sorted(missing)[:5])}"
        )
    if missing:
        log.warning("%d referenced files are not published: their pages show a placeholder", len(missing))
    return missing


def _with_extra_pages(plan: SitePlan, extra: Sequence[ExtraPage]) -> SitePlan:
    """The plan with plugin pages beside the content pages (unique slugs, in the navigation
    when asked), with Fibery entity URLs in their links pointing at the published pages."""
    slugs = SlugAllocator(RESERVED_ROOT_NAMES | {p.slug for p in plan.content_pages})
    links = SiteLinks(plan, "")

    def rewrite(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(2))
        return f'{match.group(1)}="{html_lib.escape(links.resolve("a", match.group(1), url)[0] or url)}"'

    pages = [
        ContentPage(
            slug=slugs.allocate(page.slug, fallback="page"),
            title=page.title,
            html=Markup(_LINK_ATTRIBUTE.sub(rewrite, str(page.html))),
            in_nav=page.nav,
        )
        for page in extra
    ]
    return dataclasses.replace(plan, content_pages=[*plan.content_pages, *pages])


def plan_site(
    workspace: Workspace,
    config: SiteConfig,
    *,
    content_dir: Path,
    extra_pages: Sequence[ExtraPage] = (),
    rich_text: RichText | None = None,
) -> SitePlan:
    """Decide paths, navigation and backlinks for the whole site, once (``rich_text``: the
    build's prepared rich text, else a new one)."""
    db_slugs = SlugAllocator()
    db_paths, db_pages, entity_paths, web_index = {}, {}, {}, {}
    for db in workspace.databases:
        slug = db_slugs.allocate(db.title, fallback="database")
        pages = [f"page-{n}" for n in range(2, math.ceil(len(db.entities) / TABLE_PAGE_SIZE) + 1)]
        db_pages[db.key] = [f"db/{slug}/index.html", *(f"db/{slug}/{p}.html" for p in pages)]
        db_paths[db.key] = db_pages[db.key][0]
        entity_slugs = SlugAllocator({"index", *pages})
        web_name = name_key(db.web_name)
        for entity in db.entities:
            stem = f"{entity.name}-{entity.public_id}" if entity.public_id else entity.name
            path = f"db/{slug}/{entity_slugs.allocate(stem, fallback='entity')}.html"
            entity_paths[entity.id] = path
            web_index[(web_name, entity.public_id)] = path
    assets = _plan_assets(workspace, FilePolicy.from_config(config))
    plan = SitePlan(
        workspace=workspace,
        config=config,
        title=config.title or workspace.space,
        db_paths=db_paths,
        entity_paths=entity_paths,
        backlinks=_backlinks(workspace),
        content_pages=_read_content(content_dir),
        rich_text=rich_text or RichText(),
        web_index=web_index,
        assets=assets,
        db_pages=db_pages,
        missing_files=_missing_files(workspace, assets, config),
    )
    return _with_extra_pages(plan, extra_pages) if extra_pages else plan


def _backlinks(workspace: Workspace) -> dict[str, list[Backlink]]:
    """Invert every relation and collection once: target id → who links to it (O(links))."""
    index: dict[str, list[Backlink]] = {}
    for db in workspace.databases:
        linking = db.linking_fields
        for entity in db.entities:
            for fld in linking:
                for target in entity.related_ids(fld.key):
                    index.setdefault(target, []).append(Backlink(entity.id, fld.title))
    return index
