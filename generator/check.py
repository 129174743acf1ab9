"""``gen check``: crawl a built site from its home page and report what a reader would trip on.

Three kinds of problem, each a ``Problem`` naming the page and the link:

* **broken link**: an ``href``/``src`` (or a table's ``data-rows`` script) inside the site
  that points at no file (a folder counts when it has an ``index.html``);
* **missing anchor**: ``page.html#part`` (or ``#part``) where that page has no such ``id``;
* **unreachable**: an HTML page that no chain of links from ``index.html`` reaches
  (``404.html`` is exempt: servers show it, nothing links to it).

External links (with a scheme, or ``//host``) are counted, not fetched: a check must work
offline and give the same answer twice. Each page is parsed once.
"""

from __future__ import annotations

import fnmatch
import html
import json
import posixpath
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = frozenset({"href", "src", "data-rows"})
DEFAULT_ALLOWED_ORPHANS = ("404.html",)
SKIPPED_FOLDERS = ("pagefind/",)


_HIDDEN = re.compile(r"<!--.*?-->|<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
"""What holds no links: comments, and the text of scripts and styles (their tags stay)."""
_TAG = re.compile(r"<([a-zA-Z][^\s/>]*)((?:\s+[^\s/>=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*/?>")
_WANTED = re.compile(r"(?:^|\s)(?:id|name|href|src|data-rows)\s*=", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"([^\s/>=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


@dataclass
class _Page:
    """A page's links and the ids (and ``<a name>``) its anchors can point at.

    Found with two regular expressions over the start tags, not an HTML parser: the site's
    pages are its own, and a parser made the check the slowest step of a build (about
    2.5 ms a page). Attribute values are unescaped as a parser would."""

    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, text: str, tags: dict[str, _TagFacts] | None = None) -> _Page:
        """The page's links and ids. ``tags`` remembers what each start tag holds, for the
        pages of one check: pages share most of their tags (header, navigation, footer),
        and a tag seen before costs a look-up instead of parsing its attributes again."""
        page = cls()
        tags = {} if tags is None else tags
        for tag in _TAG.finditer(_HIDDEN.sub(lambda m: m[0][: m[0].find(">") + 1] if m[1] else "", text)):
            found = tags.get(tag[0])
            if found is None:
                found = tags[tag[0]] = _tag_facts(tag[1].lower(), tag[2])
            if found[0]:
                page.ids.update(found[0])
            if found[1]:
                page.links.extend(found[1])
        return page


_TagFacts = tuple[tuple[str, ...], tuple[str, ...]]
"""The ids and the links one start tag holds."""


def _tag_facts(name: str, attributes: str) -> _TagFacts:
    """The ids (``id``, and ``name`` on ``<a>``) and links of one start tag, values unescaped."""
    if not attributes or not _WANTED.search(attributes):
        return (), ()
    ids, links = [], []
    for attribute in _ATTRIBUTE.finditer(attributes):
        key = attribute[1].lower()
        raw = next((v for v in attribute.groups()[1:] if v is not None), None)
        if raw is None:
            continue
        value = html.unescape(raw)
        if key == "id" or (key == "name" and name == "a"):
            ids.append(value)
        elif key in LINK_ATTRIBUTES and name != "base":
            links.append(value.strip())
    return tuple(ids), tuple(links)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the site."""

    kind: str
    page: str
    target: str = ""

    def describe(self) -> str:
        if self.kind == "unreachable":
            return f"unreachable: {self.page} (no link from index.html leads to it)"
        return f"{self.kind}: {self.page} → {self.target}"


@dataclass
class CheckReport:
    """What ``check_site`` found."""

    pages: int = 0
    links: int = 0
    external: int = 0
    problems: list[Problem] = field(default_factory=list)
    read: int = 0
    """Pages read and parsed; the others' links came from the facts of an earlier check."""

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def summary(self) -> str:
        return (
            f"{self.pages} pages, {self.links} internal links, {self.external} external links not checked: "
            f"{self.count('broken link')} broken links, {self.count('missing anchor')} missing anchors, "
            f"{self.count('unreachable')} unreachable pages"
        )


class PageFacts:
    """The links and ids of pages, by the digest of their bytes: what a build's link check
    remembers, so that a rebuild parses only the pages it wrote (``check_site(facts=…)``).

    Saved as one string table and, per page, the indexes of its links and of its ids:
    a site's pages share most of their links, so the file stays small and quick to read.
    A rebuild that read a few pages saves only theirs, beside the main file (``added``):
    writing the whole again took 0.4 s at 10,000 pages; a fact is true of a digest forever,
    so the two files can never disagree, and the main file is rewritten (dropping the
    pages the site no longer has) once the added pages are an eighth of it."""

    VERSION = 1
    REWRITE = 8
    """The main file is rewritten when the pages added beside it are more than 1/REWRITE of it."""

    def __init__(self, pages: dict[str, _Page] | None = None, main: Iterable[str] = ()) -> None:
        self.pages: dict[str, _Page] = pages or {}
        self.main = set(main)
        """The digests the main file holds (the others: added beside it, or found since)."""

    @staticmethod
    def added(path: Path) -> Path:
        """The file beside ``path`` that holds the facts added since it was written."""
        return path.with_name(f"{path.stem}.added{path.suffix}")

    @classmethod
    def load(cls, path: Path) -> PageFacts:
        """The facts saved at ``path`` and beside it; none when the main file is missing,
        unreadable or of another version (and only its own when the other one is)."""
        main = cls._read(path)
        added = cls._read(cls.added(path)) if main else {}
        return cls(main | added, main.keys() - added.keys())

    @classmethod
    def _read(cls, path: Path) -> dict[str, _Page]:
        try:
            data = json.loads(path.read_bytes())
            if data.get("version") != cls.VERSION:
                return {}
            strings = data["strings"]
            return {
                digest: _Page([strings[i] for i in links], {strings[i] for i in ids})
                for digest, (links, ids) in data["pages"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return {}

    def files(self, path: Path, keep: Iterable[str]) -> list[tuple[Path, bytes | None]]:
        """What to save of the facts of the pages whose digests are in ``keep`` (the site's):
        (file, its new bytes, or None: delete it), the main file at ``path`` first."""
        keep = set(keep)
        added = keep - self.main
        if self.main and len(added) * self.REWRITE <= len(self.main & keep):
            return [(self.added(path), self.dump(added))]
        return [(path, self.dump(keep)), (self.added(path), None)]

    def dump(self, keep: Iterable[str]) -> bytes:
        """The facts of the pages whose digests are in ``keep`` (the site's), as JSON."""
        index: dict[str, int] = {}
        pages = {}
        for digest in sorted(set(keep) & self.pages.keys()):
            page = self.pages[digest]
            links = [index.setdefault(link, len(index)) for link in page.links]
            ids = sorted(index.setdefault(i, len(index)) for i in page.ids)
            pages[digest] = [links, ids]
        return json.dumps({"version": self.VERSION, "strings": list(index), "pages": pages}).encode()


class _Site:
    """The site's files and parsed pages (each parsed at most once, or taken from ``facts``
    by the digest of its bytes when ``digests`` knows it)."""

    def __init__(
        self,
        root: Path,
        files: Iterable[str] | None = None,
        digests: Mapping[str, str] | None = None,
        facts: PageFacts | None = None,
    ) -> None:
        self.root = root
        self.files = (
            set(files)
            if files is not None
            else {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        )
        self._parsed: dict[str, _Page] = {}
        self._digests = digests or {}
        self._facts = facts
        self._tags: dict[str, _TagFacts] = {}
        self.read = 0
        """Pages read and parsed (the others came from ``facts``)."""

    def page(self, path: str) -> _Page:
        if path not in self._parsed:
            digest = self._digests.get(path)
            known = self._facts.pages.get(digest) if self._facts is not None and digest else None
            if known is None:
                known = _Page.of((self.root / path).read_text(encoding="utf-8", errors="replace"), self._tags)
                self.read += 1
                if self._facts is not None and digest:
                    self._facts.pages[digest] = known
            self._parsed[path] = known
        return self._parsed[path]

    def resolve(self, page: str, path: str) -> str | None:
        """The site file a link's path points at from ``page``, or None."""
        base = "" if path.startswith("/") else posixpath.dirname(page)
        target = posixpath.normpath(posixpath.join(base, unquote(path).lstrip("/")))
        if target == "." or target.startswith("../") or target == "..":
            return "index.html" if target == "." and "index.html" in self.files else None
        if target in self.files:
            return target
        index = f"{target}/index.html"
        return index if index in self.files else None


def check_site(
    site: Path,
    *,
    start: str = "index.html",
    allow_orphans: tuple[str, ...] = (),
    files: Iterable[str] | None = None,
    digests: Mapping[str, str] | None = None,
    facts: PageFacts | None = None,
) -> CheckReport:
    """Crawl ``site`` from ``start`` and report broken links, missing anchors and pages
    no link reaches.

    A build hands in what it knows: the site's ``files`` (else the folder is listed), the
    ``digests`` of their bytes and the ``facts`` of pages it checked before, so that only
    the pages it wrote are read; each link's verdict is worked out once per folder (a
    site's pages share most of their links). ``facts`` gains the pages read."""
    root = _Site(site.resolve(), files, digests, facts)
    report = CheckReport()
    if start not in root.files:
        report.problems.append(Problem("broken link", "(site)", start))
        return report
    reached, queue = {start}, deque([start])
    by_folder: dict[str, dict[str, _Verdict]] = {}
    while queue:
        page = queue.popleft()
        report.pages += 1
        shared = by_folder.setdefault(posixpath.dirname(page), {})
        own: dict[str, _Verdict] = {}
        for link in root.page(page).links:
            verdicts = own if not link or link[0] in "#?" else shared  # no path: the page itself
            found = verdicts.get(link)
            if found is None:
                found = verdicts[link] = _verdict(root, page, link)
            kind, target, problem = found
            if kind == "external":
                report.external += 1
                continue
            report.links += kind == "internal"
            if problem:
                report.problems.append(Problem(problem, page, link))
            if target and target.endswith(".html") and target not in reached:
                reached.add(target)
                queue.append(target)
    report.read = root.read
    allowed = (*DEFAULT_ALLOWED_ORPHANS, *allow_orphans)
    for path in sorted(root.files - reached):
        is_page = path.endswith(".html") and not path.startswith(SKIPPED_FOLDERS)
        if is_page and not any(fnmatch.fnmatchcase(path, pattern) for pattern in allowed):
            report.problems.append(Problem("unreachable", path))
    return report


_Verdict = tuple[str, str | None, str | None]
"""A link's kind, the site file it reaches and its problem (``_verdict``)."""


def _verdict(root: _Site, page: str, link: str) -> _Verdict:
    """One link of ``page``: its kind ("internal", "external" or "invalid"), the site file it
    reaches and the problem it has. The same for every page of a folder when it has a path."""
    parts = _split(link)
    if parts is None:
        return "invalid", None, "broken link"
    scheme, path, fragment = parts
    if scheme or link.startswith("//"):
        return "external", None, None
    target = root.resolve(page, path) if path else page
    if target is None:
        return "internal", None, "broken link"
    if fragment and target.endswith(".html") and unquote(fragment) not in root.page(target).ids:
        return "internal", target, "missing anchor"
    return "internal", target, None


def _split(link: str) -> tuple[str, str, str] | None:
    """(scheme, path, fragment) of a link as ``urlsplit`` gives them, None when it refuses
    the link. A relative link of printable characters (nearly all of a site's: there are
    64,000 distinct ones at 10,000 pages) is split here, the same way, without its checks
    (``urlsplit`` drops leading spaces, as browsers do: such a link takes its way)."""
    if ":" not in link and not link.startswith(("//", " ")) and link.isprintable():
        before, _, fragment = link.partition("#")
        return "", before.partition("?")[0], fragment
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    return parts.scheme, parts.path, parts.fragment
