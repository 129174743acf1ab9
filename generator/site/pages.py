"""Render a planned site (``plan.SitePlan``) into the files of the site, as page jobs.

``SiteRenderer.pages`` yields a ``PageJob`` for every file, in the site's order; the build
runs each job's ``render`` (a ``PageResult``: the bytes, and the number of links to
unpublished entities the page shows) or carries an unchanged entity page over from the
previous site. Nothing is counted on shared state and nothing is written here: what to
keep, render, write and count is the build's decision. What every page at one depth shares
is made once, not per page: the header, each database's field rows, each backlink's list
item and each link.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import jinja2
import msgspec
from markupsafe import Markup, escape

from .. import article, badges, diagram, feed
from ..errors import RenderError
from ..model import Database, Entity, Field, FieldKind, Workspace
from ..naming import fibery_web_path, url_segment
from ..text import description
from .fields import EMPTY, FieldRenderers, Renderer, render_badge, render_rich_text, state_renderer
from .jinja import describe_template_error, escape_output, read_static
from .links import ENTITY_PREFIX, FILE_PLACEHOLDER, PageLinks, SiteLinks
from .plan import TABLE_PAGE_SIZE, Backlink, ContentPage, SitePlan

SUMMARY_KINDS = (FieldKind.STATE, FieldKind.SELECT, FieldKind.DATE, FieldKind.DATETIME, FieldKind.NUMBER)
FACET_KINDS = (FieldKind.STATE, FieldKind.SELECT)


@dataclass(frozen=True, slots=True)
class PageResult:
    """One rendered file: its path, its bytes, and the links to unpublished entities it
    shows (counted on the status page and the build report)."""

    path: str
    data: bytes
    unpublished_links: int = 0


@dataclass(frozen=True, slots=True)
class PageJob:
    """One file of the site, to render (``render()``) or, for a file with a render key
    (``keyed``: an entity page, ``keys.entity_keys``; a database's table pages and rows,
    ``keys.table_keys``), to carry over unchanged when its key is."""

    path: str
    render: Callable[[], PageResult]
    keyed: bool = False


def _done(result: PageResult) -> PageJob:
    """A job whose page is already made (it shares its work with the pages around it)."""
    return PageJob(result.path, lambda: result)


class FiberyFacts(msgspec.Struct, kw_only=True):
    """The Fibery facts shown on the home page's model card (labels and links as in
    ``status.BuildFacts``)."""

    workspace: Annotated[str, msgspec.Meta(title="Workspace", extra={"url": True})]
    space: Annotated[str, msgspec.Meta(title="Space")]
    space_homepage: Annotated[str, msgspec.Meta(title="Space homepage", extra={"url": True})]
    api_base: Annotated[str, msgspec.Meta(title="API base address", extra={"url": True})]
    graphql_explorer: Annotated[str, msgspec.Meta(title="GraphQL explorer", extra={"url": True})]

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


def sort_key(fld: Field, value: Any) -> str:
    """What a table column sorts by: numbers as numbers, dates as ISO text, names folded."""
    if value is None or value == "":
        return ""
    if fld.kind is FieldKind.NUMBER:
        return repr(value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("start") or "").casefold()
    return str(value).casefold() if fld.kind not in (FieldKind.DATE, FieldKind.DATETIME) else str(value)


def pager(paths: list[str], current: int) -> list[dict[str, Any] | None]:
    """Numbered links for a table's pages: first, last and two either side of the current
    one, with gaps (``None``) between, so 100 pages are not 100 links."""
    shown = {0, len(paths) - 1, *range(current - 2, current + 3)}
    items: list[dict[str, Any] | None] = []
    for index, path in enumerate(paths):
        if index in shown:
            items.append({"number": index + 1, "path": path.rsplit("/", 1)[1], "current": index == current})
        elif items and items[-1] is not None:
            items.append(None)
    return items


@dataclass(frozen=True)
class _FieldLayout:
    """The fields of one database's entity pages: where each goes (``article``: properties
    card rows with a ``{}`` for the value, titles escaped once; the texts), renderers,
    (kind, title), and which are rich text (the page's description)."""

    article: article.ArticleLayout
    renderers: list[Renderer]
    labels: list[tuple[str, str]]
    texts: list[int]


def _format_text(text: str) -> str:
    """``text`` escaped for HTML, as literal text of a ``str.format`` pattern."""
    return escape_output(text).replace("{", "{{").replace("}", "}}")


def _markup(html: Any) -> Markup:
    """A renderer's result as markup: a plugin's plain text is escaped, as Jinja would."""
    return html if isinstance(html, Markup) else escape(html)


class SiteRenderer:
    """Render every page of a planned site with one Jinja environment."""

    STATIC_FILES = (
        "assets/style.css",
        "assets/theme.js",
        "assets/search.js",
        "assets/table.js",
        "assets/favicon.svg",
        FILE_PLACEHOLDER,
    )

    def __init__(
        self, plan: SitePlan, env: jinja2.Environment, dirs: list[str], renderers: FieldRenderers | None = None
    ) -> None:
        self.plan = plan
        self.env = env
        self.dirs = dirs
        self.renderers = renderers or FieldRenderers()
        self.facts = FiberyFacts.of(plan.workspace)
        self._nav = plan.nav
        self._nav_paths = {path for _, path in self._nav}
        self._db_nav = [(db.title, plan.db_paths[db.key]) for db in plan.workspace.databases]
        self._nav_paths |= {path for _, path in self._db_nav}
        self._headers: dict[tuple[str, str, bool], tuple[Markup, Markup]] = {}
        self._layouts: dict[str, _FieldLayout] = {}
        self._state_renderers: dict[tuple[str, str], Renderer] = {}
        self._backlinks: dict[Backlink, tuple[tuple[Markup | None, str, str], str]] = {}
        self._links = SiteLinks(plan, ENTITY_PREFIX)
        try:
            self._templates = {
                name: env.get_template(f"{name}.html")
                for name in ("index", "databases", "database", "entity", "page", "404", "header", "sidebar")
            }
            self._entity_row = env.get_template("macros.html").module.entity_row  # type: ignore[attr-defined]
        except jinja2.TemplateError as exc:
            raise RenderError(f"template error: {describe_template_error(exc)}") from None

    def _render(self, template: str, path: str, title: str, *, section: str = "", **context: Any) -> bytes:
        """``section``: the navigation's entry this page belongs to (an entity's database)."""
        prefix = "../" * path.count("/")
        page = {"path": path, "title": title, "prefix": prefix, "description": "", "type": "website", "kind": ""}
        page.update(context.pop("page_extra", {}))
        try:
            current = path if path in self._nav_paths else section
            header, nav_lists = self._header(prefix, current, current == path)
            html = self._templates[template].render(
                site=self.plan, page=page, nav=self._nav, header=header, nav_lists=nav_lists, **context
            )
        except jinja2.TemplateError as exc:
            raise RenderError(f"{path}: template {template}.html: {describe_template_error(exc)}") from None
        return html.encode("utf-8")

    def _header(self, prefix: str, current: str, is_current: bool) -> tuple[Markup, Markup]:
        """The header and navigation lists of every page at this depth in the same section
        (the navigation's own pages mark themselves current, an entity page its database):
        rendered once each, not once per page."""
        key = (prefix, current, is_current)
        if key not in self._headers:
            page = {"prefix": prefix, "path": current if is_current else ""}
            lists = Markup(
                self._templates["sidebar"].render(
                    site=self.plan, page=page, nav=self._nav, databases=self._db_nav, current=current
                )
            )
            header = self._templates["header"].render(site=self.plan, page=page, nav=self._nav, nav_lists=lists)
            self._headers[key] = (Markup(header), lists)
        return self._headers[key]

    def _renderer(self, db: Database, fld: Field) -> Renderer:
        """The field's renderer; the built-in one of a workflow state colours each state."""
        renderer = self.renderers.renderer(db.key, fld)
        if fld.kind is FieldKind.STATE and renderer is render_badge:
            key = (db.key, fld.key)
            if key not in self._state_renderers:
                self._state_renderers[key] = state_renderer(badges.state_tones(fld, db.entities))
            renderer = self._state_renderers[key]
        return renderer

    def render_page(self, template: str, path: str, title: str, **context: Any) -> bytes:
        """Render one more page with the site's layout, from ``<template>.html`` (used by
        build.py for ``status.html``, which needs the finished build's report)."""
        if template not in self._templates:
            self._templates[template] = self.env.get_template(f"{template}.html")
        return self._render(template, path, title, **context)

    def pages(self) -> Iterator[PageJob]:
        """A job for every file of the site, in the site's order: the build renders each, or
        carries an unchanged entity page over from the previous site.

        The build takes the jobs in this order whether or not it carries pages over, so the
        new site's files are made in the same order: Pagefind indexes files in the order a
        folder lists them, which some file systems (tmpfs) take from the order they were
        made. An entity page may depend only on what ``keys.entity_keys`` hashes: add any
        other input there."""
        plan = self.plan
        for name in self.STATIC_FILES:
            yield _done(PageResult(name, read_static(self.dirs, name)))
        for path, data in plan.assets.values():
            yield _done(PageResult(path, data))
        yield PageJob("index.html", self._home)
        yield PageJob("databases.html", self._databases)
        for db in plan.workspace.databases:
            yield from self._database_jobs(db)
            for entity in db.entities:
                path = plan.entity_paths[entity.id]
                yield PageJob(path, functools.partial(self._entity_page, db, entity, path), keyed=True)
        for page in plan.content_pages:
            if page.slug != "index":
                yield PageJob(page.path, functools.partial(self._content_page, page))
        yield PageJob("404.html", lambda: PageResult("404.html", self._render("404", "404.html", "Page not found")))
        yield PageJob(feed.FEED_PATH, lambda: PageResult(feed.FEED_PATH, self._feed()))
        if plan.config.base_url:
            yield PageJob("sitemap.xml", lambda: PageResult("sitemap.xml", self._sitemap()))

    def _content_page(self, page: ContentPage) -> PageResult:
        extra = {"description": description(str(page.body)), "kind": "Page"}
        return PageResult(page.path, self._render("page", page.path, page.title, content=page, page_extra=extra))

    def _databases(self) -> PageResult:
        rows = self._database_rows()
        return PageResult("databases.html", self._render("databases", "databases.html", "Databases", databases=rows))

    @functools.cached_property
    def _changes(self) -> list[feed.Change]:
        """The entities modified last, for the home page and ``feed.xml`` (worked out once)."""
        plan = self.plan
        return feed.recent_changes(plan.workspace, plan.entity_paths, plan.entity_url, rich_text=plan.rich_text)

    def _feed(self) -> bytes:
        site_id = f"{self.facts.space_homepage}#fibery-kb"
        return feed.atom(self.plan.title, self._changes, base_url=self.plan.config.base_url, site_id=site_id)

    def _database_rows(self) -> list[dict[str, Any]]:
        return [
            {"title": db.title, "path": self.plan.db_paths[db.key], "count": len(db.entities), "fields": len(db.fields)}
            for db in self.plan.workspace.databases
        ]

    def _home(self) -> PageResult:
        intro = next((p for p in self.plan.content_pages if p.slug == "index"), None)
        extra = {"description": description(str(intro.body)) if intro else "", "kind": "Home"}
        return PageResult(
            "index.html",
            self._render(
                "index",
                "index.html",
                self.plan.title,
                facts=self.facts,
                databases=self._database_rows(),
                intro=intro,
                recent=self._changes[: feed.HOME_SIZE],
                page_extra=extra,
            ),
        )

    def _table_rows(self, db: Database, columns: list[Field], facets: list[Field]) -> tuple[list[Markup], int]:
        """Each entity's table row, rendered once for its pages and for ``rows.js``, and the
        links to unpublished entities the rows show."""
        links = PageLinks(self._links)
        renderers = [self._renderer(db, f) for f in columns]
        rows = []
        for e in db.entities:
            name, values = e.name or "(untitled)", e.values
            row = {
                "name": name,
                "sort_name": name.lower(),
                "public_id": e.public_id,
                "path": self.plan.entity_paths[e.id],
                "cells": [
                    (render(f, values.get(f.key), links), sort_key(f, values.get(f.key)))
                    for f, render in zip(columns, renderers, strict=True)
                ],
                "facets": [(i, (values.get(f.key) or {}).get("name") or "") for i, f in enumerate(facets)],
            }
            rows.append(self._entity_row(row, ENTITY_PREFIX))
        return rows, links.unpublished

    def _facets(self, db: Database, facets: list[Field]) -> list[dict[str, Any]]:
        """Each facet's values with their counts, over the whole database."""
        result = []
        for index, fld in enumerate(facets):
            counts = Counter((e.values.get(fld.key) or {}).get("name") or "" for e in db.entities)
            options = sorted(counts.items(), key=lambda item: (item[0] == "", item[0].casefold()))
            result.append({"index": index, "title": fld.title, "options": options})
        return result

    def _diagram(self, db: Database) -> Markup:
        """The process diagram of the segments database (``segments_database``), else ""."""
        if not db.is_named(self.plan.config.segments_database):
            return Markup("")
        return diagram.process_diagram(db, self.plan.entity_paths, ENTITY_PREFIX)

    def _database_url(self, db: Database) -> str:
        """The database in Fibery: its entity pages' address (``SitePlan.entity_url``) without
        the entity."""
        if db.rest_name:
            return f"{self.plan.workspace.fibery_url.rstrip('/')}/{fibery_web_path(db.rest_name)}"
        return f"{self.plan.workspace.fibery_url.rstrip('/')}/{url_segment(self.plan.workspace.space)}/{db.web_name}"

    def _dashboards(self, db: Database) -> list[dict[str, str]]:
        """The Superset dashboards the database's URL fields point at, listed on its page."""
        if not self.plan.config.superset_url:
            return []
        url_fields = [f for f in db.fields if f.kind is FieldKind.URL]
        return [
            {"name": e.name or "(untitled)", "path": self.plan.entity_paths[e.id], "url": str(e.values[f.key]).strip()}
            for e in db.entities
            for f in url_fields
            if e.values.get(f.key) and self.plan.embed_url(str(e.values[f.key]))
        ]

    def _database_jobs(self, db: Database) -> Iterator[PageJob]:
        """A job for each file of the database's table (``_database_pages``, which makes the
        rows once for all of them: only when the build runs one of the jobs, not when it
        carries them all over, ``keys.table_keys``). The build runs the jobs in order, so
        the pages made on the way to the one asked for are those it carried over."""
        pages: Iterator[PageResult] | None = None

        def render(path: str) -> PageResult:
            nonlocal pages
            pages = self._database_pages(db) if pages is None else pages
            for page in pages:
                if page.path == path:
                    return page
            raise RenderError(f"no such page of {db.title}: {path}")

        for path in self.plan.table_files(db.key):
            yield PageJob(path, functools.partial(render, path), keyed=True)

    def _database_pages(self, db: Database) -> Iterator[PageResult]:
        """The database's table, 100 rows a page, plus ``rows.js`` when there is more than one
        (the rows' links to unpublished entities are counted on its first page)."""
        paths = self.plan.db_pages[db.key]
        columns = [f for f in db.fields if f.kind in SUMMARY_KINDS][:3]
        facets = [f for f in db.fields if f.kind in FACET_KINDS]
        rows, unpublished = self._table_rows(db, columns, facets)
        context: dict[str, Any] = {
            "database": db,
            "columns": columns,
            "total": len(rows),
            "facets": self._facets(db, facets) if rows else [],
            "dashboards": self._dashboards(db),
            "rows_script": "rows.js" if len(paths) > 1 else None,
            "diagram": self._diagram(db),
            "fibery_url": self._database_url(db),
        }
        for index, path in enumerate(paths):
            start = index * TABLE_PAGE_SIZE
            title = db.title if index == 0 else f"{db.title} (page {index + 1} of {len(paths)})"
            yield PageResult(
                path,
                self._render(
                    "database",
                    path,
                    title,
                    page_extra={"kind": "Database", "description": f"{db.title}: {len(rows)} items"},
                    rows=rows[start : start + TABLE_PAGE_SIZE],
                    first=start + 1,
                    page_number=index + 1,
                    pages=pager(paths, index) if len(paths) > 1 else [],
                    previous=paths[index - 1].rsplit("/", 1)[1] if index else None,
                    next=paths[index + 1].rsplit("/", 1)[1] if index + 1 < len(paths) else None,
                    **context,
                ),
                unpublished if index == 0 else 0,
            )
        if len(paths) > 1:
            script = "kbTableRows(" + json.dumps([str(r) for r in rows]) + ");\n"
            yield PageResult(self.plan.table_files(db.key)[-1], script.encode("utf-8"))

    def _entity_page(self, db: Database, entity: Entity, path: str) -> PageResult:
        links, layout = PageLinks(self._links), self._field_layout(db)
        get = entity.values.get
        htmls = [_markup(render(f, get(f.key), links)) for f, render in zip(db.fields, layout.renderers, strict=True)]
        values = [(kind, title, html) for (kind, title), html in zip(layout.labels, htmls, strict=True)]
        props = layout.article.props(htmls)
        text, extra_texts = layout.article.texts(htmls)
        toc = Markup("")
        if text is not None:
            text, toc = article.outline(text)
        shown = [self._backlink(link) for link in self.plan.backlinks.get(entity.id, ())]
        database_path = self.plan.db_paths[db.key]
        data = self._render(
            "entity",
            path,
            entity.name or "(untitled)",
            section=database_path,
            database=db,
            database_path=database_path,
            entity=entity,
            values=values,
            fields=props,
            props=props,
            text=text,
            text_title=db.fields[main].title if text is not None and (main := layout.article.main) is not None else "",
            toc=toc,
            extra_texts=extra_texts,
            backlinks=[backlink for backlink, _ in shown],
            backlink_items=Markup("\n".join([item for _, item in shown])),
            fibery_url=self.plan.entity_url(db, entity),
            page_extra={
                "description": self._description(db, entity, layout, htmls),
                "type": "article",
                "kind": db.title,
            },
        )
        rich_text = self.plan.rich_text
        for index in layout.texts:  # what was prepared for the page's texts is used up (issue 18)
            if value := get(db.fields[index].key):
                rich_text.forget_value(value)
        return PageResult(path, data, links.unpublished)

    def _description(self, db: Database, entity: Entity, layout: _FieldLayout, htmls: list[Markup]) -> str:
        """The page's summary: the text of its first rich text shown (the built-in renderer's,
        worked out during the fetch; another renderer's, from its HTML)."""
        for index in layout.texts:
            if htmls[index] is EMPTY:
                continue
            if layout.renderers[index] is render_rich_text:
                rich_text = self.plan.rich_text
                return rich_text.description(rich_text.value(entity.values[db.fields[index].key]))
            return description(htmls[index])
        return ""

    def _backlink(self, link: Backlink) -> tuple[tuple[Markup | None, str, str], str]:
        """A backlink as the template's (anchor, database, field) and as its list item, made
        once: a source linking to several entities is listed on each of their pages."""
        if link not in self._backlinks:
            anchor = self._links.entity_anchor(link.source_id)
            database = self.plan.workspace.entities_by_id[link.source_id][0].title
            shown = anchor or '<span class="unpublished">(not published)</span>'
            item = f'    <li>{shown} <span class="via">{escape(database)} · {escape(link.via)}</span></li>'
            self._backlinks[link] = ((anchor, database, link.via), item)
        return self._backlinks[link]

    def _field_layout(self, db: Database) -> _FieldLayout:
        """What the database's entity pages share, worked out once."""
        if db.key not in self._layouts:
            labels = [(f.kind.value, f.title) for f in db.fields]
            self._layouts[db.key] = _FieldLayout(
                article=article.ArticleLayout.of(db.fields, _format_text),
                renderers=[self._renderer(db, f) for f in db.fields],
                labels=labels,
                texts=[i for i, f in enumerate(db.fields) if f.kind is FieldKind.RICH_TEXT],
            )
        return self._layouts[db.key]

    def _sitemap(self) -> bytes:
        base = (self.plan.config.base_url or "").rstrip("/") + "/"
        pages = [p for paths in self.plan.db_pages.values() for p in paths]
        paths = ["index.html", "databases.html", *pages, *self.plan.entity_paths.values()]
        paths += [p.path for p in self.plan.content_pages if p.slug != "index"]
        template = self.env.from_string(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
            "{% for p in paths %}<url><loc>{{ base }}{{ p }}</loc></url>\n{% endfor %}</urlset>\n"
        )
        return template.render(base=base, paths=paths).encode("utf-8")
