"""Incremental fetches stay right where ``modificationDate`` says nothing changed.

Fibery may change formulas, lookups and the lists on the other side of a relation without
touching the entity's ``modificationDate``. The client reads those again with the id listing
on every rebuild (``sync.py``), rebuilds one-to-many lists from their single side, and reads
the whole space again once the last full read is older than ``full_refresh``. These tests
drive the real client against the fake over HTTP, with a fetch cache in a temporary folder.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from generator.config import Connection, Secret
from generator.fibery import FetchCache, FiberyClient

from . import fake_fibery as ff
from .conftest import TOKEN
from .e2e_helpers import DEMO, snapshot_at


def database(snapshot: dict[str, Any], title: str) -> dict[str, Any]:
    return next(db for db in snapshot["databases"] if db["title"] == title)


@pytest.fixture
def served() -> ff.FakeFibery:
    with ff.FakeFibery(DEMO, token=TOKEN, rate_limit=None) as fake:
        snapshot = snapshot_at(fake.url)
        segments = database(snapshot, "Process Segments")
        next(f for f in segments["fields"] if f["key"] == "duration")["formula"] = True
        fake.update_snapshot(snapshot)
        yield fake


def fetch(fake: ff.FakeFibery, folder: Path, **kwargs: Any):
    connection = Connection(fibery_url=fake.url, space=fake.snapshot["space"], token=Secret(TOKEN))
    cache = FetchCache(folder, fibery_url=connection.fibery_url, space=connection.space)
    client = FiberyClient(connection=connection, requests_per_second=100, cache=cache, **kwargs)
    return client.fetch_workspace(), client.stats


def values(workspace, title: str, key: str) -> dict[str, Any]:
    db = next(d for d in workspace.databases if d.title == title)
    return {e.public_id: e.values[key] for e in db.entities}


def test_formulas_and_lists_are_read_again_when_modification_date_stays(served: ff.FakeFibery, tmp_path: Path):
    fetch(served, tmp_path)
    snapshot = copy.deepcopy(served.snapshot)
    segments = database(snapshot, "Process Segments")
    first = segments["entities"][0]
    first["values"]["duration"] = 999  # a formula recomputed by Fibery: modificationDate unchanged
    first["values"]["equipment"] = first["values"]["equipment"][:1]  # the other side of a relation
    served.update_snapshot(snapshot)

    workspace, stats = fetch(served, tmp_path)

    # Nothing "changed", and no extra request: the batch and /api/schema (a read downloads no
    # file: the files step does, after the publish rules).
    assert stats.fetched == 0 and stats.requests == 2
    assert values(workspace, "Process Segments", "duration")[first["public_id"]] == 999
    assert values(workspace, "Process Segments", "equipment")[first["public_id"]] == first["values"]["equipment"]


def test_the_incremental_fetch_equals_a_full_one(served: ff.FakeFibery, tmp_path: Path):
    fetch(served, tmp_path / "cache")
    snapshot = copy.deepcopy(served.snapshot)
    guides = database(snapshot, "Guides")
    guides["entities"][0]["values"]["relatedSegments"] = []
    database(snapshot, "Process Segments")["entities"][1]["values"]["duration"] = 3
    served.update_snapshot(snapshot)

    incremental, _ = fetch(served, tmp_path / "cache")
    full, _ = fetch(served, tmp_path / "empty")

    assert msgspec.to_builtins(incremental) == msgspec.to_builtins(full)


def test_the_space_is_read_in_full_once_the_last_full_read_is_too_old(served: ff.FakeFibery, tmp_path: Path):
    fetch(served, tmp_path)
    _, fresh = fetch(served, tmp_path, full_refresh=timedelta(hours=24))
    assert fresh.cached > 0 and fresh.fetched == 0
    _, stale = fetch(served, tmp_path, full_refresh=timedelta(seconds=0))
    assert stale.cached == 0 and stale.fetched == sum(len(db["entities"]) for db in DEMO["databases"])


def test_an_entity_listed_but_unknown_is_read_with_its_database_when_ids_cannot_be_asked_for(
    served: ff.FakeFibery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import generator.fibery.schema as schema

    fetch(served, tmp_path)
    snapshot = copy.deepcopy(served.snapshot)
    guides = database(snapshot, "Guides")
    old = guides["entities"][0]
    guides["entities"].append({**old, "id": "late-guide", "public_id": "77", "name": "Synced late"})
    served.update_snapshot(snapshot)
    real = schema._filters
    monkeypatch.setattr(schema, "_filters", lambda find, arg, op: arg != "id" and real(find, arg, op))

    workspace, stats = fetch(served, tmp_path)

    names = {e.name for db in workspace.databases if db.title == "Guides" for e in db.entities}
    assert "Synced late" in names and stats.fetched == len(guides["entities"])
