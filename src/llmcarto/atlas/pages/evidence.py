"""`/evidence`: the traces behind any number, filtered by case, repository, stage, kind,
rule and month, with their source URL, snapshot date, file and location, paged.

The count shown here uses the same predicate as the grid, so a number on the first page
and the length of the list it links to agree.
"""

from __future__ import annotations

from typing import Any

from llmcarto.atlas import queries
from llmcarto.atlas.links import evidence_url
from llmcarto.atlas.published import Reader

PER_PAGE = 100
MAX_FILTER_LENGTH = 300
FILTER_NOTES = {("stage", queries.OWN_STAGE): "every stage but inherited"}


def parse_filter(values: dict[str, str | None]) -> queries.EvidenceFilter | str:
    """The filter from untrusted query values, or the message of a 400 naming the field."""
    problems = []
    for name, value in values.items():
        if not value:
            continue
        if len(value) > MAX_FILTER_LENGTH:
            problems.append(f"{name}: longer than {MAX_FILTER_LENGTH} characters")
        elif (problem := queries.filter_problem(name, value)) is not None:
            problems.append(problem)
    if problems:
        return "Bad filter: " + "; ".join(problems) + "."
    return queries.EvidenceFilter(**{k: v or None for k, v in values.items()})


def context(db: Reader, flt: queries.EvidenceFilter, page: int = 1) -> dict[str, Any]:
    total = queries.evidence_count(db, flt)
    pages = max(1, -(-total // PER_PAGE))
    page = max(page, 1)
    items = queries.evidence_items(db, flt, PER_PAGE, (page - 1) * PER_PAGE)

    def href(n: int) -> str | None:
        if not 1 <= n <= pages or n == page:
            return None
        return evidence_url(flt.case, flt.stage, flt.kind, flt.rule, page=n, repo=flt.repo,
                            month=flt.month)

    case = queries.case(db, flt.case) if flt.case else None
    return {
        "filter": flt,
        "filters": [(name, value, FILTER_NOTES.get((name, value)))
                    for name, value in flt.items()],
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
