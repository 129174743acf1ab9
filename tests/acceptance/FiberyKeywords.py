"""Technical keywords of the acceptance specs: the fake Fibery, the work folder, the site
and MongoDB. The specs never call these directly: ``fibery_kb.resource`` wraps them in
plain-language keywords.

The `gen` command itself is run by Robot's Process library (see ``fibery_kb.resource``),
except in one case: storing segments without a real MongoDB server. mongomock lives in
one process's memory, so two `gen segments store` processes could never see each other's
writes; there, ``run_gen_in_process`` runs the real click command (``generator.cli.cli``)
inside this process, twice, against one shared mongomock client. Which backend ran is
stated in the spec's tags and documentation, never hidden.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `python -m robot tests/acceptance` from anywhere
    sys.path.insert(0, str(ROOT))

from tests import fake_fibery as ff  # noqa: E402

DEMO_SNAPSHOT = ROOT / "generator" / "demo" / "workspace.json"
TOKEN = "tok-ACCEPTANCE-0123456789abcdef"
SEGMENTS_DATABASE = "Process Segments"
OUR_VARIABLES = ("FIBERY_URL", "FIBERY_SPACE", "FIBERY_TOKEN", "MONGODB_DB", "GITHUB_STEP_SUMMARY")
"""Never inherited by a `gen` run: the developer's (or the workflow's) own settings, and
GitHub's job summary file, which a build under GitHub Actions would otherwise write into."""


@dataclass
class InProcessResult:
    """What ``run_gen_in_process`` returns: the fields of the Process library's result."""

    rc: int
    stdout: str
    stderr: str


class FiberyKeywords:
    """Keywords for the fake Fibery, the work folder, the built site and MongoDB."""

    ROBOT_LIBRARY_SCOPE = "SUITE"

    def __init__(self) -> None:
        self._fake: ff.FakeFibery | None = None
        self._folder: Path | None = None
        self._site_before: dict[str, bytes] | None = None
        self._mongomock_client: Any = None
        self._mongodb_name: str | None = None

    # ------------------------------------------------------------------ the work folder

    def create_work_folder(self) -> str:
        """Create an empty temporary folder for one scenario and return its path."""
        self.remove_work_folder()
        self._folder = Path(tempfile.mkdtemp(prefix="fibery-kb-acceptance-"))
        return str(self._folder)

    def work_folder_should_be_empty(self) -> None:
        found = sorted(p.name for p in self._path(".").iterdir())
        assert not found, f"the folder is not empty: {', '.join(found)}"

    def remove_work_folder(self) -> None:
        """Delete the scenario's folder (the site it built included)."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _path(self, relative: str) -> Path:
        assert self._folder is not None, "no work folder: call Create Work Folder first"
        return self._folder / relative

    # ------------------------------------------------------------------ the gen command

    def gen_command(self) -> list[str]:
        """The installed `gen` console script of this Python (``python -m generator`` if it
        has none)."""
        script = Path(sys.executable).parent / "gen"
        if script.is_file():
            return [str(script)]
        found = shutil.which("gen")
        return [found] if found else [sys.executable, "-m", "generator"]

    def gen_environment(self, token: str = "", **settings: str) -> dict[str, str]:
        """This process's environment without fibery-kb's settings, plus, while the fake
        Fibery runs, its FIBERY_URL, FIBERY_SPACE and FIBERY_TOKEN (``token`` replacing the
        valid one if given), plus ``settings``."""
        env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
        env.update(self.fibery_settings(token))
        env.update({k: str(v) for k, v in settings.items()})
        return env

    def fibery_settings(self, token: str = "") -> dict[str, str]:
        """The fake's FIBERY_URL, FIBERY_SPACE and FIBERY_TOKEN; none while it is stopped."""
        if self._fake is None:
            return {}
        return {
            "FIBERY_URL": self._fake.url,
            "FIBERY_SPACE": self._fake.snapshot["space"],
            "FIBERY_TOKEN": token or TOKEN,
        }

    def fibery_token(self) -> str:
        """The token the fake Fibery accepts."""
        return TOKEN

    # ------------------------------------------------------------------ the fake Fibery

    def start_fake_fibery(self) -> str:
        """Serve the demo workspace (generator/demo/workspace.json) from a local fake Fibery
        that enforces Fibery's 3 requests/s per token; return its URL."""
        self.stop_fake_fibery()
        demo = json.loads(DEMO_SNAPSHOT.read_text(encoding="utf-8"))
        fake = ff.FakeFibery(demo, token=TOKEN, rate_limit=3.0).start()
        # The snapshot as if it lived at the fake's URL (links in rich text included).
        fake.update_snapshot(json.loads(json.dumps(demo).replace(demo["fibery_url"], fake.url)))
        self._fake = fake
        return fake.url

    def stop_fake_fibery(self) -> None:
        if self._fake is not None:
            self._fake.stop()
            self._fake = None

    def _running_fake(self) -> ff.FakeFibery:
        assert self._fake is not None, "the fake Fibery is not running: call Start Fake Fibery first"
        return self._fake

    def renumber_segments(self, **numbers: str) -> None:
        """Give the segments of the fake new public ids, by name: ``Dispatch=1``."""
        fake = self._running_fake()
        snapshot = fake.snapshot
        database = next(db for db in snapshot["databases"] if db["title"] == SEGMENTS_DATABASE)
        names = {entity["name"] for entity in database["entities"]}
        unknown = sorted(set(numbers) - names)
        assert not unknown, f"no such segment in {SEGMENTS_DATABASE}: {', '.join(unknown)}"
        for entity in database["entities"]:
            entity["public_id"] = str(numbers.get(entity["name"], entity["public_id"]))
        fake.update_snapshot(snapshot)

    def fake_fibery_answered_with_429(self) -> int:
        """How many requests the fake refused for going over the rate limit."""
        return self._running_fake().stats.rate_limited

    # ------------------------------------------------------------------ the site

    def remember_site(self, site: str = "site") -> int:
        """Remember every file of the site, byte for byte; return how many there are."""
        self._site_before = _site_files(self._path(site))
        assert self._site_before, f"{site}/ is empty"
        return len(self._site_before)

    def site_should_be_unchanged(self, site: str = "site") -> None:
        """Fail unless the site has exactly the files, and bytes, that Remember Site saw."""
        assert self._site_before is not None, "call Remember Site first"
        now = _site_files(self._path(site))
        added = sorted(now.keys() - self._site_before.keys())
        removed = sorted(self._site_before.keys() - now.keys())
        changed = sorted(p for p in now.keys() & self._site_before.keys() if now[p] != self._site_before[p])
        differences = {"added": added, "removed": removed, "changed": changed}
        problems = [f"{label}: {', '.join(paths[:10])}" for label, paths in differences.items() if paths]
        assert not problems, "the site changed: " + "; ".join(problems)

    def page_titles(self, site: str = "site") -> list[str]:
        """The <title> of every HTML page of the site, sorted."""
        titles = []
        for page in sorted(self._path(site).rglob("*.html")):
            match = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.S)
            if match:
                titles.append(html.unescape(" ".join(match.group(1).split())))
        return titles

    def site_should_publish_every_database_and_entity(self, site: str = "site") -> str:
        """Fail unless every database and every entity served by the fake Fibery has a page
        (found by its title, "Entity — Database — Space"); return a one-line summary."""
        snapshot = self._running_fake().snapshot
        space = snapshot["space"]
        titles = set(self.page_titles(site))
        missing = []
        entities = 0
        for database in snapshot["databases"]:
            if f"{database['title']} — {space}" not in titles:
                missing.append(f"database {database['title']}")
            for entity in database["entities"]:
                entities += 1
                if f"{entity['name']} — {database['title']} — {space}" not in titles:
                    missing.append(f"{database['title']}: {entity['name']}")
        assert not missing, f"no page for {len(missing)}: {'; '.join(missing[:10])}"
        return f"{len(snapshot['databases'])} databases and {entities} entities, each with its page"

    def build_info(self, site: str = "site") -> dict[str, Any]:
        """The site's build-info.json."""
        return json.loads(self._path(site).joinpath("build-info.json").read_text(encoding="utf-8"))

    def folder_should_not_contain(self, text: str, folder: str = ".") -> None:
        """Fail if any file under the work folder (or ``folder`` in it) contains ``text``."""
        root, needle = self._path(folder), text.encode()
        found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]
        assert not found, f"found in {len(found)} files: {', '.join(found[:10])}"

    # ------------------------------------------------------------------ process segments

    def segment_names(self, json_text: str) -> list[str]:
        """The names of the segments in the JSON that `gen segments --format json` printed."""
        return [segment["name"] for segment in json.loads(json_text)]

    # ------------------------------------------------------------------ MongoDB

    def real_mongodb_uri(self) -> str:
        """MONGODB_URI, or "" when it is unset (then no MongoDB server is available)."""
        return os.environ.get("MONGODB_URI", "")

    def redacted(self, uri: str) -> str:
        """The URI with any password replaced by ***."""
        from generator.logs import redact

        return redact(uri)

    def use_fresh_mongodb_database(self) -> str:
        """Pick a database name of this scenario's own, and (without MONGODB_URI) create
        the shared in-memory mongomock client; return the name."""
        self._mongodb_name = f"fibery_kb_acceptance_{uuid.uuid4().hex[:12]}"
        if not self.real_mongodb_uri():
            import mongomock

            self._mongomock_client = mongomock.MongoClient()
        return self._mongodb_name

    def drop_mongodb_database(self) -> None:
        """Drop the scenario's database (real server) or forget the mongomock client."""
        name, self._mongodb_name = self._mongodb_name, None
        if name and self.real_mongodb_uri():
            with self._client() as client:
                client.drop_database(name)
        self._mongomock_client = None

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        if self._mongomock_client is not None:
            yield self._mongomock_client
            return
        import pymongo

        client: Any = pymongo.MongoClient(self.real_mongodb_uri(), serverSelectionTimeoutMS=5000)
        try:
            yield client
        finally:
            client.close()

    def _database_name(self) -> str:
        assert self._mongodb_name, "call Use Fresh MongoDB Database first"
        return self._mongodb_name

    def stored_documents(self, collection: str) -> list[dict[str, Any]]:
        """Every document of ``collection`` in the scenario's database."""
        with self._client() as client:
            return list(client[self._database_name()][collection].find({}))

    def run_gen_in_process(self, *arguments: str) -> InProcessResult:
        """Run the real `gen` click command (``generator.cli.cli``) in this process with
        click's CliRunner, in the work folder, with the fake Fibery's settings and its
        MongoDB client replaced by the shared mongomock one.

        Only for the mongomock backend: a real server is reached by a `gen` process.
        """
        from click.testing import CliRunner

        from generator.cli import cli

        assert self._mongomock_client is not None, "call Use Fresh MongoDB Database first (without MONGODB_URI)"
        env: dict[str, str | None] = {name: None for name in (*OUR_VARIABLES, "MONGODB_URI")}
        env.update(self.fibery_settings())
        env["MONGODB_DB"] = self._database_name()
        client = self._mongomock_client
        with contextlib.ExitStack() as stack:
            stack.enter_context(_mongomock_accepts_sort())
            stack.enter_context(_logging_restored())
            stack.enter_context(contextlib.chdir(self._path(".")))
            stack.enter_context(mock.patch("generator.store.MongoClient", lambda *args, **kwargs: client))
            result = CliRunner().invoke(cli, list(arguments), env=env)
        try:
            stdout, stderr = result.stdout, result.stderr
        except ValueError:  # click < 8.2 mixes stderr into stdout
            stdout, stderr = result.output, ""
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        return InProcessResult(result.exit_code, stdout, stderr)


def _site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


@contextlib.contextmanager
def _mongomock_accepts_sort() -> Iterator[None]:
    """The workaround of tests/conftest.py (``_mongomock_accepts_sort``), for one run:
    pymongo ≥ 4.11 passes ``sort=`` to mongomock's bulk builder, which mongomock 4.3 does
    not accept (mongomock issue #912). Drop it when unset."""
    from mongomock.collection import BulkOperationBuilder

    original = BulkOperationBuilder.add_update
    if "sort" in inspect.signature(original).parameters:
        yield
        return

    def add_update(self: Any, *args: object, sort: object = None, **kwargs: object) -> object:
        if sort is not None:
            raise NotImplementedError("mongomock does not support sort in bulk updates")
        return original(self, *args, **kwargs)

    with mock.patch.object(BulkOperationBuilder, "add_update", add_update):
        yield


@contextlib.contextmanager
def _logging_restored() -> Iterator[None]:
    """`gen` configures the root logger for its run; give Robot's (or pytest's) back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    others = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "gql")}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, other in others.items():
            logging.getLogger(name).setLevel(other)
