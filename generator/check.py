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
import posixpath
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = frozenset({"href", "src", "data-rows"})
DEFAULT_ALLOWED_ORPHANS = ("404.html",)
SKIPPED_FOLDERS = ("pagefind/",)


class _PageParser(HTMLParser):
    """Collect a page's links and the ids (and ``<a name>``) its anchors can point at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in LINK_ATTRIBUTES and tag != "base":
                self.links.append(value.strip())


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

    def count(self, kind: str) -> int:
        return sum(1 for p in self.problems if p.kind == kind)

    def summary(self) -> str:
        return (
            f"{self.pages} pages, {self.links} internal links, {self.external} external links not checked: "
            f"{self.count('broken link')} broken links, {self.count('missing anchor')} missing anchors, "
            f"{self.count('unreachable')} unreachable pages"
        )


class _Site:
    """The site's files and parsed pages (each parsed at most once)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        self._parsed: dict[str, _PageParser] = {}

    def page(self, path: str) -> _PageParser:
        if path not in self._parsed:
            parser = _PageParser()
            parser.feed((self.root / path).read_text(encoding="utf-8", errors="replace"))
            parser.close()
            self._parsed[path] = parser
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


def check_site(site: Path, *, start: str = "index.html", allow_orphans: tuple[str, ...] = ()) -> CheckReport:
    """Crawl ``site`` from ``start`` and report broken links, missing anchors and pages
    no link reaches."""
    root = _Site(site.resolve())
    report = CheckReport()
    if start not in root.files:
        report.problems.append(Problem("broken link", "(site)", start))
        return report
    reached, queue = {start}, deque([start])
    while queue:
        page = queue.popleft()
        report.pages += 1
        for link in root.page(page).links:
            target = _check_link(root, page, link, report)
            if target and target.endswith(".html") and target not in reached:
                reached.add(target)
                queue.append(target)
    allowed = (*DEFAULT_ALLOWED_ORPHANS, *allow_orphans)
    for path in sorted(root.files - reached):
        is_page = path.endswith(".html") and not path.startswith(SKIPPED_FOLDERS)
        if is_page and not any(fnmatch.fnmatchcase(path, pattern) for pattern in allowed):
            report.problems.append(Problem("unreachable", path))
    return report


def _check_link(root: _Site, page: str, link: str, report: CheckReport) -> str | None:
    """Check one link of ``page``; return the site file it reaches, if any."""
    try:
        parts = urlsplit(link)
    except ValueError:
        report.problems.append(Problem("broken link", page, link))
        return None
    if parts.scheme or link.startswith("//"):
        report.external += 1
        return None
    report.links += 1
    target = root.resolve(page, parts.path) if parts.path else page
    if target is None:
        report.problems.append(Problem("broken link", page, link))
        return None
    if parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in root.page(target).ids:
        report.problems.append(Problem("missing anchor", page, link))
    return target
