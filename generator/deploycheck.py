"""Whether a fresh build needs deploying: its content hash against the deployed site's.

Run by the Pages workflows after ``gen build``::

    python -m generator.deploycheck site https://owner.github.io/repo/ [--force]

``build-info.json`` holds a hash of every file of the site except itself and ``status.html``
(which hold the build's time), so two builds of unchanged content have the same hash. The
previous hash is read from the deployed site itself rather than from a cache entry: the site
is the truth about what is deployed, including after a failed or manual deploy, and it needs
no permission beyond what any reader has. A query string unique to the run keeps the Pages
CDN (which caches for up to ten minutes) from answering with an older copy.

Any doubt means deploy: an unreachable or private site, a first deploy, a malformed file.
The decision goes to ``$GITHUB_OUTPUT`` (``deploy=true|false``) and, with the reason, to the
job summary, so that a skipped deploy is visible on the run's page.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

BUILD_INFO = "build-info.json"
FETCH_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Decision:
    deploy: bool
    reason: str
    new_hash: str
    deployed_hash: str | None = None


def read_hash(text: str) -> str | None:
    """The content hash in a ``build-info.json``, or None when it is not one."""
    try:
        value = json.loads(text).get("content_hash")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def deployed_hash(base_url: str, *, nonce: str, timeout: float = FETCH_TIMEOUT_S) -> tuple[str | None, str]:
    """The deployed site's content hash, or None with the reason it is unknown."""
    import httpx

    url = f"{base_url.rstrip('/')}/{BUILD_INFO}"
    try:
        response = httpx.get(url, params={"run": nonce}, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        return None, f"{url} could not be read ({type(exc).__name__})"
    if response.status_code != 200:
        return None, f"{url} answered HTTP {response.status_code}"
    found = read_hash(response.text)
    return found, "" if found else f"{url} holds no content hash"


def decide(new_hash: str, base_url: str, *, force: bool, nonce: str) -> Decision:
    """Deploy unless the deployed site has exactly this content (and no one forces it)."""
    if force:
        return Decision(True, "deploy forced (a push, or a manual run asking for it)", new_hash)
    if not base_url:
        return Decision(True, "the address of the deployed site is unknown", new_hash)
    old, why = deployed_hash(base_url, nonce=nonce)
    if old is None:
        return Decision(True, f"no deployed content hash to compare with: {why}", new_hash)
    if old == new_hash:
        return Decision(False, "the content is the same as the deployed site's", new_hash, old)
    return Decision(True, "the content changed", new_hash, old)


def summary(decision: Decision) -> str:
    """Markdown for the job summary."""
    new = f"`{decision.new_hash[:12]}`"
    if decision.deploy:
        old = f" (deployed: `{decision.deployed_hash[:12]}`)" if decision.deployed_hash else ""
        return f"### Deploying\n\nContent hash {new}{old}: {decision.reason}.\n\n"
    return (
        f"### Deploy skipped: nothing changed\n\n"
        f"The content hash {new} equals the deployed site's, so the site was not uploaded or deployed.\n"
        f"Run the workflow by hand with **force** to deploy anyway.\n\n"
    )


def _append(variable: str, text: str, environ: Mapping[str, str]) -> None:
    name = environ.get(variable)
    if name:
        with Path(name).open("a", encoding="utf-8") as handle:
            handle.write(text)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("site", type=click.Path(path_type=Path, file_okay=False))
@click.argument("base_url", default="")
@click.option("--force", is_flag=True, help="Deploy even when the content is unchanged.")
def command(site: Path, base_url: str, force: bool) -> None:
    """Say whether SITE must be deployed over the site at BASE_URL (deploy=true|false)."""
    try:
        new_hash = read_hash((site / BUILD_INFO).read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"cannot read {site / BUILD_INFO}: {exc.strerror}: run gen build first") from None
    if new_hash is None:
        raise click.ClickException(f"{site / BUILD_INFO} holds no content hash: rebuild with this fibery-kb")
    nonce = os.environ.get("GITHUB_RUN_ID") or str(int(time.time()))
    decision = decide(new_hash, base_url, force=force, nonce=nonce)
    try:
        _append("GITHUB_OUTPUT", f"deploy={'true' if decision.deploy else 'false'}\n", os.environ)
        _append("GITHUB_STEP_SUMMARY", summary(decision), os.environ)
    except OSError as exc:
        raise click.ClickException(f"cannot write the step output: {exc.strerror}") from None
    verdict = "deploy" if decision.deploy else "skip the deploy"
    click.echo(f"{verdict}: {decision.reason} (content hash {new_hash[:12]})")


def main() -> None:
    """One line on stderr and exit 2 for a usage error or a missing build, never a traceback."""
    try:
        command.main(standalone_mode=False)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        sys.exit(130)


if __name__ == "__main__":
    main()
