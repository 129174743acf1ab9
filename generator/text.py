"""Rich text prepared for the site: cleaned (nh3), its links found, its description and
its plain text worked out.

``RichText`` prepares each text once per build: the build creates one and hands it on to
the source (which prepares each page of entities as it arrives, ``RichText.warm``, while it
waits for its next request slot) and to the site plan (the field renderers and the render
keys read it). Nothing is remembered between builds. This module knows nothing of pages:
rewriting links for one page is ``site.fields.rewrite_links``'s.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

import nh3

from .model import Database, Entity, FieldKind

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
RICH_TEXT_TAGS = (nh3.ALLOWED_TAGS - {"area", "map"}) | {"figure", "figcaption"}
RICH_TEXT_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
}


# One cleaner for every page (building one per call costs more than the cleaning itself).
_CLEANER = nh3.Cleaner(
    tags=RICH_TEXT_TAGS,
    attributes=RICH_TEXT_ATTRIBUTES,
    url_schemes=set(SAFE_SCHEMES),
    link_rel="noopener noreferrer",
)
# The URL of a start tag with links, as nh3 writes them: every attribute ``name="value"``, the
# value's quotes escaped, and ``<`` escaped in text, so a match is always a real tag's (``a``
# allows one URL attribute, ``href``; ``img`` one, ``src``).
_TAG_URL = re.compile(r'<(a|img)((?: [^\s"=/>]+="[^"]*")*?) (href|src)="([^"]*)"')


MENTION_URL = "#fibery-entity="
"""The placeholder link of a mention, which ``Links.rewrite_url`` always replaces (with the
entity's page when it is published; otherwise the link goes and its title stays)."""
# Fibery's mention of an entity in Markdown: [[Space/Db: Title#^{database uuid}/{entity uuid}]].
_MENTION = re.compile(r"\[\[([^\[\]<>:]{1,300}): ([^\[\]<>]{0,500}?)#\^([0-9a-fA-F-]{36})/([0-9a-fA-F-]{36})\]\]")


def _mention_links(clean: str) -> str:
    """Turn mentions into links to the entity (their text is nh3's, already escaped)."""
    if "[[" not in clean:
        return clean
    return _MENTION.sub(lambda m: f'<a href="{MENTION_URL}{m[4].lower()}">{m[2] or m[1]}</a>', clean)


def clean_html(html: str) -> str:
    """Clean untrusted rich-text HTML with nh3: no scripts, styles, frames or event handlers,
    only http(s)/mailto absolute links; Fibery's mentions become links (``RichText.clean``
    remembers it for the build)."""
    return _mention_links(_CLEANER.clean(html))


def link_urls(clean: str) -> tuple[tuple[str, str, str, int, int], ...]:
    """(tag, attribute, URL, start, end) of every link of cleaned HTML, ``clean[start:end]``
    being the whole attribute (`` href="…"``): the URLs the render cache hashes
    (``site.keys.entity_keys``) and ``rewrite_links`` rewrites (``RichText.links``
    remembers them for the build)."""
    return tuple((m[1], m[3], html_lib.unescape(m[4]), m.start(3) - 1, m.end()) for m in _TAG_URL.finditer(clean))


DESCRIPTION_LENGTH = 200
_TAG = re.compile(r"<[^>]+>")


def description(html: str) -> str:
    """A page's summary for search engines and social cards: its text, cut at a word."""
    head = html[: 4 * DESCRIPTION_LENGTH]
    if len(head) < len(html):  # a long text: its start is enough (unless mostly markup)
        text = " ".join(html_lib.unescape(_TAG.sub(" ", head[: head.rfind("<")])).split())
        if len(text) > DESCRIPTION_LENGTH + 20:
            return text[:DESCRIPTION_LENGTH].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    text = " ".join(html_lib.unescape(_TAG.sub(" ", html)).split())
    if len(text) <= DESCRIPTION_LENGTH:
        return text
    return text[:DESCRIPTION_LENGTH].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


class RichText:
    """Rich text prepared once per build: each text cleaned, its links found and its
    description worked out the first time it is asked for, then remembered until the build
    ends (a text is shown on several pages, and hashed by the render keys). One per build:
    ``gen serve``'s rebuilds and the tests never share one."""

    def __init__(self) -> None:
        self._clean: dict[str, str] = {}
        self._links: dict[str, tuple[tuple[str, str, str, int, int], ...]] = {}
        self._descriptions: dict[str, str] = {}

    def clean(self, html: str) -> str:
        """``clean_html(html)``, remembered."""
        try:
            return self._clean[html]
        except KeyError:
            clean = self._clean[html] = clean_html(html)
            return clean

    def links(self, clean: str) -> tuple[tuple[str, str, str, int, int], ...]:
        """``link_urls(clean)``, remembered."""
        try:
            return self._links[clean]
        except KeyError:
            found = self._links[clean] = link_urls(clean)
            return found

    def description(self, clean: str) -> str:
        """``description`` of cleaned rich text, remembered: the page of an entity whose first
        rich text is rendered by the built-in renderer is described by it (its links
        rewritten or not, the text is the same)."""
        try:
            return self._descriptions[clean]
        except KeyError:
            text = self._descriptions[clean] = description(clean)
            return text

    def forget(self) -> None:
        """Let go of every text prepared: the build calls this once its pages are made."""
        self._clean.clear()
        self._links.clear()
        self._descriptions.clear()

    def forget_value(self, value: dict[str, Any]) -> None:
        """Let go of what was prepared for one rich-text value (its page is made): asked for
        again, it is prepared again, the same."""
        html = value.get("html")
        clean = self._clean.pop(html, None) if html else None
        if clean is not None:
            self._links.pop(clean, None)
            self._descriptions.pop(clean, None)

    def value(self, value: dict[str, Any]) -> str:
        """A rich-text value's HTML, cleaned (``rich_text_html``, then ``clean``)."""
        return self.clean(rich_text_html(value))

    def warm(self, database: Database, entities: Iterable[Entity]) -> None:
        """Clean the entities' rich text and find its links now, so that planning and
        rendering find both done: the Fibery source calls this for each page of entities
        of ``database`` while it waits for its next request slot."""
        texts = [f.key for f in database.fields if f.kind is FieldKind.RICH_TEXT]
        for entity in entities if texts else ():
            for key in texts:
                value = entity.values.get(key)
                if value:
                    clean = self.clean(rich_text_html(value))
                    self.links(clean)
                    self.description(clean)


def rich_text_html(value: dict[str, Any]) -> str:
    """The HTML of a rich-text value, from Markdown when Fibery gave only Markdown."""
    html = value.get("html") or ""
    if not html and value.get("md"):
        import markdown  # rarely needed: Fibery sends the HTML

        html = markdown.markdown(value["md"], extensions=["tables", "sane_lists"])
    return html


def plain_text(value: dict[str, Any] | None) -> str:
    """Rich text as plain text (tags removed, whitespace collapsed)."""
    if not value:
        return ""
    text = html_lib.unescape(nh3.clean(rich_text_html(value), tags=set()))
    return re.sub(r"\s+", " ", text).strip()
