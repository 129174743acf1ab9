"""``gen build`` as a script: load → publish rules → keys → plan → render → write → report.

Each stage hands typed objects to the next; nothing is written to the output folder until
every page has been rendered into the staging folder, and the swap happens last.

What every stage needs travels in one ``BuildContext``: the settings, the project root and
template folders, the build cache, the field renderers and the build's prepared rich text.

With a ``BuildCache`` a build is incremental (see ``cache.py``): when the site key and the
output folder are unchanged nothing is planned, rendered or written; otherwise only the
entity pages whose key changed are rendered, the others carried over, and only files whose
bytes changed are written. ``build-info.json`` and ``status.html`` hold the build's time and
figures: they are rewritten only when the content (its hash) changed, so a build that
changes nothing writes no file at all.
"""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import memory, nochange, plugins, search
from .cache import BuildCache
from .config import SiteConfig, template_dirs
from .errors import RenderError
from .files import write_atomically
from .logs import add_file_secret
from .model import FieldKind, Workspace
from .naming import display_name
from .publish import apply_publish_rules
from .report import BuildReport, Clock
from .site.fields import FieldRenderers
from .site.keys import entity_digests, entity_keys, global_key, site_key, table_keys, text_links
from .site.state import RenderState, links_file, load_render_state, save_render_state
from .site.status import STATUS_PAGE, status_page
from .site.writer import SITE_MARKER, OutputLock, SiteWriter, check_output, recover_output
from .sources import Source
from .text import RichText

if TYPE_CHECKING:
    from .site.pages import PageJob, SiteRenderer

log = logging.getLogger(__name__)

BUILD_INFO = SITE_MARKER


PageCallback = Callable[[int], None]


@dataclass(frozen=True)
class BuildContext:
    """What every stage of one build needs, made once by ``build``."""

    config: SiteConfig
    root: Path
    """The project folder: ``content_dir``, ``templates_dir`` and ``cache_dir`` are under it."""
    out: Path
    template_dirs: list[str]
    """The project's templates first, then the built-in ones (``config.template_dirs``)."""
    renderers: FieldRenderers
    rich_text: RichText
    """The build's prepared rich text (``text.RichText``): never shared with another build."""
    cache: BuildCache | None = None
    on_page: PageCallback | None = None

    @property
    def content_dir(self) -> Path:
        return self.root / self.config.content_dir


def build(
    source: Source,
    config: SiteConfig,
    *,
    out: Path,
    root: Path = Path("."),
    renderers: FieldRenderers | None = None,
    on_page: PageCallback | None = None,
    cache: BuildCache | None = None,
    force: bool = False,
    rich_text: RichText | None = None,
) -> BuildReport:
    """Build the site from ``source`` into ``out``; the previous ``out`` survives any failure.

    ``out`` is checked before anything is read (``writer.check_output``: ``force`` lets an
    unrelated non-empty folder be replaced). The whole build holds the output's lock, and
    first undoes what a killed build left (``writer.recover_output``). ``rich_text`` is the
    one the source was handed (to prepare rich text as it arrives), else a new one."""
    inputs = (root / config.content_dir, root / config.templates_dir, root / config.cache_dir)
    check_output(out, project=root, inputs=inputs, force=force)
    with OutputLock(out):
        recover_output(out)
        clock = Clock()
        # Nothing changed (nochange.py): decided before any work that grows with N.
        stamped = cache is not None and renderers is None
        stamp = nochange.fingerprint(source, config, root) if stamped else None
        clock.lap("fetch")
        if cache and stamp and (same := nochange.unchanged(cache, out, stamp, source.stats)):
            clock.lap("check")
            same.durations = dict(clock.durations)
            return same
        loaded = source.load()
        if stamped and stamp is None:  # a live source's, of what it just fetched: the stamp to record
            stamp = nochange.fingerprint(source, config, root)
        context = BuildContext(
            config=config,
            root=root,
            out=out,
            template_dirs=template_dirs(config, root),
            # Plugins (issue 8): field renderers configured in kb.toml.
            renderers=renderers or plugins.field_renderers(config),
            rich_text=rich_text or RichText(),
            cache=cache,
            on_page=on_page,
        )
        published = apply_publish_rules(loaded, config)
        # Files only now, and only the published ones: hidden content's files are never fetched.
        published = published.with_files(source.files(published.referenced_files()))
        workspace = clean_names(published.in_stable_order())
        if config.external_images == "download":
            from .external_images import download_external_images

            folder = cache.files / "external" if cache else None
            download_external_images(workspace, config, folder, context.rich_text)
        for secret in workspace.files:  # a snapshot's files too: their secrets open them in Fibery
            add_file_secret(secret)
        clock.lap("fetch")
        # Handed over, not kept here: ``_build`` lets the workspace go once the pages are made.
        handed = [workspace]
        del loaded, published, workspace
        # The workspace (a million objects at 10,000 entities) lives until then: spare the cycle
        # collector walking it on every full collection while pages are made.
        gc.freeze()
        try:
            report = _build(context, handed, source, clock)
        finally:
            gc.unfreeze()
        if cache:
            nochange.record(cache, out, stamp, report)
        return report


_NAMED_KINDS = frozenset({FieldKind.STATE, FieldKind.SELECT, FieldKind.MULTI_SELECT, FieldKind.USER, FieldKind.USERS})


def clean_names(workspace: Workspace) -> Workspace:
    """Make every name a page shows safe to show (``naming.display_name``): database and
    field titles, entity names, and the names of states, selects and users. In place."""
    for db in workspace.databases:
        db.title = display_name(db.title)
        named = [f.key for f in db.fields_of(*_NAMED_KINDS)]
        for fld in db.fields:
            fld.title = display_name(fld.title)
        for entity in db.entities:
            entity.name = display_name(entity.name)
            for key in named:
                value = entity.values.get(key)
                for item in value if isinstance(value, list) else [value] if isinstance(value, dict) else []:
                    if isinstance(item.get("name"), str):
                        item["name"] = display_name(item["name"])
    return workspace


def _build(context: BuildContext, handed: list[Workspace], source: Source, clock: Clock) -> BuildReport:
    """The build from the published workspace on; ``handed`` holds it, and is emptied: the
    workspace is let go with everything made from it (plan, renderer, prepared rich text)
    once the pages are written, before the link check reads them (issue 18)."""
    config, out, cache = context.config, context.out, context.cache
    workspace = handed.pop()
    report = BuildReport(fibery_url=workspace.fibery_url, space=workspace.space)
    report.databases = {db.title: len(db.entities) for db in workspace.databases}
    report.requests, report.retries = source.stats.requests, source.stats.retries
    report.fetched = source.stats.fetched

    # Plugins (issue 8): extra pages configured in kb.toml.
    extra = plugins.extra_pages(workspace, config)
    # Looked up on the module at each build, as before: tests stand in for Pagefind there.
    pagefind = bool(config.search and search.pagefind_command())
    base = global_key(config, context.template_dirs, context.renderers, pagefind=pagefind)
    digests = entity_digests(workspace)
    key = site_key(base, workspace, digests, context.content_dir, extra)
    previous = load_render_state(cache.render, out) if cache and cache.read else None
    if previous is not None and previous.site_key == key and previous.matches(out):
        clock.lap("check")
        return _unchanged(report, previous, clock)

    # Only now: a build that finds nothing changed never loads the renderer (Jinja, Markdown:
    # ~40 ms of every such build's start-up, which is most of its time after Fibery's answers).
    from .site.jinja import make_environment
    from .site.pages import SiteRenderer
    from .site.plan import plan_site

    plan = plan_site(workspace, config, content_dir=context.content_dir, extra_pages=extra, rich_text=context.rich_text)
    renderer = SiteRenderer(plan, make_environment(context.template_dirs), context.template_dirs, context.renderers)
    known = previous.text_links if previous and previous.global_key == base else None
    texts = text_links(plan, digests, known) if cache else {}
    keys = entity_keys(plan, base, digests, texts) | table_keys(plan, base, digests) if cache else {}
    clock.lap("plan")
    with (
        SiteWriter(out, previous.files if previous else None) as writer,
        # Search (issue 18, search.py): fed each page in order, indexing on worker threads.
        search.SearchIndex(config, writer, cache.folder if cache else None, pages=len(plan.entity_paths)) as index,
    ):
        kept: set[str] = set()
        unpublished: dict[str, int] = {}
        for job in renderer.pages():
            if job.keyed and _carried_over(job, writer, keys, previous):
                kept.add(job.path)
                index.kept(job.path)
                continue
            page = job.render()
            clock.lap("render")
            writer.write(page.path, page.data)
            index.page(page.path, page.data)
            clock.lap("write")
            if page.unpublished_links:
                unpublished[page.path] = page.unpublished_links
            if page.path.endswith(".html"):
                report.rendered += 1
                if context.on_page:
                    context.on_page(report.rendered)
        report.pages = report.rendered + sum(1 for path in kept if path.endswith(".html"))
        if previous:
            unpublished.update((path, n) for path, n in previous.unpublished.items() if path in kept)
        if index.finish() is not None:
            clock.lap("index")
        report.unpublished_links = sum(unpublished.values())
        report.content_hash = writer.content_hash()
        _build_meta(writer, renderer, report, clock, previous.content_hash if previous else _old_hash(out))
        del workspace, extra, plan, renderer, digests, job, page  # the last page's job holds the renderer
        context.rich_text.forget()
        memory.trim()
        _check_links(writer, config, context.cache)
        clock.lap("links")
        writer.commit()
        report.files, report.written, report.deleted = writer.files, writer.written, writer.deleted
    index.save()
    if cache:
        save_render_state(
            cache.render,
            RenderState(
                out=str(out.resolve()), site_key=key, content_hash=report.content_hash, pages=report.pages,
                unpublished_links=report.unpublished_links, entity_keys=keys, unpublished=unpublished,
                files=writer.records, global_key=base, text_links=texts,
            ),
        )  # fmt: skip
    # After the check, the swap and the caches too: the summary's time is the build's whole.
    clock.lap("save")
    report.durations = dict(clock.durations)
    return report


def _check_links(writer: SiteWriter, config: SiteConfig, cache: BuildCache | None) -> None:
    """Run `gen check` on the staged site, before the swap: each problem is a warning, and
    with ``strict`` the build fails (the previous site stays). A site `gen build` produced
    must pass `gen check`.

    The links and ids of each page are remembered by the digest of its bytes (beside the
    render cache), so a rebuild reads and parses only the pages it wrote; and what each
    page gave the report (``check.LinkOutcomes``), so a rebuild works out link by link
    only the pages whose outcome may have changed: the crawl of 470,000 links at 10,000
    entities was most of a small rebuild's check. The report is the one `gen check` gives."""
    from .check import LinkOutcomes, PageFacts, check_site

    facts_file = links_file(cache.render, writer.out) if cache else None
    outcomes_file = LinkOutcomes.beside(facts_file) if facts_file else None
    read = bool(facts_file and cache and cache.read)
    outcomes = LinkOutcomes.load(outcomes_file) if outcomes_file and read else LinkOutcomes()
    # With outcomes, only the pages worked out again want their links: loaded if they are many.
    later = len(outcomes) and facts_file and facts_file.exists()
    facts = (PageFacts.later if later else PageFacts.load)(facts_file) if facts_file and read else PageFacts()
    digests = {path: record[0] for path, record in writer.records.items() if path.endswith(".html")}
    report = check_site(
        writer.staging,
        allow_orphans=("status.html",),
        files=writer.records,
        digests=digests,
        facts=facts,
        outcomes=outcomes,
    )
    problems = report.problems
    for problem in problems[:20]:
        log.warning("gen check: %s", problem.describe())
    if problems and config.strict:
        raise RenderError(f"the built site has {len(problems)} broken links or anchors (strict mode)")
    if len(problems) > 20:
        log.warning("gen check: %d more problems", len(problems) - 20)
    saved: list[tuple[Path, bytes | None]] = []
    if facts_file and facts.loaded and (report.read or not facts_file.exists()):  # else they cover every page
        saved += facts.files(facts_file, digests.values())
    if outcomes_file and (outcomes.changed() or not outcomes_file.exists()):
        saved += outcomes.files(outcomes_file)
    try:
        for path, data in saved:
            if data is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, data, dir_mode=0o700)
    except OSError as exc:
        log.warning("link check cache not written to %s: %s", path.parent, exc.strerror or exc)


def _carried_over(job: PageJob, writer: SiteWriter, keys: dict[str, str], previous: RenderState | None) -> bool:
    """Whether the entity page of ``job`` is carried over from the previous site, unread:
    its key is unchanged and the old file is still the one recorded (``writer.keep``)."""
    key = keys.get(job.path)
    return (
        key is not None and previous is not None and previous.entity_keys.get(job.path) == key and writer.keep(job.path)
    )


def _build_meta(
    writer: SiteWriter, renderer: SiteRenderer, report: BuildReport, clock: Clock, previous_hash: str | None
) -> None:
    """Write ``status.html`` and ``build-info.json``, or keep both when the content is the
    same as the previous build's (they hold the time: rewriting them would change the site)."""
    meta = (STATUS_PAGE, BUILD_INFO)
    if previous_hash == report.content_hash and all(writer.can_keep(name) for name in meta):
        for name in meta:
            writer.keep(name)
        return
    report.built_at = datetime.now(UTC).isoformat(timespec="seconds")
    report.durations = dict(clock.durations)
    report.files = writer.files + len(meta)
    # The manifest, as a page (issue 7, site/status.py); it holds the time, like build-info.json.
    writer.write(STATUS_PAGE, status_page(renderer, report))
    writer.write(BUILD_INFO, _build_info(report))


def _old_hash(out: Path) -> str | None:
    """The content hash recorded in the output folder's ``build-info.json``, if readable."""
    try:
        return json.loads((out / BUILD_INFO).read_text(encoding="utf-8")).get("content_hash")
    except (OSError, ValueError, AttributeError):
        return None


def _unchanged(report: BuildReport, previous: RenderState, clock: Clock) -> BuildReport:
    """The report of a build that found the site up to date: nothing rendered or written."""
    report.pages, report.files = previous.pages, len(previous.files)
    report.content_hash, report.unpublished_links = previous.content_hash, previous.unpublished_links
    report.built_at = datetime.now(UTC).isoformat(timespec="seconds")
    report.durations = dict(clock.durations)
    return report


def _build_info(report: BuildReport) -> bytes:
    """With status.html, the one file that may change between identical builds (it holds the time)."""
    data = asdict(report) | {"entities": report.entities}
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
