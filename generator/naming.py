"""Names: readable titles, Fibery URL segments, name matching and safe file slugs.

Fibery's GraphQL names lose spaces and accents ("Café Notes" → ``CafeNotes``), its web
URLs keep them with spaces as ``_``, and our file names must be safe whatever a user typed.
Keeping these rules together stops them drifting apart.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

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


def slugify(text: str, *, fallback: str = "item") -> str:
    """Make a short, safe file-name stem: ASCII lowercase letters, digits and ``-`` only.

    Never empty, never ``.``/``..``, never a Windows device name, at most 60 characters.
    """
    slug = _NOT_SLUG.sub("-", ascii_fold(text).lower()).strip("-")
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
