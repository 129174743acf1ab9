"""MkDocs hook: write the ``kb.toml`` reference from ``generator.config.SiteConfig``.

The configuration page holds a marker; this hook replaces it with one table row per field
of the msgspec struct (key, type, default, meaning; read with ``structs.fields_of``), so
the documented keys and defaults are the ones the code accepts and cannot drift from them.
A field without a description fails the build: a key nobody can look up is a key nobody
can use safely.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import msgspec.inspect as mi

from generator.config import SiteConfig
from generator.structs import FieldInfo, fields_of

MARKER = "<!-- kb.toml reference -->"
# Descriptions for fields that generator/config.py declares without one; remove an entry
# once the field has its own description (the model's wins).
FALLBACK_DESCRIPTIONS = {
    "page_size": "Entities per list request to Fibery (Fibery's own default is 100); "
    "larger pages mean fewer requests against the 3 requests/s budget.",
}
_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker on the page that has it with the generated table."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference_table())


def reference_table() -> str:
    """Render every ``SiteConfig`` field as a Markdown table row, in declaration order."""
    rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for info in fields_of(SiteConfig):
        description = info.description or FALLBACK_DESCRIPTIONS.get(info.name)
        if not description:
            raise ValueError(f"SiteConfig.{info.name} has no description: add msgspec.Meta(description=...)")
        rows.append(f"| `{info.name}` | {_type_name(info.type)} | {_default(info)} | {_escape(description)} |")
    return "\n".join(rows)


def _type_name(kind: mi.Type) -> str:
    """The TOML-facing type: ``str | None`` → "string (optional)", ``list[str]`` → "list of
    strings", with the allowed range or length when the type declares one."""
    if isinstance(kind, mi.Metadata):
        return _type_name(kind.type)
    if isinstance(kind, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in kind.types):
        inner = [t for t in kind.types if not isinstance(t, mi.NoneType)]
        return f"{_type_name(inner[0])} (optional)"
    if isinstance(kind, mi.ListType):
        name = f"list of {_type_name(kind.item_type)}s"
        return f"{name} (at least {kind.min_length})" if kind.min_length else name
    if isinstance(kind, mi.DictType):
        return f"table (name → {_type_name(kind.value_type)})"
    if isinstance(kind, mi.EnumType | mi.LiteralType):
        values = [m.value for m in kind.cls] if isinstance(kind, mi.EnumType) else list(kind.values)
        return "one of " + ", ".join(f"`{v}`" for v in values)
    names = {mi.StrType: "string", mi.IntType: "integer", mi.FloatType: "number", mi.BoolType: "boolean"}
    name = names.get(type(kind), "any value" if isinstance(kind, mi.AnyType) else str(kind))
    bounds = [f"{symbol} {_number(getattr(kind, a))}" for a, symbol in _BOUNDS if getattr(kind, a, None) is not None]
    return f"{name} ({', '.join(bounds)})" if bounds else name


def _number(value: float) -> str:
    """``0.0`` as 0, ``2999`` as 2999: a bound as a reader would write it."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _default(info: FieldInfo) -> str:
    """The default as it would be written in ``kb.toml``."""
    value = info.default
    if value is None or value is msgspec.NODEFAULT:
        return "*(unset)*"
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
