"""The `gen` command line: settings, clear one-line errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli

from .conftest import ROOT, TOKEN, env_with


def run_gen(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real `gen` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-c", "from generator.cli import main; main()", *args],
        cwd=cwd,
        env=env_with(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str, code: int) -> None:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_demo_build_from_an_empty_folder(tmp_path: Path) -> None:
    result = run_gen("build", "--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Built site/: 4 databases, 33 entities" in result.stdout
    assert (tmp_path / "site" / "index.html").is_file()


def test_a_snapshot_build_loads_no_network_library(tmp_path: Path) -> None:
    """httpx, gql and graphql-core (~0.2 s of start-up) are for live builds only: a snapshot
    build (and the demo) never imports them."""
    assert run_gen("pull", "--demo", "--out", "demo.json", cwd=tmp_path).returncode == 0
    script = (
        "import sys\nfrom generator.cli import main\ntry:\n    main()\nfinally:\n"
        "    print('loaded:', sorted(m for m in ('gql', 'graphql', 'httpx') if m in sys.modules))"
    )
    for source in (["--snapshot", "demo.json"], ["--demo"]):
        result = subprocess.run(
            [sys.executable, "-c", script, "build", *source, "--out", "site", "-q"],
            cwd=tmp_path, env=env_with(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "loaded: []" in result.stdout
        assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        (
            {},
            "FIBERY_URL, FIBERY_SPACE, FIBERY_TOKEN are not set: set the environment variables or use "
            "--fibery-url, --space, --token-file",
        ),
        ({"FIBERY_URL": "https://a.fibery.io"}, "FIBERY_SPACE, FIBERY_TOKEN are not set"),
        ({"FIBERY_URL": "https://a.fibery.io", "FIBERY_SPACE": "KB"}, "FIBERY_TOKEN is not set"),
    ],
)
def test_missing_settings_are_named(tmp_path: Path, env: dict[str, str], missing: str) -> None:
    assert_one_line_error(run_gen("build", cwd=tmp_path, **env), missing, 2)


def test_bad_url_is_named(tmp_path: Path) -> None:
    result = run_gen("build", cwd=tmp_path, FIBERY_URL="acme.fibery.io", FIBERY_SPACE="KB", FIBERY_TOKEN=TOKEN)
    assert_one_line_error(result, "FIBERY_URL: must be an http:// or https:// URL", 2)
    assert TOKEN not in result.stderr + result.stdout


def test_token_is_not_an_argument() -> None:
    result = CliRunner().invoke(cli, ["build", "--token", TOKEN])
    assert result.exit_code == 2 and "No such option" in result.output


def test_token_file(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    result = run_gen(
        "build", "--token-file", str(empty), "--fibery-url", "https://a.fibery.io", "--space", "KB", cwd=tmp_path
    )
    assert_one_line_error(result, "the file is empty", 2)
    result = run_gen(
        "build", "--token-file", str(tmp_path / "nope"), "--fibery-url", "https://a.io", "--space", "K", cwd=tmp_path
    )
    assert_one_line_error(result, "cannot read", 2)


def test_bad_kb_toml_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text("page_size = 0\n")
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), "kb.toml: key 'page_size'", 2)
    (tmp_path / "kb.toml").write_text('hide_feilds = ["x"]\n')
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), "key 'hide_feilds': unknown key", 2)
    (tmp_path / "kb.toml").write_text("title = \n")
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), "kb.toml: cannot read", 2)


def test_unknown_database_in_kb_toml_lists_the_existing_ones(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('include_databases = ["Recipes"]\n')
    result = run_gen("build", "--demo", cwd=tmp_path)
    assert_one_line_error(result, "no database 'Recipes' in the space (it has: Equipment, Guides,", 2)


def test_publish_rules_apply_to_the_demo(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('exclude_databases = ["Team Members"]\nhide_fields = {"Guides" = ["Owner"]}\n')
    assert run_gen("build", "--demo", cwd=tmp_path).returncode == 0
    site = tmp_path / "site"
    assert not (site / "db" / "team-members").exists()
    guide = next((site / "db" / "guides").glob("potting-soil*.html")).read_text()
    assert ">Owner<" not in guide


def test_demo_and_snapshot_together_is_an_error(tmp_path: Path) -> None:
    assert_one_line_error(
        run_gen("build", "--demo", "--snapshot", "x.json", cwd=tmp_path), "cannot be used together", 2
    )


def test_pull_demo_then_build_snapshot(tmp_path: Path) -> None:
    assert run_gen("pull", "--demo", "--out", "snap.json", cwd=tmp_path).returncode == 0
    result = run_gen("build", "--snapshot", "snap.json", "-q", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""


def test_malformed_snapshot_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "snap.json").write_text("[1, 2")
    assert_one_line_error(run_gen("build", "--snapshot", "snap.json", cwd=tmp_path), "not valid JSON", 1)


def test_content_pages_from_the_project(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "faq.md").write_text("# Frequently asked\n\nHello *there*.\n")
    assert run_gen("build", "--demo", cwd=tmp_path).returncode == 0
    faq = (tmp_path / "site" / "faq.html").read_text()
    assert "<title>Frequently asked — Nursery Knowledge Base</title>" in faq and "<em>there</em>" in faq
    assert 'href="faq.html"' in (tmp_path / "site" / "index.html").read_text()  # in the navigation


def test_repository_content_is_used_from_the_project_root() -> None:
    assert (ROOT / "content" / "index.md").is_file()
