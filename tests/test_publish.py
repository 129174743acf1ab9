"""Publish rules (who sees what): include/exclude databases, hidden fields, ``publish_when``
and ``expect_kinds``; nothing unpublished leaks a name; ``gen build --dry-run``.

Leaks are looked for in *every* file of the built site (the search index decompressed):
entity pages, database tables, backlinks, rows.js, sitemap, search index, manifest.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import msgspec
import pytest

from generator.build import build
from generator.config import SiteConfig
from generator.errors import ConfigError
from generator.model import Workspace, referenced_files
from generator.publish import apply_publish_rules, published_files, select_databases
from generator.structs import fields_of

from . import fake_fibery as ff
from .conftest import ROOT, make_config
from .e2e_helpers import files_containing, gen_env
from .test_cli import assert_one_line_error, run_gen
from .test_site import StaticSource

UNPUBLISHED = "UNPUBLISHED-MARKER"
TEAM = ["Anna de Vries", "Jonas Berg", "Priya Raman", "Mateo Álvarez", "Sofie Jensen", "Lena Okafor"]


def entity(workspace: Workspace, db_title: str, name: str):
    db = next(d for d in workspace.databases if d.title == db_title)
    return next(e for e in db.entities if e.name == name)


def build_site(workspace: Workspace, tmp_path: Path, **rules: object) -> Path:
    """Build ``workspace`` with ``rules`` (search on when Pagefind is installed)."""
    build(StaticSource(workspace), make_config(base_url="https://kb.example/", **rules), out=tmp_path / "s", root=ROOT)
    return tmp_path / "s"


def page_of(site: Path, folder: str, stem: str) -> str:
    return next((site / "db" / folder).glob(f"{stem}*.html")).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- databases and fields


def test_excluded_database_and_hidden_fields_are_nowhere(tmp_path: Path, demo: Workspace) -> None:
    secret_note = "Only for the office: the alarm code"
    entity(demo, "Equipment", "Sleeve Machine").values["description"]["html"] += f"<p>{secret_note}</p>"
    site = build_site(
        demo,
        tmp_path,
        exclude_databases=["Team Members"],
        hide_fields={"Guides": ["Owner"], "*": ["Description"]},
    )
    assert sorted(p.name for p in (site / "db").iterdir()) == ["equipment", "guides", "process-segments"]
    assert files_containing(site, secret_note, *TEAM) == {}
    guide = page_of(site, "guides", "watering-schedule")
    assert ">Owner<" not in guide and ">Description<" not in page_of(site, "equipment", "sleeve-machine")
    info = json.loads((site / "build-info.json").read_text())
    assert set(info["databases"]) == {"Equipment", "Guides", "Process Segments"}


def test_include_databases_keeps_only_those(tmp_path: Path, demo: Workspace) -> None:
    site = build_site(demo, tmp_path, include_databases=["guides", "findProcessSegments"])
    assert sorted(p.name for p in (site / "db").iterdir()) == ["guides", "process-segments"]
    assert "(not published)" in page_of(site, "guides", "watering-schedule")  # the owner, in Team Members


def test_a_hidden_relation_takes_its_backlinks_with_it(tmp_path: Path, demo: Workspace) -> None:
    site = build_site(demo, tmp_path, hide_fields={"Guides": ["Related Segments"]})
    growing = page_of(site, "process-segments", "growing")
    assert "Related Segments" not in growing and "Watering schedule" not in growing


def test_files_only_unpublished_content_used_are_not_published(tmp_path: Path, demo: Workspace) -> None:
    rules = {"hide_fields": {"Guides": ["Attachments", "Body"]}}
    published = apply_publish_rules(demo, make_config(**rules))
    assert set(published.files) == set(referenced_files(published.databases, published.fibery_url))
    assert len(published.files) < len(demo.files)
    assert apply_publish_rules(demo, make_config()).files == demo.files
    site = build_site(demo, tmp_path, **rules)
    assets = (
        {p.read_bytes() for p in (site / "assets" / "files").glob("*")}
        if (site / "assets" / "files").exists()
        else set()
    )
    hidden = {base64.b64decode(data) for secret, data in demo.files.items() if secret not in published.files}
    assert hidden and not hidden & assets  # not served by the site


@pytest.mark.parametrize(
    "rules",
    [
        {},
        {"hide_fields": {"Guides": ["Attachments"]}},
        {"hide_fields": {"*": ["Body", "Description"]}},
        {"publish_when": {"Guides": {"State": ["Draft", "In Review"]}}, "exclude_databases": ["Equipment"]},
    ],
)
def test_a_databases_published_files_are_those_the_published_workspace_references(demo: Workspace, rules: dict) -> None:
    """What a live source downloads of each database while it reads the rest (per database,
    before the rules run on the whole space) is exactly what the rules publish."""
    config = make_config(**rules)
    early = [s for db in demo.databases for s in published_files(config, db, demo.fibery_url)]
    assert early == apply_publish_rules(demo, config).referenced_files()


def test_rules_on_an_excluded_database_are_still_checked_but_harmless(demo: Workspace) -> None:
    config = make_config(exclude_databases=["Team Members"], hide_fields={"Team Members": ["Email"]})
    assert [db.title for db in apply_publish_rules(demo, config).databases] == [
        "Process Segments",
        "Equipment",
        "Guides",
    ]
    with pytest.raises(ConfigError, match="database 'Team Members' has no field 'Phone'"):
        apply_publish_rules(
            demo, make_config(exclude_databases=["Team Members"], hide_fields={"Team Members": ["Phone"]})
        )


def test_live_build_with_excluded_databases(tmp_path: Path, fake: ff.FakeFibery) -> None:
    """The live client does not fetch an excluded database's entities, yet the rules are
    checked against it; a pulled snapshot builds the same way."""
    (tmp_path / "kb.toml").write_text(
        'exclude_databases = ["Team Members"]\nhide_fields = {"Team Members" = ["Email"]}\n'
    )
    result = run_gen("build", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "site" / "db" / "team-members").exists()
    assert files_containing(tmp_path / "site", *TEAM) == {}
    team_query = ff.graphql_names(fake.snapshot)["Team Members"][1]
    assert fake.stats.count(operation=team_query) == 0  # never fetched
    result = run_gen("pull", "--out", "kb.json", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    assert run_gen("build", "--snapshot", "kb.json", "--out", "offline", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "offline" / "db" / "team-members").exists()


# --------------------------------------------------------------------------- publish_when


PUBLISH_WHEN = {"Process Segments": {"State": ["Approved"]}, "Guides": {"State": ["Published"]}}


@pytest.fixture
def marked(demo: Workspace) -> Workspace:
    """The demo with every entity ``PUBLISH_WHEN`` leaves out named (and described) with a
    marker, and one published guide related to an unpublished segment."""
    for db in demo.databases:
        allowed = PUBLISH_WHEN.get(db.title, {}).get("State")
        for e in db.entities:
            if allowed and (e.values.get("state") or {}).get("name") not in allowed:
                e.name = f"{UNPUBLISHED} {e.name}"
                for key in ("description", "body"):
                    if key in e.values:
                        e.values[key] = {"md": "", "html": f"<p>{UNPUBLISHED} body</p>"}
    dispatch = entity(demo, "Process Segments", f"{UNPUBLISHED} Dispatch")
    entity(demo, "Guides", "Watering schedule for Phalaenopsis").values["relatedSegments"].append({"id": dispatch.id})
    return demo


def test_publish_when_publishes_only_the_listed_states(tmp_path: Path, marked: Workspace) -> None:
    site = build_site(marked, tmp_path, publish_when=PUBLISH_WHEN)
    info = json.loads((site / "build-info.json").read_text())
    assert info["databases"] == {"Equipment": 10, "Guides": 6, "Process Segments": 6, "Team Members": 6}
    assert not list((site / "db" / "process-segments").glob("dispatch*"))


def test_unpublished_entities_leak_no_name_anywhere(tmp_path: Path, marked: Workspace) -> None:
    """Not in relations (they say "(not published)"), backlinks, tables, rows, sitemap,
    search index or manifest."""
    site = build_site(marked, tmp_path, publish_when=PUBLISH_WHEN)
    assert files_containing(site, UNPUBLISHED) == {}
    indexed = [path for path in files_containing(site, "Growing") if path.startswith("pagefind/")]
    assert indexed or not (site / "pagefind").exists()  # the search index is searched too
    watering = page_of(site, "guides", "watering-schedule")
    assert '<span class="unpublished">(not published)</span>' in watering  # the related Dispatch
    packing = page_of(site, "process-segments", "packing")  # Dispatch and a draft guide point here
    backlinks = packing.split("Referenced by", 1)[1]
    assert "Dispatch" not in backlinks and "Danish trolley" not in backlinks and "unpublished" not in backlinks


def test_publish_when_with_a_multi_select_and_several_fields(demo: Workspace) -> None:
    config = make_config(publish_when={"Guides": {"Tags": ["Phalaenopsis"], "State": ["Published", "In Review"]}})
    guides = next(db for db in apply_publish_rules(demo, config).databases if db.title == "Guides")
    for guide in guides.entities:
        assert "Phalaenopsis" in {t["name"] for t in guide.values["tags"]}
        assert guide.values["state"]["name"] in ("Published", "In Review")
    assert 0 < len(guides.entities) < 9


def test_an_entity_without_a_value_is_not_published(demo: Workspace) -> None:
    guide = entity(demo, "Guides", "Potting soil mixes")
    guide.values["state"] = None
    published = apply_publish_rules(demo, make_config(publish_when={"Guides": {"State": ["Published"]}}))
    assert guide.id not in published.entities_by_id


def test_a_value_no_entity_has_is_warned(demo: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        apply_publish_rules(demo, make_config(publish_when={"Guides": {"State": ["Published", "published!"]}}))
    assert "kb.toml publish_when.Guides.State: no entity has 'published!'" in caplog.text


def test_the_input_workspace_is_left_alone(demo: Workspace) -> None:
    before = msgspec.to_builtins(demo)
    index = demo.entities_by_id  # cached on the input: must not follow into the result
    published = apply_publish_rules(demo, make_config(publish_when=PUBLISH_WHEN, hide_fields=["Description"]))
    assert msgspec.to_builtins(demo) == before and len(index) == 33
    assert len(published.entities_by_id) == 28
    assert all(e.id in published.entities_by_id for db in published.databases for e in db.entities)


# --------------------------------------------------------------------------- rule checks


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"publish_when": {"Recipes": {"State": ["x"]}}}, "kb.toml publish_when: no database 'Recipes' in the space"),
        (
            {"publish_when": {"Guides": {"Status": ["x"]}}},
            "publish_when.Guides: database 'Guides' has no field 'Status'",
        ),
        (
            {"publish_when": {"Process Segments": {"Duration": ["1"]}}},
            "publish_when.Process Segments: field 'Duration' is number, not one of state, select, multi_select",
        ),
        (
            {"expect_kinds": {"Guides": {"Body": "text"}}},
            "expect_kinds.Guides: field 'Body' is now rich_text, expected text",
        ),
        ({"expect_kinds": {"Guides": {"Nope": "text"}}}, "expect_kinds.Guides: database 'Guides' has no field 'Nope'"),
        ({"hide_fields": ["Internal notes"]}, "kb.toml hide_fields: no database has a field 'Internal notes'"),
        ({"exclude_databases": ["Team Membrs"]}, "kb.toml exclude_databases: no database 'Team Membrs'"),
        ({"publish_when": {"*": {"State": ["Published"]}}}, "kb.toml publish_when: name a database; '*'"),
        ({"expect_kinds": {"*": {"State": "state"}}}, "kb.toml expect_kinds: name a database; '*'"),
    ],
)
def test_rules_that_do_not_fit_the_space_are_named(demo: Workspace, rules: dict, message: str) -> None:
    config = make_config(**rules)
    for check in (select_databases, lambda dbs, c: apply_publish_rules(demo, c)):
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            check(demo.databases, config)


def test_expected_kinds_that_match_pass(demo: Workspace) -> None:
    config = make_config(expect_kinds={"Guides": {"Body": "rich_text", "state": "state", "Last Reviewed": "date"}})
    assert len(apply_publish_rules(demo, config).databases) == 4


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "publish_when = { Guides = { State = [] } }\n",
            "key 'publish_when.Guides.State': List should have at least 1",
        ),
        ('expect_kinds = { Guides = { Body = "html" } }\n', "key 'expect_kinds.Guides.Body': Input should be 'text'"),
        ('publish_when = { Guides = ["Published"] }\n', "key 'publish_when.Guides'"),
    ],
)
def test_malformed_rules_are_config_errors(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "kb.toml").write_text(toml)
    assert_one_line_error(run_gen("build", "--demo", cwd=tmp_path), message, 2)


def test_rule_keys_are_documented_in_the_config_model() -> None:
    descriptions = {info.name: info.description for info in fields_of(SiteConfig)}
    for key in ("include_databases", "exclude_databases", "hide_fields", "publish_when", "expect_kinds"):
        assert descriptions[key]


# --------------------------------------------------------------------------- dry run


def test_dry_run_lists_what_would_be_published_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text(
        'exclude_databases = ["Team Members"]\nhide_fields = { Guides = ["Owner"] }\n'
        'publish_when = { Guides = { State = ["Published"] } }\n'
    )
    result = run_gen("build", "--demo", "--dry-run", "--out", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Would publish 3 databases, 24 entities and 4 files from 'Nursery Knowledge Base' (dry run: nothing written)"
    )
    assert lines[1].startswith("  Equipment: 10 entities; fields: Manufacturer (text), Manual (url),")
    guides = next(line for line in lines if line.startswith("  Guides:"))
    assert guides.startswith("  Guides: 6 of 9 entities; fields: Body (rich_text), State (state),")
    assert "Owner" not in guides
    assert lines[-1] == "  not published: Team Members"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kb.toml"]  # no site, no staging, no cache


def test_live_dry_run_writes_nothing_either(tmp_path: Path, fake: ff.FakeFibery) -> None:
    result = run_gen("build", "--dry-run", cwd=tmp_path, **gen_env(fake))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Would publish 4 databases, 33 entities and 4 files from ")
    assert list(tmp_path.iterdir()) == []  # no site, no fetch or download cache


def test_dry_run_fails_like_a_build_on_a_bad_rule(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('hide_fields = { Guides = ["Secret"] }\n')
    result = run_gen("build", "--demo", "--dry-run", cwd=tmp_path)
    assert_one_line_error(result, "database 'Guides' has no field 'Secret'", 2)
