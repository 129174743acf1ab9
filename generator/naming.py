"""Names: readable titles, Fibery URL segments, name matching and safe file slugs.

Fibery's GraphQL names lose spaces and accents ("Café Notes" → ``CafeNotes``), its web
URLs keep them with spaces as ``_``, and our file names must be safe whatever a user typed.
Keeping these rules together stops them drifting apart.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from anyascii import anyascii

MAX_SLUG_LENGTH = 60
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def ascii_fold(text: str) -> str:
    """Drop accents and other non-ASCII marks ("Café" → "Cafe")."""
    if text.isascii():  # most names: nothing to fold
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def name_key(text: str) -> str:
    """Reduce a name to a comparable key, so "Process Segments", ``ProcessSegments`` and
    ``process_segments`` all match."""
    return re.sub(r"[^a-z0-9]", "", ascii_fold(text).casefold())


def humanize(identifier: str) -> str:
    """Turn a GraphQL name into a readable title: ``completionDate`` → "Completion Date"."""
    words = _CAMEL_BOUNDARY.sub(" ", identifier.replace("_", " ")).split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or identifier


def url_segment(name: str) -> str:
    """Encode a space or database name as Fibery does in paths: whitespace → ``_``,
    case and non-ASCII kept (percent-encoded on the wire)."""
    return quote(re.sub(r"\s", "_", name.strip()), safe="_-.~()!*'$+,")


def fibery_web_path(rest_name: str) -> str:
    """A database's ``Space/Database`` (Fibery's REST name) as its web URLs spell it:
    ``Knowledge Base/Process Segments`` → ``Knowledge_Base/Process_Segments``."""
    space, _, database = rest_name.partition("/")
    return f"{url_segment(space)}/{url_segment(database)}"


def transliterate(text: str) -> str:
    """Spell ``text`` in ASCII for a readable URL ("Привет мир" → "Privet mir", "東京の手順"
    → "Dong Jing no Shou Shun"), with ``anyascii`` (tables for every script, kept up to date).

    Wide characters (CJK ideographs, kana, hangul) each stand for a syllable or a word:
    they are kept apart, where anyascii would run their spellings together."""
    if text.isascii():  # most names: nothing to spell
        return text
    return "".join(_spell(char) for char in text)


def _spell(char: str) -> str:
    if char.isascii():
        return char
    spelled = anyascii(char)
    return f" {spelled} " if unicodedata.east_asian_width(char) == "W" else spelled


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
"""C0 and C1 controls, and the bidirectional marks, embeddings, overrides and isolates."""
FIRST_STRONG_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2069"


def display_name(text: str) -> str:
    """A name as pages show it: controls and bidirectional overrides removed (runs of them
    become one space, so words stay apart), and a name with right-to-left letters isolated
    (FSI … PDI, what ``<bdi>`` does) so it cannot reorder the text around it: in a list,
    a title, a table or an attribute alike."""
    if text.isascii() and text.isprintable():  # most names: nothing to do
        return text
    text = " ".join(_CONTROLS.sub(" ", text).split()) if not text.isprintable() or _CONTROLS.search(text) else text
    if any(unicodedata.bidirectional(char) in ("R", "AL") for char in text):
        return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"
    return text


def slugify(text: str, *, fallback: str = "item") -> str:
    """Make a short, safe file-name stem: ASCII lowercase letters, digits and ``-`` only,
    non-Latin names transliterated (``transliterate``).

    Never empty, never ``.``/``..``, never a Windows device name, at most 60 characters.
    """
    slug = _NOT_SLUG.sub("-", transliterate(text).lower()).strip("-")
    slug = slug[:MAX_SLUG_LENGTH].rstrip("-") or fallback
    return f"{slug}-" if slug in _WINDOWS_RESERVED else slug


class SlugAllocator:
    """Hand out slugs that are unique within one folder, in a stable order."""

    def __init__(self, reserved: set[str] | None = None) -> None:
        self._taken: set[str] = set(reserved or ())

    def allocate(self, text: str, *, fallback: str = "item") -> str:
        """Return ``slugify(text)``, suffixed with ``-2``, ``-3`` … if already taken."""
        base = slugify(text, fallback=fallback)
        slug, n = base, 1
        while slug in self._taken:
            n += 1
            slug = f"{base.rstrip('-')}-{n}"  # "nul-" (a device name, suffixed) → "nul-2"
        self._taken.add(slug)
        return slug
