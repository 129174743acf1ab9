"""Crawl a built site from disk: collect links, report broken ones and unreachable pages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for name in ("href", "src"):
            if values.get(name) and tag != "base":
                self.links.append(values[name] or "")


@dataclass
class Crawl:
    pages: set[str] = field(default_factory=set)
    broken: list[tuple[str, str]] = field(default_factory=list)
    external: set[str] = field(default_factory=set)


def parse(path: Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def crawl(site: Path, start: str = "index.html") -> Crawl:
    """Follow every relative link from ``start``; record pages reached and broken links."""
    result, queue = Crawl(), [start]
    while queue:
        page = queue.pop()
        if page in result.pages:
            continue
        result.pages.add(page)
        parser = parse(site / page)
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//"):
                result.external.add(link)
                continue
            if not parts.path:
                continue
            target = str(PurePosixPath(page).parent / unquote(parts.path))
            normalised = str(PurePosixPath(*[p for p in PurePosixPath(target).parts]))
            resolved = (site / normalised).resolve()
            if not resolved.is_relative_to(site.resolve()) or not resolved.is_file():
                result.broken.append((page, link))
                continue
            relative = resolved.relative_to(site.resolve()).as_posix()
            if relative.endswith(".html"):
                queue.append(relative)
    return result


EXECUTABLE_TAGS = {"script", "iframe", "object", "embed", "style", "svg", "math", "frame", "frameset", "base", "form"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "srcset", "data"}


_SCRIPTED_CSS = re.compile(r"url\s*\(|expression\s*\(|javascript:|@import", re.IGNORECASE)
_SITE_SCRIPT = re.compile(r"^(\.\./)*assets/(search|table|theme)\.js$")
_SITE_SVG = {"wide", "tall"}  # the process diagram


def is_site_chrome(tag: str, attrs: dict[str, str | None]) -> bool:
    """The site's own scripts and search box, which content can never produce (the
    sanitiser drops every ``<script>`` and ``<form>``): an external script from
    ``assets/``, a search form that submits nowhere, and the site's own drawing (the
    process diagram: the sanitiser drops every ``<svg>``)."""
    if tag == "svg":
        return attrs.get("class") in _SITE_SVG
    if tag == "script":
        return bool(_SITE_SCRIPT.match(attrs.get("src") or ""))
    return tag == "form" and attrs.get("role") == "search" and "action" not in attrs


class _DangerParser(HTMLParser):
    """Record anything a browser could execute: script-like tags, event handlers, and
    URLs with a scheme other than http(s)/mailto."""

    def __init__(self, allowed_tags: set[str]) -> None:
        super().__init__()
        self.allowed_tags = allowed_tags
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in EXECUTABLE_TAGS - self.allowed_tags and not is_site_chrome(tag, dict(attrs)):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag}@{name}")
            if name in URL_ATTRIBUTES and value:
                scheme = urlsplit(value.strip()).scheme.lower()
                if scheme and scheme not in ("http", "https", "mailto"):
                    self.found.append(f"{tag}@{name}={value[:30]}")
            # Issue 7: a document in an attribute, a redirect, and script-capable CSS.
            if name == "srcdoc" or (name == "style" and value and _SCRIPTED_CSS.search(value)):
                self.found.append(f"{tag}@{name}")
            if tag == "meta" and name == "http-equiv" and (value or "").strip().lower() == "refresh":
                self.found.append("<meta refresh>")


def dangerous(html: str, allowed_tags: set[str] = frozenset()) -> list[str]:
    """Everything executable in ``html`` (an empty list means safe)."""
    parser = _DangerParser(set(allowed_tags))
    parser.feed(html)
    return parser.found
