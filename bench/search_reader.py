"""What a reader's first search costs on a built site: requests, bytes and time, in Chromium.

Serves SITE on a local port, opens its home page, types QUERY into the search box and counts
every request made from the first keystroke until the network is idle (the Pagefind script,
its WebAssembly, each shard's entry and meta file, the index chunks of the word, the
fragments of the results shown); then a second query on the same page. Saves a screenshot.

    python bench/search_reader.py bench/.work/compare/n10000/gen-search/site owner shot.png

Uses the system's Chromium (``/usr/bin/chromium``; ``--chromium`` for another), never a
downloaded one.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import socketserver
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".pagefind": "application/octet-stream",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


def counted(requests: list[Any]) -> tuple[int, int, dict[str, int]]:
    """Requests, response bytes and requests by kind (file extension)."""
    kinds: dict[str, int] = {}
    total = 0
    for request in requests:
        total += request.sizes()["responseBodySize"]
        kind = request.url.split("?")[0].rsplit("/", 1)[-1].rsplit(".", 1)[-1]
        kinds[kind] = kinds.get(kind, 0) + 1
    return len(requests), total, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("query")
    parser.add_argument("screenshot", type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(args.site)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url)
        page.wait_for_load_state("networkidle")
        requests: list[Any] = []
        page.on("requestfinished", lambda request: requests.append(request))
        began = time.perf_counter()
        page.locator("#search-input").fill(args.query)
        page.locator(".search-list li, .search-status").first.wait_for(timeout=60_000)
        page.wait_for_load_state("networkidle")
        seconds = time.perf_counter() - began
        n, size, kinds = counted(requests)
        status = page.locator(".search-status").inner_text()
        print(f"first query {args.query!r}: {status}; {seconds:.2f} s, {n} requests, {size / 1024:.0f} KiB; {kinds}")
        requests.clear()
        began = time.perf_counter()
        page.locator("#search-input").fill(args.query + " a")
        page.wait_for_timeout(300)
        page.wait_for_load_state("networkidle")
        n, size, kinds = counted(requests)
        print(f"second query: {time.perf_counter() - began:.2f} s, {n} requests, {size / 1024:.0f} KiB; {kinds}")
        page.locator("#search-input").fill(args.query)
        page.wait_for_timeout(800)
        page.screenshot(path=str(args.screenshot))
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
