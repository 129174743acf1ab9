"""Plugins through entry points: the example package changes the demo site, `gen plugins`
lists it, and a broken plugin stops the build with one line naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from generator.model import Field, FieldKind
from generator.plugins import ExtraPage

from .conftest import ROOT
from .test_cli import assert_one_line_error, run_gen

EXAMPLE = ROOT / "examples" / "fibery-kb-glossary"
PLUGINS_TOML = """
[plugins.glossary]
database = "Equipment"
title = "Equipment glossary"

[plugins.sparkline]
fields = ["Process Segments/Weekly yield"]
"""


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example plugin package installed into a throwaway folder (``pip --target``), never
    into the environment running the tests: the environment of a `gen` run that sees it."""
    target = tmp_path_factory.mktemp("plugin-env")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-compile",
         "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return {"PYTHONPATH": str(target)}


def broken_plugin(tmp_path: Path, group: str, target: str) -> dict[str, str]:
    """A distribution whose entry point is ``target``, importable through PYTHONPATH."""
    dist = tmp_path / "plugins" / "broken_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\nbroken = {target}\n")
    (tmp_path / "plugins" / "broken_module.py").write_text("def explode(*args):\n    raise RuntimeError('kaboom')\n")
    return {"PYTHONPATH": str(tmp_path / "plugins")}


def test_example_plugin_changes_the_demo_site(tmp_path: Path, example_plugin: dict[str, str]) -> None:
    (tmp_path / "kb.toml").write_text(PLUGINS_TOML)
    snapshot = json.loads((ROOT / "generator" / "demo" / "workspace.json").read_text())
    segments = next(db for db in snapshot["databases"] if db["title"] == "Process Segments")
    segments["fields"].append(msgspec.to_builtins(Field(key="weeklyYield", title="Weekly yield", kind=FieldKind.TEXT)))
    for n, entity in enumerate(segments["entities"]):
        entity["values"]["weeklyYield"] = f"{n}, {n + 3}, {n + 1}, {n + 5}"
    (tmp_path / "snap.json").write_text(json.dumps(snapshot))

    result = run_gen("build", "--snapshot", "snap.json", cwd=tmp_path, **example_plugin)
    assert result.returncode == 0, result.stderr
    site = tmp_path / "site"
    glossary = (site / "glossary.html").read_text()
    assert "<title>Equipment glossary — Nursery Knowledge Base</title>" in glossary
    assert 'href="db/equipment/camera-grading-machine-5.html"' in glossary  # Fibery URL → site page
    assert 'href="glossary.html"' in (site / "index.html").read_text()  # in the navigation
    potting = next((site / "db" / "process-segments").glob("potting-*.html")).read_text()
    assert '<svg class="sparkline"' in potting


def test_gen_plugins_lists_installed_and_active(tmp_path: Path, example_plugin: dict[str, str]) -> None:
    (tmp_path / "kb.toml").write_text('[plugins.glossary]\ndatabase = "Guides"\n')
    result = run_gen("plugins", cwd=tmp_path, **example_plugin)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("fibery_kb.pages" in line and "glossary" in line and "active" in line for line in lines)
    assert any("fibery_kb.fields" in line and "sparkline" in line and "inactive" in line for line in lines)
    assert any("fibery_kb.sources" in line and "snapshot" in line for line in lines)
    assert any("fibery_kb.commands" in line and "glossary" in line for line in lines)


def test_plugin_command_is_added_to_gen(tmp_path: Path, example_plugin: dict[str, str]) -> None:
    result = run_gen("glossary", "--demo", cwd=tmp_path, **example_plugin)
    assert result.returncode == 0, result.stderr
    assert "Potting Machine PM-1:" in result.stdout


@pytest.mark.parametrize(
    ("group", "target", "message"),
    [
        (
            "fibery_kb.pages",
            "no_such_module:generate",
            "plugin 'broken' (fibery_kb.pages) failed to load: ModuleNotFound",
        ),
        ("fibery_kb.pages", "broken_module:explode", "plugin 'broken' (fibery_kb.pages) failed: RuntimeError: kaboom"),
        (
            "fibery_kb.fields",
            "broken_module:explode",
            "plugin 'broken' (fibery_kb.fields) failed: RuntimeError: kaboom",
        ),
    ],
)
def test_a_broken_plugin_is_one_clear_line_and_no_site(tmp_path: Path, group: str, target: str, message: str) -> None:
    (tmp_path / "kb.toml").write_text("[plugins.broken]\n")
    result = run_gen("build", "--demo", cwd=tmp_path, **broken_plugin(tmp_path, group, target))
    assert_one_line_error(result, message, 1)
    assert not (tmp_path / "site").exists()


def test_a_broken_command_plugin_fails_only_its_command(tmp_path: Path) -> None:
    env = broken_plugin(tmp_path, "fibery_kb.commands", "no_such_module:cmd")
    assert_one_line_error(
        run_gen("broken", cwd=tmp_path, **env), "plugin 'broken' (fibery_kb.commands) failed to load", 1
    )
    assert run_gen("build", "--demo", "-q", cwd=tmp_path, **env).returncode == 0


def test_unknown_plugin_in_kb_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text("[plugins.nope]\n")
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), "kb.toml: no installed plugin 'nope'", 2)


def test_plugin_source_is_chosen_in_kb_toml(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('source = "demo"\n')
    result = run_gen("build", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "db" / "guides" / "index.html").is_file()


def test_extra_page_is_a_frozen_value() -> None:
    page = ExtraPage(slug="x", title="X", html="<p>x</p>")
    with pytest.raises(AttributeError):
        page.title = "Y"  # type: ignore[misc]


def test_the_example_plugin_stays_out_of_the_test_environment(example_plugin: dict[str, str]) -> None:
    """Installing it for the tests leaves `gen` in this environment as it was."""
    assert "glossary" not in run_gen("--help", cwd=ROOT).stdout.split("Commands:")[-1]
    assert "glossary" in run_gen("--help", cwd=ROOT, **example_plugin).stdout.split("Commands:")[-1]
