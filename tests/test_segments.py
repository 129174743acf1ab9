"""`gen segments`: process order, plain values, the three output formats and their CLI."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.cli import cli
from generator.errors import ConfigError
from generator.model import Database, Entity, Field, FieldKind, Workspace
from generator.segments import (
    csv_columns,
    predecessors_of,
    process_order,
    read_segments,
    segments_selector,
    to_csv,
    to_json,
)

from . import fake_fibery as ff
from .conftest import ROOT, TOKEN, env_with
from .e2e_helpers import DEMO, gen_env, snapshot_at
from .test_cli import assert_one_line_error, run_gen

DEMO_ORDER = ["Propagation", "Potting", "Spacing", "Growing", "Sorting", "Packing", "Dispatch", "Manual Potting"]
PREDECESSOR = Field(key="predecessor", title="Predecessor", kind=FieldKind.RELATION, target="Steps")
PREDECESSORS = Field(key="predecessors", title="Predecessors", kind=FieldKind.COLLECTION, target="Steps")


def steps(*rows: tuple[str, str | list[str] | None], field: Field | None = PREDECESSOR) -> Workspace:
    """A workspace with one "Steps" database: (public id, predecessor public id(s)) per row."""

    def ref(pid: str) -> dict[str, str]:
        return {"id": f"id-{pid}"}

    entities = []
    for pid, pred in rows:
        values = {}
        if field is not None and field.kind is FieldKind.RELATION:
            values[field.key] = ref(pred) if pred else None
        elif field is not None:
            values[field.key] = [ref(p) for p in pred or []]
        entities.append(Entity(id=f"id-{pid}", public_id=pid, name=f"Step {pid}", values=values))
    db = Database(key="Steps", title="Steps", query="findSteps", web_name="Steps", fields=[field] if field else [])
    db.entities = entities
    return Workspace(fibery_url="https://x.fibery.io", space="Ops", databases=[db])


def order_of(workspace: Workspace) -> list[str]:
    return [s.public_id for s in read_segments(workspace, "Steps").items]


# --------------------------------------------------------------------------- process order


def test_demo_segments_follow_the_predecessor_chain(demo: Workspace) -> None:
    segments = read_segments(demo, "Process Segments")
    assert [s.name for s in segments.items] == DEMO_ORDER
    # Manual Potting branches off Propagation: listed after the main chain, not inside it.
    assert segments.items[-1].fields["predecessor"]["name"] == "Propagation"


def test_without_a_predecessor_field_public_ids_sort_numerically() -> None:
    assert order_of(steps(("10", None), ("9", None), ("x", None), ("2", None), field=None)) == ["2", "9", "10", "x"]


def test_without_predecessors_public_ids_sort_numerically() -> None:
    assert order_of(steps(("10", None), ("9", None), ("1", None))) == ["1", "9", "10"]


def test_each_chain_is_listed_whole_before_the_next() -> None:
    workspace = steps(("1", None), ("2", None), ("3", "1"), ("4", "2"), ("5", "3"))
    assert order_of(workspace) == ["1", "3", "5", "2", "4"]


def test_a_step_comes_after_its_predecessor_whatever_its_id() -> None:
    assert order_of(steps(("1", "3"), ("2", None), ("3", None))) == ["2", "3", "1"]


def test_a_predecessor_outside_the_database_is_ignored() -> None:
    assert order_of(steps(("2", "999"), ("1", None))) == ["1", "2"]


def test_several_predecessors_in_a_collection() -> None:
    workspace = steps(("3", ["1", "2"]), ("1", None), ("2", None), ("4", ["3"]), field=PREDECESSORS)
    assert order_of(workspace) == ["1", "2", "3", "4"]


def test_a_cycle_is_broken_at_its_smallest_id_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    workspace = steps(("1", "3"), ("2", "1"), ("3", "2"), ("4", "3"))
    with caplog.at_level(logging.WARNING):
        assert order_of(workspace) == ["1", "2", "3", "4"]
    assert "predecessor cycle" in caplog.text


def test_a_cycle_upstream_of_other_steps_is_listed_first_from_its_smallest_id() -> None:
    # 2 and 3 precede each other; 1 follows 3; 5 stands alone.
    workspace = steps(("1", "3"), ("2", "3"), ("3", "2"), ("5", None))
    assert order_of(workspace) == ["5", "2", "3", "1"]


def test_a_step_that_precedes_itself_is_listed_once() -> None:
    assert order_of(steps(("1", "1"), ("2", "1"))) == ["1", "2"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-1, max_value=11), min_size=1, max_size=12), st.randoms())
def test_any_graph_gives_each_step_once_in_the_same_order(preds: list[int], rnd: random.Random) -> None:
    """Every entity exactly once, independent of input order; acyclic edges respected."""
    rows = [(str(i), str(p) if 0 <= p < len(preds) else None) for i, p in enumerate(preds)]
    workspace = steps(*rows)
    db = workspace.databases[0]
    first = [e.public_id for e in process_order(db.entities, predecessors_of(db))]
    shuffled = list(db.entities)
    rnd.shuffle(shuffled)
    assert [e.public_id for e in process_order(shuffled, predecessors_of(db))] == first
    assert sorted(first, key=int) == [str(i) for i in range(len(preds))]
    position = {pid: n for n, pid in enumerate(first)}
    for pid, pred in rows:
        if pred is not None and not _in_cycle(pred, dict(rows)):
            assert position[pred] < position[pid]


def _in_cycle(start: str, pred_of: dict[str, str | None]) -> bool:
    """Whether walking predecessors from ``start`` ever comes back to a visited step."""
    seen, node = set(), start
    while node is not None and node not in seen:
        seen.add(node)
        node = pred_of.get(node)
    return node is not None


# --------------------------------------------------------------------------- values and formats


def test_values_are_plain_relations_named_and_rich_text_as_text_and_markdown(demo: Workspace) -> None:
    first = read_segments(demo, "Process Segments").items[0].as_dict()
    assert list(first)[:5] == ["id", "public_id", "name", "creation_date", "modification_date"]
    assert set(first) >= {"duration", "equipment", "predecessor", "description", "state", "instructionsUrl"}
    fog = {"id": "be98f2ce-b951-544f-9152-5c1418a56608", "name": "Fog System, Propagation House"}
    assert first["equipment"] == [fog]
    assert first["predecessor"] is None
    assert first["state"] == "Approved"
    assert "**3 weeks**" in first["description"]["markdown"]
    assert "3 weeks" in first["description"]["text"] and "<" not in first["description"]["text"]


def test_json_is_an_array_of_plain_objects_in_process_order(demo: Workspace) -> None:
    data = json.loads(to_json(read_segments(demo, "Process Segments")))
    assert [s["name"] for s in data] == DEMO_ORDER
    assert data[1]["predecessor"] == {"id": data[0]["id"], "name": "Propagation"}


def test_csv_has_a_header_every_field_and_related_ids(demo: Workspace) -> None:
    segments = read_segments(demo, "Process Segments")
    rows = list(csv.DictReader(io.StringIO(to_csv(segments))))
    assert list(rows[0]) == csv_columns(segments)
    assert [r["name"] for r in rows] == DEMO_ORDER
    spacing = rows[2]
    assert spacing["equipment"] == "Spacing Robot SR-1; Ebb-and-Flow Benches GH1; Roll-on Tables GH2"
    assert len(spacing["equipment_ids"].split("; ")) == 3
    assert spacing["predecessor"] == "Potting" and spacing["predecessor_ids"] == rows[1]["id"]
    assert rows[6]["duration"] == "1.5" and "\n" in to_csv(segments)


def test_missing_database_lists_those_that_exist(demo: Workspace) -> None:
    with pytest.raises(ConfigError) as error:
        read_segments(demo, "Segmentz", setting="--database")
    assert error.value.format_message() == (
        "--database: no database 'Segmentz' in the space (it has: Equipment, Guides, Process Segments, Team Members)"
    )


def test_live_read_selects_only_segments_and_what_they_point_at(demo: Workspace) -> None:
    kept = segments_selector("process segments")(demo.databases)
    assert sorted(db.title for db in kept) == ["Equipment", "Process Segments"]


# --------------------------------------------------------------------------- CLI


def test_cli_table_in_a_pipe_has_no_colours_or_borders() -> None:
    result = CliRunner().invoke(cli, ["segments", "--demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["#", "ID", "Name"]
    assert [line.split()[2] for line in lines[1:]] == [n.split()[0] for n in DEMO_ORDER]
    assert "\x1b[" not in result.output
    assert not set(result.output) & set("─━│┃┏┓┗┛╇╈┡┩")
    assert all(line == line.rstrip() for line in lines)


def test_cli_table_shows_markup_like_names_as_typed(tmp_path: Path) -> None:
    workspace = steps(("1", None))
    workspace.databases[0].entities[0].name = "[bold red]Weird[/] name"
    snapshot = tmp_path / "s.json"
    snapshot.write_bytes(msgspec.json.encode(workspace))
    result = CliRunner().invoke(cli, ["segments", "--snapshot", str(snapshot), "--database", "Steps"])
    assert result.exit_code == 0, result.output
    assert "[bold red]Weird[/] name" in result.output


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_cli_machine_formats_are_exactly_the_data(demo: Workspace, fmt: str) -> None:
    result = CliRunner().invoke(cli, ["segments", "--demo", "--format", fmt])
    assert result.exit_code == 0, result.output
    segments = read_segments(demo, "Process Segments")
    assert result.stdout == (to_json(segments) if fmt == "json" else to_csv(segments))


def test_cli_database_from_kb_toml(tmp_path: Path) -> None:
    (tmp_path / "kb.toml").write_text('segments_database = "Team Members"\n')
    result = CliRunner().invoke(cli, ["segments", "--demo", "--config", str(tmp_path / "kb.toml"), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 6


def test_gen_segments_downloads_no_file(tmp_path: Path) -> None:
    """`gen segments` publishes nothing, so it downloads nothing, even a file a segment embeds."""
    snapshot = json.loads(json.dumps(DEMO))
    secret = sorted(snapshot["files"])[0]
    segments = next(db for db in snapshot["databases"] if db["title"] == "Process Segments")
    url = f"{snapshot['fibery_url']}/api/files/{secret}"
    segments["entities"][0]["values"]["description"] = {"md": f"![photo]({url})", "html": f'<p><img src="{url}"></p>'}

    def downloads() -> list[str]:
        return [e.path for e in server.stats.log if e.path.startswith("/api/files/")]

    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as server:
        server.update_snapshot(snapshot_at(server.url, snapshot))
        result = run_gen("segments", "--format", "json", cwd=tmp_path, **gen_env(server))
        assert result.returncode == 0, result.stderr
        assert f"/api/files/{secret}" in result.stdout  # the segment does reference the file
        assert downloads() == []
        pulled = run_gen("pull", "--out", "s.json", cwd=tmp_path, **gen_env(server))  # which would download it
        assert pulled.returncode == 0, pulled.stderr
        assert f"/api/files/{secret}" in downloads()


def test_cli_missing_database_is_one_line_listing_the_databases(tmp_path: Path) -> None:
    result = run_gen("segments", "--demo", "--database", "Nope", cwd=tmp_path)
    assert_one_line_error(result, "--database: no database 'Nope' in the space (it has: Equipment, Guides,", 2)
    assert result.stdout == ""


def test_json_pipes_into_json_tool(tmp_path: Path) -> None:
    """`gen segments --demo --format json | python -m json.tool`, with a real pipe."""
    gen = subprocess.Popen(
        [sys.executable, "-c", "from generator.cli import main; main()", "segments", "--demo", "--format", "json"],
        cwd=tmp_path, env=env_with(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    tool = subprocess.run(
        [sys.executable, "-m", "json.tool"], stdin=gen.stdout, capture_output=True, text=True, timeout=60
    )
    gen.stdout.close()
    assert gen.wait(timeout=60) == 0, gen.stderr.read()
    assert gen.stderr.read() == b""
    assert tool.returncode == 0, tool.stderr
    assert [s["name"] for s in json.loads(tool.stdout)] == DEMO_ORDER


def test_live_segments_read_two_databases_from_fibery(tmp_path: Path) -> None:
    demo = json.loads((ROOT / "generator" / "demo" / "workspace.json").read_text())
    with ff.FakeFibery(demo, token=TOKEN, rate_limit=None) as fake:
        env = {"FIBERY_URL": fake.url, "FIBERY_SPACE": demo["space"], "FIBERY_TOKEN": TOKEN}
        result = run_gen("segments", "--format", "json", cwd=tmp_path, **env)
        requests = fake.stats.total
    assert result.returncode == 0, result.stderr
    assert [s["name"] for s in json.loads(result.stdout)] == DEMO_ORDER
    assert json.loads(result.stdout)[0]["equipment"][0]["name"] == "Fog System, Propagation House"
    # introspection + REST schema + one page each of Process Segments and Equipment
    assert requests == 4
    assert TOKEN not in result.stdout + result.stderr
