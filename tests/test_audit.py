"""Audit: secrets never logged (the redacting filter), and the build's manifest
(``build-info.json``) with its page, ``status.html``."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from generator import cli as cli_module
from generator.build import build
from generator.logs import JsonFormatter, RedactingFilter, redact
from generator.sources import DemoSource

from .conftest import ROOT, TOKEN, make_config
from .sitecheck import crawl, dangerous

MONGO_PASSWORD = "m0ngo-Pa55word"


def logged(*messages: tuple, json_format: bool = False, exception: BaseException | None = None) -> str:
    """What a handler with the redacting filter prints for ``messages`` (msg, *args)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([TOKEN, MONGO_PASSWORD]))
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(levelname)s: %(message)s"))
    logger = logging.getLogger(f"test.audit.{len(messages)}.{json_format}.{exception is not None}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    for msg, *args in messages:
        logger.debug(msg, *args)
    if exception is not None:
        try:
            raise exception
        except type(exception):
            logger.exception("failed")
    return stream.getvalue()


@pytest.mark.parametrize("json_format", [False, True], ids=["text", "json"])
def test_the_filter_redacts_the_token_and_mongodb_passwords(json_format: bool) -> None:
    output = logged(
        (f"Authorization: Token {TOKEN}",),
        ("header %s sent to %s", f"Token {TOKEN}", "https://a.fibery.io"),
        ("store at %s", f"mongodb://kb:{MONGO_PASSWORD}@db.example:27017/?authSource=admin"),
        ("other uri mongodb+srv://ops:an0ther-secret@cluster0.example/fibery",),
        json_format=json_format,
    )
    assert TOKEN not in output and MONGO_PASSWORD not in output and "an0ther-secret" not in output
    assert output.count("***") == 4
    assert "mongodb://kb:***@db.example:27017" in output and "mongodb+srv://ops:***@cluster0" in output
    if json_format:
        assert all(json.loads(line)["level"] == "DEBUG" for line in output.splitlines())


def test_the_filter_redacts_tracebacks_too() -> None:
    output = logged(exception=ValueError(f"server said: bad token {TOKEN} for mongodb://u:{MONGO_PASSWORD}@h"))
    assert "Traceback" in output and "ValueError: server said: bad token ***" in output
    assert TOKEN not in output and MONGO_PASSWORD not in output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mongodb://user:pa55@localhost:27017", "mongodb://user:***@localhost:27017"),
        ("mongodb://user:p%40ss%3Aw@h/db?x=1", "mongodb://user:***@h/db?x=1"),
        ("https://u:secret@proxy.example/", "https://u:***@proxy.example/"),
        ("mongodb://localhost:27017", "mongodb://localhost:27017"),  # no credentials: unchanged
        (f"token={TOKEN}!", "token=***!"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, [TOKEN]) == expected


def _gen(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    """Run ``main()`` in-process with ``args``; return (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["gen", *args])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    return int(exit_.value.code), capsys.readouterr().err


def test_an_unexpected_error_never_shows_the_token(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A bug whose message quotes the token: one line by default; the traceback under -vv;
    the token redacted in both."""

    def broken_build(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"boom while sending Token {TOKEN}")

    monkeypatch.setattr(cli_module, "build", broken_build)
    for name, value in {"FIBERY_URL": "https://a.fibery.io", "FIBERY_SPACE": "KB", "FIBERY_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT / "tests")  # no kb.toml there
    try:
        code, err = _gen(monkeypatch, capsys, "build", "--out", "/nonexistent/never-written")
        assert (
            code == 1
            and err == "error: unexpected RuntimeError: boom while sending Token *** (run with -vv for details)\n"
        )
        code, err = _gen(monkeypatch, capsys, "build", "-vv", "--out", "/nonexistent/never-written")
        assert code == 1 and err.startswith("Traceback") and "RuntimeError: boom while sending Token ***" in err
        assert TOKEN not in err
    finally:
        logging.getLogger().setLevel(logging.WARNING)


# --------------------------------------------------------------------------- manifest and status page


@pytest.fixture
def demo_build(tmp_path: Path) -> Path:
    build(DemoSource(), make_config(search=False), out=tmp_path / "site", root=ROOT)
    return tmp_path / "site"


def test_build_info_is_the_manifest(demo_build: Path, demo) -> None:
    info = json.loads((demo_build / "build-info.json").read_text())
    assert datetime.fromisoformat(info["built_at"]).utcoffset() is not None  # a timestamp, with its zone
    assert (info["fibery_url"], info["space"]) == (demo.fibery_url, demo.space)
    assert info["databases"] == {db.title: len(db.entities) for db in demo.databases}
    assert info["entities"] == 33 and info["requests"] == 0 and info["retries"] == 0
    assert {"fetch", "render", "write"} <= set(info["durations"])
    assert all(isinstance(s, float | int) and s >= 0 for s in info["durations"].values())
    assert re.fullmatch(r"[0-9a-f]{64}", info["content_hash"])


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.times: list[str] = []
        self.robots = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "time":
            self.times.append(values.get("datetime") or "")
        if tag == "meta" and values.get("name") == "robots":
            self.robots = values.get("content") or ""

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


def test_status_page_shows_freshness_and_counts(demo_build: Path, demo) -> None:
    info = json.loads((demo_build / "build-info.json").read_text())
    html = (demo_build / "status.html").read_text()
    page = _Text()
    page.feed(html)
    assert info["built_at"] in page.times  # freshness, machine-readable
    for db in demo.databases:
        position = page.text.index(db.title, page.text.index("Published"))  # after the navigation
        assert page.text[position + 1] == str(len(db.entities))
    for label, value in (("Content hash (SHA-256)", info["content_hash"]), ("Fibery requests", "0")):
        assert page.text[page.text.index(label) + 1] == value
    assert {"fetch", "render", "write"} <= set(page.text)
    assert 'href="build-info.json"' in html and page.robots == "noindex"
    assert dangerous(html) == []
    assert "status.html" in crawl(demo_build).pages  # linked from the site


def test_content_hash_follows_the_content(tmp_path: Path, demo) -> None:
    build(DemoSource(), make_config(search=False), out=tmp_path / "a", root=ROOT)
    build(DemoSource(), make_config(search=False), out=tmp_path / "b", root=ROOT)
    demo.databases[0].entities[0].name = "Renamed"

    class Changed(DemoSource):
        def load(self):
            return demo

    build(Changed(), make_config(search=False), out=tmp_path / "c", root=ROOT)
    a, b, c = (json.loads((tmp_path / n / "build-info.json").read_text())["content_hash"] for n in "abc")
    assert a == b != c
