"""The render keys: what each page depends on, so that a rebuild renders again only the
pages whose inputs changed (the render cache, ``state.RenderState``, records them). They
live beside what renders those pages: add here any input a page gains.

A page is rendered again only when its key changed. Every key starts from
the *global key*: the generator's code, every template file, ``kb.toml``, the field
renderers in force and whether Pagefind is there. The *site key* adds the content pages and
every entity's digest: when it and the output folder are unchanged, nothing is rendered and
nothing written. An entity page's key adds the entity, the digests and paths of the
entities it links to and of those linking to it, the databases (titles, fields, paths), the
colours of its database's workflow states (``badges.py``: they depend on every state in use)
and what each URL in its rich text and files resolves to. A database's table (its pages and
``rows.js``) has one key: the database's entities' paths and digests, in order
(``table_keys``). Other pages (home, content pages, sitemap, search index) are rendered
whenever the site key changed and written only when their bytes did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from .. import __version__, badges
from ..config import SiteConfig
from ..model import Database, FieldKind, Workspace
from .fields import FieldRenderers
from .links import ENTITY_PREFIX, SiteLinks
from .state import RENDER_CACHE_VERSION

if TYPE_CHECKING:
    from .plan import ExtraPage, SitePlan


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _settings(config: SiteConfig) -> bytes:
    """``kb.toml``'s settings as JSON, but for ``cache_dir``: where the cache lives changes
    no page, and a build with another cache folder may carry the same pages over."""
    settings = msgspec.structs.asdict(config)
    del settings["cache_dir"]
    return msgspec.json.encode(settings)


def _schema(db: Database) -> bytes:
    """The database without its entities (names, fields), as JSON."""
    return msgspec.json.encode(msgspec.structs.replace(db, entities=[]))


def _files_under(folder: Path) -> Iterable[tuple[str, bytes]]:
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            yield path.relative_to(folder).as_posix(), path.read_bytes()


def global_key(config: SiteConfig, dirs: list[str], renderers: FieldRenderers, *, pagefind: bool) -> str:
    """What every page depends on besides the workspace: code, templates, settings, and
    ``pagefind``: whether the search index will be made (the pages link to it then)."""
    digest = hashlib.sha256(f"{RENDER_CACHE_VERSION}\0{__version__}\0".encode())
    for name, data in _files_under(Path(__file__).parent.parent):
        if name.endswith(".py"):  # subpackages too (fibery/, site/)
            digest.update(f"{name}\0{_digest(data)}\0".encode())
    for base in dirs:
        for name, data in _files_under(Path(base)):
            digest.update(f"{base}/{name}\0{_digest(data)}\0".encode())
    digest.update(_settings(config))
    functions = [*sorted(renderers.by_kind.items()), *sorted(renderers.by_field.items())]
    for key, function in functions:
        digest.update(f"{key}={function.__module__}.{function.__qualname__}\0".encode())
    digest.update(b"pagefind" if pagefind else b"-")
    return digest.hexdigest()


def content_digest(content_dir: Path) -> str:
    """The files of ``content_dir`` (the Markdown pages), as one digest."""
    digest = hashlib.sha256()
    for name, data in _files_under(content_dir):
        digest.update(f"{name}\0{_digest(data)}\0".encode())
    return digest.hexdigest()


def entity_digests(workspace: Workspace) -> dict[str, bytes]:
    """Each entity's digest (its id, name, dates and every value)."""
    return {
        e.id: hashlib.sha256(msgspec.json.encode(e)).digest()[:16] for db in workspace.databases for e in db.entities
    }


def site_key(
    base: str,
    workspace: Workspace,
    digests: dict[str, bytes],
    content_dir: Path,
    extra_pages: Iterable[ExtraPage] = (),
) -> str:
    """The whole site's key: equal keys give byte-identical sites (plugin pages included)."""
    digest = hashlib.sha256(base.encode())
    for page in extra_pages:
        digest.update(f"{page.slug}\0{page.title}\0{page.nav}\0{_digest(str(page.html).encode())}\0".encode())
    digest.update(f"{workspace.fibery_url}\0{workspace.space}\0".encode())
    for name, data in _files_under(content_dir):
        digest.update(f"{name}\0{_digest(data)}\0".encode())
    for db in workspace.databases:
        digest.update(_schema(db))
        for entity in db.entities:
            digest.update(digests[entity.id])
    for secret, content in sorted(workspace.files.items()):
        digest.update(f"{secret}\0{_digest(content.encode())}\0".encode())
    return digest.hexdigest()


def _pages_start(plan: SitePlan, base: str) -> hashlib._Hash:
    """What every keyed page depends on: the global key, the site's title and navigation,
    the paths of the databases' tables, and the databases (titles, fields)."""
    start = hashlib.sha256(base.encode())
    start.update(json.dumps([plan.title, plan.nav, plan.db_paths, plan.db_pages]).encode())
    for db in plan.workspace.databases:
        start.update(_schema(db))
    return start


def _tones(db: Database) -> bytes:
    """The colours of the database's workflow states (they depend on every state in use)."""
    return json.dumps([badges.state_tones(f, db.entities) for f in db.fields_of(FieldKind.STATE)]).encode()


def table_keys(plan: SitePlan, base: str, digests: dict[str, bytes]) -> dict[str, str]:
    """The key of each file of each database's table (its pages and ``rows.js``), by path.

    A row shows an entity's name, public id, path and summary values (workflow states,
    selects, dates, numbers: never a link to another entity), and the table its facets,
    dashboards and process diagram, all from the database's entities, and the database's
    address in Fibery: the key is the database's entities' paths and digests, in order, its
    state colours and the workspace's address, beside what every keyed page depends on."""
    workspace, paths = plan.workspace, plan.entity_paths
    start = _pages_start(plan, base)
    start.update(f"table\0{workspace.fibery_url}\0{workspace.space}\0".encode())
    keys: dict[str, str] = {}
    for db in workspace.databases:
        digest = start.copy()
        digest.update(f"{db.key}\0".encode() + _tones(db))
        for entity in db.entities:
            digest.update(f"\0{paths[entity.id]}\0".encode() + digests[entity.id])
        key = digest.hexdigest()[:32]
        keys.update((path, key) for path in plan.table_files(db.key))
    return keys


TextLinks = tuple[str, list[tuple[str, str, str]]]
"""One entity's rich-text links as the render cache keeps them: (the entity's digest, in hex;
the (tag, attribute, URL) of each link of its rich texts, in field order)."""


def text_links(
    plan: SitePlan, digests: dict[str, bytes], known: Mapping[str, TextLinks] | None = None
) -> dict[str, TextLinks]:
    """The links of each entity's rich text, by entity id (entities without rich text have
    none). Finding them means cleaning the text (nh3: most of the keys' cost), so an entity
    whose digest is the one in ``known`` (the previous build's, made by the same code and
    settings: the caller's to check) keeps the links found then."""
    known = known or {}
    rich_text, found = plan.rich_text, {}
    for db in plan.workspace.databases:
        texts = [f.key for f in db.fields_of(FieldKind.RICH_TEXT)]
        for entity in db.entities if texts else ():
            digest = digests[entity.id].hex()
            before = known.get(entity.id)
            if before is not None and before[0] == digest:
                found[entity.id] = before
                continue
            urls = []
            for key in texts:
                value = entity.values.get(key)
                for tag, attribute, url, _, _ in rich_text.links(rich_text.value(value)) if value else ():
                    urls.append((tag, attribute, url))
            found[entity.id] = (digest, urls)
    return found


def entity_keys(
    plan: SitePlan, base: str, digests: dict[str, bytes], texts: Mapping[str, TextLinks] | None = None
) -> dict[str, str]:
    """Each entity page's key (see the module docstring), by page path; ``texts`` are the
    entities' rich-text links (``text_links``), found here when not given."""
    workspace, paths, backlinks = plan.workspace, plan.entity_paths, plan.backlinks
    texts = text_links(plan, digests) if texts is None else texts
    start = _pages_start(plan, base)
    links = SiteLinks(plan, ENTITY_PREFIX)  # remembers each URL it resolved, like the renderer's
    # Each entity as a link target: its id, path and digest (any other id: unpublished).
    linked = {entity_id: f"{entity_id}\0{path}\0".encode() + digests[entity_id] for entity_id, path in paths.items()}
    keys: dict[str, str] = {}
    no_links: TextLinks = ("", [])
    for db in workspace.databases:
        linking = [f.key for f in db.linking_fields]
        files = [f.key for f in db.fields_of(FieldKind.FILES)]
        tones = _tones(db)
        for entity in db.entities:
            path, values = paths[entity.id], entity.values
            parts = [path.encode(), digests[entity.id], tones]
            for key in linking:
                for target in entity.related_ids(key):
                    parts.append(linked.get(target) or f"{target}\0\0-".encode())
            for backlink in backlinks.get(entity.id, ()):
                parts.append(linked[backlink.source_id] + f"\0{backlink.via}".encode())
            for tag, attribute, url in texts.get(entity.id, no_links)[1]:
                parts.append(f"{url}\0{links.resolve(tag, attribute, url)[0]}".encode())
            for key in files:
                for item in values.get(key) or []:
                    href = links.resolve("a", "href", f"/api/files/{item.get('secret', '')}")[0]
                    parts.append(f"{href}".encode())
            digest = start.copy()
            digest.update(b"\0".join(parts))
            keys[path] = digest.hexdigest()[:32]
    return keys
