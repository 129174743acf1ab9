"""`gen init`: a content repository that builds, lints, pins its fibery-kb, and is never overwritten.

Also the deploy decision its workflow makes (generator/deploycheck.py), against a local
HTTP server standing in for the deployed Pages site.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import __version__
from generator.config import load_site_config
from generator.scaffold import FILES

from .conftest import env_with
from .test_cli import assert_one_line_error, run_gen
from .test_publishing import actionlint, console_script  # noqa: F401 - actionlint is a fixture


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder made by `gen init`, then built with `gen build --demo` in it."""
    root = tmp_path_factory.mktemp("init") / "kb"
    result = run_gen("init", str(root), cwd=root.parent)
    assert result.returncode == 0, result.stderr
    assert f"Wrote a fibery-kb {__version__} knowledge base in {root}/ (8 new, 0 overwritten)" in result.stdout
    built = run_gen("build", "--demo", cwd=root)
    assert built.returncode == 0, built.stderr
    return root


def workflow(root: Path) -> dict[str, Any]:
    data = yaml.safe_load((root / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8"))
    data["on"] = data.pop(True)
    return data


def test_init_writes_every_file(kb: Path) -> None:
    assert sorted(str(p.relative_to(kb)) for p in kb.rglob("*") if p.is_file() and "site" not in p.parts) == sorted(
        [*FILES, *(str(p.relative_to(kb)) for p in (kb / ".cache").rglob("*") if p.is_file())]
    )
    assert [p.name for p in (kb / "templates").iterdir()] == ["README.md"], "no template is copied: overrides only"
    assert "copy it here under the same name" in (kb / "templates" / "README.md").read_text(encoding="utf-8")
    assert {"site/", ".cache/"} <= set((kb / ".gitignore").read_text(encoding="utf-8").splitlines())


def test_the_new_folder_builds_the_demo(kb: Path) -> None:
    site = kb / "site"
    assert (site / "index.html").is_file() and (site / "build-info.json").is_file()
    assert "every Markdown file in" in (site / "index.html").read_text(encoding="utf-8"), "content/index.md is used"
    assert not list(site.rglob("README*")), "the templates README is not published"


def test_kb_toml_is_commented_and_valid(kb: Path) -> None:
    text = (kb / "kb.toml").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert len(comments) > 20
    config = load_site_config(path=kb / "kb.toml")
    assert config.content_dir == "content" and config.templates_dir == "templates"


def test_the_workflow_installs_the_pinned_release_not_the_source(kb: Path) -> None:
    assert f"fibery-kb=={__version__}" in (kb / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert f"fibery-kb=={__version__}" in (kb / "requirements.in").read_text(encoding="utf-8").splitlines()
    scripts = [s["run"] for s in workflow(kb)["jobs"]["build"]["steps"] if "run" in s]
    installs = [line for script in scripts for line in script.splitlines() if "pip install" in line]
    assert installs == ["python -m pip install -r requirements.txt"]


def test_the_workflow_rebuilds_on_change_and_deploys_only_when_changed(kb: Path) -> None:
    data = workflow(kb)
    assert data["on"]["repository_dispatch"] == {"types": ["fibery-changed"]}
    assert set(data["on"]) == {"push", "schedule", "repository_dispatch", "workflow_dispatch"}
    assert data["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert data["jobs"]["deploy"]["if"] == "needs.build.outputs.deploy == 'true'"
    assert data["jobs"]["build"]["outputs"]["deploy"] == "${{ steps.compare.outputs.deploy }}"


def test_dependabot_keeps_actions_and_requirements_current(kb: Path) -> None:
    config = yaml.safe_load((kb / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert config["version"] == 2
    assert {u["package-ecosystem"] for u in config["updates"]} == {"github-actions", "pip"}


def test_the_workflow_lints_clean(kb: Path, actionlint: list[str]) -> None:  # noqa: F811
    path = kb / ".github" / "workflows" / "pages.yml"
    result = subprocess.run([*actionlint, str(path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"
    command = [console_script("zizmor"), "--offline", "--no-progress", "--format=json", str(path.parent)]
    findings = json.loads(subprocess.run(command, capture_output=True, text=True, timeout=120).stdout)
    assert findings == [], [(f["ident"], f["desc"]) for f in findings]
    for step in workflow(kb)["jobs"]["build"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"]
            check = subprocess.run(
                [console_script("shellcheck"), "--shell=bash", "-"], input=step["run"], capture_output=True, text=True
            )
            assert check.returncode == 0, check.stdout


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('title = "Mine"\n', encoding="utf-8")
    result = run_gen("init", cwd=tmp_path)
    assert_one_line_error(result, "kb.toml already exists: gen init overwrites nothing without --force", 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.toml"], "a refusal writes nothing"
    assert (tmp_path / "kb.toml").read_text(encoding="utf-8") == 'title = "Mine"\n'

    forced = run_gen("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "(7 new, 1 overwritten)" in forced.stdout
    assert "content_dir" in (tmp_path / "kb.toml").read_text(encoding="utf-8")


def test_init_into_a_file_or_over_a_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert_one_line_error(run_gen("init", "file", cwd=tmp_path), "is a file: gen init needs a folder", 2)
    (tmp_path / "kb" / "kb.toml").mkdir(parents=True)
    result = run_gen("init", "kb", "--force", cwd=tmp_path)
    assert_one_line_error(result, "kb.toml is a folder where gen init writes a file", 2)


# --------------------------------------------------------------------------- the deploy decision


class _Deployed(http.server.BaseHTTPRequestHandler):
    body: bytes | None = None

    def do_GET(self) -> None:
        if self.body is None or not self.path.startswith("/build-info.json?run="):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def deployed() -> Iterator[tuple[str, type[_Deployed]]]:
    """A stand-in for the deployed site: set ``handler.body`` to what it serves."""
    handler = type("Handler", (_Deployed,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", handler
    server.shutdown()
    server.server_close()


def run_check(kb: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run ``python -m generator.deploycheck`` on kb/site as the workflow step does."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    output.write_text("", encoding="utf-8")
    env = env_with(GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary), GITHUB_RUN_ID="42")
    command = [sys.executable, "-m", "generator.deploycheck", str(kb / "site"), *args]
    result = subprocess.run(command, cwd=kb, env=env, capture_output=True, text=True, timeout=60)
    return result, output.read_text(encoding="utf-8"), summary.read_text(encoding="utf-8") if summary.exists() else ""


def test_an_unchanged_build_skips_the_deploy_and_says_so(kb: Path, tmp_path: Path, deployed) -> None:
    url, handler = deployed
    handler.body = (kb / "site" / "build-info.json").read_bytes()
    result, output, summary = run_check(kb, tmp_path, url)
    assert result.returncode == 0, result.stderr
    assert output == "deploy=false\n"
    assert summary.startswith("### Deploy skipped: nothing changed")
    assert result.stdout.startswith("skip the deploy: the content is the same as the deployed site's")


def test_a_changed_build_deploys(kb: Path, tmp_path: Path, deployed) -> None:
    url, handler = deployed
    handler.body = json.dumps({"content_hash": "0" * 64}).encode()
    _, output, summary = run_check(kb, tmp_path, url)
    assert output == "deploy=true\n" and "the content changed" in summary and "`000000000000`" in summary


@pytest.mark.parametrize("body", [None, b"<html>not json</html>", b"{}"])
def test_any_doubt_deploys(kb: Path, tmp_path: Path, deployed, body: bytes | None) -> None:
    url, handler = deployed
    handler.body = body
    result, output, summary = run_check(kb, tmp_path, url)
    assert result.returncode == 0 and output == "deploy=true\n"
    assert "no deployed content hash to compare with" in summary


def test_force_deploys_an_unchanged_build(kb: Path, tmp_path: Path, deployed) -> None:
    url, handler = deployed
    handler.body = (kb / "site" / "build-info.json").read_bytes()
    _, output, summary = run_check(kb, tmp_path, url, "--force")
    assert output == "deploy=true\n" and "deploy forced" in summary


def test_no_build_is_one_line(tmp_path: Path) -> None:
    result, _, _ = run_check(tmp_path, tmp_path, "")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: cannot read {tmp_path / 'site' / 'build-info.json'}: No such file or directory: run gen build first"
    ]


def test_the_fetch_cache_is_kept_encrypted_like_the_tools_own_workflow(kb: Path) -> None:
    steps = {s.get("name"): s for s in workflow(kb)["jobs"]["build"]["steps"]}
    with_token = [name for name, s in steps.items() if "secrets.FIBERY_TOKEN }}" in json.dumps(s.get("env", {}))]
    assert with_token == [
        "Decrypt the Fibery fetch cache",
        "Build the site from Fibery",
        "Encrypt the Fibery fetch cache",
    ]
    assert steps["Save the Fibery fetch cache"]["with"]["path"] == ".cache/fibery-kb.tar.gz.enc"
