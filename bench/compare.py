"""Compare gen's snapshot builds with Hugo + Pagefind on the same pages; see bench/README.md.

For each size N: write the synthetic workspace (bench/workspace.py) as a snapshot, the same
entities as a Hugo site (bench/hugo_site.py), then time, as whole processes started from
here, in rounds (every variant once a round, so that each gen figure is paired with the Hugo
one next to it: A B A B):

* ``gen cold, search``: ``gen build --snapshot`` with no cache and no site (Pagefind included);
* ``hugo + pagefind``: ``hugo --quiet`` then Pagefind over its output (one ``sh -c``);
* ``gen cold, no search``: the same with ``search = false`` in kb.toml;
* ``hugo``: ``hugo --quiet`` alone (no output folder, no cache);
* ``pagefind``: Pagefind alone over Hugo's output;
* ``gen handful changed``: a rebuild after 5 entities changed (the snapshots alternate
  between the original and one with 5 entities edited, so every round changes 5);
* ``gen no-change``: a rebuild of what the previous step built.

Each run reports wall time, CPU time (user + system of the process and its children) and
peak memory: the peak of the summed RSS of the whole process tree (polled from ``/proc``
every 20 ms) and the largest single process (``ru_maxrss`` from ``wait4``). Pagefind is the
binary gen uses (``pagefind[bin]``), with gen's options.

Then, once per size: the link check gen runs on what it wrote (``generator.check.check_site``,
timed in a fresh process) and, at the first size, the import time of ``generator.cli``
(``-X importtime``, summed) and of everything a cold snapshot build imports.

    python bench/compare.py                          # N = 1,000 and 10,000, 5 rounds
    python bench/compare.py --sizes 1000 --rounds 3
    python bench/compare.py --work /dev/shm/compare  # the disk out of the figures
    python bench/compare.py --sizes 100000 --rounds 1 --variants 'gen cold, search'  # peak RSS at 100k

Prints Markdown tables and writes bench/compare.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

PAGE = os.sysconf("SC_PAGE_SIZE")
POLL = 0.02
CHANGED = 5
STAGES = ("fetch", "check", "plan", "render", "write", "index")


# --------------------------------------------------------------------------- timing


def _children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(x) for x in handle.read().split()]
    except OSError:
        pass
    return found


_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
_KCMP_VM = 1


def _same_memory(parent: int, child: int) -> bool:
    """Whether ``child`` still runs in ``parent``'s memory: started with ``vfork`` (as
    ``subprocess`` and ``posix_spawn`` start a program) and not yet at its ``exec``. For that
    millisecond ``/proc/child/statm`` shows the parent's pages: counted twice, a 1.5 GB gen
    would read as 3 GB whenever a poll lands while it starts Pagefind (a hundred times a
    build at N = 100,000). Linux's ``kcmp`` tells."""
    if _KCMP is None:
        return False
    import ctypes

    return int(ctypes.CDLL(None, use_errno=True).syscall(_KCMP, parent, child, _KCMP_VM, 0, 0)) == 0


def _tree_rss(pid: int) -> int:
    """The summed resident memory of ``pid`` and all its descendants, in bytes (a child that
    shares its parent's memory, between its ``vfork`` and its ``exec``, counted once)."""
    total, todo = 0, [(pid, 0)]
    while todo:
        current, parent = todo.pop()
        shared = bool(parent) and _same_memory(parent, current)  # asked first: an exec after it reads small
        try:
            with open(f"/proc/{current}/statm") as handle:
                pages = int(handle.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if not shared:
            total += pages * PAGE
        todo += [(child, current) for child in _children(current)]
    return total


def timed(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``command`` to its end; its wall time, CPU time and peak memory (whole tree)."""
    began = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    peak = [0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(process.pid))
            done.wait(POLL)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    poller.join()
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed ({process.returncode}):\n{output.decode(errors='replace')[-3000:]}"
        )
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "tree_peak_mb": peak[0] / 2**20,
        "largest_mb": usage.ru_maxrss / 1024,
    }


def pagefind_command() -> list[str]:
    """Pagefind as gen runs it (generator/search.py), with gen's options."""
    from generator.search import OUTPUT_DIR
    from generator.search import pagefind_command as find

    command = find()
    if command is None:
        raise SystemExit("Pagefind is not installed: pip install 'pagefind[bin]'")
    return [*command, "--output-subdir", OUTPUT_DIR, "--keep-index-url", "--site"]


# --------------------------------------------------------------------------- one size


class Size:
    """The projects of one size: two gen projects for cold builds, one for rebuilds, Hugo's."""

    def __init__(self, n: int, args: argparse.Namespace) -> None:
        from hugo_site import write_hugo_site
        from workspace import change_entities, make_workspace

        self.n, self.args = n, args
        self.work = Path(args.work).resolve() / f"n{n}"
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        print(f"N = {n:,}: writing the snapshot and the Hugo site …", file=sys.stderr)
        snapshot = make_workspace(n, args.databases)
        changed, _ = change_entities(snapshot, CHANGED / n, now=datetime(2026, 1, 1, tzinfo=UTC))
        self.snapshots = [self.work / "snapshot.json", self.work / "snapshot-changed.json"]
        for path, data in zip(self.snapshots, (snapshot, changed), strict=True):
            path.write_text(json.dumps(data))
        self.pages = write_hugo_site(snapshot, self.work / "hugo")
        for name, search in (("gen-search", True), ("gen-nosearch", False), ("gen-rebuild", True)):
            (self.work / name).mkdir()
            (self.work / name / "kb.toml").write_text(f"search = {'true' if search else 'false'}\n")
        self.gen = str(Path(sys.executable).parent / "gen")
        self.hugo = [args.hugo, "--quiet", "--destination", "public", "--cacheDir", str(self.work / "hugo-cache")]
        self.pagefind = pagefind_command()
        self.turn = 0

    def gen_build(self, snapshot: Path) -> list[str]:
        return [self.gen, "build", "--snapshot", str(snapshot), "--out", "site", "-q"]

    def clean(self, *paths: str) -> None:
        for path in paths:
            shutil.rmtree(self.work / path, ignore_errors=True)

    def variants(self) -> list[tuple[str, Any]]:
        """(name, run) in the order of a round; each run prepares (untimed), then times."""
        hugo = self.work / "hugo"
        both = f"{' '.join(self.hugo)} && exec {' '.join(self.pagefind)} public"

        def gen(project: str, snapshot: Path) -> dict[str, Any]:
            info = self.work / project / "site" / "build-info.json"
            before = info.stat().st_mtime_ns if info.exists() else None
            figures: dict[str, Any] = timed(self.gen_build(snapshot), cwd=self.work / project)
            if info.stat().st_mtime_ns != before:  # a no-change build leaves it as it was
                figures["stages"] = json.loads(info.read_text()).get("durations", {})  # the link check is not in it
            return figures

        def gen_cold(project: str) -> dict[str, Any]:
            self.clean(f"{project}/site", f"{project}/.cache")
            return gen(project, self.snapshots[0])

        def hugo_only() -> dict[str, float]:
            self.clean("hugo/public", "hugo/resources", "hugo-cache")
            return timed(self.hugo, cwd=hugo)

        def pagefind_only() -> dict[str, float]:
            if not (hugo / "public" / "index.html").exists():
                timed(self.hugo, cwd=hugo)
            self.clean("hugo/public/pagefind")
            return timed([*self.pagefind, "public"], cwd=hugo)

        def hugo_pagefind() -> dict[str, float]:
            self.clean("hugo/public", "hugo/resources", "hugo-cache")
            return timed(["sh", "-c", both], cwd=hugo)

        def handful() -> dict[str, Any]:
            self.turn += 1
            return gen("gen-rebuild", self.snapshots[self.turn % 2])

        def unchanged() -> dict[str, Any]:
            return gen("gen-rebuild", self.snapshots[self.turn % 2])

        return [
            ("gen cold, search", lambda: gen_cold("gen-search")),
            ("hugo + pagefind", hugo_pagefind),
            ("gen cold, no search", lambda: gen_cold("gen-nosearch")),
            ("hugo", hugo_only),
            ("pagefind", pagefind_only),
            ("gen handful changed", handful),
            ("gen no-change", unchanged),
        ]

    def wanted(self, name: str) -> bool:
        """Whether ``--variants`` (names, or their beginnings, separated by ``;``) asks for it."""
        chosen = [v.strip() for v in self.args.variants.split(";") if v.strip()] if self.args.variants else []
        return not chosen or any(name.startswith(v) for v in chosen)

    def run(self) -> dict[str, Any]:
        if self.wanted("gen handful changed") or self.wanted("gen no-change"):
            print(f"N = {self.n:,}: first build of the rebuild project …", file=sys.stderr)
            timed(self.gen_build(self.snapshots[0]), cwd=self.work / "gen-rebuild")
        runs: dict[str, list[dict[str, Any]]] = {}
        variants = [(name, run) for name, run in self.variants() if self.wanted(name)]
        for number in range(1, self.args.rounds + 1):
            print(f"N = {self.n:,}: round {number} of {self.args.rounds} …", file=sys.stderr)
            for name, run in variants:
                runs.setdefault(name, []).append(run())
        result: dict[str, Any] = {"n": self.n, "pages": self.pages, "runs": runs}
        result["ratios"] = {
            label: [a["wall"] / b["wall"] for a, b in zip(runs[x], runs[y], strict=True)]
            for label, x, y in (
                ("gen cold, search ÷ hugo + pagefind", "gen cold, search", "hugo + pagefind"),
                ("gen cold, no search ÷ hugo", "gen cold, no search", "hugo"),
                ("gen handful changed ÷ gen cold, search", "gen handful changed", "gen cold, search"),
                ("gen no-change ÷ gen cold, search", "gen no-change", "gen cold, search"),
            )
            if x in runs and y in runs
        }
        result["files"] = {
            "gen": sum(1 for p in (self.work / "gen-search" / "site").rglob("*.html")),
            "hugo": sum(1 for p in (self.work / "hugo" / "public").rglob("*.html")),
        }
        result["link_check"] = self.link_check() if (self.work / "gen-search" / "site").is_dir() else []
        return result

    def link_check(self) -> list[float]:
        """Seconds of ``check_site`` on gen's site (as build.py calls it), in a fresh process each."""
        code = (
            "import sys, time; from pathlib import Path; from generator.check import check_site; "
            "t = time.perf_counter(); r = check_site(Path(sys.argv[1]), allow_orphans=('status.html',)); "
            "print(time.perf_counter() - t, r.pages, len(r.problems))"
        )
        seconds = []
        for _ in range(self.args.rounds):
            out = subprocess.run(
                [sys.executable, "-c", code, str(self.work / "gen-search" / "site")],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            seconds.append(float(out.stdout.split()[0]))
        return seconds


# --------------------------------------------------------------------------- imports


def import_seconds(command: list[str], cwd: Path) -> dict[str, Any]:
    """Sum of the ``self`` import times ``-X importtime`` prints for ``command`` (seconds),
    and the heaviest top-level packages (their modules' ``self`` times summed)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", *command], cwd=cwd, capture_output=True, text=True, check=True
    )
    total, packages = 0, {}
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if match:
            total += int(match.group(1))
            top = match.group(2).split(".")[0]
            packages[top] = packages.get(top, 0) + int(match.group(1))
    heaviest = sorted(packages.items(), key=lambda kv: -kv[1])[:10]
    return {"seconds": total / 1e6, "heaviest": [(k, round(v / 1e6, 3)) for k, v in heaviest]}


def imports(size: Size) -> dict[str, Any]:
    project = size.work / "gen-nosearch"
    cli = [import_seconds(["-c", "import generator.cli"], project) for _ in range(size.args.rounds)]
    build = []
    for _ in range(size.args.rounds):
        size.clean("gen-nosearch/site", "gen-nosearch/.cache")
        cmd = ["-m", "generator", "build", "--snapshot", str(size.snapshots[0]), "--out", "site", "-q"]
        build.append(import_seconds(cmd, project))
    python = [timed([sys.executable, "-c", "pass"], cwd=project)["wall"] for _ in range(size.args.rounds)]
    cli_wall = [
        timed([sys.executable, "-c", "import generator.cli"], cwd=project)["wall"] for _ in range(size.args.rounds)
    ]
    return {
        "import generator.cli (summed self)": [r["seconds"] for r in cli],
        "cold snapshot build, all imports (summed self)": [r["seconds"] for r in build],
        "heaviest in a cold build": build[0]["heaviest"],
        "python -c pass (wall)": python,
        "python -c 'import generator.cli' (wall)": cli_wall,
    }


# --------------------------------------------------------------------------- report


def spread(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "—"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid:.{digits}f} {unit} ({low:.{digits}f}–{high:.{digits}f})"


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        f"### N = {result['n']:,} ({result['pages']:,} entity pages; HTML files: gen {result['files']['gen']:,},"
        f" Hugo {result['files']['hugo']:,}; {len(next(iter(runs.values())))} rounds)",
        "",
        "| Process | wall: median (min–max) | CPU (user+sys) median | peak RSS, whole tree (largest process) |",
        "| --- | --- | --- | --- |",
    ]
    for name, values in runs.items():
        walls = [v["wall"] for v in values]
        cpu = statistics.median(v["cpu"] for v in values)
        tree = statistics.median(v["tree_peak_mb"] for v in values)
        largest = statistics.median(v["largest_mb"] for v in values)
        lines.append(f"| {name} | {spread(walls)} | {cpu:.2f} s | {tree:.0f} MB ({largest:.0f} MB) |")
    lines += ["", f"| gen's stages (build-info.json durations), median | {' | '.join(STAGES)} | the rest |"]
    lines.append("| --- |" + " --- |" * (len(STAGES) + 1))
    for name, values in runs.items():
        if name.startswith("gen") and all("stages" in v for v in values):
            cells = [statistics.median(v["stages"].get(stage, 0.0) for v in values) for stage in STAGES]
            rest = statistics.median(v["wall"] - sum(v["stages"].values()) for v in values)
            lines.append(f"| {name} | " + " | ".join(f"{c:.2f} s" for c in [*cells, rest]) + " |")
    lines.append("")
    lines.append("(the rest: start-up and imports, the link check, build-info and status pages, the swap, the cache)")
    lines += ["", "| Ratio, pair by pair | median (min–max) |", "| --- | --- |"]
    for label, values in result["ratios"].items():
        lines.append(f"| {label} | {spread(values, '×', 3)} |")
    lines += ["", f"Link check (`check_site` on gen's site, in-process): {spread(result['link_check'])}"]
    return "\n".join(lines)


def imports_table(found: dict[str, Any]) -> str:
    lines = ["| Import | median (min–max) |", "| --- | --- |"]
    for label, values in found.items():
        if label.startswith("heaviest"):
            continue
        lines.append(f"| {label} | {spread(values, 's', 3)} |")
    heaviest = ", ".join(f"{k} {v:.3f} s" for k, v in found["heaviest in a cold build"])
    return "\n".join(lines) + f"\n\nHeaviest packages imported by a cold build (self times summed): {heaviest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated entity counts")
    parser.add_argument("--databases", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant, interleaved (≥ 3)")
    parser.add_argument("--hugo", default=shutil.which("hugo") or "hugo", help="the hugo executable")
    parser.add_argument(
        "--variants",
        default="",
        help="only these variants (names or their beginnings, separated by ';'), e.g. 'gen cold, search' at 100000",
    )
    parser.add_argument("--work", default=str(HERE / ".work" / "compare"))
    parser.add_argument("--results", default=str(HERE / "compare.json"))
    args = parser.parse_args()
    version = subprocess.run([args.hugo, "version"], capture_output=True, text=True, check=True).stdout.strip()
    pagefind = subprocess.run([*pagefind_command()[:1], "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; {pagefind}; {os.cpu_count()} cores; {platform.python_version()}", file=sys.stderr)
    results: dict[str, Any] = {"hugo": version, "pagefind": pagefind, "cores": os.cpu_count(), "sizes": []}
    for number, n in enumerate(int(s) for s in args.sizes.split(",")):
        size = Size(n, args)
        result = size.run()
        if number == 0 and not args.variants:
            result["imports"] = imports(size)
        results["sizes"].append(result)
        Path(args.results).write_text(json.dumps(results, indent=1))
        print(table(result) + "\n", flush=True)
        if "imports" in result:
            print(imports_table(result["imports"]) + "\n", flush=True)
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
