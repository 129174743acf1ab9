"""Entity pages as articles: which fields make the properties card and which the text, the
main text's headings given ids, and its table of contents.

Per database, ``ArticleLayout.of`` works out once which fields go where; per entity,
``ArticleLayout.props`` joins the non-empty properties and ``outline`` reads the headings of
the main text (one regular-expression pass, only over texts that have headings)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from .model import Field, FieldKind
from .site.fields import EMPTY, html_text

TOC_MIN_HEADINGS = 3
"""A text with this many headings (h2, h3) gets a table of contents."""
_HEADING = re.compile(r"<h([23])>(.*?)</h\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_NOT_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class ArticleLayout:
    """Where each field of one database's entity pages goes: ``rows`` the properties card's
    row pattern of each field (its ``{}`` the value; None for rich text), ``main`` the index
    of the main text (the first rich-text field), ``extra`` the other rich-text fields, with
    their titles and heading ids."""

    rows: tuple[str | None, ...]
    main: int | None
    extra: tuple[tuple[int, str, str], ...]

    @classmethod
    def of(cls, fields: Sequence[Field], format_text: Callable[[str], str]) -> ArticleLayout:
        texts = [i for i, f in enumerate(fields) if f.kind is FieldKind.RICH_TEXT]
        # A space between label and value: the search index's excerpts keep them apart.
        row = '<div class="field kind-{}"><dt>{}</dt> <dd>{{}}</dd></div>\n'
        rows = tuple(
            None if f.kind is FieldKind.RICH_TEXT else row.format(format_text(f.kind.value), format_text(f.title))
            for f in fields
        )
        extra = tuple((i, fields[i].title, f"text-{_slug(fields[i].key) or i}") for i in texts[1:])
        return cls(rows=rows, main=texts[0] if texts else None, extra=extra)

    def props(self, htmls: Sequence[Markup]) -> Markup:
        """The properties card's rows: every field but the rich text, empty values left out."""
        pairs = zip(self.rows, htmls, strict=True)
        return Markup("".join([row.format(html) for row, html in pairs if row is not None and _shown(html)]))

    def texts(self, htmls: Sequence[Markup]) -> tuple[Markup | None, list[tuple[str, Markup, str]]]:
        """(the main text or None, [(title, html, heading id)] of the other non-empty texts)."""
        main = htmls[self.main] if self.main is not None and _shown(htmls[self.main]) else None
        return main, [(title, htmls[i], anchor) for i, title, anchor in self.extra if _shown(htmls[i])]


def _shown(html: Markup) -> bool:
    return html is not EMPTY and bool(html) and html != EMPTY


def _slug(text: str) -> str:
    return _NOT_WORD.sub("-", text.casefold()).strip("-")[:60]


def outline(html: Markup) -> tuple[Markup, Markup]:
    """The text with an id on each h2 and h3, and its table of contents ("" when it has
    fewer than ``TOC_MIN_HEADINGS`` headings). Rich text is sanitised before it gets here
    (nh3 keeps no attributes on headings), so ``<h2>`` is always a real heading's tag."""
    if html.count("<h2>") + html.count("<h3>") < TOC_MIN_HEADINGS:
        return html, Markup("")
    headings: list[tuple[str, str, str]] = []
    used: set[str] = set()

    def number(match: re.Match[str]) -> str:
        level, inner = match.group(1), match.group(2)
        text = html_text(_TAG.sub("", inner))
        base = "h-" + (_slug(text) or str(len(headings) + 1))
        anchor, n = base, 2
        while anchor in used:
            anchor, n = f"{base}-{n}", n + 1
        used.add(anchor)
        headings.append((level, anchor, text))
        return f'<h{level} id="{anchor}">{inner}</h{level}>'

    numbered = _HEADING.sub(number, str(html))
    if len(headings) < TOC_MIN_HEADINGS:
        return html, Markup("")
    items = "".join(
        f'<li class="toc-{level}"><a href="#{anchor}">{escape(text)}</a></li>' for level, anchor, text in headings
    )
    toc = (
        '<nav class="toc" aria-labelledby="toc-heading" data-pagefind-ignore>'
        f'<h2 id="toc-heading">On this page</h2><ol>{items}</ol></nav>'
    )
    return Markup(numbered), Markup(toc)
