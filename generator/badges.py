"""Workflow state colours: each state of a database's workflow field gets a tone, worked
out once per field from every entity's value.

Fibery's own colour wins where the value carries one (``"color": "#4faf54"``, mapped to the
nearest tone, so contrast holds in light and dark alike; the pages have no inline styles).
Otherwise the state's position decides: the workflow's first open state is neutral,
final states are done (green), and the open ones after it take blue, amber and violet in turn. Position is
the value's ``rank`` where the schema gives one, else the order states first appear in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .model import Entity, Field

TONES = ("s-start", "s-mid", "s-alt", "s-violet", "s-done", "s-stop")
_BETWEEN = ("s-mid", "s-alt", "s-violet")
# Tone of each hue (degrees) for a Fibery colour: red, amber, green, blue, violet.
_HUES = ((20, "s-stop"), (70, "s-alt"), (170, "s-done"), (255, "s-mid"), (330, "s-violet"), (360, "s-stop"))


def state_tones(field: Field, entities: Iterable[Entity]) -> dict[str, str]:
    """State name → tone class for one workflow field."""
    states: dict[str, dict[str, Any]] = {}
    for entity in entities:
        value = entity.values.get(field.key)
        if isinstance(value, dict) and value.get("name"):
            states.setdefault(str(value["name"]), value)
    ranked = sorted(
        enumerate(states.items()),
        key=lambda item: (_rank(item[1][1]) is None, _rank(item[1][1]) or 0, item[0]),
    )
    tones: dict[str, str] = {}
    open_states = 0
    for _, (name, value) in ranked:
        tone = _tone_of_colour(value.get("color"))
        if tone is None:
            if value.get("final"):
                tone = "s-done"
            elif open_states == 0:
                tone = "s-start"
            else:
                tone = _BETWEEN[(open_states - 1) % len(_BETWEEN)]
            open_states += not value.get("final")
        tones[name] = tone
    return tones


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
