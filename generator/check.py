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
import posixpath
import re
from collections import deque
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
    def of(cls, text: str) -> _Page:
        page = cls()
        for tag in _TAG.finditer(_HIDDEN.sub(lambda m: m[0][: m[0].find(">") + 1] if m[1] else "", text)):
            name, attributes = tag[1].lower(), tag[2]
            if not attributes or not _WANTED.search(attributes):
                continue
            for attribute in _ATTRIBUTE.finditer(attributes):
                key = attribute[1].lower()
                raw = next((v for v in attribute.groups()[1:] if v is not None), None)
                if raw is None:
                    continue
                value = html.unescape(raw)
                if key == "id" or (key == "name" and name == "a"):
                    page.ids.add(value)
                elif key in LINK_ATTRIBUTES and name != "base":
                    page.links.append(value.strip())
        return page


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
        self._parsed: dict[str, _Page] = {}

    def page(self, path: str) -> _Page:
        if path not in self._parsed:
            self._parsed[path] = _Page.of((self.root / path).read_text(encoding="utf-8", errors="replace"))
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
