"""``gen build`` as a script: load → publish rules → plan → render → write → report.

Each stage hands typed objects to the next; nothing is written to the output folder until
every page has been rendered into the staging folder, and the swap happens last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import SiteConfig
from .fields import FieldRenderers
from .publish import apply_publish_rules
from .render import SiteRenderer, make_environment, plan_site, template_dirs
from .sources import Source
from .writer import SiteWriter

BUILD_INFO = "build-info.json"


@dataclass
class BuildReport:
    """What a build did: shown at the end, written to ``build-info.json``."""

    fibery_url: str
    space: str
    databases: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    files: int = 0
    requests: int = 0
    retries: int = 0
    unpublished_links: int = 0
    durations: dict[str, float] = field(default_factory=dict)
    content_hash: str = ""
    built_at: str = ""

    @property
    def entities(self) -> int:
        return sum(self.databases.values())

    def summary(self) -> str:
        """One line for the terminal."""
        seconds = sum(self.durations.values())
        return (
            f"{len(self.databases)} databases, {self.entities} entities, {self.pages} pages, "
            f"{self.requests} requests in {seconds:.1f} s"
        )


PageCallback = Callable[[int], None]


def build(
    source: Source,
    config: SiteConfig,
    *,
    out: Path,
    root: Path = Path("."),
    renderers: FieldRenderers | None = None,
    on_page: PageCallback | None = None,
) -> BuildReport:
    """Build the site from ``source`` into ``out``; the previous ``out`` survives any failure."""
    started = time.perf_counter()
    workspace = apply_publish_rules(source.load(), config).in_stable_order()
    fetched = time.perf_counter()

    plan = plan_site(workspace, config, content_dir=root / config.content_dir)
    dirs = template_dirs(config, root)
    renderer = SiteRenderer(plan, make_environment(dirs), dirs, renderers)
    report = BuildReport(fibery_url=workspace.fibery_url, space=workspace.space)
    report.databases = {db.title: len(db.entities) for db in workspace.databases}

    with SiteWriter(out) as writer:
        for path, data in renderer.pages():
            writer.write(path, data)
            if path.endswith(".html"):
                report.pages += 1
                if on_page:
                    on_page(report.pages)
        rendered = time.perf_counter()
        report.files = writer.files + 1
        report.requests, report.retries = source.stats.requests, source.stats.retries
        report.unpublished_links = plan.unpublished_links
        report.content_hash = writer.content_hash()
        report.built_at = datetime.now(UTC).isoformat(timespec="seconds")
        report.durations = {"fetch": round(fetched - started, 3), "render": round(rendered - fetched, 3)}
        writer.write(BUILD_INFO, _build_info(report))
        writer.commit()
    return report


def _build_info(report: BuildReport) -> bytes:
    """The one file that may change between identical builds (it holds the time)."""
    data = asdict(report) | {"entities": report.entities}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
