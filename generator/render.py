"""Render a ``Workspace`` into the pages of a static site.

``plan_site`` decides once, up front, every page's path (safe unique slugs), the navigation
and the backlinks index, so that rendering a page is a template call and nothing else: no
per-page navigation rebuild, no quadratic backlink lookups, each template compiled once.
``render_site`` then yields ``(path, bytes)`` pairs; writing them is the writer's job.

Site layout (all links relative, so the site works under any base URL and from disk)::

    index.html                    home: model card, databases, content/index.md
    databases.html                every database
    db/<database>/index.html      one database: fields and entity table
    db/<database>/<entity>.html   one entity
    <page>.html                   content/<page>.md
    404.html, sitemap.xml, assets/…
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import markdown
from markupsafe import Markup
from pydantic import BaseModel
from pydantic import Field as PydanticField

from .config import SiteConfig
from .errors import RenderError
from .fields import FieldRenderers, is_safe_url
from .model import Database, Entity, FieldKind, Workspace
from .naming import SlugAllocator, url_segment

RESERVED_ROOT_NAMES = {"index", "databases", "db", "assets", "404", "sitemap", "status", "search", "pagefind"}
SUMMARY_KINDS = (FieldKind.STATE, FieldKind.SELECT, FieldKind.DATE, FieldKind.DATETIME, FieldKind.NUMBER)
_FIBERY_FILE = re.compile(r"^(?:https?://[^/]+)?/api/files/([^/?#]+)")
_TRAILING_PUBLIC_ID = re.compile(r"(?:^|-)(\d+)$")


class FiberyFacts(BaseModel):
    """The Fibery facts shown on the home page's model card."""

    workspace: str = PydanticField(title="Workspace", json_schema_extra={"url": True})
    space: str = PydanticField(title="Space")
    space_homepage: str = PydanticField(title="Space homepage", json_schema_extra={"url": True})
    api_base: str = PydanticField(title="API base address", json_schema_extra={"url": True})
    graphql_explorer: str = PydanticField(title="GraphQL explorer", json_schema_extra={"url": True})

    @classmethod
    def of(cls, workspace: Workspace) -> FiberyFacts:
        base, space = workspace.fibery_url.rstrip("/"), url_segment(workspace.space)
        return cls(
            workspace=base,
            space=workspace.space,
            space_homepage=f"{base}/{space}",
            api_base=f"{base}/api/graphql",
            graphql_explorer=f"{base}/api/graphql/space/{space}",
        )


def card_rows(model: BaseModel) -> list[tuple[str, Any, bool]]:
    """(label, value, is_url) for each field of any pydantic model: the model card's rows."""
    rows = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        is_url = bool(extra.get("url")) and isinstance(value, str) and is_safe_url(value)
        rows.append((info.title or name.replace("_", " ").capitalize(), value, is_url))
    return rows


@dataclass(frozen=True)
class ContentPage:
    """A hand-written Markdown page from ``content/``."""

    slug: str
    title: str
    html: Markup

    @property
    def path(self) -> str:
        return "index.html" if self.slug == "index" else f"{self.slug}.html"

    @property
    def body(self) -> Markup:
        """The page without its first ``<h1>``, for the home page (which has its own)."""
        return Markup(re.sub(r"^\s*<h1[^>]*>.*?</h1>\s*", "", str(self.html), count=1, flags=re.DOTALL))


@dataclass(frozen=True)
class Backlink:
    """``source`` links to an entity through the field titled ``via``."""

    source_id: str
    via: str


@dataclass
class SitePlan:
    """Every decision that does not depend on the page being rendered, made once."""

    workspace: Workspace
    config: SiteConfig
    title: str
    db_paths: dict[str, str]
    entity_paths: dict[str, str]
    backlinks: dict[str, list[Backlink]]
    content_pages: list[ContentPage]
    web_index: dict[tuple[str, str], str] = field(default_factory=dict)
    assets: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    unpublished_links: int = 0

    @property
    def nav(self) -> list[tuple[str, str]]:
        pages = [(p.title, p.path) for p in self.content_pages if p.slug != "index"]
        return [("Home", "index.html"), ("Databases", "databases.html"), *pages]

    def entity_url(self, db: Database, entity: Entity) -> str:
        """The entity's page in Fibery: ``{url}/{Space}/{Database}/{publicId}``."""
        space = url_segment(self.workspace.space)
        return f"{self.workspace.fibery_url.rstrip('/')}/{space}/{db.web_name}/{entity.public_id}"


class PageLinks:
    """``fields.Links`` for one page: resolves entity ids and rewrites rich-text URLs."""

    def __init__(self, plan: SitePlan, prefix: str) -> None:
        self.plan = plan
        self.prefix = prefix
        self._space_base = f"{plan.workspace.fibery_url.rstrip('/')}/{url_segment(plan.workspace.space)}/"

    def entity_link(self, entity_id: str) -> tuple[str, str] | None:
        path = self.plan.entity_paths.get(entity_id)
        if path is None:
            return None
        return path, self.plan.workspace.entities_by_id[entity_id][1].name or "(untitled)"

    def rewrite_url(self, tag: str, attribute: str, url: str) -> str | None:
        if attribute not in ("src", "href"):
            return url
        file_match = _FIBERY_FILE.match(url)
        if file_match:
            asset = self.plan.assets.get(file_match.group(1))
            return f"{self.prefix}{asset[0]}" if asset else None
        if url.startswith(self._space_base):
            return self._entity_url(url)
        return url

    def _entity_url(self, url: str) -> str:
        """Point a Fibery entity URL at the entity's page when it is published."""
        parts = urlsplit(url).path.rstrip("/").split("/")
        match = _TRAILING_PUBLIC_ID.search(parts[-1]) if len(parts) >= 4 else None
        path = self.plan.web_index.get((parts[-2], match.group(1))) if match else None
        if path is None:
            self.plan.unpublished_links += 1
            return url
        return f"{self.prefix}{path}"


# --------------------------------------------------------------------------- planning


def _read_content(content_dir: Path) -> list[ContentPage]:
    """Read ``content/*.md``; each page's title is its first heading."""
    if not content_dir.is_dir():
        return []
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


def _plan_assets(workspace: Workspace) -> dict[str, tuple[str, bytes]]:
    """Content-address the files embedded in the workspace: secret → (path, bytes)."""
    content_types = {
        f["secret"]: f.get("contentType", "")
        for db in workspace.databases
        for fld in db.fields
        if fld.kind is FieldKind.FILES
        for e in db.entities
        for f in e.values.get(fld.key) or []
    }
    assets = {}
    for secret, encoded in sorted(workspace.files.items()):
        data = base64.b64decode(encoded)
        ext = mimetypes.guess_extension(content_types.get(secret) or "") or _sniff_extension(data)
        assets[secret] = (f"assets/files/{hashlib.sha256(data).hexdigest()[:20]}{ext}", data)
    return assets


def _sniff_extension(data: bytes) -> str:
    for magic, ext in ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"), (b"%PDF", ".pdf")):
        if data.startswith(magic):
            return ext
    return ".bin"


def plan_site(workspace: Workspace, config: SiteConfig, *, content_dir: Path) -> SitePlan:
    """Decide paths, navigation and backlinks for the whole site, once."""
    db_slugs = SlugAllocator()
    db_paths, entity_paths, web_index = {}, {}, {}
    for db in workspace.databases:
        slug = db_slugs.allocate(db.title, fallback="database")
        db_paths[db.key] = f"db/{slug}/index.html"
        entity_slugs = SlugAllocator({"index"})
        for entity in db.entities:
            stem = f"{entity.name}-{entity.public_id}" if entity.public_id else entity.name
            path = f"db/{slug}/{entity_slugs.allocate(stem, fallback='entity')}.html"
            entity_paths[entity.id] = path
            web_index[(db.web_name, entity.public_id)] = path
    return SitePlan(
        workspace=workspace,
        config=config,
        title=config.title or workspace.space,
        db_paths=db_paths,
        entity_paths=entity_paths,
        backlinks=_backlinks(workspace),
        content_pages=_read_content(content_dir),
        web_index=web_index,
        assets=_plan_assets(workspace),
    )


def _backlinks(workspace: Workspace) -> dict[str, list[Backlink]]:
    """Invert every relation and collection once: target id → who links to it (O(links))."""
    index: dict[str, list[Backlink]] = {}
    for db in workspace.databases:
        linking = [f for f in db.fields if f.kind.links_entities]
        for entity in db.entities:
            for fld in linking:
                value = entity.values.get(fld.key)
                items = value if isinstance(value, list) else [value] if value else []
                for item in items:
                    index.setdefault(item["id"], []).append(Backlink(entity.id, fld.title))
    return index


# --------------------------------------------------------------------------- templates


def template_dirs(config: SiteConfig, root: Path) -> list[str]:
    """Project templates override the built-in ones, file by file."""
    project = root / config.templates_dir
    builtin = package_files("generator").joinpath("templates")
    dirs = [str(project)] if project.is_dir() else []
    if builtin.is_dir():
        dirs.append(str(builtin))
    # Editable installs and a source checkout keep the templates beside the package.
    dirs.append(str(Path(__file__).resolve().parent.parent / "templates"))
    return dirs


def make_environment(dirs: list[str]) -> jinja2.Environment:
    """One environment per build: templates are compiled once and cached."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dirs),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["card_rows"] = card_rows
    return env


def _read_static(dirs: list[str], name: str) -> bytes:
    for base in dirs:
        path = Path(base) / name
        if path.is_file():
            return path.read_bytes()
    raise RenderError(f"template file {name} not found in {', '.join(dirs)}")


# --------------------------------------------------------------------------- rendering


class SiteRenderer:
    """Render every page of a planned site with one Jinja environment."""

    STATIC_FILES = ("assets/style.css",)

    def __init__(
        self, plan: SitePlan, env: jinja2.Environment, dirs: list[str], renderers: FieldRenderers | None = None
    ) -> None:
        self.plan = plan
        self.env = env
        self.dirs = dirs
        self.renderers = renderers or FieldRenderers()
        self.facts = FiberyFacts.of(plan.workspace)
        self._templates = {
            name: env.get_template(f"{name}.html")
            for name in ("index", "databases", "database", "entity", "page", "404")
        }

    def _render(self, template: str, path: str, title: str, **context: Any) -> bytes:
        prefix = "../" * path.count("/")
        page = {"path": path, "title": title, "prefix": prefix}
        html = self._templates[template].render(site=self.plan, page=page, nav=self.plan.nav, **context)
        return html.encode("utf-8")

    def pages(self) -> Iterator[tuple[str, bytes]]:
        """Yield every file of the site as (path, bytes)."""
        plan = self.plan
        for name in self.STATIC_FILES:
            yield name, _read_static(self.dirs, name)
        for path, data in plan.assets.values():
            yield path, data
        yield from self._home()
        yield (
            "databases.html",
            self._render("databases", "databases.html", "Databases", databases=self._database_rows()),
        )
        for db in plan.workspace.databases:
            yield plan.db_paths[db.key], self._database_page(db)
            for entity in db.entities:
                path = plan.entity_paths[entity.id]
                yield path, self._entity_page(db, entity, path)
        for page in plan.content_pages:
            if page.slug != "index":
                yield page.path, self._render("page", page.path, page.title, content=page)
        yield "404.html", self._render("404", "404.html", "Page not found")
        if plan.config.base_url:
            yield "sitemap.xml", self._sitemap()

    def _database_rows(self) -> list[dict[str, Any]]:
        return [
            {"title": db.title, "path": self.plan.db_paths[db.key], "count": len(db.entities), "fields": len(db.fields)}
            for db in self.plan.workspace.databases
        ]

    def _home(self) -> Iterator[tuple[str, bytes]]:
        intro = next((p for p in self.plan.content_pages if p.slug == "index"), None)
        yield (
            "index.html",
            self._render(
                "index", "index.html", self.plan.title, facts=self.facts, databases=self._database_rows(), intro=intro
            ),
        )

    def _database_page(self, db: Database) -> bytes:
        path = self.plan.db_paths[db.key]
        links = PageLinks(self.plan, "../../")
        columns = [f for f in db.fields if f.kind in SUMMARY_KINDS][:3]
        rows = [
            {
                "name": e.name or "(untitled)",
                "public_id": e.public_id,
                "path": self.plan.entity_paths[e.id],
                "cells": [self.renderers.render(db.key, f, e.values.get(f.key), links) for f in columns],
            }
            for e in db.entities
        ]
        return self._render("database", path, db.title, database=db, columns=columns, rows=rows)

    def _entity_page(self, db: Database, entity: Entity, path: str) -> bytes:
        links = PageLinks(self.plan, "../../")
        values = [(f, self.renderers.render(db.key, f, entity.values.get(f.key), links)) for f in db.fields]
        backlinks = []
        for link in self.plan.backlinks.get(entity.id, ()):
            source = links.entity_link(link.source_id)
            source_db = self.plan.workspace.entities_by_id[link.source_id][0]
            backlinks.append({"target": source, "database": source_db.title, "via": link.via})
        return self._render(
            "entity",
            path,
            entity.name or "(untitled)",
            database=db,
            database_path=self.plan.db_paths[db.key],
            entity=entity,
            values=values,
            backlinks=backlinks,
            fibery_url=self.plan.entity_url(db, entity),
        )

    def _sitemap(self) -> bytes:
        base = (self.plan.config.base_url or "").rstrip("/") + "/"
        paths = ["index.html", "databases.html", *self.plan.db_paths.values(), *self.plan.entity_paths.values()]
        paths += [p.path for p in self.plan.content_pages if p.slug != "index"]
        template = self.env.from_string(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            "{% for p in paths %}<url><loc>{{ base }}{{ p }}</loc></url>\n{% endfor %}</urlset>\n"
        )
        return template.render(base=base, paths=paths).encode("utf-8")
