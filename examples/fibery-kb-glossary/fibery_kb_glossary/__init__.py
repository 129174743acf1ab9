"""An example fibery-kb plugin package: a glossary page, a sparkline renderer, a command.

Everything taken from Fibery is escaped with ``markupsafe`` before it becomes markup:
plugin output is trusted by the renderer, so a plugin must not trust its input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import click
from markupsafe import Markup, escape

from generator.api import (
    ExtraPage,
    Field,
    FieldKind,
    FieldRenderers,
    Links,
    Workspace,
    name_key,
    plain_text,
    render_text,
    url_segment,
)

_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")


# --------------------------------------------------------------------------- glossary page


def _first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return (match.group(1) if match else text)[:240]


def glossary_terms(workspace: Workspace, database: str) -> list[tuple[str, str, str]]:
    """(term, definition, Fibery URL) of every entity of ``database``, A–Z."""
    db = next((d for d in workspace.databases if name_key(database) in (name_key(d.title), name_key(d.key))), None)
    if db is None:
        raise ValueError(f"no database '{database}' for the glossary")
    rich = [f.key for f in db.fields if f.kind is FieldKind.RICH_TEXT]
    base = f"{workspace.fibery_url.rstrip('/')}/{url_segment(workspace.space)}/{db.web_name}"
    terms = []
    for entity in db.entities:
        text = next((plain_text(entity.values.get(k)) for k in rich if entity.values.get(k)), "")
        terms.append((entity.name, _first_sentence(text), f"{base}/{entity.public_id}"))
    return sorted(terms, key=lambda t: t[0].casefold())


def glossary_pages(workspace: Workspace, options: Mapping[str, Any]) -> Iterable[ExtraPage]:
    """``fibery_kb.pages``: one glossary page. Links use Fibery entity URLs, which the site
    rewrites to the entities' own pages when they are published."""
    terms = glossary_terms(workspace, str(options.get("database", "Equipment")))
    title = str(options.get("title", "Glossary"))
    items = Markup("").join(
        Markup('<dt><a href="{}">{}</a></dt><dd>{}</dd>').format(url, term, definition or "—")
        for term, definition, url in terms
    )
    html = Markup('<h1>{}</h1>\n<dl class="glossary">{}</dl>').format(title, items)
    yield ExtraPage(slug=str(options.get("slug", "glossary")), title=title, html=html)


# --------------------------------------------------------------------------- sparkline renderer


def parse_series(value: Any) -> list[float] | None:
    """``"3, 5, 2, 8"`` → ``[3, 5, 2, 8]``; None unless every item is a number."""
    if not isinstance(value, str) or "," not in value:
        return None
    parts = value.split(",")
    if not all(_NUMBER.match(p) for p in parts):
        return None
    return [float(p) for p in parts]


def sparkline_svg(series: list[float], *, width: int = 120, height: int = 28) -> Markup:
    """An inline SVG polyline of ``series``, scaled to the box."""
    low, high = min(series), max(series)
    span = (high - low) or 1.0
    step = width / max(len(series) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in enumerate(series)
    )
    label = f"series from {low:g} to {high:g}, last {series[-1]:g}"
    return Markup(
        '<svg class="sparkline" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>'
    ).format(label, width, height, width, height, points)


def render_sparkline(field: Field, value: Any, links: Links) -> Markup:
    """Draw a numeric series as a sparkline followed by its last value; anything else as text."""
    series = parse_series(value)
    if series is None:
        return render_text(field, value, links)
    return Markup('{} <span class="number">{}</span>').format(sparkline_svg(series), escape(f"{series[-1]:g}"))


def register_sparkline(renderers: FieldRenderers, options: Mapping[str, Any]) -> None:
    """``fibery_kb.fields``: use the sparkline for each ``"Database/Field"`` in ``fields``.
    Names are matched on titles, so the configuration reads like the site."""
    for spec in options.get("fields", []):
        database, _, field = str(spec).partition("/")
        renderers.by_field[(name_key(database), name_key(field))] = render_sparkline


# --------------------------------------------------------------------------- command


@click.command("glossary")
@click.option("--demo", is_flag=True, help="Use the demo workspace.")
@click.option("--database", default="Equipment", show_default=True, help="Database to list.")
def glossary_command(demo: bool, database: str) -> None:
    """Print the glossary terms of a database (example plugin command)."""
    from generator.api import DemoSource

    if not demo:
        raise click.UsageError("this example command only reads the demo: use --demo")
    for term, definition, _ in glossary_terms(DemoSource().load(), database):
        click.echo(f"{term}: {definition}")
