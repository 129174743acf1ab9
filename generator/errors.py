"""Every error fibery-kb reports to a user, under one root.

Each is a ``click.ClickException``: the CLI prints its one-line message on stderr and exits
with its code, never with a traceback. Code that talks to a library (httpx, gql, pymongo)
translates that library's errors into one of these at the boundary, with ``raise … from``::

    GenError (exit 1)
    ├── ConfigError      a missing or invalid setting, kb.toml or option (exit 2)
    ├── SnapshotError    a malformed or wrong-version snapshot file
    ├── SourceError      the workspace cannot be read (exit 3)
    │   └── FiberyError  transport, HTTP status or GraphQL ``errors[]`` from Fibery
    ├── RenderError      the site cannot be rendered or written
    │   └── OutputError  the output folder cannot be written: disk full, read-only, denied
    └── StoreError       MongoDB unreachable, refused or failed (exit 4)
"""

from __future__ import annotations

import click

from .logs import SECRETS, redact


class GenError(click.ClickException):
    """Root of fibery-kb's errors: one clear line, a non-zero exit code."""

    exit_code = 1

    def show(self, file=None) -> None:
        """Print ``error: message`` on stderr (one line, no traceback), secrets redacted:
        a message may quote what a server answered."""
        click.echo(f"error: {redact(self.format_message(), SECRETS.secrets)}", err=True, file=file)


class ConfigError(GenError):
    """A setting is missing or invalid."""

    exit_code = 2


class SnapshotError(GenError):
    """A snapshot file cannot be read, parsed or is of another format version."""


class SourceError(GenError):
    """The workspace could not be read from its source."""

    exit_code = 3


class FiberyError(SourceError):
    """Fibery answered with an error, or could not be reached."""


class RenderError(GenError):
    """The site could not be rendered or written."""


class OutputError(RenderError):
    """Writing the site failed for a reason outside fibery-kb (disk full, read-only file
    system, permission denied): the message names the path and the cause. Exit 1, like
    every build error; the previous site is left as it was."""


class StoreError(GenError):
    """MongoDB could not be reached or refused a write."""

    exit_code = 4
