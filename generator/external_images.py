"""``external_images = "download"``: copy the images Fibery content shows from other hosts
into the site, so that readers' browsers ask only the site for them.

Each image is fetched once per build (without the Fibery token: it is not Fibery's), within
the file policy (``max_file_size``, ``file_types``: an HTML page or an executable behind an
image URL is refused), and kept in the download cache under ``<cache_dir>/files/external``.
A downloaded image joins the workspace's files under ``content_urls.download_key(url)``, so
it is published content-addressed like a Fibery file. One that cannot be downloaded is a
warning, and the page shows a link to it instead (as with ``"link"``).
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import httpx

from .config import SiteConfig
from .content_urls import download_key, is_external, is_relative
from .files import FileCache, FilePolicy
from .model import FieldKind, Workspace
from .text import RichText

log = logging.getLogger(__name__)


def external_image_urls(workspace: Workspace, rich_text: RichText) -> list[str]:
    """Every external image URL of the workspace's rich text, once, in a stable order."""
    found: set[str] = set()
    for db in workspace.databases:
        texts = [f.key for f in db.fields if f.kind is FieldKind.RICH_TEXT]
        for entity in db.entities:
            for key in texts:
                value = entity.values.get(key)
                for tag, _, url, _, _ in rich_text.links(rich_text.value(value)) if value else ():
                    if tag == "img" and not is_relative(url) and is_external(url):
                        found.add(url.strip())
    return sorted(found)


def download_external_images(
    workspace: Workspace, config: SiteConfig, cache_folder: Path | None, rich_text: RichText
) -> int:
    """Add each external image that may be published to ``workspace.files``; return how many."""
    policy = FilePolicy.from_config(config)
    cache = FileCache(cache_folder) if cache_folder is not None else None
    added = 0
    with httpx.Client(timeout=config.timeout, follow_redirects=True) as http:
        for url in external_image_urls(workspace, rich_text):
            key = download_key(url)
            data = _cached_or_fetched(http, url, key, cache, policy)
            if data is not None:
                workspace.files[key] = base64.b64encode(data).decode("ascii")
                added += 1
    return added


def _cached_or_fetched(
    http: httpx.Client, url: str, key: str, cache: FileCache | None, policy: FilePolicy
) -> bytes | None:
    cached = cache.get(key) if cache else None
    if cached is not None:
        return cached[0]
    try:
        data, content_type = _fetch(http, f"https:{url}" if url.startswith("//") else url, policy.max_size)
    except (httpx.HTTPError, _Refused) as exc:
        log.warning("external image %s not downloaded (%s): shown as a link", url, exc or type(exc).__name__)
        return None
    reason = policy.refusal(data, content_type)
    if reason:
        log.warning("external image %s not published: %s; shown as a link", url, reason)
        return None
    if cache:
        cache.put(key, data, content_type)
    return data


class _Refused(Exception):
    """The answer was not a file to publish (status, size)."""


def _fetch(http: httpx.Client, url: str, limit: int) -> tuple[bytes, str]:
    with http.stream("GET", url) as response:
        if response.status_code != 200:
            raise _Refused(f"HTTP {response.status_code}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _Refused("over kb.toml max_file_size")
            chunks.append(chunk)
        return b"".join(chunks), response.headers.get("Content-Type", "")
