"""The GitHub Actions job summary: what ``gen build`` did, shown on the workflow run's page.

GitHub gives every step a file named by ``GITHUB_STEP_SUMMARY``; Markdown appended to it is
rendered on the run's summary page. Outside Actions the variable is unset and nothing is
written. The summary is a courtesy: failing to write it is logged and never fails a build
whose site was already written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .report import BuildReport

log = logging.getLogger(__name__)

SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
DEMO_NOTE = (
    "**Demo site.** Built with `--demo` from the demo workspace shipped with fibery-kb, not from a Fibery space."
)


def write_job_summary(report: BuildReport, *, demo: bool, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append the build's summary to ``$GITHUB_STEP_SUMMARY``; return the file, or ``None``
    when the variable is unset or the file cannot be written."""
    name = (os.environ if environ is None else environ).get(SUMMARY_ENV)
    if not name:
        return None
    path = Path(name)
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(render_summary(report, demo=demo))
    except OSError as exc:
        log.warning("cannot write the job summary to %s: %s", path, exc.strerror or exc)
        return None
    return path


def render_summary(report: BuildReport, *, demo: bool) -> str:
    """Render the report as GitHub-flavoured Markdown (a heading, totals, one row per database)."""
    lines = ["## fibery-kb build", ""]
    if demo:
        lines += [DEMO_NOTE, ""]
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {label} | {value} |" for label, value in _totals(report, demo=demo)]
    if report.databases:
        lines += ["", "| Database | Entities |", "| --- | ---: |"]
        lines += [f"| {_cell(title)} | {count} |" for title, count in sorted(report.databases.items())]
    return "\n".join(lines) + "\n\n"


def _totals(report: BuildReport, *, demo: bool) -> list[tuple[str, str]]:
    """The rows of the totals table, in reading order."""
    source = "demo workspace (no Fibery request)" if demo else f"{_cell(report.space)} at {_cell(report.fibery_url)}"
    durations = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in report.durations.items())
    total = sum(report.durations.values())
    rows = [
        ("Source", source),
        ("Databases", str(len(report.databases))),
        ("Entities", _entities(report, demo=demo)),
        ("Pages", f"{report.pages} ({report.written} files written)"),
        ("Requests", f"{report.requests} ({report.retries} retried)" if report.retries else str(report.requests)),
        ("Duration", f"{total:.1f} s ({durations})" if durations else f"{total:.1f} s"),
    ]
    if report.unpublished_links:
        rows.append(("Links to unpublished entities", f"{report.unpublished_links} (they still point at Fibery)"))
    if report.content_hash:
        rows.append(("Content hash", f"`{report.content_hash[:12]}`"))
    return rows


def _entities(report: BuildReport, *, demo: bool) -> str:
    """The entity count, and how many of them the fetch cache saved a read of."""
    cached = report.entities - report.fetched
    if demo or cached <= 0:
        return str(report.entities)
    return f"{report.entities} ({report.fetched} read from Fibery, {cached} from the fetch cache)"


_MARKDOWN = frozenset("\\`*_{}[]()#+-.!|<>&~:@=\"'$%^")
"""ASCII punctuation that Markdown, GitHub's autolinks or HTML can give a meaning to."""


def _cell(text: str) -> str:
    """Make user text (database and space titles, the URL) inert inside a Markdown table cell:
    one line, and every character Markdown or HTML could read as syntax written as a numeric
    character reference. Those are decoded only after the Markdown is parsed, so ``![x](…)``
    stays text (no image fetched from a third party), ``|`` never splits a column, and
    ``https://…`` or ``www.…`` is not turned into a link."""
    text = " ".join(text.split())
    return "".join(f"&#{ord(char)};" if char in _MARKDOWN else char for char in text)
