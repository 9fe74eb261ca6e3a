"""The atlas shows the collaboration measures as the table holds them (escaped, no links
that would claim a count)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(built_store: Path) -> Iterator[TestClient]:
    from llmcarto.atlas.app import create_app

    with TestClient(create_app(built_store)) as c:
        yield c


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_case_page_panel_matches_the_table(client, published):
    html = client.get("/case/eleutherai").text
    start = html.index('id="collaboration"')
    panel = _text(html[start:html.index("</section>", start)])
    value, n, unknown = published.execute(
        "SELECT value, n, unknown_share FROM collab_measure WHERE case_key = 'eleutherai' "
        "AND repo = '*' AND stage = '*' AND platform = 'git' AND period = 'all' "
        "AND measure = 'external_share'").fetchone()
    assert f"{100 * value:.1f} % n = {n:,} · unknown {100 * unknown:.1f} %" in panel
    for part in ("Top organisations", "Lifespan of the repositories",
                 "Contributors and organisations over time", "On the Hugging Face Hub",
                 "insufficient data"):
        assert part in panel
    top = published.execute(
        "SELECT author_org, count(*) FROM commit_affiliation WHERE case_key = 'eleutherai' "
        "AND NOT inherited AND author_class IN ('internal', 'partner', 'external') "
        "AND author_org IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
    assert f"{top[0]} " in panel and f"{top[1]:,}" in panel


def test_first_page_grid_shows_external_share_per_stage(client, published):
    html = client.get("/").text
    notes = [unescape(t) for t in re.findall(r'<p class="measure-note">([^<]*)</p>', html)]
    assert notes
    want = published.execute(
        "SELECT value, n FROM collab_measure WHERE case_key = 'allenai' AND repo = '*' "
        "AND stage = 'pre-training' AND platform = 'git' AND period = 'all' "
        "AND measure = 'external_share'").fetchone()
    row = html[html.index('id="case-allenai"'):]
    row = row[:row.index("</tr>")]
    assert f"external share {100 * want[0]:.0f} % (n = {want[1]:,}" in unescape(row)
