"""``gen check``: crawl a built site from its home page and report what a reader would trip on.

Three kinds of problem, each a ``Problem`` naming the page and the link:

* **broken link**: an ``href``/``src`` (or a table's ``data-rows`` script) inside the site
  that points at no file (a folder counts when it has an ``index.html``);
* **missing anchor**: ``page.html#part`` (or ``#part``) where that page has no such ``id``;
* **unreachable**: an HTML page that no chain of links from ``index.html`` reaches
  (``404.html`` is exempt: servers show it, nothing links to it).

External links (with a scheme, or ``//host``) are counted, not fetched: a check must work
offline and give the same answer twice. Each page is parsed once.

A build's check is incremental (``LinkOutcomes``): what a page contributes to the report
depends only on its folder, its bytes, which of the names its links look up exist, and the
ids of the pages its anchors point into, so a rebuild works out again only the pages where
one of those changed, then walks the remembered page → page links from ``index.html``.
The report is the same, problem for problem and in the same order, as a check from scratch.
"""

from __future__ import annotations

import fnmatch
import html
import json
import logging
import os
import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LINK_ATTRIBUTES = frozenset({"href", "src", "data-rows"})
DEFAULT_ALLOWED_ORPHANS = ("404.html",)
SKIPPED_FOLDERS = ("pagefind/",)

log = logging.getLogger(__name__)


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
    worked: int = field(default=0, compare=False)
    """Pages whose outcome was worked out link by link; the others' held from an earlier
    check (``LinkOutcomes``). Not compared: it says how the report was found, not what."""

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

    LATER = 256
    """Pages a check parses before it loads facts deferred (``later``): about what loading
    them costs (0.1 s at 10,000 pages, 0.3 ms a page parsed)."""

    def __init__(self, pages: dict[str, _Page] | None = None, main: Iterable[str] = ()) -> None:
        self.pages: dict[str, _Page] = pages or {}
        self.main = set(main)
        """The digests the main file holds (the others: added beside it, or found since)."""
        self._later: Path | None = None

    @classmethod
    def later(cls, path: Path) -> PageFacts:
        """The facts saved at ``path``, loaded only when a check has parsed ``LATER`` pages
        and has more to parse (``wanted``): a rebuild whose check works out a few pages
        again (``LinkOutcomes``) parses those rather than loading the facts of all."""
        facts = cls()
        facts._later = path
        return facts

    @property
    def loaded(self) -> bool:
        """Whether the facts are loaded (else, deferred and still unread: nothing to save)."""
        return self._later is None

    def wanted(self, parsed: int) -> bool:
        """Whether to look a page up in the facts, ``parsed`` pages having been parsed;
        loads the deferred facts when they are first wanted."""
        if self._later is not None and parsed >= self.LATER:
            loaded = self.load(self._later)
            loaded.pages.update(self.pages)  # what was parsed before: true of a digest forever
            self.pages, self.main, self._later = loaded.pages, loaded.main, None
        return self._later is None

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


class LinkOutcomes:
    """What each page of a build's last check gave the report (``_Outcome``), by path: what
    makes the check of a rebuild incremental.

    A page's outcome is a function of its folder, its bytes, which of the names its links
    looked up are in the site (``_Site.probe``: the file set matters only through them)
    and the ids of the pages its anchors point into. So an outcome ``holds`` again when the
    page's digest is the same, each of those names is still in the site or still not, and
    each page whose ids it looked in has the same digest: the pages a rebuild wrote, and
    the few that link to a file it added or removed, are worked out again; the crawl is
    then a walk of the remembered page → page links, with no per-link work.

    Saved beside ``PageFacts``' file as one string table and, per page, an entry of indexes
    into it (``_encode``); every name looked up is listed once, as present or absent then.
    Only the outcomes of this check are kept, each either worked out or found to hold in
    it, so every entry is true of the site the presence lists describe. As with the facts,
    a rebuild writes only what differs from the main file, beside it (``added``: the
    strings it appended to the table, its entries, the main file's pages it no longer has,
    the presence lists), until that is a ``REWRITE``-th of the main file, which is then
    written whole. The added file names the main file it goes with (a random ``id``), so
    the two cannot be mixed: the main file alone is an earlier check's outcomes, still true.

    A file that cannot be read, or is of another version, gives no outcomes, and one whose
    entries do not make sense is given up as the crawl meets it: the check starts from
    scratch, slower, never wrong. ``VERSION`` changes whenever what an outcome is worked out
    from changes (the parsing of pages, ``_verdict``, ``_Site.probe``) or the entries' form."""

    VERSION = 1
    REWRITE = 8
    KINDS = ("broken link", "missing anchor")

    def __init__(self) -> None:
        self._saved: dict[str, list[Any]] = {}
        """Path → the page's entry as read."""
        self._strings: list[str] = []
        self._present: list[int] = []
        self._absent: list[int] = []
        self._main: tuple[str, int, dict[str, list[Any]]] | None = None
        """The main file's id, the strings of its table and its entries, when one was read."""
        self.pages: dict[str, _Outcome | list[Any]] = {}
        """This check's outcomes, once ``check_site`` has run: worked out, or entries that held."""
        self._files: set[str] = set()
        self._worked = 0

    @staticmethod
    def beside(facts: Path) -> Path:
        """Where the outcomes are saved, beside the ``PageFacts`` file ``facts``."""
        return facts.with_name(f"{facts.stem}.outcomes{facts.suffix}")

    added = staticmethod(PageFacts.added)
    """The file beside ``path`` that holds what changed since it was written: named as the facts' is."""

    @classmethod
    def load(cls, path: Path) -> LinkOutcomes:
        """The outcomes saved at ``path`` and beside it; none when the main file is missing,
        unreadable or of another version (and its own when the added file is, or is not
        the main file's)."""
        outcomes = cls()
        if outcomes._read(path) and outcomes._main is not None:
            main = outcomes._main, outcomes._saved, outcomes._strings, outcomes._present, outcomes._absent
            if not outcomes._read(cls.added(path)):
                outcomes._main, outcomes._saved, outcomes._strings, outcomes._present, outcomes._absent = main
        return outcomes

    def _read(self, path: Path) -> bool:
        """Read the main file at ``path`` or, once it is read, the added file: whether it
        could be (else nothing is taken from it)."""
        try:
            data = json.loads(path.read_bytes())
            if not isinstance(data, dict) or data.get("version") != self.VERSION:
                return False
            tail, present, absent, pages = data["strings"], data["present"], data["absent"], data["pages"]
            dropped = data["dropped"] if self._main else []
            if not all(isinstance(x, list) for x in (tail, present, absent, pages, dropped)):
                return False
            if self._main is None and isinstance(data["id"], str):
                strings, saved = tail, {}
            elif self._main is not None and data["main"] == self._main[0]:
                strings, saved = self._strings + tail, dict(self._saved)
            else:
                return False
            if not all(isinstance(x, str) for x in tail):
                return False
            if not all(isinstance(i, int) and 0 <= i < len(strings) for i in present + absent + dropped):
                return False
            for i in dropped:
                saved.pop(strings[i], None)
            saved.update((strings[entry[0]], entry) for entry in pages)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return False
        if self._main is None:
            self._main = (data["id"], len(strings), saved)
        self._saved, self._strings, self._present, self._absent = saved, strings, present, absent
        return True

    def __len__(self) -> int:
        return len(self._saved)

    def usable(self, files: set[str], digests: Mapping[str, str]) -> Callable[[str], list[Any] | None] | None:
        """The function that gives a page's saved entry when its outcome holds for a site
        of ``files`` whose pages have ``digests``, else None; None when nothing was saved."""
        if not self._saved:
            return None
        strings = self._strings
        flipped = {i for i in self._present if strings[i] not in files}
        flipped.update(i for i in self._absent if strings[i] in files)

        def holds(page: str) -> list[Any] | None:
            entry = self._saved.get(page)
            if entry is None or not digests.get(page) or entry[1] != digests[page]:
                return None
            anchors = entry[7]
            if anchors and any(digests.get(strings[anchors[i]]) != anchors[i + 1] for i in range(0, len(anchors), 2)):
                return None
            if flipped and not (flipped.isdisjoint(entry[5]) and flipped.isdisjoint(entry[6])):
                return None
            return entry

        return holds

    def problems(self, entry: list[Any]) -> list[tuple[str, str]]:
        """The (kind, link) problems of a saved entry."""
        problems, kinds, strings = entry[4], self.KINDS, self._strings
        return [(kinds[problems[i]], strings[problems[i + 1]]) for i in range(0, len(problems), 2)]

    def targets(self, entry: list[Any]) -> list[str]:
        """The pages a saved entry links to, in order."""
        strings = self._strings
        return [strings[i] for i in entry[5]]

    def replace(self, pages: dict[str, _Outcome | list[Any]], files: set[str], worked: int) -> None:
        """Take ``pages`` as the outcomes of the check of a site of ``files``, ``worked`` of
        them worked out (the others: their saved entries)."""
        self.pages, self._files, self._worked = pages, files, worked

    def forget(self) -> None:
        """Let go of the saved outcomes: the check goes on as if there were none."""
        self.__init__()  # type: ignore[misc]

    def changed(self) -> bool:
        """Whether this check's outcomes differ from the saved ones (else nothing to save):
        one was worked out again, or the pages reached are others."""
        return self._worked > 0 or self.pages.keys() != self._saved.keys()

    def files(self, path: Path) -> list[tuple[Path, bytes | None]]:
        """What to save of this check's outcomes (the pages with no digest left out: nothing
        would tell whether they hold): (file, its new bytes, or None: delete it), the main
        file at ``path`` first."""
        if self._main is not None:
            added = self._added()
            if added is not None:
                return [(self.added(path), added)]
        return [(path, self._whole()), (self.added(path), None)]

    def _added(self) -> bytes | None:
        """The added file that goes with the main file read, or None when it would be
        more than a ``REWRITE``-th of it."""
        assert self._main is not None
        main, count, entries = self._main
        index = {string: i for i, string in enumerate(self._strings)}
        names = {*self._present, *self._absent}
        pages, kept = [], set()
        for path, outcome in self.pages.items():
            if isinstance(outcome, _Outcome):
                if outcome.digest is None or None in outcome.anchors.values():
                    continue
                entry = self._encode(path, outcome, index)
                names.update(entry[5], entry[6])
                pages.append(entry)
            elif outcome is not entries.get(path):
                pages.append(outcome)  # held, from the added file: its names are listed already
            kept.add(path)
        if (len(pages) * self.REWRITE > len(entries)) or (len(index) - count) * self.REWRITE > count:
            return None
        strings = list(index)
        dropped = [index[path] for path in entries.keys() - kept]  # not held in this check: not true of it
        present = sorted(i for i in names if strings[i] in self._files)
        data = {
            "version": self.VERSION,
            "main": main,
            "strings": strings[count:],
            "present": present,
            "absent": sorted(names.difference(present)),
            "dropped": sorted(dropped),
            "pages": pages,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    def _whole(self) -> bytes:
        """The main file: every outcome of this check, its strings only, and a new id."""
        index: dict[str, int] = {}
        names: set[int] = set()
        pages = []
        for path, outcome in self.pages.items():
            if isinstance(outcome, list):
                outcome = self._decode(outcome)
            elif outcome.digest is None or None in outcome.anchors.values():
                continue
            entry = self._encode(path, outcome, index)
            names.update(entry[5], entry[6])
            pages.append(entry)
        strings = list(index)
        present = sorted(i for i in names if strings[i] in self._files)
        data = {
            "version": self.VERSION,
            "id": os.urandom(8).hex(),
            "strings": strings,
            "present": present,
            "absent": sorted(names.difference(present)),
            "pages": pages,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    def _encode(self, path: str, outcome: _Outcome, index: dict[str, int]) -> list[Any]:
        """A page's entry: [path, digest, internal, external, problems (kind, link)…,
        targets, probes, anchors (page, digest)…], strings as indexes into the table."""
        kinds = {kind: number for number, kind in enumerate(self.KINDS)}
        problems = [n for kind, link in outcome.problems for n in (kinds[kind], index.setdefault(link, len(index)))]
        targets = [index.setdefault(target, len(index)) for target in outcome.targets]
        probes = [index.setdefault(probe, len(index)) for probe in outcome.probes]
        anchors: list[int | str] = []
        for page, digest in outcome.anchors.items():
            anchors += (index.setdefault(page, len(index)), digest or "")
        entry = [index.setdefault(path, len(index)), outcome.digest, outcome.internal, outcome.external]
        return [*entry, problems, targets, probes, anchors]

    def _decode(self, entry: list[Any]) -> _Outcome:
        strings, anchors = self._strings, entry[7]
        return _Outcome(
            entry[1],
            entry[2],
            entry[3],
            self.problems(entry),
            self.targets(entry),
            [strings[i] for i in entry[6]],
            {strings[anchors[i]]: anchors[i + 1] for i in range(0, len(anchors), 2)},
        )


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
            facts = self._facts if self._facts is not None and self._facts.wanted(self.read) else None
            known = facts.pages.get(digest) if facts is not None and digest else None
            if known is None:
                known = _Page.of((self.root / path).read_text(encoding="utf-8", errors="replace"), self._tags)
                self.read += 1
                if self._facts is not None and digest:
                    self._facts.pages[digest] = known
            self._parsed[path] = known
        return self._parsed[path]

    def digest(self, path: str) -> str | None:
        return self._digests.get(path)

    def resolve(self, page: str, path: str) -> str | None:
        """The site file a link's path points at from ``page``, or None."""
        return self.probe(page, path)[0]

    def probe(self, page: str, path: str) -> tuple[str | None, tuple[str, ...]]:
        """``resolve``, and the names whose presence in the site decided it (in the order
        looked up): the answer is the same for any file set that has the same of them."""
        base = "" if path.startswith("/") else posixpath.dirname(page)
        target = posixpath.normpath(posixpath.join(base, unquote(path).lstrip("/")))
        if target == "." or target.startswith("../") or target == "..":
            if target != ".":
                return None, ()
            return ("index.html" if "index.html" in self.files else None), ("index.html",)
        if target in self.files:
            return target, (target,)
        index = f"{target}/index.html"
        return (index if index in self.files else None), (target, index)


def check_site(
    site: Path,
    *,
    start: str = "index.html",
    allow_orphans: tuple[str, ...] = (),
    files: Iterable[str] | None = None,
    digests: Mapping[str, str] | None = None,
    facts: PageFacts | None = None,
    outcomes: LinkOutcomes | None = None,
) -> CheckReport:
    """Crawl ``site`` from ``start`` and report broken links, missing anchors and pages
    no link reaches.

    A build hands in what it knows: the site's ``files`` (else the folder is listed), the
    ``digests`` of their bytes and the ``facts`` of pages it checked before, so that only
    the pages it wrote are read; each link's verdict is worked out once per folder (a
    site's pages share most of their links). ``facts`` gains the pages read.

    With ``outcomes`` (and ``digests``) the check is incremental: a page whose remembered
    outcome still holds (``LinkOutcomes.usable``) is not looked at, link by link, again;
    ``outcomes`` then holds this check's."""
    root = _Site(site.resolve(), files, digests, facts)
    report = CheckReport()
    if start not in root.files:
        report.problems.append(Problem("broken link", "(site)", start))
        return report
    digests = digests or {}
    holds = outcomes.usable(root.files, digests) if outcomes is not None and digests else None
    try:
        reached = _crawl(root, start, report, digests, outcomes, holds)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        # Only a damaged file gets here with outcomes (a target it names that the site lacks
        # cannot be read): the same error from a check from scratch is raised again.
        if holds is None or outcomes is None:
            raise
        log.warning("link check: the remembered outcomes do not make sense; checking every page")
        outcomes.forget()
        report = CheckReport()
        reached = _crawl(root, start, report, digests, outcomes, None)
    report.read = root.read
    allowed = (*DEFAULT_ALLOWED_ORPHANS, *allow_orphans)
    for path in sorted(root.files - reached):
        is_page = path.endswith(".html") and not path.startswith(SKIPPED_FOLDERS)
        if is_page and not any(fnmatch.fnmatchcase(path, pattern) for pattern in allowed):
            report.problems.append(Problem("unreachable", path))
    return report


def _crawl(
    root: _Site,
    start: str,
    report: CheckReport,
    digests: Mapping[str, str],
    outcomes: LinkOutcomes | None,
    holds: Callable[[str], list[Any] | None] | None,
) -> set[str]:
    """Walk the site from ``start`` breadth first, each page's outcome worked out (or its
    saved entry, when ``holds`` says it holds) and added to ``report``: the pages reached.
    ``outcomes``, when given, takes this crawl's outcomes."""
    found: dict[str, _Outcome | list[Any]] = {}
    reached, queue = {start}, deque([start])
    by_folder: dict[str, dict[str, _Verdict]] = {}
    while queue:
        page = queue.popleft()
        entry = holds(page) if holds else None
        if entry is not None and outcomes is not None:
            found[page] = entry
            report.links += entry[2]
            report.external += entry[3]
            if entry[4]:
                report.problems += [Problem(kind, page, link) for kind, link in outcomes.problems(entry)]
            targets = outcomes.targets(entry)
        else:
            outcome = _outcome(root, page, by_folder.setdefault(posixpath.dirname(page), {}), digests.get(page))
            report.worked += 1
            found[page] = outcome
            report.links += outcome.internal
            report.external += outcome.external
            report.problems += [Problem(kind, page, link) for kind, link in outcome.problems]
            targets = outcome.targets
        report.pages += 1
        for target in targets:
            if target not in reached:
                reached.add(target)
                queue.append(target)
    if outcomes is not None:
        outcomes.replace(found, root.files, report.worked)
    return reached


@dataclass
class _Outcome:
    """What one page gives the report, and what that depends on besides its folder.

    ``problems`` are (kind, link) in link order; ``targets`` the other HTML pages it links
    to, each once, in the order first linked (the crawl's order); ``probes`` the names,
    other than ``targets``, whose presence in the site its links' resolution looked up;
    ``anchors`` the other pages whose ids it looked in, with their digests then."""

    digest: str | None
    internal: int = 0
    external: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    anchors: dict[str, str | None] = field(default_factory=dict)


def _outcome(root: _Site, page: str, shared: dict[str, _Verdict], digest: str | None) -> _Outcome:
    """Work out ``page``'s outcome link by link; ``shared`` holds the verdicts of its folder's
    links that have a path (the same for every page of the folder). The loop a check from
    scratch runs 470,000 times at 10,000 entities: most links are to a page already linked,
    with nothing else to note (``_verdict``'s ``special`` is None)."""
    outcome = _Outcome(digest)
    own: dict[str, _Verdict] = {}
    seen, probes, targets = {page}, set[str](), outcome.targets
    internal = external = 0
    for link in root.page(page).links:
        verdicts = own if not link or link[0] in "#?" else shared  # no path: the page itself
        found = verdicts.get(link)
        if found is None:
            found = verdicts[link] = _verdict(root, page, link)
        kind, html, special = found
        if kind == _EXTERNAL:
            external += 1
            continue
        internal += kind == _INTERNAL
        if html is not None and html not in seen:
            seen.add(html)
            targets.append(html)
        if special is not None:
            problem, extra, anchor = special
            if problem:
                outcome.problems.append((problem, link))
            if extra:
                probes.update(extra)
            if anchor and anchor != page and anchor not in outcome.anchors:
                outcome.anchors[anchor] = root.digest(anchor)
    outcome.internal, outcome.external = internal, external
    outcome.probes = sorted(probes - seen)
    return outcome


_INTERNAL, _EXTERNAL, _INVALID = 0, 1, 2
_Verdict = tuple[int, str | None, tuple[str | None, tuple[str, ...], str | None] | None]
"""A link's kind, the HTML page it reaches, and when there is any: its problem, the names
looked up to resolve it other than that page, and the page whose ids it looked in."""


def _verdict(root: _Site, page: str, link: str) -> _Verdict:
    """One link of ``page``: its kind (``_INTERNAL``, ``_EXTERNAL`` or ``_INVALID``), the
    HTML page it reaches, and what else to note (``_Verdict``). The same for every page of
    a folder when it has a path."""
    parts = _split(link)
    if parts is None:
        return _INVALID, None, ("broken link", (), None)
    scheme, path, fragment = parts
    if scheme or link.startswith("//"):
        return _EXTERNAL, None, None
    target, probes = root.probe(page, path) if path else (page, ())
    if target is None:
        return _INTERNAL, None, ("broken link", probes, None)
    if not target.endswith(".html"):
        return _INTERNAL, None, (None, probes, None)  # a file: its name is looked up again
    probes = tuple(name for name in probes if name != target)  # the page: among the outcome's targets
    if fragment:
        problem = "missing anchor" if unquote(fragment) not in root.page(target).ids else None
        return _INTERNAL, target, (problem, probes, target)
    return _INTERNAL, target, (None, probes, None) if probes else None


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
