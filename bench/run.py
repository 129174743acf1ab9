"""Benchmark ``gen build`` against the local fake Fibery; see bench/README.md.

For each size N: start the fake (3 requests/s enforced per token, ~50 ms latency per
answer) serving a synthetic workspace (bench/workspace.py), then time, each in a fresh
process as a user would run it:

1. a cold build (no cache, no site): requests, 429s, wall time, render pages/s, peak RSS;
2. a rebuild with nothing changed: requests, files written, wall time;
3. a rebuild after 1 % of the entities changed (``FakeFibery.update_snapshot``);
4. a check that the incremental site equals a clean full build of the same data;
5. ``mkdocs build`` over the same N pages written as Markdown, as a ratio of pages/s.

Prints a table and writes bench/results.json (git-ignored)::

    python bench/run.py                      # N = 1,000 and 10,000
    python bench/run.py --sizes 1000 --no-mkdocs
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__" and sys.argv[1:2] != ["child"]:
    sys.path.insert(0, str(ROOT))  # the child imports the frozen copy (PYTHONPATH)
sys.path.insert(0, str(HERE))

TOKEN = "bench-token"
WINDOW = 1.1
"""Seconds between builds: the fake counts requests per token over a sliding second, and
builds of a real project are minutes apart."""


# --------------------------------------------------------------------------- one build (child)


def child(args: argparse.Namespace) -> None:
    """Run one build in this process, as ``gen build`` does, and print its figures as JSON."""
    from generator.build import build
    from generator.cache import BuildCache
    from generator.cli import make_source
    from generator.config import load_site_config

    started = time.perf_counter()
    root = Path(args.root)
    config = load_site_config(root)
    cache = BuildCache(Path(args.cache), read=not args.full)
    source = make_source(config, demo=False, snapshot=None, fibery_url=None, space=None, token_file=None, cache=cache)
    report = build(source, config, out=Path(args.out), root=root, cache=cache)
    stats = source.stats
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "pages": report.pages,
                "rendered": report.rendered,
                "files": report.files,
                "written": report.written,
                "deleted": report.deleted,
                "requests": stats.requests,
                "retries": stats.retries,
                "fetched": stats.fetched,
                "cached": stats.cached,
                "entities_deleted": stats.deleted,
                "durations": report.durations,
                "content_hash": report.content_hash,
                "rss_mb": peak_rss_mb(),
                "code": str(Path(build.__code__.co_filename).parent),
            }
        )
    )


def freeze_code(work: Path) -> Path:
    """Copy the generator and its templates aside, so that edits made to the working tree
    while the benchmark runs (they change every page's key) do not reach its builds."""
    code = work / "code"
    shutil.copytree(ROOT / "generator", code / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "templates", code / "templates")
    # Compiled once, as pip does on install (with PYTHONDONTWRITEBYTECODE set, every build
    # would compile the package again).
    compileall.compile_dir(code / "generator", quiet=1)
    return code


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not ``ru_maxrss``: on Linux it survives exec, so
    a child started by the benchmark (which holds the fake's data) would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: the best available

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_build(fake: Any, work: Path, *, out: str = "site", cache: str = "cache", full: bool = False) -> dict:
    """One ``gen build`` in a fresh process; its figures plus what the fake saw."""
    time.sleep(WINDOW)
    fake.stats.reset()
    env = {
        **os.environ,
        "FIBERY_URL": fake.url,
        "FIBERY_SPACE": fake.snapshot["space"],
        "FIBERY_TOKEN": TOKEN,
        "PYTHONPATH": str(work / "code"),
    }
    command = [sys.executable, str(Path(__file__)), "child", "--root", str(work), "--out", str(work / out)]
    command += ["--cache", str(work / cache), *(["--full"] if full else [])]
    began = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"build failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    durations = figures["durations"]
    render = sum(durations.get(k, 0.0) for k in ("plan", "render", "write"))
    cpu = render - durations.get("write", 0.0)
    figures.update(
        wall=round(wall, 3),
        server_requests=fake.stats.total,
        rate_limited=fake.stats.rate_limited,
        render_seconds=round(render, 3),
        pages_per_second=round(figures["rendered"] / render) if figures["rendered"] and render else None,
        pages_per_second_without_writes=round(figures["rendered"] / cpu) if figures["rendered"] and cpu else None,
    )
    return figures


def site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def mtimes(site: Path) -> dict[str, int]:
    return {p.relative_to(site).as_posix(): p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- mkdocs


def run_mkdocs(snapshot: dict[str, Any], work: Path) -> dict[str, Any] | None:
    """``mkdocs build`` over the same entities as Markdown pages (MkDocs' default theme)."""
    from workspace import to_markdown

    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        print("mkdocs is not installed (pip install mkdocs): skipped", file=sys.stderr)
        return None
    folder = work / "mkdocs"
    shutil.rmtree(folder, ignore_errors=True)
    pages = to_markdown(snapshot, folder / "docs")
    (folder / "mkdocs.yml").write_text(f"site_name: {snapshot['space']}\n")
    mkdocs = str(Path(sys.executable).parent / "mkdocs")
    began = time.perf_counter()
    subprocess.run([mkdocs, "build", "-q"], cwd=folder, check=True, capture_output=True)
    seconds = time.perf_counter() - began
    shutil.rmtree(folder, ignore_errors=True)  # every page holds the whole nav: ~15 GB at N = 10,000
    return {"pages": pages, "seconds": round(seconds, 2), "pages_per_second": round(pages / seconds, 1)}


def file_creation_cost(work: Path, files: int = 2000, size: int = 9000) -> dict[str, float]:
    """What creating one page-sized file costs on the disk the site is written to (wall and
    kernel time, in µs): the floor under the render phase's writes, whatever gen does. On
    the VMs this was measured on it ranged from ~60 µs to ~700 µs from one hour to the next."""
    import resource

    folder = work / "disk-check"
    folder.mkdir()
    data = b"x" * size
    before, began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for number in range(files):
        handle = os.open(folder / f"{number}.html", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.write(handle, data)
        os.close(handle)
    wall, after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF)
    shutil.rmtree(folder)
    return {"wall_us": round(wall / files * 1e6), "kernel_us": round((after.ru_stime - before.ru_stime) / files * 1e6)}


# --------------------------------------------------------------------------- one size


def bench_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    from workspace import change_entities, make_workspace

    from tests import fake_fibery as ff

    work = Path(args.work) / f"n{n}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "kb.toml").write_text(f"page_size = {args.page_size}\n" if args.page_size else "")
    freeze_code(work)
    print(f"N = {n:,}: generating the workspace …", file=sys.stderr)
    placeholder = make_workspace(n, args.databases)
    result: dict[str, Any] = {"n": n, "databases": args.databases, "rate": args.rate}
    with ff.FakeFibery(placeholder, token=TOKEN, rate_limit=args.rate, latency=args.latency) as fake:
        snapshot = make_workspace(n, args.databases, fibery_url=fake.url)
        fake.update_snapshot(snapshot)
        result["disk"] = file_creation_cost(work)
        print(f"N = {n:,}: cold build …", file=sys.stderr)
        result["cold"] = run_build(fake, work)
        result["disk_after"] = file_creation_cost(work)
        before = mtimes(work / "site")
        print(f"N = {n:,}: no-change rebuild …", file=sys.stderr)
        result["unchanged"] = run_build(fake, work)
        result["unchanged"]["mtimes_kept"] = mtimes(work / "site") == before
        changed, ids = change_entities(snapshot, 0.01, now=datetime.now(UTC))
        fake.update_snapshot(changed)
        print(f"N = {n:,}: rebuild after changing {len(ids)} entities …", file=sys.stderr)
        result["changed"] = run_build(fake, work)
        result["changed"]["entities_changed"] = len(ids)
        print(f"N = {n:,}: clean full build to compare …", file=sys.stderr)
        run_build(fake, work, out="site-full", cache="cache-full", full=True)
    incremental, clean = site_files(work / "site"), site_files(work / "site-full")
    differ = sorted(p for p in incremental.keys() | clean.keys() if incremental.get(p) != clean.get(p))
    result["changed"]["same_as_full_build"] = differ in ([], ["build-info.json", "status.html"])
    result["changed"]["differing_files"] = differ[:10]
    if not args.no_mkdocs:
        print(f"N = {n:,}: mkdocs build …", file=sys.stderr)
        result["mkdocs"] = run_mkdocs(snapshot, work)
        if result["mkdocs"] and result["cold"]["pages_per_second"]:
            result["mkdocs_ratio"] = round(result["cold"]["pages_per_second"] / result["mkdocs"]["pages_per_second"])
    return result


def fetch_ratio(figures: dict[str, Any], rate: float) -> float:
    """The fetch phase against the least time the rate limit allows for its requests (the
    first one starts at once: (requests - 1) / rate)."""
    floor = max(1, figures["server_requests"] - 1) / rate
    return figures["durations"]["fetch"] / floor


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, one column per size."""
    rows = [
        ("cold: requests (server saw)", lambda r: f"{r['cold']['requests']} ({r['cold']['server_requests']})"),
        ("cold: 429 responses", lambda r: r["cold"]["rate_limited"]),
        ("cold: wall time", lambda r: f"{r['cold']['wall']:.1f} s"),
        ("cold: fetch phase", lambda r: f"{r['cold']['durations']['fetch']:.1f} s"),
        ("cold: fetch ÷ rate-limit floor (requests ÷ rate)", lambda r: f"{fetch_ratio(r['cold'], r['rate']):.2f}×"),
        ("cold: render phase (plan+render+write)", lambda r: f"{r['cold']['render_seconds']:.2f} s"),
        ("cold: render pages/s", lambda r: f"{r['cold']['pages_per_second']:,}"),
        ("cold: of which writing files", lambda r: f"{r['cold']['durations'].get('write', 0):.2f} s"),
        ("cold: render pages/s, writes aside", lambda r: f"{r['cold']['pages_per_second_without_writes']:,}"),
        ("disk: one 9 KB file, before / after", lambda r: f"{r['disk']['wall_us']} / {r['disk_after']['wall_us']} µs"),
        ("cold: search index (Pagefind)", lambda r: f"{r['cold']['durations'].get('index', 0):.1f} s"),
        ("cold: peak RSS", lambda r: f"{r['cold']['rss_mb']:.0f} MB"),
        ("no change: requests", lambda r: r["unchanged"]["requests"]),
        ("no change: files written", lambda r: r["unchanged"]["written"]),
        ("no change: mtimes unchanged", lambda r: "yes" if r["unchanged"]["mtimes_kept"] else "NO"),
        ("no change: wall time", lambda r: f"{r['unchanged']['wall']:.2f} s"),
        ("no change: % of cold wall time", lambda r: f"{100 * r['unchanged']['wall'] / r['cold']['wall']:.0f} %"),
        ("1 % changed: entities changed", lambda r: r["changed"]["entities_changed"]),
        ("1 % changed: requests", lambda r: r["changed"]["requests"]),
        ("1 % changed: entities fetched", lambda r: r["changed"]["fetched"]),
        ("1 % changed: pages rendered", lambda r: r["changed"]["rendered"]),
        ("1 % changed: files written / deleted", lambda r: f"{r['changed']['written']} / {r['changed']['deleted']}"),
        ("1 % changed: wall time", lambda r: f"{r['changed']['wall']:.2f} s"),
        ("1 % changed: same as a full build", lambda r: "yes" if r["changed"]["same_as_full_build"] else "NO"),
        ("mkdocs build: pages/s", lambda r: (r.get("mkdocs") or {}).get("pages_per_second", "—")),
        ("gen render ÷ mkdocs pages/s", lambda r: f"{r['mkdocs_ratio']}×" if r.get("mkdocs_ratio") else "—"),
    ]
    lines = ["| | " + " | ".join(f"N = {r['n']:,}" for r in results) + " |", "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(str(cell(r)) for r in results) + " |" for label, cell in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark gen build against the fake Fibery.")
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("child", help="(internal) run one build and print its figures")
    one.add_argument("--root", required=True)
    one.add_argument("--out", required=True)
    one.add_argument("--cache", required=True)
    one.add_argument("--full", action="store_true")
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated entity counts")
    parser.add_argument("--databases", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=None, help="kb.toml page_size (default: gen's)")
    parser.add_argument("--rate", type=float, default=3.0, help="requests/s the fake enforces per token")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake waits before answering")
    parser.add_argument("--no-mkdocs", action="store_true")
    parser.add_argument("--work", default=str(HERE / ".work"))
    parser.add_argument("--results", default=str(HERE / "results.json"))
    args = parser.parse_args()
    if args.command == "child":
        child(args)
        return
    results = [bench_size(int(n), args) for n in args.sizes.split(",")]
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count()},
        "settings": {k: v for k, v in vars(args).items() if k not in ("command", "work", "results")},
        "results": results,
    }  # fmt: skip
    Path(args.results).write_text(json.dumps(document, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
