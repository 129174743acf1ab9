"""The development container: `.devcontainer/devcontainer.json` and its Dockerfile.

No Docker engine runs here, so the image is never built. Instead the Dockerfile is linted
with hadolint, and devcontainer.json is checked against the Dev Container specification's
documented properties. The specification's JSON schema is published only on GitHub (neither
PyPI nor npm ships it), and these tests run offline, so they check what the schema requires
and what this project relies on rather than validating against the schema file.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from .test_publishing import ROOT, console_script

DEVCONTAINER = ROOT / ".devcontainer"

KNOWN_PROPERTIES = {
    # General (containers.dev/implementors/json_reference)
    "name", "forwardPorts", "portsAttributes", "otherPortsAttributes", "containerEnv", "remoteEnv",
    "remoteUser", "containerUser", "updateRemoteUserUID", "userEnvProbe", "overrideCommand",
    "shutdownAction", "init", "privileged", "capAdd", "securityOpt", "mounts", "features",
    "overrideFeatureInstallOrder", "customizations", "hostRequirements", "waitFor",
    # Lifecycle scripts
    "initializeCommand", "onCreateCommand", "updateContentCommand", "postCreateCommand",
    "postStartCommand", "postAttachCommand",
    # Image or Dockerfile
    "image", "build", "appPort", "runArgs", "workspaceMount", "workspaceFolder",
    # Docker Compose
    "dockerComposeFile", "service", "runServices",
}  # fmt: skip
BUILD_PROPERTIES = {"dockerfile", "context", "args", "target", "cacheFrom", "options"}


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    # Strict JSON (the format allows comments, which json would reject): keep it plain.
    return json.loads((DEVCONTAINER / "devcontainer.json").read_text(encoding="utf-8"))


def test_only_documented_properties(config: dict[str, Any]) -> None:
    assert set(config) <= KNOWN_PROPERTIES, f"unknown properties: {sorted(set(config) - KNOWN_PROPERTIES)}"
    assert set(config["build"]) <= BUILD_PROPERTIES


def test_exactly_one_way_to_get_the_container(config: dict[str, Any]) -> None:
    """The schema's top-level oneOf: an image, a Dockerfile build, or a Compose file."""
    ways = [key for key in ("image", "build", "dockerComposeFile") if key in config]
    assert ways == ["build"]
    dockerfile = DEVCONTAINER / config["build"]["dockerfile"]
    assert dockerfile.is_file()
    assert (DEVCONTAINER / config["build"]["context"]).resolve() == ROOT


def test_types_of_the_properties_used(config: dict[str, Any]) -> None:
    assert isinstance(config["name"], str) and config["name"]
    assert isinstance(config["postCreateCommand"], str | list | dict)
    assert all(isinstance(port, int) and 0 < port < 65536 for port in config["forwardPorts"])
    assert set(config["portsAttributes"]) <= {str(port) for port in config["forwardPorts"]}
    assert isinstance(config["customizations"]["vscode"]["extensions"], list)


def test_it_installs_what_the_test_command_needs(config: dict[str, Any]) -> None:
    assert config["postCreateCommand"] == "python -m pip install -e '.[test]'"
    dockerfile = (DEVCONTAINER / "Dockerfile").read_text(encoding="utf-8")
    from_lines = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    assert from_lines == ["python:3.12-slim-trixie"], "Python 3.12, like the release image"
    install = re.search(r"apt-get install[^\n]*", dockerfile)
    assert install and {"chromium", "nodejs", "npm"} <= set(install.group(0).split())
    # The Pagefind binary comes from the Python package, a runtime dependency.
    assert "pagefind[bin]" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    user = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")


def test_hadolint_passes_the_dev_dockerfile() -> None:
    result = subprocess.run(
        [console_script("hadolint"), "--no-color", str(DEVCONTAINER / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"
