"""Full-text search: index the built site with Pagefind at build time, offline.

Pagefind (``pip install 'pagefind[bin]'``) reads the staged HTML and writes a static,
chunked index to ``pagefind/``; the browser loads only the chunks a query needs, so search
works on GitHub Pages and from any local static server, with no network. Templates choose
what is indexed: ``data-pagefind-body`` on entity, database (first page) and content pages,
``data-pagefind-ignore`` on navigation-like parts, and a ``database`` meta shown with each
result. ``assets/search.js`` is the box in the header.

Without the binary the site is still built, with a warning: search is an enhancement.
A Pagefind that runs and fails is another matter: its index may be partial, so the build
fails (``RenderError``) and the previous site stays.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from .config import SiteConfig
from .errors import RenderError

log = logging.getLogger(__name__)

OUTPUT_DIR = "pagefind"
TIMEOUT = 600.0
_INDEXED = re.compile(r"Indexed (\d+) pages?")


def pagefind_command() -> list[str] | None:
    """The Pagefind executable: the one ``pagefind[bin]`` ships, else one on ``PATH``."""
    try:
        from pagefind_bin import get_executable

        return [str(get_executable())]
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("pagefind_extended") or shutil.which("pagefind")
    return [found] if found else None


def index_site(site: Path, config: SiteConfig) -> int | None:
    """Write the search index into ``site/pagefind/``; return the pages indexed, or None
    (with a warning) when search is off or Pagefind is not installed. Raise ``RenderError``
    when Pagefind fails: a partial index must not be published."""
    if not config.search:
        return None
    command = pagefind_command()
    if command is None:
        log.warning("search index not built: Pagefind is not installed (pip install 'pagefind[bin]')")
        return None
    # --keep-index-url: links end in index.html, so results also work from a plain folder.
    args = [*command, "--site", str(site), "--output-subdir", OUTPUT_DIR, "--keep-index-url"]
    try:
        result = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"search index failed: Pagefind did not finish within {TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise RenderError(f"search index failed: Pagefind could not run ({exc.strerror or exc})") from None
    if result.returncode != 0:
        reason = _failure(result)
        raise RenderError(f"search index failed: Pagefind: {reason}")
    match = _INDEXED.search(result.stdout)
    pages = int(match.group(1)) if match else 0
    log.info("search index: %d pages", pages)
    return pages


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    """Pagefind's reason for failing: its first line naming an error, else its last line."""
    lines = [line.strip() for line in f"{result.stdout}\n{result.stderr}".splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [f"exit code {result.returncode}"])[0 if errors else -1]
