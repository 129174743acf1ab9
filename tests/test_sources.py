"""Sources: ``load`` reads the workspace, ``files(secrets)`` hands over the files asked for."""

from __future__ import annotations

from pathlib import Path

from generator.model import Workspace
from generator.serve import LoadedSource
from generator.sources import DemoSource, RequestStats, SnapshotSource, StaticSource, as_source, write_snapshot

FILES = {"b": "Ag==", "a": "AQ==", "c": "Aw=="}


def _workspace() -> Workspace:
    return Workspace(fibery_url="https://acme.fibery.io", space="S", files=dict(FILES))


def test_a_snapshot_hands_over_the_files_it_carries_in_their_order(tmp_path: Path) -> None:
    write_snapshot(_workspace(), tmp_path / "s.json")
    source = SnapshotSource(tmp_path / "s.json")
    assert source.load().files == FILES
    assert source.files(["a", "b", "unknown"]) == {"b": "Ag==", "a": "AQ=="}
    assert list(source.files(["a", "b"])) == ["b", "a"]
    assert source.files([]) == {}


def test_the_demo_carries_every_file_it_references() -> None:
    source = DemoSource()
    workspace = source.load()
    assert source.files(workspace.referenced_files()) == workspace.files


def test_a_static_source_hands_over_what_its_workspace_carries() -> None:
    source = StaticSource(_workspace())
    assert source.files(["c"]) == {"c": "Aw=="}


class _OldPlugin:
    """A plugin source written before ``files``: ``load`` and ``stats`` only."""

    def __init__(self) -> None:
        self.stats = RequestStats()

    def load(self) -> Workspace:
        return _workspace()


def test_a_source_without_files_provides_what_its_workspace_carries() -> None:
    source = as_source(_OldPlugin())
    assert source.load().files == FILES
    assert source.files(["a"]) == {"a": "AQ=="}
    static = StaticSource(_workspace())
    assert as_source(static) is static


class _Counting(StaticSource):
    def __init__(self, workspace: Workspace) -> None:
        super().__init__(workspace)
        self.loads, self.asked = 0, []

    def load(self) -> Workspace:
        self.loads += 1
        return super().load()

    def files(self, secrets):
        secrets = list(secrets)
        self.asked.append(secrets)
        return super().files(secrets)


def test_a_preview_reads_the_workspace_once_and_each_file_once() -> None:
    inner = _Counting(_workspace())
    source = LoadedSource(inner)
    first, second = source.load(), source.load()
    assert inner.loads == 1 and first == second and first is not second
    assert source.files(["a", "b"]) == {"b": "Ag==", "a": "AQ=="}
    assert source.files(["a", "c", "x"]) == {"a": "AQ==", "c": "Aw=="}
    assert source.files(["a", "x"]) == {"a": "AQ=="}
    assert inner.asked == [["a", "b"], ["c", "x"]]
