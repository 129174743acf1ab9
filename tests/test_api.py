"""The plugin surface, ``generator.api``: what it exports is a promise to plugin authors."""

from __future__ import annotations

import ast
from pathlib import Path

import generator.api as api

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fibery-kb-glossary"

EXPORTED = [
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


def test_the_api_exports_exactly_these_names() -> None:
    """A name added or removed here is a change to the plugin API: say so in the changelog."""
    assert api.__all__ == EXPORTED
    assert all(hasattr(api, name) for name in api.__all__)
    public = {name for name in vars(api) if not name.startswith("_") and name != "annotations"}
    assert public == set(EXPORTED)


def test_the_example_plugin_imports_only_the_api() -> None:
    modules = set()
    for path in EXAMPLE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("generator"):
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names if alias.name.startswith("generator")}
    assert modules == {"generator.api"}
