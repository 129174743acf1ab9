"""The status page: the latest build's manifest (``build-info.json``) as ``status.html``.

It shows when the site was built (its freshness), from which Fibery space, how many
entities each database published, how many requests and retries the fetch took, how long
each phase took, and the content hash. It is rendered last, once those are known, and like
``build-info.json`` it changes with every build because it holds the time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import msgspec

if TYPE_CHECKING:
    from ..report import BuildReport
    from .pages import SiteRenderer

STATUS_PAGE = "status.html"


class BuildFacts(msgspec.Struct, kw_only=True):
    """The rows of the status page's card (``model_card`` in ``macros.html``): each field's
    title is its label, and ``extra={"url": True}`` shows the value as a link."""

    built_at: Annotated[str, msgspec.Meta(title="Built at (UTC)")]
    fibery_url: Annotated[str, msgspec.Meta(title="Source", extra={"url": True})]
    space: Annotated[str, msgspec.Meta(title="Space")]
    entities: Annotated[int, msgspec.Meta(title="Entities published")]
    pages: Annotated[int, msgspec.Meta(title="Pages")]
    requests: Annotated[int, msgspec.Meta(title="Fibery requests")]
    retries: Annotated[int, msgspec.Meta(title="Retries")]
    unpublished_links: Annotated[int, msgspec.Meta(title="Links to unpublished entities")]
    content_hash: Annotated[str, msgspec.Meta(title="Content hash (SHA-256)")]

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
