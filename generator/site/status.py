"""The status page: the latest build's manifest (``build-info.json``) as ``status.html``.

It shows when the site was built (its freshness), from which Fibery space, how many
entities each database published, how many requests and retries the fetch took, how long
each phase took, and the content hash. It is rendered last, once those are known, and like
``build-info.json`` it changes with every build because it holds the time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel
from pydantic import Field as PydanticField

if TYPE_CHECKING:
    from ..report import BuildReport
    from .pages import SiteRenderer

STATUS_PAGE = "status.html"


class BuildFacts(BaseModel):
    """The rows of the status page's card (``model_card`` in ``macros.html``)."""

    built_at: str = PydanticField(title="Built at (UTC)")
    fibery_url: str = PydanticField(title="Source", json_schema_extra={"url": True})
    space: str = PydanticField(title="Space")
    entities: int = PydanticField(title="Entities published")
    pages: int = PydanticField(title="Pages")
    requests: int = PydanticField(title="Fibery requests")
    retries: int = PydanticField(title="Retries")
    unpublished_links: int = PydanticField(title="Links to unpublished entities")
    content_hash: str = PydanticField(title="Content hash (SHA-256)")

    @classmethod
    def of(cls, report: BuildReport) -> BuildFacts:
        return cls(
            built_at=report.built_at,
            fibery_url=report.fibery_url,
            space=report.space,
            entities=report.entities,
            pages=report.pages,
            requests=report.requests,
            retries=report.retries,
            unpublished_links=report.unpublished_links,
            content_hash=report.content_hash,
        )


def status_page(renderer: SiteRenderer, report: BuildReport) -> bytes:
    """Render ``status.html`` from the finished build's report."""
    return renderer.render_page(
        "status",
        STATUS_PAGE,
        "Build status",
        facts=BuildFacts.of(report),
        databases=sorted(report.databases.items(), key=lambda item: item[0].casefold()),
        durations=report.durations,
        built_at=report.built_at,
    )
