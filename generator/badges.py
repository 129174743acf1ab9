"""Workflow state colours: each state of a database's workflow field gets a tone, worked
out once per field from every entity's value.

Fibery's own colour wins where the value carries one (``"color": "#4faf54"``, mapped to the
nearest tone, so contrast holds in light and dark alike; the pages have no inline styles).
Otherwise the state's position decides: the workflow's first open state is neutral,
final states are done (green), and the open ones after it take blue, amber and violet in
turn. Position is the value's ``rank`` where the schema gives one, and a state is final when
its value says so (``"final": true``). Where Fibery said neither (the client reads names
only), the usual names stand in: "Draft", "New", "To Do"… come first, "Done", "Published",
"Approved"… are final ("Obsolete", "Cancelled"… stopped, in red), and the rest keep the order they first appear in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import Entity, Field
from .naming import name_key

TONES = ("s-start", "s-mid", "s-alt", "s-violet", "s-done", "s-stop")
_BETWEEN = ("s-mid", "s-alt", "s-violet")
# Tone of each hue (degrees) for a Fibery colour: red, amber, green, blue, violet.
_FIRST = frozenset(map(name_key, ("Draft", "New", "Open", "To Do", "Todo", "Backlog", "Idea", "Proposed", "Planned")))
_FINAL = frozenset(
    map(
        name_key,
        (
            "Done",
            "Published",
            "Approved",
            "Closed",
            "Completed",
            "Complete",
            "Released",
            "Resolved",
            "Shipped",
            "Retired",
            "Obsolete",
            "Archived",
            "Cancelled",
            "Canceled",
            "Rejected",
            "Deprecated",
        ),
    )
)
_STOPPED = frozenset(map(name_key, ("Obsolete", "Archived", "Cancelled", "Canceled", "Rejected", "Deprecated")))
"""Final states that end the work without finishing it: coloured as stopped, not done."""
_HUES = ((20, "s-stop"), (70, "s-alt"), (170, "s-done"), (255, "s-mid"), (330, "s-violet"), (360, "s-stop"))


def state_tones(field: Field, entities: Iterable[Entity]) -> dict[str, str]:
    """State name → tone class for one workflow field."""
    states: dict[str, dict[str, Any]] = {}
    for entity in entities:
        value = entity.values.get(field.key)
        if isinstance(value, dict) and value.get("name"):
            states.setdefault(str(value["name"]), value)
    ranked = sorted(enumerate(states.items()), key=lambda item: _position(item[1][0], item[1][1], item[0]))
    tones: dict[str, str] = {}
    open_states = 0
    for _, (name, value) in ranked:
        tone = _tone_of_colour(value.get("color"))
        if tone is None:
            if _final(name, value):
                tone = "s-stop" if name_key(name) in _STOPPED else "s-done"
            elif open_states == 0:
                tone = "s-start"
            else:
                tone = _BETWEEN[(open_states - 1) % len(_BETWEEN)]
            open_states += not _final(name, value)
        tones[name] = tone
    return tones


def _position(name: str, value: dict[str, Any], seen: int) -> tuple[int, float, int]:
    """Where a state sorts: by rank when known, else the usual first states first."""
    rank = _rank(value)
    if rank is not None:
        return (0, rank, seen)
    return (1, 0 if name_key(name) in _FIRST else 1, seen)


def _final(name: str, value: dict[str, Any]) -> bool:
    final = value.get("final")
    return bool(final) if isinstance(final, bool) else name_key(name) in _FINAL


def _rank(value: dict[str, Any]) -> float | None:
    rank = value.get("rank")
    return float(rank) if isinstance(rank, int | float) and not isinstance(rank, bool) else None


def _tone_of_colour(colour: Any) -> str | None:
    """The tone nearest a ``#rrggbb`` colour: grey ones neutral, the rest by hue."""
    if not isinstance(colour, str) or len(colour) != 7 or colour[0] != "#":
        return None
    try:
        r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    except ValueError:
        return None
    high, low = max(r, g, b), min(r, g, b)
    if high - low < 0.12:
        return "s-start"
    delta = high - low
    if high == r:
        hue = 60 * (((g - b) / delta) % 6)
    elif high == g:
        hue = 60 * ((b - r) / delta + 2)
    else:
        hue = 60 * ((r - g) / delta + 4)
    return next(tone for limit, tone in _HUES if hue <= limit)
