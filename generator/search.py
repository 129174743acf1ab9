"""Full-text search: a sharded Pagefind index, fed while the pages are rendered.

Pagefind (``pip install 'pagefind[bin]'``) turns pages into a static, chunked index that the
browser loads piecemeal, so search works on GitHub Pages and from any local static server,
with no network. Templates choose what is indexed: ``data-pagefind-body`` on entity,
database (first page) and content pages, ``data-pagefind-ignore`` on navigation-like parts,
and a ``database`` meta shown with each result. ``assets/search.js`` is the box in the header.

How the index is made (issue 18). ``SearchIndex`` is handed every page as it is rendered
(``page``) or carried over (``kept``), in page order, and keeps of each indexed page only
what Pagefind reads: the ``<head>`` and the ``<main data-pagefind-body>`` element (Pagefind's
output is byte for byte the same as for the whole page; a page shaped otherwise is sent
whole). Consecutive pages of one folder form a *shard*, cut where a page's path hashes to a
boundary (``chunk_size``: about 40 shards a site, at most ``MAX_CHUNK`` average pages each),
so a shard's membership depends only on its own pages. Each shard is one Pagefind index,
made by its own ``pagefind --service`` process on a worker thread while the next pages are
rendered (the second core), then closed: memory stays bounded by a shard's size.

The first shard is the primary bundle at ``pagefind/`` (it holds ``pagefind.js`` and the
WebAssembly); the others are ``pagefind/s/<digest>/``, listed in ``pagefind/shards.json``,
and ``search.js`` merges them (Pagefind's ``mergeIndex``). A shard is named by the digest
of its pages (paths and indexed text): a shard whose pages did not change is carried over
file by file (``SiteWriter.keep``), never re-indexed, and a changed one is rebuilt from the
search cache (``<cache>/search/``: each page's indexed text, by shard), without reading
the unchanged pages again. The index of an incremental build is therefore the one a full
build makes, byte for byte: Pagefind's output depends only on the pages given, in order.

Without the binary the site is still built, with a warning: search is an enhancement.
A Pagefind that runs and fails is another matter: its index may be partial, so the build
fails (``RenderError``) and the previous site stays.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from . import memory
from .config import SiteConfig
from .errors import RenderError
from .site.writer import FileRecord, stage_file

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from .site.writer import SiteWriter

log = logging.getLogger(__name__)

OUTPUT_DIR = "pagefind"
SHARDS_FILE = "shards.json"
"""In ``pagefind/``: the folders (relative to it) of the shards ``search.js`` merges."""
TIMEOUT = 600.0
"""Seconds one shard's Pagefind may take."""
SHARDS = 32
"""About how many shards a site's index is cut into (more: cheaper rebuilds, more requests
for each query in the browser)."""
MIN_CHUNK, MAX_CHUNK = 256, 1024
"""Bounds of a shard's average page count; a shard is cut at twice the average at most."""
WORKERS = 2
"""Shards indexed at once (each its own Pagefind process) once the pages are all rendered,
or once the renderer had to wait for Pagefind (a rebuild carrying most pages over renders
faster than its changed shards are indexed); until then, one: the renderer has the other
core. Sites whose shards are the largest (``MAX_CHUNK``) run the second only when memory
allows (``MEMORY_BUDGET``), else index one at a time throughout."""
MEMORY_BUDGET = 1800 * 2**20
"""Bytes the build and two Pagefinds may hold at once, for a site of the largest shards to
run a second one: below issue 18's 2 GB for the whole process tree (100,000 entities), with
a margin for what the renderer adds after deciding."""
PAGEFIND_PAGE_BYTES = 140_000
"""What each page of a shard costs while it is indexed: Pagefind's resident size (about
110 KB a page, measured at 500 to 2,000 pages) and the build's copy of its answer."""
CACHE_VERSION = 1
_BODY = b"data-pagefind-body"


def pagefind_command() -> list[str] | None:
    """The Pagefind executable: the one ``pagefind[bin]`` ships, else one on ``PATH``."""
    try:
        from pagefind_bin import get_executable

        return [str(get_executable())]
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("pagefind_extended") or shutil.which("pagefind")
    return [found] if found else None


def chunk_size(pages: int) -> int:
    """The average shard size for a site of about ``pages`` indexed pages: a power of two, so
    that boundaries stay where they were until the site doubles or halves."""
    size = MIN_CHUNK
    while size < MAX_CHUNK and size * SHARDS < pages:
        size *= 2
    return size


def room_for_two(chunk: int, resident: int | None) -> bool:
    """Whether two Pagefinds may index at once on a site of shards of ``chunk`` pages, the
    build holding ``resident`` bytes: always below the largest shards; with them, when the
    build and two of the largest shards' Pagefinds fit ``MEMORY_BUDGET`` (50,000 entities,
    about 1.6 GB: yes; 100,000: no); never when the size is unknown."""
    if chunk < MAX_CHUNK:
        return True
    largest = 2 * chunk  # a shard is cut at twice the average at most
    return resident is not None and resident + WORKERS * largest * PAGEFIND_PAGE_BYTES <= MEMORY_BUDGET


def search_doc(data: bytes) -> bytes | None:
    """What Pagefind reads of a page: None when it is not indexed (no ``data-pagefind-body``);
    for the usual shape (``<main … data-pagefind-body>``, nothing else of Pagefind's outside
    it) the ``<html>`` tag, the ``<head>`` and the ``<main>`` element, else the whole page."""
    at = data.find(_BODY)
    if at < 0:
        return None
    head_end = data.find(b"</head>")
    start = data.rfind(b"<", 0, at)
    end = data.rfind(b"</main>")
    html = data.find(b"<html")
    if not (0 <= html < head_end < start < at < end) or not data.startswith(b"<main", start):
        return data
    if b"data-pagefind-" in data[head_end:start] or b"data-pagefind-" in data[end:]:
        return data
    return b"".join((data[html : head_end + 7], b"<body>", data[start : end + 7], b"</body></html>"))


def _digest(*parts: bytes) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


@dataclass
class _Page:
    path: str
    digest: str
    doc: bytes | None
    """None for a page carried over: its text is in the search cache (``source``)."""
    source: str | None = None
    """The digest of the previous shard whose cache holds the page's text."""


@dataclass
class _Output:
    """A shard's files: those to stage through the writer (the primary bundle's, at paths
    the old site has) and those a worker thread wrote already (a new shard folder)."""

    through_writer: list[tuple[str, bytes]]
    staged: list[tuple[str, FileRecord]]


@dataclass
class _Shard:
    pages: list[_Page]
    primary: bool
    digest: str = ""
    files: list[str] = field(default_factory=list)
    future: Future[_Output] | None = None

    @property
    def folder(self) -> str:
        return f"{OUTPUT_DIR}/" if self.primary else f"{OUTPUT_DIR}/s/{self.digest[:16]}/"


class SearchIndex:
    """The search stage of one build: create it before rendering, hand it each page in page
    order (``page`` for one rendered, ``kept`` for one carried over), ``finish`` it before the
    swap and ``save`` its cache after. A context manager: leaving it stops its Pagefinds."""

    def __init__(self, config: SiteConfig, writer: SiteWriter, cache: Path | None, *, pages: int) -> None:
        self.writer = writer
        self.command = pagefind_command() if config.search else None
        self.enabled = self.command is not None
        if config.search and not self.enabled:
            log.warning("search index not built: Pagefind is not installed (pip install 'pagefind[bin]')")
        self.folder = cache / "search" / hashlib.sha256(str(writer.out).encode()).hexdigest()[:16] if cache else None
        self.chunk = chunk_size(pages)
        self.shards: list[_Shard] = []
        self.indexed = 0
        self.reused = 0
        self._run: list[_Page] = []
        self._group: str | None = None
        self._written = 0
        self._old: dict[str, dict[str, Any]] = {}
        self._old_pages: dict[str, tuple[str, str]] = {}
        if self.enabled and self.folder is not None:
            self._load()
        self._pool: ThreadPoolExecutor | None = None
        if self.enabled:
            from concurrent.futures import ThreadPoolExecutor  # not on the path of a no-change build

            self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="pagefind")
        self._services: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._closed = False
        # A slot per Pagefind at once; the renderer holds one until ``finish`` (for good, on a
        # site whose shards are as large as they get).
        self._slots = threading.Semaphore(WORKERS)
        self._held = WORKERS - 1
        for _ in range(self._held):
            self._slots.acquire()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop every Pagefind still running (a failed build) and the worker threads."""
        if self._pool is None:
            return
        self._closed = True
        self._release()
        for shard in self.shards:
            if shard.future:
                shard.future.cancel()
        with self._lock:
            for process in self._services:
                process.kill()
        self._pool.shutdown(wait=True)
        self._pool = None

    # ----------------------------------------------------------------------- the page loop

    def page(self, path: str, data: bytes) -> None:
        """A page just rendered (any file of the site: those Pagefind would skip are skipped)."""
        if not self.enabled or not path.endswith(".html"):
            return
        doc = search_doc(data)
        if doc is not None:
            self._add(_Page(path, _digest(path.encode(), doc), doc))
        self._drain()

    def kept(self, path: str) -> None:
        """A page carried over from the previous site, unread: its text is in the cache (else
        it is read from the staged copy, the same file)."""
        if not self.enabled or not path.endswith(".html"):
            return
        known = self._old_pages.get(path)
        if known is not None:
            self._add(_Page(path, known[0], None, known[1]))
            return
        doc = search_doc(self.writer.staging.joinpath(path).read_bytes())
        if doc is not None:
            self._add(_Page(path, _digest(path.encode(), doc), doc))

    def _add(self, page: _Page) -> None:
        group = page.path.rpartition("/")[0]
        run = self._run
        if run and (group != self._group or len(run) >= 2 * self.chunk or self._boundary(page.path)):
            self._cut()
        self._group = group
        self._run.append(page)

    def _boundary(self, path: str) -> bool:
        """Whether a shard starts at ``path`` (whatever the pages around it)."""
        value = int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "little")
        return value % self.chunk == 0

    def _cut(self) -> None:
        """The run of pages so far is a shard: carry it over if unchanged, else index it."""
        pages, self._run = self._run, []
        primary = not self.shards
        shard = _Shard(pages, primary)
        shard.digest = _digest(b"primary" if primary else b"", *(f"{p.path}\0{p.digest}".encode() for p in pages))
        self.shards.append(shard)
        self.indexed += len(pages)
        old = self._old.get(shard.digest)
        writer = self.writer
        # A file kept and then made again has the same bytes (Pagefind is deterministic), which
        # the writer accepts: a shard of which one file went missing is simply made again.
        if old is not None and all(writer.recorded(name) and writer.keep(name) for name in old["files"]):
            shard.files = list(old["files"])
            self.reused += 1
            for page in pages:
                page.doc = None  # the cache holds it (named by the same digest)
            return
        assert self._pool is not None and self.command is not None
        shard.future = self._pool.submit(self._index, shard, self.command)
        # Rendering faster than Pagefind indexes: wait rather than hold ever more pages' texts.
        self._drain(pending=2 * WORKERS)

    def _drain(self, pending: int | None = None) -> None:
        """Stage the files of the shards indexed so far, in shard order (the writer is not
        shared with the worker threads); with ``pending``, first wait until no more than that
        many shards are still queued or running (0: all done)."""
        for shard in self.shards[self._written :]:
            if shard.future is not None:
                waiting = sum(1 for s in self.shards[self._written :] if s.future is not None)
                if not shard.future.done() and (pending is None or waiting <= pending):
                    return
                if not shard.future.done():
                    self._give_way()  # the renderer waits: its core may be Pagefind's from now on
                output = shard.future.result()
                for name, data in output.through_writer:
                    self.writer.write(name, data)
                    shard.files.append(name)
                for name, record in output.staged:
                    self.writer.staged(name, record)
                    shard.files.append(name)
                shard.future = None
            self._written += 1

    def finish(self) -> int | None:
        """Wait for every shard and stage ``pagefind/shards.json``; the pages indexed, or None
        when search is off. Raises ``RenderError`` when a Pagefind failed."""
        if not self.enabled:
            return None
        if self._run:
            self._cut()
        self._give_way()
        self._drain(pending=0)
        if self.shards:
            merged = [shard.folder.removeprefix(f"{OUTPUT_DIR}/") for shard in self.shards[1:]]
            self.writer.write(f"{OUTPUT_DIR}/{SHARDS_FILE}", (json.dumps(merged, indent=0) + "\n").encode())
        log.info("search index: %d pages in %d shards (%d carried over)", self.indexed, len(self.shards), self.reused)
        return self.indexed

    def _give_way(self) -> None:
        """The renderer waits, or has rendered every page: give its slot to Pagefind when
        memory has room for two (``room_for_two``), asked only while the slot is still held."""
        if self._held and room_for_two(self.chunk, memory.resident()):
            self._release()

    def _release(self) -> None:
        """Give the renderer's slots to Pagefind."""
        for _ in range(self._held):
            self._slots.release()
        self._held = 0

    # ----------------------------------------------------------------------- one shard

    def _index(self, shard: _Shard, command: list[str]) -> _Output:
        """Index one shard in its own Pagefind service; its files, named in the site. Runs on a
        worker thread. Writes the shard's texts to the cache (named by its digest)."""
        docs = self._docs(shard)
        with self._slots:
            if self._closed:
                raise RenderError("search index failed: the build stopped")
            found = self._pagefind(command, docs, shard.primary)
        files = [(shard.folder + name, data) for name, data in found]
        if self.folder is not None:
            data = json.dumps({path: doc.decode("utf-8") for path, doc in docs}, ensure_ascii=False)
            _write_cache(self.folder / "docs" / f"{shard.digest}.json", data.encode("utf-8"))
        for page in shard.pages:
            page.doc = None  # indexed and cached: the text is no longer needed in memory
        if shard.primary:
            return _Output(files, [])
        staging = self.writer.staging
        output = _Output([], [(name, stage_file(staging, name, data)) for name, data in files])
        del docs, found, files
        # Pagefind's answer (tens of megabytes at 1,000 pages, copied as it is decoded) is freed
        # into this thread's arena, which glibc keeps: hand it back, or every shard adds to the
        # build's resident size (issue 18).
        memory.trim()
        return output

    def _docs(self, shard: _Shard) -> list[tuple[str, bytes]]:
        """Each page's text: the rendered ones as handed in, the others from the cache of the
        shard they were in (else from their staged file)."""
        loaded: dict[str, dict[str, str]] = {}
        docs = []
        for page in shard.pages:
            doc = page.doc
            if doc is None and page.source is not None and self.folder is not None:
                if page.source not in loaded:
                    loaded[page.source] = _read_docs(self.folder / "docs" / f"{page.source}.json")
                text = loaded[page.source].get(page.path)
                doc = text.encode("utf-8") if text is not None else None
            if doc is None:
                doc = search_doc(self.writer.staging.joinpath(page.path).read_bytes()) or b""
            docs.append((page.path, doc))
        return docs

    def _pagefind(self, command: list[str], docs: list[tuple[str, bytes]], primary: bool) -> list[tuple[str, bytes]]:
        """Run ``pagefind --service``: one index of ``docs`` (URLs as the CLI's
        ``--keep-index-url`` gives), its files as (name in the bundle, bytes)."""
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    [*command, "--service"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
                )
            except OSError as exc:
                raise RenderError(f"search index failed: Pagefind could not run ({exc.strerror or exc})") from None
            with self._lock:
                self._services.add(process)
            timer = threading.Timer(TIMEOUT, process.kill)
            timer.start()
            try:
                files = _service(process, docs, primary)
            except _Failed as failed:
                process.kill()
                process.wait()
                errors.seek(0)
                reason = failed.reason or _failure(errors.read().decode("utf-8", "replace"), process.returncode)
                if not timer.is_alive():
                    reason = f"did not finish within {TIMEOUT:.0f} s"
                raise RenderError(f"search index failed: Pagefind: {reason}") from None
            finally:
                timer.cancel()
                with self._lock:
                    self._services.discard(process)
            if process.stdin:
                process.stdin.close()
            process.wait()
        return files

    # ----------------------------------------------------------------------- the cache

    def _state_file(self) -> Path:
        assert self.folder is not None
        return self.folder / "state.json"

    def _load(self) -> None:
        try:
            state = json.loads(self._state_file().read_bytes())
            if state.get("version") != CACHE_VERSION or state.get("out") != str(self.writer.out):
                return
            shards = {s["digest"]: s for s in state["shards"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return
        self._old = shards
        self._old_pages = {path: (page, digest) for digest, s in shards.items() for path, page in s["pages"]}

    def save(self) -> None:
        """Record the shards of the site just published (call after the swap), and forget
        the texts of the shards it no longer has."""
        if not self.enabled or self.folder is None:
            return
        shards = [
            {"digest": s.digest, "files": s.files, "pages": [[p.path, p.digest] for p in s.pages]} for s in self.shards
        ]
        state = {"version": CACHE_VERSION, "out": str(self.writer.out), "shards": shards}
        try:
            _write_cache(self._state_file(), json.dumps(state, separators=(",", ":")).encode())
            live = {f"{s.digest}.json" for s in self.shards}
            for path in (self.folder / "docs").glob("*.json"):
                if path.name not in live:
                    path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("search cache not written to %s: %s", self.folder, exc.strerror or exc)


class _Failed(Exception):
    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


def _wanted(name: str, primary: bool) -> bool:
    """Whether a file of Pagefind's bundle is published: a shard's index, and in the primary
    bundle the script and WebAssembly that load them all (search.js is the UI: Pagefind's own
    UI files are left out)."""
    if name == "pagefind-entry.json" or name.endswith(".pf_meta"):
        return True
    if name.startswith(("index/", "fragment/", "filter/")):
        return True
    return primary and (name in ("pagefind.js", "pagefind-worker.js") or name.startswith("wasm."))


def _message(number: int, payload: dict[str, Any]) -> bytes:
    """One request as the service reads it: base64 of the JSON, then a comma."""
    return base64.b64encode(json.dumps({"message_id": number, "payload": payload}).encode()) + b","


def _service(process: subprocess.Popen[bytes], docs: list[tuple[str, bytes]], primary: bool) -> list[tuple[str, bytes]]:
    """Talk to one Pagefind service: a new index, every page, then its files. Requests are
    written by a second thread while answers are read, so neither pipe fills up."""
    assert process.stdin is not None and process.stdout is not None
    stdin, answers = process.stdin, _answers(process)
    config = {"keep_index_url": True}
    try:
        stdin.write(_message(1, {"type": "NewIndex", "config": config}))
        stdin.flush()
    except OSError:
        raise _Failed() from None
    index = _expect(answers, "NewIndex")["index_id"]

    def send() -> None:
        try:
            for number, (path, doc) in enumerate(docs, 2):
                request = {"type": "AddFile", "index_id": index, "url": f"/{path}", "file_path": None}
                stdin.write(_message(number, request | {"file_contents": doc.decode("utf-8", "replace")}))
            stdin.write(_message(len(docs) + 2, {"type": "GetFiles", "index_id": index}))
            stdin.flush()
        except OSError:
            pass  # the service died: the reader finds its output ended

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    for _ in docs:
        _expect(answers, "IndexedFile")
    files = _expect(answers, "GetFiles")["files"]  # not WriteFiles: it answers before the files are whole
    sender.join()
    wanted = sorted((f["path"], f["content"]) for f in files if _wanted(f["path"], primary))
    return [(name, base64.b64decode(content)) for name, content in wanted]


def _answers(process: subprocess.Popen[bytes]) -> Iterator[dict[str, Any]]:
    """The service's answers, one payload each, as they come."""
    assert process.stdout is not None
    stdout = cast(io.BufferedReader, process.stdout)  # Popen's default: buffered
    parts: list[bytes] = []  # of an answer not yet complete (the files: megabytes)
    while True:
        chunk = stdout.read1(1 << 20)
        if not chunk:
            return
        *complete, rest = chunk.split(b",")
        if complete:
            complete[0] = b"".join((*parts, complete[0]))
            parts = []
        parts.append(rest)
        for item in complete:
            try:
                yield json.loads(base64.b64decode(item))["payload"]
            except (ValueError, KeyError, TypeError):
                raise _Failed() from None


def _expect(answers: Iterator[dict[str, Any]], kind: str) -> dict[str, Any]:
    answer = next(answers, None)
    if answer is None:
        raise _Failed()
    if answer.get("type") == "Error":
        raise _Failed(str(answer.get("message") or "error"))
    if answer.get("type") != kind:
        raise _Failed(f"unexpected answer {answer.get('type')!r}")
    return answer


def _failure(output: str, returncode: int | None) -> str:
    """Pagefind's reason for failing: its first line naming an error, else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [f"exit code {returncode}"])[0 if errors else -1]


def _read_docs(path: Path) -> dict[str, str]:
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _write_cache(path: Path, data: bytes) -> None:
    from .files import write_atomically

    write_atomically(path, data, dir_mode=0o700)
