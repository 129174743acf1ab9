"""The no-change check: decide that a build would change nothing before doing any work that
grows with the number of entities, and then do nothing.

A build records, beside its render state, a **stamp**: the build's *fingerprint* (below),
the figures of its report, and the identity of its output folder (the inode and mtime of
every folder in it, and the size, mtime and inode of ``build-info.json``). The next build
computes its fingerprint first; when it equals the stamp's and the output folder is still
the one recorded, that build is over: nothing is parsed, planned, rendered or written, and
it reports the recorded figures.

The fingerprint is a digest of everything a site is made of:

* the workspace, as the source tells it cheaply (``Source.fingerprint()``): a snapshot file
  by its identity (device, inode, size, mtime and ctime: any write changes the ctime); the
  live space by what the fetch cache holds, once Fibery has confirmed, with the same
  requests an incremental fetch starts with, that nothing in it changed (``FiberyClient``);
  a source without ``fingerprint`` never takes this path;
* the code, templates and settings (``keys.global_key``, as every page key has) and the
  files of ``content_dir``.

Not taken when plugins are configured (their pages may depend on anything), with
``external_images = "download"``, or without a build cache (``--full`` reads none).

What the output check notices: a file or folder added, deleted, renamed or replaced (a
folder's mtime changes, and so does its inode when a build swaps it in), and any change to
``build-info.json``. What it does not: a file of the site edited in place (``touch``,
appending to it) without its folder changing; such a file is repaired by the next build
that finds something changed, or by ``gen build --full``. (Before, every file of the site
was stat'ed on every build: 0.1 s at 10,000 entities and growing with N.)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import write_atomically
from .report import BuildReport

if TYPE_CHECKING:
    from .cache import BuildCache
    from .config import SiteConfig
    from .fibery.stats import RequestStats
    from .sources import Source

log = logging.getLogger(__name__)

STAMP_VERSION = 1
_MARKER = "build-info.json"
_REPORTED = ("fibery_url", "space", "databases", "pages", "files", "content_hash", "unpublished_links")
"""The report's figures a no-change build repeats (the others are this build's own)."""


def fingerprint(source: Source, config: SiteConfig, root: Path) -> str | None:
    """Everything the site is built from, as one digest; None when it cannot be had cheaply."""
    source_print = getattr(source, "fingerprint", None)
    if source_print is None or config.plugins or config.external_images == "download":
        return None
    workspace = source_print()
    if workspace is None:
        return None
    from . import search
    from .config import template_dirs
    from .site.fields import FieldRenderers
    from .site.keys import content_digest, global_key

    pagefind = bool(config.search and search.pagefind_command())
    base = global_key(config, template_dirs(config, root), FieldRenderers(), pagefind=pagefind)
    content = content_digest(root / config.content_dir)
    return hashlib.sha256(f"{STAMP_VERSION}\0{base}\0{content}\0{workspace}".encode()).hexdigest()


def _stamp_file(cache: BuildCache, out: Path) -> Path:
    return cache.folder / "render" / f"{hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:16]}.stamp.json"


def _output_identity(out: Path, folders: list[str]) -> dict[str, Any] | None:
    """The inode and mtime of each folder, and build-info.json's size, mtime and inode."""
    try:
        found = {}
        for relative in folders:
            info = os.stat(out / relative if relative else out)
            found[relative] = [info.st_ino, info.st_mtime_ns]
        marker = os.stat(out / _MARKER)
    except OSError:
        return None
    return {"folders": found, "marker": [marker.st_size, marker.st_mtime_ns, marker.st_ino]}


def unchanged(cache: BuildCache, out: Path, print_: str, stats: RequestStats) -> BuildReport | None:
    """The report of a build that changes nothing, when the stamp of ``out`` has this
    fingerprint and ``out`` is still the folder recorded; else None."""
    if not cache.read:
        return None
    try:
        stamp = json.loads(_stamp_file(cache, out).read_bytes())
        same = (stamp["version"], stamp["out"], stamp["fingerprint"]) == (STAMP_VERSION, str(out.resolve()), print_)
        if not same or _output_identity(out, list(stamp["output"]["folders"])) != stamp["output"]:
            return None
        report = BuildReport(**{name: stamp["report"][name] for name in _REPORTED})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    report.requests, report.retries, report.fetched = stats.requests, stats.retries, stats.fetched
    report.built_at = datetime.now(UTC).isoformat(timespec="seconds")
    return report


def record(cache: BuildCache, out: Path, print_: str | None, report: BuildReport) -> None:
    """Stamp ``out`` after a build (or remove the stamp when there is no fingerprint)."""
    path = _stamp_file(cache, out)
    if print_ is None:
        path.unlink(missing_ok=True)
        return
    folders = [""]
    for current, names, _ in os.walk(out):  # folders only are recorded: a few, whatever N
        base = os.path.relpath(current, out)
        folders.extend(name if base == "." else f"{base}/{name}" for name in names)
    identity = _output_identity(out, sorted(folders))
    if identity is None:
        return
    stamp = {
        "version": STAMP_VERSION,
        "out": str(out.resolve()),
        "fingerprint": print_,
        "report": {name: getattr(report, name) for name in _REPORTED},
        "output": identity,
    }
    try:
        write_atomically(path, json.dumps(stamp).encode(), dir_mode=0o700)
    except OSError as exc:
        log.warning("build stamp not written to %s: %s", path.parent, exc.strerror or exc)
