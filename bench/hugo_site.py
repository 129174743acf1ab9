"""Write the benchmark workspace as a Hugo site: the same pages gen builds, for Hugo to build.

``write_hugo_site(snapshot, folder)`` writes ``folder/hugo.toml``, a minimal set of layouts
(copied from ``bench/hugo_layouts/``) and one content file per entity and per database
(``content/``), so that ``hugo --source folder`` builds, for the same N entities:

* one page per entity: its title, a meta line, its fields (summary, effort, due date, state,
  category, tags, owner and related entities as links), the body's HTML and the entities
  that link to it ("Referenced by");
* one list per database, 100 rows a page (gen's table page size), and a home page listing
  the databases.

What keeps Hugo's work comparable to gen's:

* Content files are ``.html`` with JSON front matter: Hugo passes the body through without
  a Markdown pass, as gen takes the body's HTML from Fibery.
* No taxonomies, RSS, sitemap or robots.txt (``disableKinds``); ``uglyURLs`` gives
  ``page.html`` files like gen's.
* Relations are resolved by Hugo (``site.GetPage`` for each owner, related entity and
  backlink), as gen resolves ids to links. Backlinks are listed in the front matter (a Hugo
  site has no way to find them short of scanning every page for every page), so that part of
  gen's work is done here, outside any timing, as a sync step (docu-notion, Notion-Hugo)
  would do it.
* Pagefind sees the same markup: ``data-pagefind-body`` on entity pages and on the first
  page of each database list, ``data-pagefind-ignore`` on the meta line and backlinks, and a
  ``database`` meta.

Links inside bodies keep their Fibery URLs (gen rewrites them to site links); that changes
neither Hugo's work nor Pagefind's.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TABLE_PAGE_SIZE = 100  # gen's rows per database page (generator/site/plan.py)

CONFIG = """\
baseURL = "/"
title = {title}
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT"]
uglyURLs = true
relativeURLs = true
enableRobotsTXT = false
paginate = {page_size}
[taxonomies]
"""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def write_hugo_site(snapshot: dict[str, Any], folder: Path) -> int:
    """Write the Hugo project for ``snapshot`` into ``folder`` (replaced); return the number
    of entity pages."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copytree(HERE / "hugo_layouts", folder / "layouts")
    (folder / "hugo.toml").write_text(CONFIG.format(title=json.dumps(snapshot["space"]), page_size=TABLE_PAGE_SIZE))
    static = folder / "static" / "assets"
    static.mkdir(parents=True)
    shutil.copy(ROOT / "templates" / "assets" / "style.css", static / "style.css")

    paths: dict[str, str] = {}  # entity id -> Hugo content path, for site.GetPage
    for db in snapshot["databases"]:
        for e in db["entities"]:
            paths[e["id"]] = f"/{slug(db['title'])}/{slug(e['name'])}-{e['public_id']}"
    backlinks: dict[str, list[dict[str, str]]] = {}
    for db in snapshot["databases"]:
        for e in db["entities"]:
            values = e["values"]
            targets = ([values["owner"]] if values.get("owner") else []) + list(values.get("related") or [])
            for target in targets:
                if target["id"] in paths:
                    backlinks.setdefault(target["id"], []).append({"path": paths[e["id"]]})

    content = folder / "content"
    count = 0
    for db in snapshot["databases"]:
        section = content / slug(db["title"])
        section.mkdir(parents=True)
        (section / "_index.html").write_text(json.dumps({"title": db["title"], "database": db["title"]}) + "\n")
        for e in db["entities"]:
            v = e["values"]
            front = {
                "title": e["name"],
                "database": db["title"],
                "public_id": e["public_id"],
                "modified": e["modification_date"],
                "fibery_url": f"{snapshot['fibery_url']}/{db['title']}/{e['public_id']}",
                "summary": v.get("summary"),
                "effort": v.get("effort"),
                "due": v.get("dueDate"),
                "reference": v.get("reference"),
                "state": (v.get("state") or {}).get("name"),
                "category": (v.get("category") or {}).get("name"),
                "tags": [t["name"] for t in v.get("tags") or []],
                "owner": paths.get((v.get("owner") or {}).get("id", "")),
                "related": [paths[r["id"]] for r in v.get("related") or [] if r["id"] in paths],
                "backlinks": backlinks.get(e["id"], []),
            }
            front = {k: x for k, x in front.items() if x not in (None, [], "")}
            body = (v.get("body") or {}).get("html", "")
            (content / (paths[e["id"]].lstrip("/") + ".html")).write_text(json.dumps(front) + "\n\n" + body + "\n")
            count += 1
    return count
