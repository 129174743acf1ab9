"""The lock files under requirements/ match pyproject.toml (offline: no resolver is run).

A dependency added to or tightened in pyproject.toml without recompiling the locks would
make the workflows install something else than the package asks for; this says which file
to recompile, with the command in requirements/README.md.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {"pages.txt": "docs", "acceptance.txt": "acceptance", "ci.txt": "test"}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def pins(lock: Path) -> dict[str, list[str]]:
    """Package name -> pinned versions (a universal lock may pin one per Python)."""
    found: dict[str, list[str]] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)", line)
        if match:
            found.setdefault(canonicalize_name(match.group(1)), []).append(match.group(2))
    return found


def wanted(extra: str) -> list[Requirement]:
    """The requirements of the package with ``extra``, self-references expanded."""
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    todo, seen = [extra], set()
    while todo:
        name = todo.pop()
        seen.add(name)
        for text in PROJECT["optional-dependencies"][name]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "fibery-kb":
                todo += [e for e in requirement.extras if e not in seen]
            else:
                requirements.append(requirement)
    return requirements


@pytest.mark.parametrize(("lock", "extra"), LOCKS.items())
def test_every_requirement_is_locked_within_its_range(lock: str, extra: str) -> None:
    locked = pins(ROOT / "requirements" / lock)
    for requirement in wanted(extra):
        versions = locked.get(canonicalize_name(requirement.name))
        assert versions, f"{requirement.name} is not in requirements/{lock}: recompile it (requirements/README.md)"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"requirements/{lock} pins {requirement.name}=={version}, outside {requirement.specifier}: recompile it"
            )


@pytest.mark.parametrize("lock", LOCKS)
def test_every_pin_has_a_hash(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    unhashed = [e.split()[0] for e in entries if "==" in e.split("\n")[0] and "--hash=sha256:" not in e]
    assert not unhashed, f"requirements/{lock}: no hash for {unhashed}"
    assert "fibery-kb" not in pins(ROOT / "requirements" / lock), "the project itself is installed from the checkout"


def test_dependabot_keeps_the_actions_and_the_locks_current() -> None:
    import yaml

    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {(u["package-ecosystem"], u["directory"]) for u in config["updates"]}
    assert config["version"] == 2
    assert {("github-actions", "/"), ("pip", "/requirements")} <= updates
