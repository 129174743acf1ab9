"""MkDocs hook: write the ``kb.toml`` reference from ``generator.config.SiteConfig``.

The configuration page holds a marker; this hook replaces it with one table row per field
of the pydantic model (key, type, default, meaning), so the documented keys and defaults
are the ones the code accepts and cannot drift from them. A field without a description
fails the build: a key nobody can look up is a key nobody can use safely.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from generator.config import SiteConfig

MARKER = "<!-- kb.toml reference -->"
# Descriptions for fields that generator/config.py declares without one; remove an entry
# once the field has its own description (the model's wins).
FALLBACK_DESCRIPTIONS = {
    "page_size": "Entities per list request to Fibery (Fibery's own default is 100); "
    "larger pages mean fewer requests against the 3 requests/s budget.",
}


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Replace the marker on the page that has it with the generated table."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference_table())


def reference_table() -> str:
    """Render every ``SiteConfig`` field as a Markdown table row, in declaration order."""
    rows = ["| Key | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, info in SiteConfig.model_fields.items():
        description = info.description or FALLBACK_DESCRIPTIONS.get(name)
        if not description:
            raise ValueError(f"SiteConfig.{name} has no description: add Field(description=...)")
        rows.append(f"| `{name}` | {_type_name(info)} | {_default(info)} | {_escape(description)} |")
    return "\n".join(rows)


def _type_name(info: FieldInfo) -> str:
    """The TOML-facing type, with the allowed range when the field declares one."""
    name = _annotation_name(info.annotation)
    bounds = []
    for rule in info.metadata:
        for cls, attribute, symbol in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"), (Lt, "lt", "<")):
            if isinstance(rule, cls):
                bounds.append(f"{symbol} {getattr(rule, attribute)}")
    return f"{name} ({', '.join(bounds)})" if bounds else name


def _annotation_name(annotation: Any) -> str:
    """``str | None`` → "string (optional)", ``list[str]`` → "list of strings", and so on."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return f"{_annotation_name(inner[0])} (optional)"
    if origin is list:
        return f"list of {_annotation_name(args[0])}s"
    if origin is dict:
        return f"table (name → {_annotation_name(args[1])})"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def _default(info: FieldInfo) -> str:
    """The default as it would be written in ``kb.toml``."""
    value = info.default_factory() if info.default_factory is not None else info.default
    if value is None or value is PydanticUndefined:
        return "*(unset)*"
    if isinstance(value, dict) and not value:
        return "`{}`"
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
