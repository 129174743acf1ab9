"""The shape of ``generator/``, stated as contracts and checked from the code's own imports.

Every ``import`` of every module is read with ``ast``: deferred imports (inside functions)
and type-only ones (under ``TYPE_CHECKING``) included, so that neither can hide a cycle.
The pipeline runs config → source → workspace → publish rules → site (plan → render →
write, ``site/``) → report; a module may import, at run time, only modules of its own stage or an earlier one.
The commands that drive the pipeline (``build``, ``serve``, ``cli`` …) come last.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "generator"

FOUNDATION = {"generator", "model", "structs", "naming", "errors", "logs", "content_urls", "text", "memory"}
"""Imported by every stage; they import no stage."""
STAGES: list[tuple[str, set[str]]] = [
    ("foundation", FOUNDATION),
    ("config", {"config"}),
    (
        "source",
        {
            "sources",
            "files",
            "cache",
            "demo",
            "demo.make_demo",
            "demo.attachments",
            "demo.content",
            "demo.guides",
            "fibery",
        },
    ),
    ("publish rules", {"publish", "segments"}),
    ("site", {"site", "article", "badges", "diagram", "feed", "external_images", "plugins"}),
    ("write", {"search"}),
    ("report", {"report", "summary"}),
    ("commands", {"build", "nochange", "serve", "cli", "__main__", "store", "scaffold", "deploycheck", "check", "api"}),
]
RENDERING = {"site", "article", "badges", "diagram", "feed"}
"""``site/`` (plan, links, fields, Jinja, pages, keys, render state, writer, status page)
and the reader-facing helpers its pages use."""
KNOWN_UPWARD: set[tuple[str, str]] = set()
"""Imports against the pipeline that are still to be moved to their owner: an entry that
no longer occurs fails the test, so the list only shrinks."""


def module_names() -> dict[str, Path]:
    """Each module of the package by dotted name under ``generator`` (``fibery.client``)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "generator"
        names[name] = path
    return names


MODULES = module_names()


def imports(name: str) -> list[tuple[str, bool]]:
    """(module imported, whether only for type checking) for every import ``name`` makes."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            absolute = [alias.name for alias in node.names if alias.name.startswith("generator")]
            targets = [module.removeprefix("generator.") for module in absolute]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if name != "generator" else []
                module = ".".join([*base, *([node.module] if node.module else [])]) or "generator"
            elif (node.module or "").startswith("generator"):
                module = (node.module or "").removeprefix("generator").removeprefix(".") or "generator"
            else:
                continue
            targets = [module, *(f"{module}.{alias.name}".removeprefix("generator.") for alias in node.names)]
        else:
            continue
        found += [(target, id(node) in type_only) for target in targets if target in MODULES and target != name]
    return found


GRAPH = {name: imports(name) for name in MODULES}


def stage_of(name: str) -> int:
    """The index in ``STAGES`` of the module's stage (a subpackage's modules share it)."""
    for index, (_, members) in enumerate(STAGES):
        if name in members or name.split(".")[0] in members:
            return index
    raise AssertionError(f"generator/{name}: add it to a stage in tests/test_layering.py")


def reachable(start: str, *, type_only: bool = True) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        for target, only_types in GRAPH[stack.pop()]:
            if (type_only or not only_types) and target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def group(name: str) -> str:
    return name.split(".")[0]


def test_every_module_has_a_stage() -> None:
    for name in MODULES:
        stage_of(name)


def test_no_import_cycle() -> None:
    cycles = sorted(name for name in MODULES if name in reachable(name))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_nothing_imports_a_later_stage_at_run_time() -> None:
    upward = {
        (group(name), group(target))
        for name, found in GRAPH.items()
        for target, only_types in found
        if not only_types and stage_of(target) > stage_of(name)
    }
    assert upward - KNOWN_UPWARD == set(), "imports against the pipeline"
    assert KNOWN_UPWARD - upward == set(), "moved to their owner: drop them from KNOWN_UPWARD"


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ({"fibery"}, RENDERING | {"build", "plugins", "cli", "serve", "sources"}),
        (RENDERING, {"fibery", "sources", "serve", "cli", "build", "plugins", "search", "store"}),
    ],
    ids=["fibery", "site"],
)
def test_forbidden_imports(importer: set[str], forbidden: set[str]) -> None:
    found = {
        (name, target)
        for name in MODULES
        if group(name) in importer
        for target in reachable(name)
        if group(target) in forbidden
    }
    assert found == set()


def test_the_foundation_imports_no_stage() -> None:
    found = {(name, target) for name in FOUNDATION for target, _ in GRAPH[name] if group(target) not in FOUNDATION}
    assert found == set()


def test_site_modules_stay_small() -> None:
    """No module of ``site/`` over ~600 lines: a module that grows past it does several jobs."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: n for name, n in sizes.items() if group(name) == "site" and n > 600} == {}


def test_the_site_plan_is_frozen() -> None:
    """The renderer reads the plan and returns what each page found (``PageResult``)."""
    import dataclasses

    from generator.site.plan import SitePlan

    assert SitePlan.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "unpublished_links" not in {f.name for f in dataclasses.fields(SitePlan)}
