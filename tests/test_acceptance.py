"""The Robot Framework acceptance specs (tests/acceptance/*.robot), run as part of pytest.

The specs run the real `gen` command against a local fake Fibery; see
tests/acceptance/__init__.robot. Their log and report land in this test's tmp_path (the
path is in the failure message); the Pages workflow publishes them under docs/acceptance/.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import robot
from robot.api import ExecutionResult

pytest_plugins = ["tests.store_fixtures"]  # the MongoDB backend: only where it is used

if TYPE_CHECKING:  # imported by pytest as a plugin, not here (its asserts are rewritten)
    from .store_fixtures import MongoBackend

SPECS = Path(__file__).resolve().parent / "acceptance"
SCENARIOS = {
    "a new user builds the demo site",
    "a scheduled build against fibery publishes every database",
    "a wrong token fails clearly and keeps the old site",
    "process segments are printed in process order",
    "storing segments twice changes nothing",
}
STORE_SCENARIO = "storing segments twice changes nothing"


def test_the_acceptance_specs_pass(tmp_path: Path, mongo_env: MongoBackend) -> None:
    # mongo_env points MONGODB_URI at the session's server (SecantusDB when no other is
    # given), so the "store twice" scenario runs `gen segments store` over the wire.
    out = tmp_path / "acceptance"
    console = io.StringIO()

    rc = robot.run(str(SPECS), outputdir=str(out), consolecolors="off", stdout=console, stderr=console)

    assert rc == 0, f"the acceptance specs failed (log: {out / 'log.html'}):\n{console.getvalue()}"
    assert (out / "log.html").is_file()
    assert (out / "report.html").is_file()
    tests = {t.name.lower(): t for t in ExecutionResult(str(out / "output.xml")).suite.all_tests}
    assert set(tests) == SCENARIOS
    assert all(t.passed for t in tests.values())
    # The store scenario says which MongoDB backend it used, and it is the one available.
    expected = "mongodb:real-server" if os.environ.get("MONGODB_URI") else "mongodb:mongomock-in-process"
    backends = [tag for tag in tests[STORE_SCENARIO].tags if tag.startswith("mongodb:")]
    assert backends == [expected]
