"""``gen init [DIR]``: start a knowledge base in a content repository of its own.

Users of MkDocs, Hugo or Pelican keep a repository of content that installs a pinned release
of the tool; they do not fork the tool. ``gen init`` writes that repository's first files:
a commented ``kb.toml``, ``content/``, an empty ``templates/`` with a README on overriding,
``.gitignore``, a Pages workflow and Dependabot settings, and ``requirements.txt`` pinning
this very version of fibery-kb (so the scheduled build of tomorrow runs what was tested today).

The files are package data (``generator/init_files/``), with ``@VERSION@`` replaced. Nothing
is ever overwritten without ``--force``: the check is made for every file before the first
is written, so a refusal leaves the folder as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path

from . import __version__
from .errors import ConfigError

VERSION_MARK = "@VERSION@"

FILES: dict[str, str] = {
    "kb.toml": "kb.toml",
    "content/index.md": "content-index.md",
    "templates/README.md": "templates-README.md",
    ".gitignore": "gitignore",
    "requirements.in": "requirements.in",
    "requirements.txt": "requirements.txt",
    ".github/workflows/pages.yml": "pages.yml",
    ".github/dependabot.yml": "dependabot.yml",
}
"""Where each file goes in the new repository, and its name under ``init_files/`` (stored
without a leading dot, which packaging tools treat specially)."""


@dataclass(frozen=True)
class InitResult:
    root: Path
    written: list[str]
    overwritten: list[str]


def render(name: str, version: str = __version__) -> str:
    """The text of one scaffold file, with this fibery-kb's version in it."""
    text = package_files("generator").joinpath("init_files", name).read_text(encoding="utf-8")
    return text.replace(VERSION_MARK, version)


def init(root: Path, *, force: bool = False, version: str = __version__) -> InitResult:
    """Write the scaffold into ``root`` (created if missing).

    Raises ``ConfigError`` (one line, exit 2) when a file exists and ``force`` is false, or
    when a path is in the way (a folder where a file goes), before writing anything.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is a file: gen init needs a folder")
    existing = [target for target in FILES if (root / target).exists() or (root / target).is_symlink()]
    blocked = [target for target in existing if (root / target).is_dir()]
    if blocked:
        raise ConfigError(f"{root / blocked[0]} is a folder where gen init writes a file: move it away")
    if existing and not force:
        more = f" and {len(existing) - 1} more files already exist" if len(existing) > 1 else " already exists"
        raise ConfigError(f"{root / existing[0]}{more}: gen init overwrites nothing without --force")
    try:
        for target, source in FILES.items():
            path = root / target
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()  # write a file of our own, never through a link
            path.write_text(render(source, version), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write into {root}: {exc.strerror or exc}") from None
    return InitResult(root, [t for t in FILES if t not in existing], existing)


def next_steps(result: InitResult) -> str:
    """What to do after ``gen init``: shown once, on stdout."""
    where = "" if result.root.resolve() == Path.cwd().resolve() else f"cd {result.root}\n  "
    return (
        f"Wrote a fibery-kb {__version__} knowledge base in {result.root}/ "
        f"({len(result.written)} new, {len(result.overwritten)} overwritten).\n"
        "Next:\n"
        f"  {where}gen build --demo && gen serve --demo   # preview the demo site\n"
        "  git init && git add . && git commit -m 'Start the knowledge base'\n"
        "  Push to GitHub, set FIBERY_TOKEN, FIBERY_URL and FIBERY_SPACE, and choose\n"
        "  Settings > Pages > Source: GitHub Actions (docs: Deploy to GitHub Pages)."
    )
