"""Build the same sites with two code trees and say whether they match, file by file.

A structural change must not change a byte of output. This builds the demo site, a
synthetic 1,000- and 10,000-entity sites (``bench/workspace.py``, from snapshots) and the hostile
site (``tests/fixtures/hostile.json``) with the ``generator/`` of a given tree, and
compares two such builds. ``build-info.json`` and ``status.html`` carry the build's time
and are left out of the comparison. Search is off: Pagefind's index is derived from the
pages, and it is the slowest step.

    python bench/same_output.py build --tree /tmp/before --out /dev/shm/same/before
    python bench/same_output.py build --tree . --out /dev/shm/same/after
    python bench/same_output.py compare /dev/shm/same/before /dev/shm/same/after

It is a tool, not a test: nothing in ``pytest`` runs it.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
IGNORED = {"build-info.json", "status.html"}
SITES = ("demo", "bench-1k", "bench-10k", "hostile")


def gen(tree: Path, cwd: Path, *args: str) -> None:
    """Run ``gen`` with the ``generator`` package of ``tree``, in a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FIBERY", "GEN_", "MONGODB"))}
    env["PYTHONPATH"] = str(tree)
    code = f"import generator, sys; assert generator.__file__.startswith({str(tree)!r}), generator.__file__; "
    code += "from generator.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"gen {' '.join(args)} failed in {cwd}:\n{result.stderr}")


def build(tree: Path, out: Path) -> None:
    """Build every site of ``SITES`` with ``tree``'s code into ``out/<site>/site``."""
    tree = tree.resolve()
    sys.path.insert(0, str(HERE))
    import workspace  # bench/workspace.py

    for name in SITES:
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "kb.toml").write_text("search = false\n")
        if name == "demo":
            gen(tree, folder, "build", "--demo")
            continue
        if name.startswith("bench-"):
            size = int(name.removeprefix("bench-").removesuffix("k")) * 1000
            snapshot = folder / "workspace.json"
            snapshot.write_text(json.dumps(workspace.make_workspace(size, 10, seed=0)))
        else:
            snapshot = REPO / "tests" / "fixtures" / "hostile.json"
        gen(tree, folder, "build", "--snapshot", str(snapshot))
        print(f"built {folder / 'site'}")


def files(site: Path) -> set[str]:
    """Every file under ``site`` as a relative POSIX path, the ignored ones aside."""
    return {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file() and p.name not in IGNORED}


def compare(before: Path, after: Path) -> int:
    """Print every difference between two ``build`` outputs; return how many there are."""
    differences = 0
    for name in SITES:
        a, b = before / name / "site", after / name / "site"
        left, right = files(a), files(b)
        changed = [p for p in sorted(left & right) if not filecmp.cmp(a / p, b / p, shallow=False)]
        for label, paths in (("only before", left - right), ("only after", right - left), ("differs", changed)):
            for path in sorted(paths):
                print(f"{name}: {label}: {path}")
            differences += len(paths)
        print(f"{name}: {len(left)} files compared, {len(left ^ right) + len(changed)} differences")
    return differences


def main() -> None:
    """The command line: ``build --tree T --out O`` or ``compare BEFORE AFTER``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build")
    b.add_argument("--tree", type=Path, default=REPO)
    b.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "build":
        build(args.tree, args.out)
    else:
        raise SystemExit(1 if compare(args.before, args.after) else 0)


if __name__ == "__main__":
    main()
