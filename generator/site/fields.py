"""How each field kind is rendered into HTML: one small function per kind, in a registry.

This is the seam for custom renderers: ``RENDERERS[kind]`` is looked up for every value, so a
plugin can replace or add one without touching the templates. A renderer returns ``Markup``
and must escape everything it takes from Fibery; rich text goes through ``sanitize_html``
(cleaned by ``text.py``, once per build, its links rewritten here for the page).
"""

from __future__ import annotations

import functools
import html as html_lib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from markupsafe import Markup, escape

from ..content_urls import AsLink
from ..model import Field, FieldKind
from ..naming import name_key
from ..text import SAFE_SCHEMES, clean_html, link_urls, rich_text_html
from ..text import plain_text as plain_text  # where plugins have imported it from (a re-export)
from .links import PageLinks

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Links(Protocol):
    """What a renderer needs to know about the site it renders into."""

    prefix: str
    """Relative path from the current page to the site root, e.g. ``../../``."""

    def entity_link(self, entity_id: str) -> tuple[str, str] | None:
        """(root-relative path, name) of a published entity, or None."""

    def entity_anchor(self, entity_id: str) -> Markup | None:
        """``<a href="…">name</a>`` of a published entity, relative to the page, or None."""

    def rewrite_url(self, tag: str, attribute: str, url: str) -> str | None:
        """Rewrite a URL found in rich text (Fibery files and entity links); None drops it."""

    def embed_url(self, url: str) -> str | None:
        """The iframe address of a URL that may be embedded (a Superset dashboard), or None."""


Renderer = Callable[[Field, Any, Links], Markup]
EMPTY = Markup('<span class="empty">—</span>')
NOT_PUBLISHED = Markup('<span class="unpublished">(not published)</span>')
IMAGE_EXTENSIONS = (".png", ".jpg", ".gif", ".webp", ".avif")


def is_safe_url(url: str) -> bool:
    """Allow only absolute http(s) and mailto URLs for values we turn into links: what comes
    before the first colon must be one of those schemes exactly (stricter than a browser,
    which would ignore a tab or newline inside it)."""
    scheme, colon, _ = url.strip().partition(":")
    return bool(colon) and scheme.lower() in SAFE_SCHEMES


def format_date(value: str) -> str:
    """``2026-03-02`` → ``2 Mar 2026``; unparseable text is returned as it is."""
    try:
        day = date.fromisoformat(value[:10])
    except (TypeError, ValueError):
        return str(value)
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_datetime(value: str) -> str:
    """``2026-03-02T09:15:00.000Z`` → ``2 Mar 2026, 09:15 UTC``."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return str(value)
    offset = moment.utcoffset()
    zone = "UTC" if not offset else moment.strftime("%z")
    return f"{format_date(value)}, {moment:%H:%M} {zone}"


_URL_BREAK = re.compile(r"(?<=[/?&=#_])(?!/)|(?=[.\-~])")


def html_text(html: str) -> str:
    """The text of HTML without tags: entities decoded."""
    return html_lib.unescape(html)


@functools.lru_cache(maxsize=4096)
def wrap_url(url: str) -> Markup:
    """A URL as escaped text a line may break in at sensible points: after ``/``, ``?``,
    ``&``, ``=``, ``#`` and ``_``, before ``.``, ``-`` and ``~`` (``<wbr>``), never mid-word."""
    if len(url) <= 24:
        return escape(url)
    return Markup("<wbr>").join(escape(part) for part in _URL_BREAK.split(url) if part)


def link(url: str, text: str | None = None) -> Markup:
    """An escaped external link, or plain escaped text when the URL is not safe; a URL shown
    as its own text may wrap at sensible points (``wrap_url``)."""
    shown = wrap_url(url) if text is None else escape(text)
    if not is_safe_url(url):
        return Markup(f"<span>{shown}</span>")
    return Markup(f'<a href="{escape(url.strip())}" rel="noopener noreferrer">{shown}</a>')


@functools.lru_cache(maxsize=1 << 14)
def _attribute(name: str, url: str) -> str:
    """`` href="…"``: a rewritten URL as an attribute (a site's pages share most of them)."""
    return f' {name}="{html_lib.escape(url)}"'


def rewrite_links(clean: str, links: Links) -> str:
    """Pass every ``a href`` and ``img src`` of cleaned HTML through ``links.rewrite_url``
    (Fibery files and entity links become the site's); None drops the attribute. Only the
    attributes whose URL changed are replaced: the rest of the text is nh3's, unchanged."""
    parts: list[str] = []
    done = 0
    found = links.rich_text.links(clean) if isinstance(links, PageLinks) else link_urls(clean)
    for tag, name, url, start, end in found:
        new = links.rewrite_url(tag, name, url)
        if isinstance(new, AsLink):  # an external image, shown as a link to it
            opening = clean.rfind("<img", done, start)
            closing = clean.find(">", end) + 1
            parts += [clean[done:opening], _image_link(clean[opening:closing], new)]
            done = closing
        elif new != url:
            parts.append(clean[done:start])
            if new is not None:
                parts.append(_attribute(name, new))
            done = end
    if not parts:
        return clean
    parts.append(clean[done:])
    return "".join(parts)


_ALT = re.compile(r' alt="([^"]*)"')


def _image_link(tag: str, url: str) -> str:
    """``<a>`` in place of an external ``<img>``: its alt text, else "image", as the label."""
    alt = _ALT.search(tag)
    label = alt.group(1) if alt and alt.group(1).strip() else "image"
    return f'<a href="{html_lib.escape(url)}" class="external-image" rel="noopener noreferrer">{label}</a>'


def sanitize_html(html: str, links: Links | None = None) -> Markup:
    """Cleaned HTML (``clean_html``), its links rewritten for the page when ``links`` is given.

    The site's own pages hand their ``PageLinks``, whose build's ``RichText`` remembers each
    text cleaned (a plugin's own ``Links`` gets the same result, worked out on each call)."""
    clean = links.rich_text.clean(html) if isinstance(links, PageLinks) else clean_html(html)
    return Markup(clean if links is None else rewrite_links(clean, links))


# --------------------------------------------------------------------------- renderers


def render_text(field: Field, value: Any, links: Links) -> Markup:
    return escape(value) if value not in (None, "") else EMPTY


def render_number(field: Field, value: Any, links: Links) -> Markup:
    if value is None:
        return EMPTY
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return Markup(f'<span class="number">{escape(f"{value:,}" if isinstance(value, int) else value)}</span>')


def render_boolean(field: Field, value: Any, links: Links) -> Markup:
    return EMPTY if value is None else Markup("Yes" if value else "No")


def render_url(field: Field, value: Any, links: Links) -> Markup:
    if not value:
        return EMPTY
    embed = links.embed_url(str(value)) if is_safe_url(str(value)) else None
    if embed is None:
        return link(str(value))
    # A dashboard: the iframe is ours (rich text can never create one); the link is the
    # fallback for readers without frames, or when Superset refuses to be framed.
    return Markup(
        '<figure class="embed"><iframe src="{0}" title="{1}" loading="lazy" referrerpolicy="no-referrer"'
        ' sandbox="allow-scripts allow-same-origin allow-popups allow-forms allow-downloads"></iframe>'
        '<figcaption><a href="{2}" rel="noopener noreferrer">Open {1} in Superset</a></figcaption></figure>'
    ).format(embed, field.title, str(value).strip())


def render_email(field: Field, value: Any, links: Links) -> Markup:
    return link(f"mailto:{value}", str(value)) if value else EMPTY


def render_date(field: Field, value: Any, links: Links) -> Markup:
    return _date(str(value)) if value else EMPTY


@functools.lru_cache(maxsize=4096)
def _date(value: str) -> Markup:
    """A date, formatted once: entities share few of them."""
    return Markup(f'<time datetime="{escape(value)}">{escape(format_date(value))}</time>')


def render_datetime(field: Field, value: Any, links: Links) -> Markup:
    return Markup(f'<time datetime="{escape(value)}">{escape(format_datetime(value))}</time>') if value else EMPTY


def render_date_range(field: Field, value: Any, links: Links) -> Markup:
    if not value or not (value.get("start") or value.get("end")):
        return EMPTY
    start = render_date(field, value.get("start"), links)
    end = render_date(field, value.get("end"), links)
    return Markup("{} – {}").format(start, end)


def render_rich_text(field: Field, value: Any, links: Links) -> Markup:
    if not value:
        return EMPTY
    html = rich_text_html(value)
    return Markup(f'<div class="rich-text">{scrollable_tables(sanitize_html(html, links))}</div>') if html else EMPTY


def scrollable_tables(html: Markup) -> Markup:
    """Each table of sanitised rich text in a region a keyboard can scroll sideways (a
    phone's screen is narrower than most tables). nh3 escapes ``<`` in text, so every
    ``<table`` left in cleaned HTML is a real tag."""
    if "<table" not in html:
        return html
    wrapped = str(html).replace(
        "<table", '<div class="table-wrap" tabindex="0" role="region" aria-label="Table"><table'
    )
    return Markup(wrapped.replace("</table>", "</table></div>"))


def render_badge(field: Field, value: Any, links: Links) -> Markup:
    if not value or not value.get("name"):
        return EMPTY
    return _badge(str(value["name"]))


@functools.lru_cache(maxsize=4096)
def _badge(name: str, tone: str = "") -> Markup:
    """A state's or option's badge: a database has a handful, shown on every page. ``tone``
    colours a workflow state (``s-start``, ``s-mid``, ``s-done``…, see ``badges.py``)."""
    name = escape(name)
    classes = f"badge {tone}" if tone else "badge"
    return Markup(f'<span class="{classes}" data-value="{name}">{name}</span>')


def state_renderer(tones: dict[str, str]) -> Renderer:
    """``render_badge`` for one workflow field, each state in its colour (``tones``: name → class)."""

    def render_state(field: Field, value: Any, links: Links) -> Markup:
        if not value or not value.get("name"):
            return EMPTY
        name = str(value["name"])
        return _badge(name, tones.get(name, ""))

    return render_state


def render_badges(field: Field, value: Any, links: Links) -> Markup:
    if not value:
        return EMPTY
    return Markup(" ".join(render_badge(field, item, links) for item in value))


def render_user(field: Field, value: Any, links: Links) -> Markup:
    """A Fibery user by name only: people's e-mail addresses are never published."""
    name = value.get("name") if isinstance(value, dict) else None
    return Markup('<span class="person">{}</span>').format(name) if name else EMPTY


def render_users(field: Field, value: Any, links: Links) -> Markup:
    people = [render_user(field, item, links) for item in value or []]
    return Markup(", ").join(p for p in people if p)


def _entity_ref(item: dict[str, Any] | None, links: Links) -> Markup:
    if not item:
        return EMPTY
    return links.entity_anchor(item["id"]) or NOT_PUBLISHED


def render_relation(field: Field, value: Any, links: Links) -> Markup:
    return _entity_ref(value, links)


def render_collection(field: Field, value: Any, links: Links) -> Markup:
    if not value:
        return EMPTY
    items = "".join(f"<li>{_entity_ref(item, links)}</li>" for item in value)
    return Markup(f'<ul class="refs">{items}</ul>')


def render_file(item: dict[str, Any], links: Links) -> Markup:
    """One attached file: a link (images with a preview), or a placeholder when the file
    could not be published (download failed, too large, or a refused type)."""
    label = item.get("name") or "file"
    url = links.rewrite_url("a", "href", f"/api/files/{item.get('secret', '')}")
    if not url:
        return Markup('<li class="file-missing">{} <span>(file unavailable)</span></li>').format(label)
    if url.endswith(IMAGE_EXTENSIONS):
        return Markup(
            '<li class="file-image"><a href="{0}"><img src="{0}" alt="{1}" loading="lazy">{1}</a></li>'
        ).format(url, label)
    return Markup('<li><a href="{}">{}</a></li>').format(url, label)


def render_files(field: Field, value: Any, links: Links) -> Markup:
    if not value:
        return EMPTY
    return Markup('<ul class="files">{}</ul>').format(Markup("").join(render_file(item, links) for item in value))


KIND_LABELS: dict[FieldKind, str] = {
    FieldKind.TEXT: "Text",
    FieldKind.NUMBER: "Number",
    FieldKind.BOOLEAN: "Yes or no",
    FieldKind.URL: "Link",
    FieldKind.EMAIL: "E-mail address",
    FieldKind.DATE: "Date",
    FieldKind.DATETIME: "Date and time",
    FieldKind.DATE_RANGE: "Date range",
    FieldKind.RICH_TEXT: "Text (formatted)",
    FieldKind.STATE: "Workflow state",
    FieldKind.SELECT: "Choice",
    FieldKind.MULTI_SELECT: "Choices",
    FieldKind.RELATION: "Link to one item",
    FieldKind.COLLECTION: "Links to items",
    FieldKind.FILES: "Files",
    FieldKind.USER: "Person",
    FieldKind.USERS: "People",
}
"""What each kind of field is called on the pages (never the internal names, ``rich_text``)."""

RENDERERS: dict[FieldKind, Renderer] = {
    FieldKind.TEXT: render_text,
    FieldKind.NUMBER: render_number,
    FieldKind.BOOLEAN: render_boolean,
    FieldKind.URL: render_url,
    FieldKind.EMAIL: render_email,
    FieldKind.DATE: render_date,
    FieldKind.DATETIME: render_datetime,
    FieldKind.DATE_RANGE: render_date_range,
    FieldKind.RICH_TEXT: render_rich_text,
    FieldKind.STATE: render_badge,
    FieldKind.SELECT: render_badge,
    FieldKind.MULTI_SELECT: render_badges,
    FieldKind.RELATION: render_relation,
    FieldKind.COLLECTION: render_collection,
    FieldKind.FILES: render_files,
    FieldKind.USER: render_user,
    FieldKind.USERS: render_users,
}


@dataclass
class FieldRenderers:
    """The renderers in force for one build: built-ins, overridden by kind or by field.

    ``by_field`` keys are ``(name_key(database), name_key(field))``, so a plugin may name
    them by title ("Process Segments", "Weekly yield") or by GraphQL name alike."""

    by_kind: dict[FieldKind, Renderer] = field(default_factory=lambda: dict(RENDERERS))
    by_field: dict[tuple[str, str], Renderer] = field(default_factory=dict)

    def renderer(self, database_key: str, field_: Field) -> Renderer:
        """The renderer of one field (the site renderer looks it up once per database, not per value)."""
        renderer = self.by_kind[field_.kind]
        if self.by_field:  # keep the common case free of key normalisation
            renderer = self.by_field.get((name_key(database_key), name_key(field_.key)), renderer)
        return renderer
