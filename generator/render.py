"""Render a ``Workspace`` into the pages of a static site.

``plan_site`` decides once, up front, every page's path (safe unique slugs), the navigation
and the backlinks index, so that rendering a page is a template call and nothing else: no
per-page navigation rebuild, no quadratic backlink lookups, each template compiled once.
``render_site`` then yields ``(path, bytes)`` pairs; writing them is the writer's job.

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
import functools
import hashlib
import html as html_lib
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jinja2
import markdown
from markupsafe import Markup, escape
from pydantic import BaseModel
from pydantic import Field as PydanticField

from . import article, badges, content_urls, diagram, feed
from .config import SiteConfig
from .errors import RenderError
from .fields import (
    EMPTY,
    KIND_LABELS,
    FieldRenderers,
    Renderer,
    format_date,
    format_datetime,
    is_safe_url,
    render_badge,
    render_rich_text,
    state_renderer,
    wrap_url,
)
from .files import FilePolicy, extension_for, sniff_type
from .model import Database, Entity, Field, FieldKind, Workspace, referenced_files
from .naming import SlugAllocator, fibery_web_path, name_key, url_segment
from .text import MENTION_URL, clean_html, description, rich_text_description, rich_text_html

if TYPE_CHECKING:
    from .plugins import ExtraPage

log = logging.getLogger(__name__)

RESERVED_ROOT_NAMES = {"index", "databases", "db", "assets", "404", "sitemap", "status", "search", "pagefind", "feed"}
SUMMARY_KINDS = (FieldKind.STATE, FieldKind.SELECT, FieldKind.DATE, FieldKind.DATETIME, FieldKind.NUMBER)
FACET_KINDS = (FieldKind.STATE, FieldKind.SELECT)
TABLE_PAGE_SIZE = 100
"""Rows per page of an entity table: a 10,000-entity database is 100 small pages, not one 10 MB page."""
FILE_PLACEHOLDER = "assets/file-unavailable.svg"
ENTITY_PREFIX = "../../"
"""From an entity or table page (``db/<database>/<page>.html``) to the site's root."""
_FILE_PATH = re.compile(r"^/api/files/([A-Za-z0-9_-]+)/?$")
_TRAILING_PUBLIC_ID = re.compile(r"(?:^|-)(\d+)$")
_LINK_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')


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
class FiberyUrls:
    """Recognise the workspace's own URLs in content: files and entity pages.

    Entity URLs are ``{url}/{Space}/{Database}/{slug-}{publicId}``; Fibery accepts the
    slug or not (``Potting-soil-mixes-2``, ``2``), any case in the names, a trailing slash,
    and a query (``?sharing-key=…``) or fragment, all of which we accept too."""

    host: str
    space_key: str

    @classmethod
    def of(cls, workspace: Workspace) -> FiberyUrls:
        return cls(urlsplit(workspace.fibery_url).netloc.casefold(), name_key(workspace.space))

    def _path(self, url: str) -> str | None:
        """The path of ``url`` when it is on the workspace's host (or relative), else None."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return None
        if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc.casefold() != self.host):
            return None
        return parts.path

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - a few FiberyUrls per build; pages repeat URLs
    def file_secret(self, url: str) -> str | None:
        """The secret of a Fibery file URL (``/api/files/{secret}``), else None."""
        path = self._path(url)
        match = _FILE_PATH.match(path) if path else None
        return match.group(1) if match else None

    @functools.lru_cache(maxsize=65536)  # noqa: B019
    def entity_ref(self, url: str) -> tuple[str, str] | None:
        """(database name key, public id) of a Fibery entity URL of this space, else None.

        Every form seen in real links: ``/Space/Db/12``, ``/Space/Db/Slug-12``, the
        ``/@public/`` prefix of spaces published to the web, and a trailing
        ``/anchor=Heading--uuid`` that points into the entity's text."""
        path = self._path(url)
        if not path or not urlsplit(url.strip()).netloc:
            return None
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:1] == ["@public"]:
            parts = parts[1:]
        if len(parts) == 4 and parts[3].startswith("anchor="):
            parts = parts[:3]
        if len(parts) != 3 or name_key(parts[0]) != self.space_key:
            return None
        match = _TRAILING_PUBLIC_ID.search(parts[2])
        return (name_key(parts[1]), match.group(1)) if match else None

    @staticmethod
    def mentioned(url: str) -> str | None:
        """The entity id of a mention's placeholder link (``fields.MENTION_URL``), else None."""
        return url.removeprefix(MENTION_URL) if url.startswith(MENTION_URL) else None


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
    db_pages: dict[str, list[str]] = field(default_factory=dict)
    missing_files: dict[str, str] = field(default_factory=dict)
    unpublished_links: int = 0

    def __post_init__(self) -> None:
        self.fibery = FiberyUrls.of(self.workspace)
        self._base_url = self.workspace.fibery_url.rstrip("/")
        self._space_url = f"{self._base_url}/{url_segment(self.workspace.space)}/"

    @property
    def nav(self) -> list[tuple[str, str]]:
        pages = [(p.title, p.path) for p in self.content_pages if p.slug != "index" and p.in_nav]
        return [("Home", "index.html"), ("Databases", "databases.html"), *pages]

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


class PageLinks:
    """``fields.Links`` for the pages of one folder depth: resolves entity ids and rewrites
    rich-text URLs, remembering each answer (a site's pages share most of their links)."""

    def __init__(self, plan: SitePlan, prefix: str) -> None:
        self.plan = plan
        self.prefix = prefix
        self._anchors: dict[str, Markup | None] = {}
        self._urls: dict[tuple[str, str, str], tuple[str | None, bool]] = {}

    def entity_link(self, entity_id: str) -> tuple[str, str] | None:
        path = self.plan.entity_paths.get(entity_id)
        if path is None:
            return None
        return path, self.plan.workspace.entities_by_id[entity_id][1].name or "(untitled)"

    def entity_anchor(self, entity_id: str) -> Markup | None:
        if entity_id not in self._anchors:
            target = self.entity_link(entity_id)
            href, name = (escape(self.prefix + target[0]), escape(target[1])) if target else ("", "")
            self._anchors[entity_id] = Markup(f'<a href="{href}">{name}</a>') if target else None
        return self._anchors[entity_id]

    def rewrite_url(self, tag: str, attribute: str, url: str) -> str | None:
        """Fibery files → the site's copy (a placeholder image, or no link, when missing);
        Fibery entity URLs → the entity's page when published; anything else unchanged.
        Each link to an unpublished entity is counted (``plan.unpublished_links``)."""
        key = (tag, attribute, url)
        if key not in self._urls:
            self._urls[key] = self._content_url(tag, attribute, url)
        rewritten, unpublished = self._urls[key]
        self.plan.unpublished_links += unpublished
        return rewritten

    def _content_url(self, tag: str, attribute: str, url: str) -> tuple[str | None, bool]:
        """``_rewrite`` within the rules of ``content_urls``: relative URLs resolved against
        the workspace (or dropped), external images as kb.toml ``external_images`` says."""
        if attribute not in ("src", "href"):
            return url, False
        resolved = content_urls.resolve(url, self.plan.workspace.fibery_url)
        rewritten, unpublished = self._rewrite(tag, attribute, resolved)
        if tag == "img":
            policy = self.plan.config.external_images
            if policy == "download" and rewritten is not None:
                asset = self.plan.assets.get(content_urls.download_key(rewritten))
                if asset:
                    return f"{self.prefix}{asset[0]}", unpublished
                policy = "link"  # not downloaded (warned): a link, never a hotlink
            rewritten = content_urls.image_policy(rewritten, policy, relative=resolved != url)
        return rewritten, unpublished

    def _rewrite(self, tag: str, attribute: str, url: str) -> tuple[str | None, bool]:
        """(the URL in the site, whether it links to an unpublished entity)."""
        if attribute not in ("src", "href"):
            return url, False
        secret = self.plan.fibery.file_secret(url)
        if secret is not None:
            asset = self.plan.assets.get(secret)
            if asset:
                return f"{self.prefix}{asset[0]}", False
            return (f"{self.prefix}{FILE_PLACEHOLDER}" if tag == "img" else None), False
        mentioned = self.plan.fibery.mentioned(url)
        if mentioned is not None:
            path = self.plan.entity_paths.get(mentioned)
            return (f"{self.prefix}{path}", False) if path else (None, True)
        ref = self.plan.fibery.entity_ref(url)
        if ref is None:
            return url, False
        path = self.plan.web_index.get(ref)
        if path is None:
            return url, True
        return f"{self.prefix}{path}", False

    def embed_url(self, url: str) -> str | None:
        return self.plan.embed_url(url)


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


def _plan_assets(workspace: Workspace, policy: FilePolicy) -> dict[str, tuple[str, bytes]]:
    """Content-address the files embedded in the workspace that the file policy allows:
    secret → (path, bytes). A snapshot is checked like a download: no surprise executable."""
    declared = {
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
    missing = {
        s: "not available" for s in referenced_files(workspace.databases, workspace.fibery_url) if s not in assets
    }
    if missing and config.strict:
        raise RenderError(
            f"{len(missing)} referenced files cannot be published (strict mode): {', '.join(sorted(missing)[:5])}"
        )
    if missing:
        log.warning("%d referenced files are not published: their pages show a placeholder", len(missing))
    return missing


def _add_extra_pages(plan: SitePlan, extra: Sequence[ExtraPage]) -> None:
    """Add plugin pages beside the content pages (unique slugs, in the navigation when asked),
    with Fibery entity URLs in their links pointing at the published pages."""
    slugs = SlugAllocator(RESERVED_ROOT_NAMES | {p.slug for p in plan.content_pages})
    links = PageLinks(plan, "")

    def rewrite(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(2))
        return f'{match.group(1)}="{html_lib.escape(links.rewrite_url("a", match.group(1), url) or url)}"'

    pages = [
        ContentPage(
            slug=slugs.allocate(page.slug, fallback="page"),
            title=page.title,
            html=Markup(_LINK_ATTRIBUTE.sub(rewrite, str(page.html))),
            in_nav=page.nav,
        )
        for page in extra
    ]
    plan.content_pages = [*plan.content_pages, *pages]


def plan_site(
    workspace: Workspace, config: SiteConfig, *, content_dir: Path, extra_pages: Sequence[ExtraPage] = ()
) -> SitePlan:
    """Decide paths, navigation and backlinks for the whole site, once."""
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
        web_index=web_index,
        assets=assets,
        db_pages=db_pages,
        missing_files=_missing_files(workspace, assets, config),
    )
    if extra_pages:
        _add_extra_pages(plan, extra_pages)
    return plan


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


def _escape_text(text: str, /) -> str:
    """markupsafe's escaping of a str, as a str: the fallback for ``_escape_inner``."""
    return str(escape(text))


try:
    from markupsafe._speedups import _escape_inner  # what markupsafe.escape() runs on a str
except ImportError:  # pragma: no cover - markupsafe without its C speedups (or a later one)
    _escape_inner = _escape_text


def escape_output(value: Any) -> str:
    """What ``{{ value }}`` writes into a page: exactly markupsafe's ``escape(value)``, as
    plain text (markup, anything with ``__html__``, as it is; the rest escaped)."""
    if type(value) is str:
        return _escape_inner(value)
    html = getattr(value, "__html__", None)
    return html() if html is not None else _escape_inner(str(value))


class _Template(jinja2.Template):
    """A Jinja template whose ``{{ }}`` write with ``escape_output``. Jinja's autoescaping
    calls markupsafe's ``escape``, which wraps each value in a new ``Markup`` object only
    for it to be joined into the page: about a third of the time of rendering a page.

    Compiled templates call ``escape`` for ``{{ }}`` output only (an expression's own
    escaping, ``~``, ``|e``, macros and ``{% set %}`` blocks keep their ``Markup``)."""

    @classmethod
    def _from_namespace(cls, environment: jinja2.Environment, namespace: Any, *args: Any, **kwargs: Any) -> Any:
        namespace["escape"] = escape_output
        return super()._from_namespace(environment, namespace, *args, **kwargs)


class _Environment(jinja2.Environment):
    """Jinja looking a dict's keys up first: in Jinja's own order ``page.title`` on a dict
    first fails as an attribute (an exception), for most expressions of every page."""

    template_class = _Template

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def make_environment(dirs: list[str]) -> jinja2.Environment:
    """One environment per build: templates are compiled once and cached."""
    env = _Environment(
        loader=jinja2.FileSystemLoader(dirs),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["card_rows"] = card_rows
    env.filters["date"] = time_element
    env.filters["moment"] = moment_element
    env.filters["wrap_url"] = wrap_url
    env.filters["kind_label"] = lambda kind: KIND_LABELS.get(kind, str(kind))
    return env


def time_element(value: str | None) -> Markup:
    """A date or moment as the site shows every date: ``<time datetime="…">2 Mar 2026</time>``
    (every entity page shows one: no ``Markup.format``, and the day's text remembered)."""
    if not value:
        return Markup("")
    return Markup(f'<time datetime="{_escape_inner(value)}">{_day(value[:10])}</time>')


@functools.lru_cache(maxsize=4096)
def _day(value: str) -> str:
    return _escape_inner(format_date(value))


@functools.lru_cache(maxsize=256)
def moment_element(value: str | None) -> Markup:
    """A moment with its time of day: ``<time datetime="…">2 Mar 2026, 09:15 UTC</time>``."""
    if not value:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(value, format_datetime(value))


def _describe_template_error(exc: jinja2.TemplateError) -> str:
    """``macros.html`` line 3: unexpected end of template (one line, no traceback)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.name or exc.filename or 'template'} line {exc.lineno}: {exc.message}"
    return str(exc.message or exc)


def _read_static(dirs: list[str], name: str) -> bytes:
    for base in dirs:
        path = Path(base) / name
        if path.is_file():
            return path.read_bytes()
    raise RenderError(f"template file {name} not found in {', '.join(dirs)}")


# --------------------------------------------------------------------------- rendering


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
        self._links = PageLinks(plan, ENTITY_PREFIX)
        try:
            self._templates = {
                name: env.get_template(f"{name}.html")
                for name in ("index", "databases", "database", "entity", "page", "404", "header", "sidebar")
            }
            self._entity_row = env.get_template("macros.html").module.entity_row  # type: ignore[attr-defined]
        except jinja2.TemplateError as exc:
            raise RenderError(f"template error: {_describe_template_error(exc)}") from None

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
            raise RenderError(f"{path}: template {template}.html: {_describe_template_error(exc)}") from None
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

    def pages(self, keep: Callable[[str], bool] = lambda path: False) -> Iterator[tuple[str, bytes]]:
        """Yield every file of the site as (path, bytes), except the entity pages that
        ``keep(path)`` carries over from the previous site (the render cache knows them).

        ``keep`` is asked in page order, so the new site's files are made in the same order
        whether or not pages were carried over: Pagefind indexes files in the order a folder
        lists them, which some file systems (tmpfs) take from the order they were made.
        An entity page may depend only on what ``keys.entity_keys`` hashes: add any other
        input there."""
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
            yield from self._database_pages(db)
            for entity in db.entities:
                path = plan.entity_paths[entity.id]
                if not keep(path):
                    yield path, self._entity_page(db, entity, path)
        for page in plan.content_pages:
            if page.slug != "index":
                extra = {"description": description(str(page.body)), "kind": "Page"}
                yield page.path, self._render("page", page.path, page.title, content=page, page_extra=extra)
        yield "404.html", self._render("404", "404.html", "Page not found")
        yield feed.FEED_PATH, self._feed()
        if plan.config.base_url:
            yield "sitemap.xml", self._sitemap()

    @functools.cached_property
    def _changes(self) -> list[feed.Change]:
        """The entities modified last, for the home page and ``feed.xml`` (worked out once)."""
        return feed.recent_changes(self.plan.workspace, self.plan.entity_paths, self.plan.entity_url)

    def _feed(self) -> bytes:
        site_id = f"{self.facts.space_homepage}#fibery-kb"
        return feed.atom(self.plan.title, self._changes, base_url=self.plan.config.base_url, site_id=site_id)

    def _database_rows(self) -> list[dict[str, Any]]:
        return [
            {"title": db.title, "path": self.plan.db_paths[db.key], "count": len(db.entities), "fields": len(db.fields)}
            for db in self.plan.workspace.databases
        ]

    def _home(self) -> Iterator[tuple[str, bytes]]:
        intro = next((p for p in self.plan.content_pages if p.slug == "index"), None)
        extra = {"description": description(str(intro.body)) if intro else "", "kind": "Home"}
        yield (
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

    def _table_rows(self, db: Database, columns: list[Field], facets: list[Field]) -> list[Markup]:
        """Each entity's table row, rendered once for its page and for ``rows.js``."""
        links = self._links
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
        return rows

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
        if name_key(self.plan.config.segments_database) not in (name_key(db.title), name_key(db.key)):
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

    def _database_pages(self, db: Database) -> Iterator[tuple[str, bytes]]:
        """The database's table, 100 rows a page, plus ``rows.js`` when there is more than one."""
        paths = self.plan.db_pages[db.key]
        columns = [f for f in db.fields if f.kind in SUMMARY_KINDS][:3]
        facets = [f for f in db.fields if f.kind in FACET_KINDS]
        rows = self._table_rows(db, columns, facets)
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
            yield (
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
            )
        if len(paths) > 1:
            script = "kbTableRows(" + json.dumps([str(r) for r in rows]) + ");\n"
            yield paths[0].rsplit("/", 1)[0] + "/rows.js", script.encode("utf-8")

    def _entity_page(self, db: Database, entity: Entity, path: str) -> bytes:
        links, layout = self._links, self._field_layout(db)
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
        return self._render(
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

    def _description(self, db: Database, entity: Entity, layout: _FieldLayout, htmls: list[Markup]) -> str:
        """The page's summary: the text of its first rich text shown (the built-in renderer's,
        worked out during the fetch; another renderer's, from its HTML)."""
        for index in layout.texts:
            if htmls[index] is EMPTY:
                continue
            if layout.renderers[index] is render_rich_text:
                return rich_text_description(clean_html(rich_text_html(entity.values[db.fields[index].key])))
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
