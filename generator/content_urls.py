"""What a URL in Fibery content may become on the site: the rules that keep a page from
leading nowhere or calling a third-party host on its readers' behalf.

* A **relative URL** (``<img src=x>``, ``<a href="Space/Db/1">``) means nothing on the site:
  it is resolved against the Fibery workspace, then rewritten like any other (a Fibery file
  or entity becomes the site's). A link left pointing at Fibery stays; an image that is not
  a file the site has is dropped with a warning (Fibery's own images need the token).
* An **external image** (``https://…`` or ``//host/…`` on another host) is what kb.toml's
  ``external_images`` says: ``link`` (default: the image becomes a link to it, so no reader's
  browser asks that host for anything unless the reader clicks), ``download`` (copied into
  the site at build time, ``external_images.py``; a link when that fails), ``drop`` (removed,
  with a warning) or ``hotlink`` (kept as an image, the owner's choice).

The renderer (``site.links.SiteLinks``) asks ``resolve`` before its own rewriting and
``image_policy`` after it; ``fields.rewrite_links`` turns an ``AsLink`` into an ``<a>``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Literal
from urllib.parse import urljoin, urlsplit

log = logging.getLogger(__name__)

ExternalImages = Literal["link", "download", "drop", "hotlink"]


class AsLink(str):
    """A rewritten ``img src`` meaning: replace the image by a link to this URL."""

    __slots__ = ()


def is_relative(url: str) -> bool:
    """Whether ``url`` has neither a scheme nor a host (``x.png``, ``/a/b``), and is not an
    in-page anchor (``#part``) or empty."""
    url = url.strip()
    if not url or url.startswith("#"):
        return False
    parts = urlsplit(url)
    return not parts.scheme and not url.startswith("//")


def resolve(url: str, fibery_url: str) -> str:
    """A relative content URL made absolute against the workspace (``/api/files/…``,
    ``Space/Db/1``: then the renderer can tell a Fibery file or entity); others as they are."""
    return urljoin(fibery_url.rstrip("/") + "/", url.strip()) if is_relative(url) else url


def is_external(url: str) -> bool:
    """Whether a (rewritten) URL points at another host: ``http(s)://…`` or ``//…``."""
    url = url.strip()
    return url.startswith("//") or urlsplit(url).scheme.lower() in ("http", "https")


def download_key(url: str) -> str:
    """The key of a downloaded external image among the workspace's files."""
    return "external-" + hashlib.sha256(url.strip().encode()).hexdigest()[:40]


def image_policy(url: str | None, policy: ExternalImages, *, relative: bool = False) -> str | None:
    """What an image's rewritten ``src`` becomes under ``external_images``; an image whose
    URL was ``relative`` and is still not the site's is dropped, with a warning."""
    if url is None or not is_external(url):
        return url
    if relative:
        log.warning("image %s dropped: its relative URL is not a file the site has", url)
        return None
    if policy == "hotlink":
        return url
    if policy == "drop":
        log.warning('external image %s dropped (kb.toml external_images = "drop")', url)
        return None
    return AsLink(url)
