"""Plugins: extend fibery-kb through standard Python entry points, without forking it.

Four entry-point groups, found with ``importlib.metadata``:

==========================  =================================================================
``fibery_kb.sources``       a workspace source: ``factory(config, options) -> Source``. The
                            built-ins ``fibery``, ``snapshot`` and ``demo`` are registered the
                            same way (see pyproject.toml).
``fibery_kb.fields``        field renderers: ``register(renderers, options)`` adds renderers to
                            ``FieldRenderers.by_kind`` or ``.by_field`` (overriding built-ins).
``fibery_kb.pages``         extra pages: ``generate(workspace, options) -> Iterable[ExtraPage]``.
``fibery_kb.commands``      a ``click.Command`` added to ``gen``.
==========================  =================================================================

Sources, fields and pages plugins change what is published, so they are active only when
``kb.toml`` names them in ``[plugins.<name>]`` (that table is their ``options``). Commands
are active once installed. A plugin that fails to import, or raises, stops the build with
one line naming it: a plugin never produces a silent half-site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from .config import SiteConfig
from .errors import GenError
from .model import Workspace
from .site.fields import FieldRenderers
from .site.plan import ExtraPage

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint


def entry_points(*, group: str) -> Any:
    """The installed entry points of ``group``. importlib.metadata (~20 ms of imports, and a
    scan of every installed package) is loaded only when a build needs a plugin."""
    from importlib.metadata import entry_points as installed_entry_points

    return installed_entry_points(group=group)


SOURCES = "fibery_kb.sources"
FIELDS = "fibery_kb.fields"
PAGES = "fibery_kb.pages"
COMMANDS = "fibery_kb.commands"
GROUPS = (SOURCES, FIELDS, PAGES, COMMANDS)
BUILTIN_SOURCES = frozenset({"fibery", "snapshot", "demo"})

T = TypeVar("T")


class PluginError(GenError):
    """A plugin could not be loaded, or failed while running."""


class SourceFactory(Protocol):
    """``fibery_kb.sources``: build a source from the site config and the plugin's options."""

    def __call__(self, config: SiteConfig, options: Mapping[str, Any]) -> Any: ...


class FieldsRegistrar(Protocol):
    """``fibery_kb.fields``: add renderers to ``renderers.by_kind`` / ``renderers.by_field``."""

    def __call__(self, renderers: FieldRenderers, options: Mapping[str, Any]) -> None: ...


class PageGenerator(Protocol):
    """``fibery_kb.pages``: return the extra pages to write for ``workspace``."""

    def __call__(self, workspace: Workspace, options: Mapping[str, Any]) -> Iterable[ExtraPage]: ...


@dataclass(frozen=True)
class Plugin:
    """One installed entry point."""

    group: str
    name: str
    value: str
    distribution: str

    @classmethod
    def of(cls, entry: EntryPoint) -> Plugin:
        dist = entry.dist.name if entry.dist is not None else "?"
        return cls(group=entry.group, name=entry.name, value=entry.value, distribution=dist)


def installed(group: str | None = None) -> list[Plugin]:
    """Every installed plugin (of ``group``), sorted by group and name."""
    groups = [group] if group else list(GROUPS)
    found = {(e.group, e.name): Plugin.of(e) for g in groups for e in entry_points(group=g)}
    return sorted(found.values(), key=lambda p: (GROUPS.index(p.group), p.name))


def is_active(plugin: Plugin, config: SiteConfig) -> bool:
    """Commands are active once installed; a source when kb.toml's ``source`` names it; a
    fields or pages plugin when kb.toml has its ``[plugins.<name>]`` table."""
    if plugin.group == COMMANDS:
        return True
    if plugin.group == SOURCES:
        return config.source == plugin.name
    return plugin.name in config.plugins


def state(plugin: Plugin, config: SiteConfig) -> str:
    """``active``, ``inactive``, or ``built-in`` for the sources --demo/--snapshot pick."""
    if is_active(plugin, config):
        return "active"
    return "built-in" if plugin.group == SOURCES and plugin.name in BUILTIN_SOURCES else "inactive"


def load(group: str, name: str) -> Any:
    """Import the object behind an entry point; any failure is a ``PluginError`` naming it."""
    matches = [e for e in entry_points(group=group) if e.name == name]
    if not matches:
        names = ", ".join(sorted(e.name for e in entry_points(group=group))) or "none"
        raise PluginError(f"no plugin '{name}' in {group} (installed: {names})")
    try:
        return matches[0].load()
    except Exception as exc:  # any import-time failure of third-party code
        raise PluginError(f"plugin '{name}' ({group}) failed to load: {type(exc).__name__}: {exc}") from None


def call(group: str, name: str, func: Callable[..., T], *args: Any) -> T:
    """Run plugin code; an exception becomes one ``PluginError`` line naming the plugin."""
    try:
        return func(*args)
    except GenError:
        raise
    except Exception as exc:  # the plugin's own bug must not look like ours
        raise PluginError(f"plugin '{name}' ({group}) failed: {type(exc).__name__}: {exc}") from None


def _configured(group: str, config: SiteConfig) -> list[tuple[str, Mapping[str, Any]]]:
    if not config.plugins:
        return []
    names = {e.name for e in entry_points(group=group)}
    return [(name, options) for name, options in sorted(config.plugins.items()) if name in names]


def unknown_plugins(config: SiteConfig) -> list[str]:
    """Names configured in kb.toml that no installed plugin provides."""
    if not config.plugins:
        return []
    names = {e.name for g in (FIELDS, PAGES, SOURCES) for e in entry_points(group=g)}
    return sorted(set(config.plugins) - names)


def field_renderers(config: SiteConfig) -> FieldRenderers:
    """The built-in renderers overridden by every configured ``fibery_kb.fields`` plugin."""
    renderers = FieldRenderers()
    for name, options in _configured(FIELDS, config):
        call(FIELDS, name, load(FIELDS, name), renderers, options)
    return renderers


def extra_pages(workspace: Workspace, config: SiteConfig) -> list[ExtraPage]:
    """Every page the configured ``fibery_kb.pages`` plugins generate, checked."""
    pages: list[ExtraPage] = []
    for name, options in _configured(PAGES, config):
        generate = load(PAGES, name)
        generated = call(PAGES, name, lambda: list(generate(workspace, options)))  # noqa: B023 - called at once
        for page in generated:
            if not isinstance(page, ExtraPage):
                raise PluginError(f"plugin '{name}' ({PAGES}) returned {type(page).__name__}, not ExtraPage")
        pages.extend(generated)
    return pages


def make_source(
    config: SiteConfig,
    name: str,
    options: Mapping[str, Any],
    builtins: Mapping[str, SourceFactory],
    *,
    builtin: bool = False,
) -> Any:
    """Build the source called ``name`` (built-in or plugin) through its entry point. From a
    source checkout without installed metadata, the built-ins (``sources.BUILTIN_SOURCES``,
    handed in by the caller: the sources come after the plugin loader) are still found directly.
    ``builtin`` (``--demo``, ``--snapshot``) takes the built-in of that name without looking."""
    registered = not (builtin and name in builtins) and any(e.name == name for e in entry_points(group=SOURCES))
    factory = builtins[name] if name in builtins and not registered else load(SOURCES, name)
    return call(SOURCES, name, factory, config, options)


def check_config(config: SiteConfig) -> None:
    """Fail early, naming it, when kb.toml configures a plugin that is not installed."""
    from .errors import ConfigError

    unknown = unknown_plugins(config)
    if unknown:
        installed_names = ", ".join(sorted({p.name for p in installed() if p.group != COMMANDS})) or "none"
        raise ConfigError(f"kb.toml: no installed plugin '{unknown[0]}' (installed: {installed_names})")


def commands() -> list[tuple[str, Callable[[], click.Command]]]:
    """(name, loader) of each installed command plugin; loading is deferred until used, so a
    broken plugin only fails the command that needs it (and ``gen plugins`` still works)."""

    def loader(name: str) -> Callable[[], click.Command]:
        def get() -> click.Command:
            command = load(COMMANDS, name)
            if not isinstance(command, click.Command):
                raise PluginError(f"plugin '{name}' ({COMMANDS}) is not a click command")
            return command

        return get

    return [(e.name, loader(e.name)) for e in sorted(entry_points(group=COMMANDS), key=lambda e: e.name)]
