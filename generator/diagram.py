"""The process diagram of the Process Segments page: an inline SVG drawn at build time from
the process order ``gen segments`` computes (``segments.process_order``, following each
segment's predecessor), one box per segment linking to its page.

Two drawings of the same graph go into the page, left to right for wide screens and top to
bottom for phones; CSS shows one. No script: the links work with JavaScript off, and the
colours are the stylesheet's (classes, no inline styles), so dark mode applies."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from .model import Database

NODE_W, NODE_H = 140, 54
GAP_MAIN, GAP_CROSS = 30, 16
"""Space between columns (along the process) and between boxes of one column."""
MAX_LABEL = 16
PAD = 4


@dataclass(frozen=True)
class Node:
    id: str
    name: str
    path: str | None
    step: int
    level: int
    row: int


def layout(db: Database, entity_paths: dict[str, str]) -> tuple[list[Node], list[tuple[str, str]]]:
    """The segments as nodes (in process order, each in the column after its latest
    predecessor) and the predecessor → segment edges. No predecessors at all: no diagram."""
    from .segments import predecessors_of, process_order  # only for the site that has one

    predecessors = predecessors_of(db)
    ordered = process_order(db.entities, predecessors)
    ids = {e.id for e in ordered}
    edges = [(p, e.id) for e in ordered for p in dict.fromkeys(predecessors(e)) if p in ids and p != e.id]
    if not edges:
        return [], []
    level: dict[str, int] = {}
    rows: dict[int, int] = {}
    nodes = []
    for step, entity in enumerate(ordered, 1):
        placed = [level[p] for p in predecessors(entity) if p in level]
        lvl = max(placed) + 1 if placed else 0
        level[entity.id] = lvl
        row = rows.get(lvl, 0)
        rows[lvl] = row + 1
        nodes.append(Node(entity.id, entity.name or "(untitled)", entity_paths.get(entity.id), step, lvl, row))
    return nodes, [(a, b) for a, b in edges if a in level and level[a] < level[b]]


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1].rstrip() + "…"


def _svg(nodes: list[Node], edges: list[tuple[str, str]], prefix: str, tall: bool, title: str) -> str:
    """One drawing: columns left to right (wide) or rows top to bottom (tall)."""
    where: dict[str, tuple[int, int]] = {}
    for n in nodes:
        main, cross = n.level * (NODE_W + GAP_MAIN if not tall else NODE_H + GAP_MAIN), n.row
        if tall:
            where[n.id] = (PAD + cross * (NODE_W + GAP_CROSS), PAD + main)
        else:
            where[n.id] = (PAD + main, PAD + cross * (NODE_H + GAP_CROSS))
    width = max(x for x, _ in where.values()) + NODE_W + PAD
    height = max(y for _, y in where.values()) + NODE_H + PAD
    kind = "tall" if tall else "wide"
    marker = f"arrow-{kind}"
    parts = [
        f'<svg class="{kind}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="group" '
        f'aria-label="{escape(title)}">',
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path class="arrow" d="M0 0L10 5L0 10z"/></marker></defs>',
    ]
    x1: float
    y1: float
    x2: float
    y2: float
    for a, b in edges:
        (ax, ay), (bx, by) = where[a], where[b]
        if tall:
            x1, y1, x2, y2 = ax + NODE_W / 2, ay + NODE_H, bx + NODE_W / 2, by - 2
            mid = (y1 + y2) / 2
            d = f"M{x1:g} {y1:g}C{x1:g} {mid:g} {x2:g} {mid:g} {x2:g} {y2:g}"
        else:
            x1, y1, x2, y2 = ax + NODE_W, ay + NODE_H / 2, bx - 2, by + NODE_H / 2
            mid = (x1 + x2) / 2
            d = f"M{x1:g} {y1:g}C{mid:g} {y1:g} {mid:g} {y2:g} {x2:g} {y2:g}"
        parts.append(f'<path class="edge" d="{d}" marker-end="url(#{marker})"/>')
    for n in nodes:
        x, y = where[n.id]
        name = escape(n.name)
        box = (
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f'<text class="step" x="{x + 12}" y="{y + 20}">Step {n.step}</text>'
            f'<text x="{x + 12}" y="{y + 40}">{escape(_label(n.name))}</text>'
        )
        if n.path:
            href = escape(prefix + n.path)
            parts.append(
                f'<a class="node" href="{href}" aria-label="Step {n.step}: {name}"><title>{name}</title>{box}</a>'
            )
        else:
            parts.append(f'<g class="node"><title>{name} (not published)</title>{box}</g>')
    parts.append("</svg>")
    return "".join(parts)


def process_diagram(db: Database, entity_paths: dict[str, str], prefix: str) -> Markup:
    """The figure of the database's process ("" when its segments have no predecessors)."""
    nodes, edges = layout(db, entity_paths)
    if not nodes:
        return Markup("")
    title = f"{db.title}: the process, {len(nodes)} steps"
    wide = _svg(nodes, edges, prefix, tall=False, title=title)
    tall = _svg(nodes, edges, prefix, tall=True, title=title)
    return Markup(
        '<figure class="diagram" aria-labelledby="diagram-caption" data-pagefind-ignore>'
        '<figcaption id="diagram-caption" class="meta">'
        f"The process, step by step: each box leads to its segment.</figcaption>{wide}{tall}</figure>"
    )
