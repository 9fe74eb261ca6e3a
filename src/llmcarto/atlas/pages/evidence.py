"""`/evidence`: the traces behind any number, filtered by case, stage, kind and rule, with
their source URL, snapshot date, file and location, paged.

The count shown here uses the same predicate as the grid, so a number on the first page
and the length of the list it links to agree.
"""

from __future__ import annotations

from typing import Any

from llmcarto.atlas import queries
from llmcarto.atlas.links import evidence_url
from llmcarto.atlas.published import Reader

PER_PAGE = 100


def context(db: Reader, flt: queries.EvidenceFilter, page: int = 1) -> dict[str, Any]:
    total = queries.evidence_count(db, flt)
    pages = max(1, -(-total // PER_PAGE))
    page = max(page, 1)
    items = queries.evidence_items(db, flt, PER_PAGE, (page - 1) * PER_PAGE)

    def href(n: int) -> str | None:
        if not 1 <= n <= pages or n == page:
            return None
        return evidence_url(flt.case, flt.stage, flt.kind, flt.rule, page=n)

    case = queries.case(db, flt.case) if flt.case else None
    return {
        "filter": flt,
        "filters": flt.items(),
        "case": case,
        "total": total,
        "items": items,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PER_PAGE + 1 if items else 0,
        "last": (page - 1) * PER_PAGE + len(items),
        "prev": href(page - 1),
        "next": href(page + 1),
        "first_href": href(1),
        "last_href": href(pages),
        "kind_words": queries.kind_words(flt.kind, total) if flt.kind else None,
        "analysed": queries.stages_available(db),
    }
