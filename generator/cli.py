"""The ``gen`` command: parse options, pick a source, call the pipeline. Nothing else.

Options default to ``None`` so that the environment and ``kb.toml`` decide unless a flag is
given. Errors are ``GenError``s: one line on stderr and a distinct exit code.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

from . import __version__, plugins
from .build import build
from .cache import BuildCache
from .config import SiteConfig, load_site_config
from .errors import ConfigError, GenError
from .logs import SECRETS, redact, setup_logging
from .model import Database
from .publish import apply_publish_rules, describe_publication, published_files, select_databases
from .sources import BUILTIN_SOURCES, Source, as_source, write_snapshot
from .summary import write_job_summary
from .text import RichText

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger("generator")


@functools.cache
def _stderr() -> Console:
    """The console progress is drawn on (rich is loaded on first use: not by ``gen -q``)."""
    from rich.console import Console

    return Console(stderr=True)


def source_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose where the workspace comes from (shared by every command)."""
    options = [
        click.option(
            "--demo", is_flag=True, help="Use the demo workspace shipped with fibery-kb (no network, no token)."
        ),
        click.option(
            "--snapshot", type=click.Path(path_type=Path, dir_okay=False), help="Read a snapshot saved by `gen pull`."
        ),
        click.option("--fibery-url", help="Workspace URL, e.g. https://acme.fibery.io [env: FIBERY_URL]."),
        click.option("--space", help="Space name as shown in Fibery, e.g. 'Knowledge Base' [env: FIBERY_SPACE]."),
        click.option(
            "--token-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File holding the API token [env: FIBERY_TOKEN]. The token is never an argument.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Path of kb.toml [default: ./kb.toml].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def logging_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-q``/``--log-format``, applied before the command runs."""

    def apply(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta[param.name] = value
        return value

    func = click.option(
        "-v", "--verbose", count=True, expose_value=False, callback=apply, help="More detail (-vv: debug)."
    )(func)
    func = click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=apply, help="Only errors; no progress."
    )(func)
    func = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        expose_value=False,
        callback=apply,
        help="Log line format.",
    )(func)
    return func


def _configure_logging(ctx: click.Context) -> bool:
    """Set up logging from the options; return whether to show progress."""
    quiet = bool(ctx.meta.get("quiet"))
    verbosity = -1 if quiet else int(ctx.meta.get("verbose") or 0)
    setup_logging(verbosity, json_format=ctx.meta.get("log_format") == "json")
    return not quiet and _stderr().is_terminal


def make_source(
    config: SiteConfig,
    *,
    demo: bool,
    snapshot: Path | None,
    fibery_url: str | None,
    space: str | None,
    token_file: Path | None,
    progress: Callable[[str, int], None] | None = None,
    cache: BuildCache | None = None,
    rich_text_formats: tuple[str, ...] | None = None,
    rich_text: RichText | None = None,
    select: Callable[[list[Database]], list[Database]] | None = None,
    files_of: Callable[[Database, str], list[str]] | None = None,
) -> Source:
    """Pick the workspace source the options ask for: ``--demo``, ``--snapshot``, else
    kb.toml's ``source`` (``fibery`` by default, or a ``fibery_kb.sources`` plugin). A live
    one reads through ``cache`` the entities of the databases ``select`` keeps (by default
    those the publish rules publish), prepares rich text as it arrives with ``rich_text``
    (the build's) and, given ``files_of``, downloads a database's files once it is read."""
    if demo and snapshot:
        raise ConfigError("--demo and --snapshot cannot be used together")
    name = "demo" if demo else "snapshot" if snapshot else config.source
    options: dict[str, Any] = {
        **config.plugins.get(name, {}),
        "progress": progress,
        "cache": cache,
        "rich_text": rich_text,
        "select": select or (lambda databases: select_databases(databases, config)),
        "files_of": files_of,
    }
    given = {
        "fibery_url": fibery_url,
        "space": space,
        "token_file": token_file,
        "path": snapshot,
        "rich_text_formats": rich_text_formats,
    }
    options.update({key: value for key, value in given.items() if value is not None})
    # --demo and --snapshot name the built-in sources: no plugin look-up (importlib.metadata).
    chosen = plugins.make_source(config, name, options, BUILTIN_SOURCES, builtin=demo or snapshot is not None)
    return as_source(chosen)


@contextmanager
def progress_display(enabled: bool) -> Iterator[tuple[Callable[[str, int], None], Callable[[int], None]]]:
    """Rich progress on a terminal: entities fetched per database, pages written."""
    if not enabled:
        yield (lambda title, count: None), (lambda pages: None)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn  # only on a terminal

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_stderr(), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def fetched(title: str, count: int) -> None:
            if title not in tasks:
                tasks[title] = bar.add_task(f"Fetching {title}", total=None)
            bar.update(tasks[title], completed=count)

        def written(pages: int) -> None:
            if "pages" not in tasks:
                tasks["pages"] = bar.add_task("Writing pages", total=None)
            bar.update(tasks["pages"], completed=pages)

        yield fetched, written


class PluginGroup(click.Group):
    """``gen``: the built-in commands plus every installed ``fibery_kb.commands`` plugin,
    loaded only when it is run (a broken plugin fails its own command, nothing else)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(name for name, _ in plugins.commands())})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = next((get() for name, get in plugins.commands() if name == cmd_name), None)
        return command


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fibery-kb")
def cli() -> None:
    """fibery-kb: publish a Fibery space as a fast static knowledge-base site."""


@cli.command("build")
@source_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("site"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--strict/--no-strict",
    default=None,
    help="Fail the build when a referenced file cannot be published [default: kb.toml strict, off].",
)
@click.option(
    "--dry-run", is_flag=True, help="List what would be published (databases, entities, fields); write nothing."
)
@click.option(
    "--full",
    is_flag=True,
    help="Ignore the fetch, render and download caches (kb.toml cache_dir): fetch everything, render every page.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace --out even when it is a non-empty folder fibery-kb did not build (never a project folder).",
)
@logging_options
@click.pass_context
def build_command(
    ctx: click.Context,
    config_path: Path | None,
    out: Path,
    strict: bool | None,
    dry_run: bool,
    full: bool,
    force: bool,
    **source_args: Any,
) -> None:
    """Build the static site from Fibery (or --demo / --snapshot) into --out.

    Incremental: only entities changed since the last build are fetched, only pages whose
    inputs changed are rendered, and only files whose bytes changed are written."""
    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    plugins.check_config(config)
    if strict is not None:
        config = msgspec.structs.replace(config, strict=strict)
    root = config_path.parent if config_path else Path(".")
    cache = None if dry_run else BuildCache(root / config.cache_dir, read=not full)
    with progress_display(show_progress) as (fetched, written):
        rich_text = RichText()  # one per build: the source prepares rich text with it as it arrives
        # A dry run has no cache (it writes nothing, not even the download cache).
        # The files the publish rules publish are downloaded while the rest of the space is read.
        files_of = functools.partial(published_files, config)
        source = make_source(
            config, progress=fetched, cache=cache, rich_text=rich_text, files_of=files_of, **source_args
        )
        if dry_run:
            workspace = source.load()
            published = apply_publish_rules(workspace, config)
            published = published.with_files(source.files(published.referenced_files()))
        else:
            report = build(
                source, config, out=out, root=root, on_page=written, cache=cache, force=force, rich_text=rich_text
            )
    if dry_run:
        click.echo("\n".join(describe_publication(workspace, published)))
        return
    write_job_summary(report, demo=bool(source_args.get("demo")))
    if report.unpublished_links:
        log.warning("%d links point to unpublished entities", report.unpublished_links)
    if not ctx.meta.get("quiet"):
        click.echo(f"Built {out}/: {report.summary()}")


@cli.command("pull")
@source_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Snapshot file to write.")
@logging_options
@click.pass_context
def pull_command(ctx: click.Context, config_path: Path | None, out: Path, **source_args: Any) -> None:
    """Save the workspace as a JSON snapshot, for `gen build --snapshot` without network."""
    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    with progress_display(show_progress) as (fetched, _):
        source = make_source(config, progress=fetched, **source_args)
        workspace = source.load()
        workspace = workspace.with_files(source.files(workspace.referenced_files()))
    # The snapshot holds hidden fields too: owner-only (0600), like the fetch cache.
    umask = os.umask(0o077)
    try:
        write_snapshot(workspace, out)
    except OSError as exc:
        raise GenError(f"cannot write snapshot {out}: {exc.strerror}") from None
    finally:
        os.umask(umask)
    if not ctx.meta.get("quiet"):
        click.echo(
            f"Saved {out}: {len(workspace.databases)} databases, {workspace.entity_count} entities, "
            f"{source.stats.requests} requests"
        )


# =========================================================================== gen segments (issue 3)
# `gen segments` and `gen segments store`: option parsing only. Reading, ordering and
# formatting live in segments.py; MongoDB in store.py (imported lazily: pymongo adds
# ~150 ms to every other command).

from . import segments as seg  # noqa: E402 - this block's imports stay with it
from .errors import StoreError  # noqa: E402


def _inherit(ctx: click.Context, params: dict[str, Any]) -> dict[str, Any]:
    """Let `gen segments --demo store` mean `gen segments store --demo`: options given to
    the group fill in those the subcommand left unset."""
    parent = ctx.parent.params if ctx.parent else {}
    return {k: parent.get(k, v) if v in (None, False) else v for k, v in params.items()}


def _segments_loader(
    config: SiteConfig, database: str | None, progress: Callable[[str, int], None], **source_args: Any
) -> Callable[[], seg.Segments]:
    """Return how to read the segments from the source the options pick; a live read
    fetches only the segments database and the databases its relations point at."""
    name = database or config.segments_database
    setting = "--database" if database else "kb.toml segments_database"
    # Segments keep their rich text as Markdown (and plain text, from the HTML). They publish
    # nothing: no file is downloaded (``files`` is never called).
    select = seg.segments_selector(name, setting=setting)
    source = make_source(config, progress=progress, rich_text_formats=("md", "html"), select=select, **source_args)
    return lambda: seg.read_segments(source.load(), name, setting=setting)


def _write_stdout(text: str) -> None:
    """Write machine-readable output; a reader that stops early (`| head`) ends us quietly."""
    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would otherwise report the broken pipe again when it flushes at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


@cli.group("segments", invoke_without_command=True)
@source_options
@click.option("--database", help="Segments database [default: kb.toml segments_database, or 'Process Segments'].")
@click.option(
    "--format", "fmt", type=click.Choice(seg.FORMATS), default="table", show_default=True, help="Output format."
)
@logging_options
@click.pass_context
def segments_command(
    ctx: click.Context, fmt: str, config_path: Path | None, database: str | None, **source_args: Any
) -> None:
    """Print the process segments in process order (a table, JSON or CSV).

    Follows the predecessor relation; segments without one are in public-id order.
    """
    if ctx.invoked_subcommand is not None:
        return
    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    with progress_display(show_progress) as (fetched, _):
        segments = _segments_loader(config, database, fetched, **source_args)()
    if fmt == "table":
        from rich.console import Console

        seg.print_table(segments, Console())
    else:
        _write_stdout(seg.to_json(segments) if fmt == "json" else seg.to_csv(segments))


@segments_command.command("store")
@source_options
@click.option("--database", help="Segments database [default: kb.toml segments_database, or 'Process Segments'].")
@click.option("--dry-run", is_flag=True, help="Show what would change in MongoDB, write nothing.")
@logging_options
@click.pass_context
def segments_store_command(ctx: click.Context, dry_run: bool, **params: Any) -> None:
    """Upsert the segments into MongoDB [env: MONGODB_URI, MONGODB_DB].

    Idempotent: unchanged segments are not written; segments gone from Fibery are marked
    `removed_at`, never deleted. Each run is recorded in the `sync_runs` collection.
    """
    from . import store

    params = _inherit(ctx, params)
    config_path, database = params.pop("config_path"), params.pop("database")
    show_progress = _configure_logging(ctx)
    settings = store.StoreSettings.from_env()
    for secret in settings.secrets:
        SECRETS.add(secret)
    config = load_site_config(path=config_path)
    with progress_display(show_progress) as (fetched, _):
        load = _segments_loader(config, database, fetched, **params)
        with store.connect(settings) as client:
            db = store.database(client, settings)
            result = store.sync(db, load, dry_run=dry_run, target=settings.safe_uri, secrets=settings.secrets)
    for change in result.changes if dry_run else ():
        click.echo(change.describe())
    if not ctx.meta.get("quiet") or dry_run:
        click.echo(f"{settings.database}.{store.SEGMENTS_COLLECTION} at {settings.safe_uri}: {result.summary()}")
    if result.failed:
        raise StoreError(result.failure_message())


# =========================================================================== gen serve, gen check (issue 5)
# Option parsing only: the preview server lives in serve.py, the site crawler in check.py.


@cli.command("serve")
@source_options
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("site"),
    show_default=True,
    help="Folder to build into and serve.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: 0.0.0.0 serves other machines too (in a container, to its host).",
)
@logging_options
@click.pass_context
def serve_command(
    ctx: click.Context, config_path: Path | None, out: Path, port: int, host: str, **source_args: Any
) -> None:
    """Build the site, serve it on http://HOST:PORT/, rebuild when templates/ or content/
    change (the workspace is read once) and reload the pages open in a browser. Ctrl-C
    stops it (exit code 130, as any interrupted command)."""
    from .serve import LoadedSource, Preview, serve

    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    root = config_path.parent if config_path else Path(".")
    with progress_display(show_progress) as (fetched, _):
        source = LoadedSource(make_source(config, progress=fetched, **source_args))
    try:
        serve(Preview(source, config, out=out, root=root, announce=click.echo), port=port, host=host)
    except KeyboardInterrupt:
        click.echo("Stopped.")
        sys.exit(130)


@cli.command("check")
@click.argument("site", type=click.Path(path_type=Path, file_okay=False, exists=True), default="site")
@click.option(
    "--allow-orphan",
    "allow_orphans",
    multiple=True,
    metavar="GLOB",
    help="Pages that may be unreachable from the home page, e.g. 'status.html' (404.html always may).",
)
@logging_options
@click.pass_context
def check_command(ctx: click.Context, site: Path, allow_orphans: tuple[str, ...]) -> None:
    """Check a built site: broken internal links, missing anchors, pages not reachable from
    the home page. Exits 1 when it finds any."""
    from .check import check_site

    _configure_logging(ctx)
    report = check_site(site, allow_orphans=allow_orphans)
    for problem in report.problems:
        click.echo(problem.describe())
    if not ctx.meta.get("quiet") or report.problems:
        click.echo(f"Checked {site}/: {report.summary()}")
    if report.problems:
        raise GenError(f"gen check found {len(report.problems)} problems in {site}/")


@cli.command("plugins")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Path of kb.toml.")
def plugins_command(config_path: Path | None) -> None:
    """List the installed plugins and whether kb.toml makes them active."""
    config = load_site_config(path=config_path)
    found = plugins.installed()
    if not found:
        click.echo("No plugins installed.")
        return
    width = max(len(p.name) for p in found)
    for plugin in found:
        state = plugins.state(plugin, config)
        click.echo(f"{plugin.group:<20} {plugin.name:<{width}}  {state:<8}  {plugin.value}  ({plugin.distribution})")


# =========================================================================== gen init (issue 17)
# Option parsing only: the files and the checks live in scaffold.py.


@cli.command("init")
@click.argument("directory", type=click.Path(path_type=Path), default=".")
@click.option("--force", is_flag=True, help="Overwrite the files gen init writes if they exist.")
def init_command(directory: Path, force: bool) -> None:
    """Start a knowledge base in DIRECTORY: kb.toml, content/, templates/, .gitignore, and a
    Pages workflow installing this fibery-kb version, pinned in requirements.txt."""
    from . import scaffold

    click.echo(scaffold.next_steps(scaffold.init(directory, force=force)))


def _usage_message(exc: click.UsageError) -> str:
    """Click's usage error as one line: the problem and where help is (click prints three)."""
    command = exc.ctx.command_path if exc.ctx else "gen"
    return f"{exc.format_message().rstrip('.')} (see '{command} --help')"


def main() -> None:
    """Entry point of the ``gen`` script: known errors are one line; a bug is one line too,
    with the traceback only under ``-vv``."""
    try:
        cli.main(standalone_mode=False, prog_name="gen")
    except GenError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        click.echo(f"error: {_usage_message(exc)}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OSError as exc:
        # A file the user's system would not let us read or write (disk full, read-only).
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"error: {redact(f'{where}{exc.strerror or exc}', SECRETS.secrets)}", err=True)
        sys.exit(1)
    except Exception as exc:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            click.echo(redact(traceback.format_exc(), SECRETS.secrets), err=True, nl=False)
            sys.exit(1)
        message = redact(f"unexpected {type(exc).__name__}: {exc}", SECRETS.secrets)
        click.echo(f"error: {message} (run with -vv for details)", err=True)
        sys.exit(1)
