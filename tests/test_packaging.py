"""The package as PyPI gets it: an sdist and a wheel, built offline here and checked by twine.

The release workflow uploads exactly these two files; building them in the test suite means
a broken package (a missing template, an invalid README, bad metadata) fails on every push,
not on the day of a release.
"""

from __future__ import annotations

import email.parser
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from generator import __version__

from .test_publishing import ROOT, console_script

NAME = "fibery_kb"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python -m build`` without isolation: it uses the installed hatchling, so no network."""
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


def sdist_of(dist: Path) -> Path:
    (sdist,) = dist.glob("*.tar.gz")
    return sdist


def test_the_files_carry_the_package_version(dist: Path) -> None:
    assert wheel_of(dist).name == f"{NAME}-{__version__}-py3-none-any.whl"
    assert sdist_of(dist).name == f"{NAME}-{__version__}.tar.gz"


def test_twine_check_passes(dist: Path) -> None:
    result = subprocess.run(
        [console_script("twine"), "check", "--strict", *map(str, sorted(dist.iterdir()))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"twine check:\n{result.stdout}{result.stderr}"
    assert result.stdout.count("PASSED") == 2


def test_the_wheel_holds_templates_scaffold_and_license(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        names = set(wheel.namelist())
    assert "generator/templates/base.html" in names
    assert "generator/templates/assets/style.css" in names
    assert "generator/init_files/pages.yml" in names and "generator/init_files/gitignore" in names
    assert f"{NAME}-{__version__}.dist-info/licenses/LICENSE" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_sdist_builds_the_same_package(dist: Path) -> None:
    with tarfile.open(sdist_of(dist)) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "templates/base.html"} <= names
    assert "generator/init_files/kb.toml" in names


def test_the_metadata_is_ready_for_pypi(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        metadata = email.parser.Parser().parsestr(wheel.read(f"{NAME}-{__version__}.dist-info/METADATA").decode())
    classifiers = metadata.get_all("Classifier")
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in (11, 12, 13)} <= set(classifiers)
    assert metadata["License-Expression"] == "MIT"
    assert metadata["Author"] or metadata["Author-email"]
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Repository", "Issues", "Changelog"} <= set(urls)
    # GPL-2.0 SecantusDB is for the tests only: never a requirement of the package itself.
    runtime = [r for r in metadata.get_all("Requires-Dist") if "extra ==" not in r]
    assert not [r for r in runtime if re.match(r"(?i)secantusdb|mongomock", r)]
    assert any(r.startswith("secantusdb==") and "extra == 'test'" in r for r in metadata.get_all("Requires-Dist"))


def test_the_docs_toolchain_is_capped_below_its_next_major(dist: Path) -> None:
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        metadata = wheel.read(f"{NAME}-{__version__}.dist-info/METADATA").decode()
    assert re.search(r"Requires-Dist: mkdocs<2,>=1\.6; extra == .docs.", metadata)
    assert re.search(r"Requires-Dist: mkdocs-material<10,>=9\.5; extra == .docs.", metadata)
