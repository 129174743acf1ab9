"""What a source needs from the Fibery adapter without loading the client (httpx, gql,
graphql-core: ~0.2 s of imports a snapshot or demo build does not need)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

PAGE_FORMATS = ("html",)
"""Rich-text formats a site needs; ``gen segments`` asks for Markdown as well."""


@dataclass
class RequestStats:
    """What the client did, for the progress line, the job summary and ``build-info.json``."""

    requests: int = 0
    retries: int = 0
    statuses: dict[int, int] = dataclass_field(default_factory=dict)
    fetched: int = 0
    """Entities received with all their fields (every one on a cold build, the changed ones after)."""
    cached: int = 0
    """Entities taken unchanged from the fetch cache."""
    deleted: int = 0
    """Cached entities no longer in Fibery."""

    def record(self, status: int) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
