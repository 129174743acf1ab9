"""The GitHub Actions job summary written by ``gen build`` (generator/summary.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.build import BuildReport
from generator.cli import cli
from generator.summary import SUMMARY_ENV, render_summary, write_job_summary


def make_report(**over: object) -> BuildReport:
    report = BuildReport(
        fibery_url="https://acme.fibery.io",
        space="Knowledge Base",
        databases={"Guides": 12, "Process Segments": 8},
        pages=23,
        written=30,
        fetched=20,
        requests=7,
        durations={"fetch": 2.25, "render": 0.5},
        content_hash="0123456789abcdef" * 4,
    )
    for key, value in over.items():
        setattr(report, key, value)
    return report


def test_summary_lists_the_build_figures() -> None:
    text = render_summary(make_report(), demo=False)

    assert text.startswith("## fibery-kb build\n")
    for row in (
        "| Source | Knowledge Base at https&#58;//acme&#46;fibery&#46;io |",  # shown as text, not a link
        "| Databases | 2 |",
        "| Entities | 20 |",
        "| Pages | 23 (30 files written) |",
        "| Requests | 7 |",
        "| Duration | 2.8 s (fetch 2.2 s, render 0.5 s) |",
        "| Guides | 12 |",
        "| Process Segments | 8 |",
        "| Content hash | `0123456789ab` |",
    ):
        assert row in text
    assert "Demo site" not in text
    assert "unpublished" not in text


def test_summary_says_when_it_was_the_demo() -> None:
    text = render_summary(make_report(requests=0), demo=True)

    assert "**Demo site.**" in text
    assert "`--demo`" in text
    assert "| Source | demo workspace (no Fibery request) |" in text


def test_summary_reports_retries_and_unpublished_links() -> None:
    text = render_summary(make_report(retries=2, unpublished_links=3), demo=False)

    assert "| Requests | 7 (2 retried) |" in text
    assert "| Links to unpublished entities | 3 (they still point at Fibery) |" in text


def test_summary_shows_what_the_fetch_cache_saved() -> None:
    text = render_summary(make_report(fetched=3), demo=False)

    assert "| Entities | 20 (3 read from Fibery, 17 from the fetch cache) |" in text


def test_user_text_cannot_break_the_table() -> None:
    text = render_summary(make_report(databases={"A|B <i>\nC": 1}), demo=False)

    assert "| A&#124;B &#60;i&#62; C | 1 |" in text


@pytest.mark.parametrize(
    "title",
    ["![pixel](https://evil.example/t.png)", "[click](https://evil.example)", "www.evil.example", "**bold** `x`"],
)
def test_titles_cannot_inject_markdown(title: str) -> None:
    """Titles come from whoever can edit the space: no image, link or formatting in the summary."""
    text = render_summary(make_report(databases={title: 1}, space=title), demo=False)
    for syntax in ("![", "](", "[", "https:", "www.", "**", "`x`"):
        assert syntax not in text, syntax


def test_summary_is_appended_to_the_step_summary_file(tmp_path: Path) -> None:
    target = tmp_path / "step_summary.md"
    target.write_text("earlier step\n", encoding="utf-8")

    written = write_job_summary(make_report(), demo=False, environ={SUMMARY_ENV: str(target)})

    assert written == target
    text = target.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## fibery-kb build\n")


def test_nothing_is_written_outside_github_actions(tmp_path: Path) -> None:
    assert write_job_summary(make_report(), demo=False, environ={}) is None
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_summary_only_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "missing-folder" / "summary.md"

    assert write_job_summary(make_report(), demo=False, environ={SUMMARY_ENV: str(target)}) is None
    assert "cannot write the job summary" in caplog.text


def test_gen_build_writes_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SUMMARY_ENV, str(summary))

    result = CliRunner().invoke(cli, ["build", "--demo", "--out", "site", "-q"])

    assert result.exit_code == 0, result.output
    text = summary.read_text(encoding="utf-8")
    assert "**Demo site.**" in text
    assert "| Databases | 4 |" in text
