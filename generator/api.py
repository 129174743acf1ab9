"""What plugins may import from fibery-kb: everything else is internal and may move.

A plugin package imports from here only (``from generator.api import ExtraPage, …``);
``tests/test_api.py`` pins ``__all__``, so that a name leaves it only on purpose, with a
note in the changelog. See ``docs/plugins.md`` for the four plugin groups.
"""

from __future__ import annotations

from .errors import GenError
from .fibery import RequestStats
from .model import Database, Entity, Field, FieldKind, Workspace
from .naming import name_key, url_segment
from .plugins import PluginError
from .site.fields import (
    EMPTY,
    RENDERERS,
    FieldRenderers,
    Links,
    Renderer,
    render_rich_text,
    render_text,
    sanitize_html,
)
from .site.plan import ExtraPage
from .sources import DemoSource, SnapshotSource
from .text import plain_text

__all__ = [
    "EMPTY",
    "RENDERERS",
    "Database",
    "DemoSource",
    "Entity",
    "ExtraPage",
    "Field",
    "FieldKind",
    "FieldRenderers",
    "GenError",
    "Links",
    "PluginError",
    "Renderer",
    "RequestStats",
    "SnapshotSource",
    "Workspace",
    "name_key",
    "plain_text",
    "render_rich_text",
    "render_text",
    "sanitize_html",
    "url_segment",
]
