"""The Fibery adapter: everything that knows how Fibery's API behaves, and nothing else.

One module a job, in the order a fetch runs::

    stats.py       request statistics, rich-text formats (no httpx: snapshot builds)
    transport.py   limiter, retries, deadlines, request statistics
    names.py       REST names, titles and web URL segments (from GraphQL descriptions)
    schema.py      introspection + ``/api/schema`` → databases, fields, kinds
    values.py      rows → entities, list queries, value inference, complete nested lists
    sync.py        incremental listings (changed entities, ids, deletions)
    fetchcache.py  what the last fetch read
    client.py      ``FiberyClient``: orchestration and error translation

Only ``sources.py`` (and ``serve.py`` for the request statistics) use it, through the names
below; nothing outside the package reaches into its modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .stats import PAGE_FORMATS, RequestStats

if TYPE_CHECKING:
    from .client import EntitiesCallback, FiberyClient, FilesOf, ProgressCallback, Selector
    from .fetchcache import FetchCache
    from .transport import RateLimiter, retry_delay

_LAZY = {
    "EntitiesCallback": "client",
    "FiberyClient": "client",
    "FilesOf": "client",
    "ProgressCallback": "client",
    "Selector": "client",
    "FetchCache": "fetchcache",
    "RateLimiter": "transport",
    "retry_delay": "transport",
}
"""Loaded on first use: the client brings httpx, gql and graphql-core (~0.2 s), which a
snapshot or demo build never needs (``stats.py`` holds what those do need)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "PAGE_FORMATS",
    "EntitiesCallback",
    "FetchCache",
    "FiberyClient",
    "FilesOf",
    "ProgressCallback",
    "RateLimiter",
    "RequestStats",
    "Selector",
    "retry_delay",
]
