"""The Fibery adapter: everything that knows how Fibery's API behaves, and nothing else.

One module a job, in the order a fetch runs::

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

from .client import PAGE_FORMATS, EntitiesCallback, FiberyClient, ProgressCallback, Selector
from .fetchcache import FetchCache
from .transport import RateLimiter, RequestStats, retry_delay

__all__ = [
    "PAGE_FORMATS",
    "EntitiesCallback",
    "FetchCache",
    "FiberyClient",
    "ProgressCallback",
    "RateLimiter",
    "RequestStats",
    "Selector",
    "retry_delay",
]
