"""The ``gen`` command: parse options, pick a source, call the pipeline. Nothing else.

Options default to ``None`` so that the environment and ``kb.toml`` decide unless a flag is
given. Errors are ``GenError``s: one line on stderr and a distinct exit code.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from . import __version__
from .build import build
from .config import SiteConfig, load_connection, load_site_config
from .errors import ConfigError, GenError
from .logs import SECRETS, redact, setup_logging
from .publish import select_databases
from .sources import DemoSource, FiberySource, SnapshotSource, Source, write_snapshot

log = logging.getLogger("generator")
stderr = Console(stderr=True)


def source_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that choose where the workspace comes from (shared by every command)."""
    options = [
        click.option("--demo", is_flag=True, help="Use the demo workspace shipped with fibery-kb (no network, no token)."),
        click.option("--snapshot", type=click.Path(path_type=Path, dir_okay=False), help="Read a snapshot saved by `gen pull`."),
        click.option("--fibery-url", help="Workspace URL, e.g. https://acme.fibery.io [env: FIBERY_URL]."),
        click.option("--space", help="Space name as shown in Fibery, e.g. 'Knowledge Base' [env: FIBERY_SPACE]."),
        click.option(
            "--token-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="File holding the API token [env: FIBERY_TOKEN]. The token is never an argument.",
        ),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Path of kb.toml [default: ./kb.toml]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def logging_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-v``/``-q``/``--log-format``, applied before the command runs."""

    def apply(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        ctx.meta[param.name] = value
        return value

    func = click.option("-v", "--verbose", count=True, expose_value=False, callback=apply, help="More detail (-vv: debug).")(func)
    func = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=apply, help="Only errors; no progress.")(func)
    func = click.option(
        "--log-format", type=click.Choice(["text", "json"]), default="text", expose_value=False, callback=apply, help="Log line format."
    )(func)
    return func


def _configure_logging(ctx: click.Context) -> bool:
    """Set up logging from the options; return whether to show progress."""
    quiet = bool(ctx.meta.get("quiet"))
    verbosity = -1 if quiet else int(ctx.meta.get("verbose") or 0)
    setup_logging(verbosity, json_format=ctx.meta.get("log_format") == "json")
    return not quiet and stderr.is_terminal


def make_source(
    config: SiteConfig,
    *,
    demo: bool,
    snapshot: Path | None,
    fibery_url: str | None,
    space: str | None,
    token_file: Path | None,
    progress: Callable[[str, int], None] | None = None,
) -> Source:
    """Pick the workspace source the options ask for."""
    if demo and snapshot:
        raise ConfigError("--demo and --snapshot cannot be used together")
    if demo:
        return DemoSource()
    if snapshot:
        return SnapshotSource(snapshot)
    connection = load_connection(fibery_url=fibery_url, space=space, token_file=token_file)
    SECRETS.add(connection.token.get_secret_value())
    return FiberySource.from_config(
        connection, config, select=lambda dbs: select_databases(dbs, config), progress=progress
    )


@contextmanager
def progress_display(enabled: bool) -> Iterator[tuple[Callable[[str, int], None], Callable[[int], None]]]:
    """Rich progress on a terminal: entities fetched per database, pages written."""
    if not enabled:
        yield (lambda title, count: None), (lambda pages: None)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=stderr, transient=True) as bar:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="fibery-kb")
def cli() -> None:
    """fibery-kb: publish a Fibery space as a fast static knowledge-base site."""


@cli.command("build")
@source_options
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("site"), show_default=True, help="Output folder.")
@logging_options
@click.pass_context
def build_command(
    ctx: click.Context,
    demo: bool,
    snapshot: Path | None,
    fibery_url: str | None,
    space: str | None,
    token_file: Path | None,
    config_path: Path | None,
    out: Path,
) -> None:
    """Build the static site from Fibery (or --demo / --snapshot) into --out."""
    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    root = config_path.parent if config_path else Path(".")
    with progress_display(show_progress) as (fetched, written):
        source = make_source(
            config, demo=demo, snapshot=snapshot, fibery_url=fibery_url, space=space, token_file=token_file, progress=fetched
        )
        report = build(source, config, out=out, root=root, on_page=written)
    if report.unpublished_links:
        log.warning("%d links point to unpublished entities", report.unpublished_links)
    if not ctx.meta.get("quiet"):
        click.echo(f"Built {out}/: {report.summary()}")


@cli.command("pull")
@source_options
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, help="Snapshot file to write.")
@logging_options
@click.pass_context
def pull_command(
    ctx: click.Context,
    demo: bool,
    snapshot: Path | None,
    fibery_url: str | None,
    space: str | None,
    token_file: Path | None,
    config_path: Path | None,
    out: Path,
) -> None:
    """Save the workspace as a JSON snapshot, for `gen build --snapshot` without network."""
    show_progress = _configure_logging(ctx)
    config = load_site_config(path=config_path)
    with progress_display(show_progress) as (fetched, _):
        source = make_source(
            config, demo=demo, snapshot=snapshot, fibery_url=fibery_url, space=space, token_file=token_file, progress=fetched
        )
        workspace = source.load()
    try:
        write_snapshot(workspace, out)
    except OSError as exc:
        raise GenError(f"cannot write snapshot {out}: {exc.strerror}") from None
    if not ctx.meta.get("quiet"):
        click.echo(
            f"Saved {out}: {len(workspace.databases)} databases, {workspace.entity_count} entities, "
            f"{source.stats.requests} requests"
        )


def main() -> None:
    """Entry point of the ``gen`` script: known errors are one line; a bug is one line too,
    with the traceback only under ``-vv``."""
    try:
        cli.main(standalone_mode=False)
    except GenError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        message = redact(f"unexpected {type(exc).__name__}: {exc}", SECRETS.secrets)
        click.echo(f"error: {message} (run with -vv for details)", err=True)
        sys.exit(1)
