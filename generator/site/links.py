"""Links in the site's pages: the workspace's own URLs recognised, and rewritten per page.

``FiberyUrls`` recognises Fibery file and entity URLs; ``SiteLinks`` resolves entity ids and
rich-text URLs for the pages of one folder depth, remembering each answer (a site's pages
share most of their links); ``PageLinks`` is what one page's field renderers are handed
(``fields.Links``), and counts the links to unpublished entities that page shows: the page's
own result, returned with it, never a counter on shared state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

from markupsafe import Markup, escape

from .. import content_urls
from ..config import SiteConfig
from ..model import Workspace
from ..naming import name_key
from ..text import MENTION_URL, RichText

FILE_PLACEHOLDER = "assets/file-unavailable.svg"
ENTITY_PREFIX = "../../"
"""From an entity or table page (``db/<database>/<page>.html``) to the site's root."""
_FILE_PATH = re.compile(r"^/api/files/([A-Za-z0-9_-]+)/?$")
_TRAILING_PUBLIC_ID = re.compile(r"(?:^|-)(\d+)$")


@dataclass(frozen=True)
class FiberyUrls:
    """Recognise the workspace's own URLs in content: files and entity pages.

    Entity URLs are ``{url}/{Space}/{Database}/{slug-}{publicId}``; Fibery accepts the
    slug or not (``Potting-soil-mixes-2``, ``2``), any case in the names, a trailing slash,
    and a query (``?sharing-key=…``) or fragment, all of which we accept too. Each answer is
    remembered for the build (pages repeat URLs)."""

    host: str
    space_key: str
    _secrets: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)
    _refs: dict[str, tuple[str, str] | None] = field(default_factory=dict, compare=False, repr=False)

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

    def file_secret(self, url: str) -> str | None:
        """The secret of a Fibery file URL (``/api/files/{secret}``), else None."""
        try:
            return self._secrets[url]
        except KeyError:
            path = self._path(url)
            match = _FILE_PATH.match(path) if path else None
            secret = self._secrets[url] = match.group(1) if match else None
            return secret

    def entity_ref(self, url: str) -> tuple[str, str] | None:
        """(database name key, public id) of a Fibery entity URL of this space, else None.

        Every form seen in real links: ``/Space/Db/12``, ``/Space/Db/Slug-12``, the
        ``/@public/`` prefix of spaces published to the web, and a trailing
        ``/anchor=Heading--uuid`` that points into the entity's text."""
        try:
            return self._refs[url]
        except KeyError:
            ref = self._refs[url] = self._entity_ref(url)
            return ref

    def _entity_ref(self, url: str) -> tuple[str, str] | None:
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
        """The entity id of a mention's placeholder link (``text.MENTION_URL``), else None."""
        return url.removeprefix(MENTION_URL) if url.startswith(MENTION_URL) else None


class LinkTargets(Protocol):
    """What links resolve against: the site plan (``plan.SitePlan``), read only."""

    @property
    def workspace(self) -> Workspace: ...
    @property
    def config(self) -> SiteConfig: ...
    @property
    def entity_paths(self) -> Mapping[str, str]: ...
    @property
    def web_index(self) -> Mapping[tuple[str, str], str]: ...
    @property
    def assets(self) -> Mapping[str, tuple[str, bytes]]: ...
    @property
    def fibery(self) -> FiberyUrls: ...
    @property
    def rich_text(self) -> RichText: ...
    def embed_url(self, url: str) -> str | None: ...


class SiteLinks:
    """Links for the pages of one folder depth: resolves entity ids and rewrites rich-text
    URLs, remembering each answer (a site's pages share most of their links)."""

    def __init__(self, plan: LinkTargets, prefix: str) -> None:
        self.plan = plan
        self.prefix = prefix
        self.rich_text = plan.rich_text
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

    def resolve(self, tag: str, attribute: str, url: str) -> tuple[str | None, bool]:
        """(the URL in the site, whether it links to an unpublished entity): Fibery files →
        the site's copy (a placeholder image, or no link, when missing); Fibery entity URLs →
        the entity's page when published; anything else unchanged."""
        key = (tag, attribute, url)
        if key not in self._urls:
            self._urls[key] = self._content_url(tag, attribute, url)
        return self._urls[key]

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
        fibery = self.plan.fibery
        secret = fibery.file_secret(url)
        if secret is not None:
            asset = self.plan.assets.get(secret)
            if asset:
                return f"{self.prefix}{asset[0]}", False
            return (f"{self.prefix}{FILE_PLACEHOLDER}" if tag == "img" else None), False
        mentioned = fibery.mentioned(url)
        if mentioned is not None:
            path = self.plan.entity_paths.get(mentioned)
            return (f"{self.prefix}{path}", False) if path else (None, True)
        ref = fibery.entity_ref(url)
        if ref is None:
            return url, False
        path = self.plan.web_index.get(ref)
        if path is None:
            return url, True
        return f"{self.prefix}{path}", False

    def embed_url(self, url: str) -> str | None:
        return self.plan.embed_url(url)


class PageLinks:
    """``fields.Links`` for one page: ``SiteLinks``'s answers, and the number of links to
    unpublished entities this page's rich text and files hold (``unpublished``), which the
    page's render returns with its bytes."""

    def __init__(self, site: SiteLinks) -> None:
        self.site = site
        self.prefix = site.prefix
        self.rich_text = site.rich_text
        self.unpublished = 0

    def entity_link(self, entity_id: str) -> tuple[str, str] | None:
        return self.site.entity_link(entity_id)

    def entity_anchor(self, entity_id: str) -> Markup | None:
        return self.site.entity_anchor(entity_id)

    def rewrite_url(self, tag: str, attribute: str, url: str) -> str | None:
        """Rewrite a URL found in rich text (``SiteLinks.resolve``), counting it when it
        links to an unpublished entity."""
        rewritten, unpublished = self.site.resolve(tag, attribute, url)
        self.unpublished += unpublished
        return rewritten

    def embed_url(self, url: str) -> str | None:
        return self.site.embed_url(url)
