"""What Fibery calls things: REST names, titles and web URL segments.

Fibery has three names for a database. The one people see is the REST name,
``Things/Event`` (``fibery/name`` in ``/api/schema``): the space, then the database as
typed in the UI. GraphQL derives two more from it, the type ``ThingsEvent`` (space prefix
and all, spaces and accents dropped) and the root query ``findEvents`` (an English plural
of the database part). Only the REST name gives the title ("Event") and the web URL
(``/Things/Event/12``), and GraphQL carries it, exactly, in its descriptions::

    Available fields and relations for Things/Event    a type
    Things/allDay                                      a field
    Things/Things. By default, the inner list is …     a field, with a note

So names are read from the descriptions, never rebuilt from GraphQL names; when a server
sends no descriptions, the space prefix is stripped from the type name instead.
"""

from __future__ import annotations

import re

from ..naming import ascii_fold, humanize

_TYPE_DESCRIPTION = re.compile(r"^\s*Available fields and relations for (\S.*?)\s*$", re.DOTALL)
_CAMEL = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)+$")


def type_rest_name(description: str | None) -> str | None:
    """``Things/Event`` from a type description, else None."""
    match = _TYPE_DESCRIPTION.match(description or "")
    return match.group(1) if match and "/" in match.group(1) else None


def field_rest_name(description: str | None) -> str | None:
    """``Things/Author`` from a field description (the text before the first ``". "``)."""
    text = (description or "").strip().split(". ", 1)[0].strip()
    return text if "/" in text and "\n" not in text else None


def split_rest_name(rest_name: str) -> tuple[str, str]:
    """(namespace, name): ``Things/Event`` → ("Things", "Event"); the name keeps any ``/``."""
    namespace, _, name = rest_name.partition("/")
    return namespace, name


def database_title(rest_name: str) -> str:
    """The database as Fibery shows it: ``Things/Process Segments`` → "Process Segments"
    (``~`` stands for a space in Fibery's names)."""
    return split_rest_name(rest_name)[1].replace("~", " ").strip() or rest_name


def field_title(rest_name: str) -> str:
    """The field as Fibery shows it, from its REST name.

    ``Things/Author`` → "Author"; system and legacy names are made readable as Fibery's own
    clients do: ``fibery/created-by`` → "Created By", ``Things/allDay`` → "All Day",
    ``Things/name`` → "Name", ``Tasks/Actual~Finish`` → "Actual Finish"."""
    name = split_rest_name(rest_name)[1].replace("~", " ").strip()
    if name.islower() and "-" in name and " " not in name:
        name = " ".join(part.capitalize() for part in name.split("-") if part)
    elif _CAMEL.match(name):
        name = humanize(name)
    return name[:1].upper() + name[1:] if name else rest_name


def pascal_words(text: str) -> str:
    """The letters and digits GraphQL keeps of a name: "Knowledge Base" → ``KnowledgeBase``."""
    words = re.split(r"[^A-Za-z0-9]+", ascii_fold(text))
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def strip_space_prefix(type_name: str, space: str) -> str:
    """A database's name without the space prefix GraphQL puts on it, when descriptions are
    missing: ``ThingsEvent`` in ``Things`` → "Event"."""
    prefix = pascal_words(space)
    rest = type_name[len(prefix) :] if prefix and type_name.casefold().startswith(prefix.casefold()) else type_name
    return humanize(rest or type_name)
