"""The atlas shows the collaboration measures as the table holds them (escaped, no links
that would claim a count)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape, unescape
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


# ------------------------------------------------------------ evidence behind a number

def _listed(client, href: str) -> tuple[int, list[str]]:
    """(the total the evidence page states, the commit SHAs it lists across its pages)."""
    html = client.get(href).text
    total = int(re.search(r'id="total">([0-9,]+)<', html).group(1).replace(",", ""))
    shas: list[str] = []
    for page in range(1, -(-total // 100) + 1):
        if page > 1:
            html = client.get(f"{href}&page={page}").text
        body = html[html.index("<tbody>"):html.index("</tbody>")]
        shas += re.findall(r'/commit/([0-9a-f]{40})"', body)
    return total, shas


def test_repo_commits_link_lists_exactly_the_counted_commits(client, published):
    """bigscience-workshop/Megatron-DeepSpeed inherits upstream history: its own-commit
    count links (repo + stage=own) to exactly those commits, not the inherited ones."""
    case, repo = "bigscience", "bigscience-workshop/Megatron-DeepSpeed"
    value, n, evidence = published.execute(
        "SELECT value, n, evidence FROM collab_measure WHERE case_key = ? AND repo = ? "
        "AND stage = '*' AND platform = 'git' AND period = 'all' AND measure = 'commits'",
        [case, repo]).fetchone()
    own = {s for (s,) in published.execute(
        "SELECT sha FROM commit_affiliation WHERE case_key = ? AND repo = ? "
        "AND NOT inherited", [case, repo]).fetchall()}
    inherited = published.execute(
        "SELECT count(*) FROM commit_affiliation WHERE case_key = ? AND repo = ? "
        "AND inherited", [case, repo]).fetchone()[0]
    assert value == n == len(own) > 100 and inherited > 0
    html = client.get("/case/bigscience").text
    assert f'href="{escape(evidence)}"' in html  # the lifespan table links the count
    total, shas = _listed(client, evidence)
    assert total == n and len(shas) == n and set(shas) == own


def test_monthly_stage_link_lists_exactly_the_months_commits(client, published):
    case, repo, stage = "eleutherai", "EleutherAI/lm-evaluation-harness", "post-release"
    period, n, evidence = published.execute(
        "SELECT period, n, evidence FROM collab_measure WHERE case_key = ? AND repo = ? "
        "AND stage = ? AND platform = 'git' AND period <> 'all' AND measure = 'commits' "
        "ORDER BY n DESC, period LIMIT 1", [case, repo, stage]).fetchone()
    assert f"month={period}" in evidence and f"stage={stage}" in evidence
    want = {s for (s,) in published.execute("""
        SELECT a.sha FROM commit_affiliation a JOIN stage_trace t
          ON t.item_kind = 'commit' AND t.case_key = a.case_key
         AND t.item_key = a.repo || '@' || a.sha
        WHERE a.case_key = ? AND a.repo = ? AND t.stage = ?
          AND strftime(a.date AT TIME ZONE 'UTC', '%Y-%m') = ?""",
                                                    [case, repo, stage, period]).fetchall()}
    total, shas = _listed(client, evidence)
    assert total == n == len(want) > 0 and set(shas) == want


def test_case_page_months_link_to_their_commits(client, published):
    html = client.get("/case/eleutherai").text
    table = html[html.index('class="collab-months"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r'<tr><th scope="row">(\d{4}-\d{2})</th>'
                      r'<td><a href="([^"]+)">([0-9,]+)</a></td>(.*?)</tr>', table, re.S)
    want = {p: (v, o) for p, v, o in published.execute("""
        SELECT period, max(value) FILTER (WHERE measure = 'commits'),
               max(value) FILTER (WHERE measure = 'organisations')
        FROM collab_measure WHERE case_key = 'eleutherai' AND repo = '*' AND stage = '*'
          AND platform = 'git' AND period <> 'all' GROUP BY 1""").fetchall()}
    assert len(rows) == len(want) > 24
    for month, href, commits, rest in rows:
        assert int(commits.replace(",", "")) == want[month][0]
        assert f"<td>{int(want[month][1]):,}</td>" in rest  # organisations that month
        assert unescape(href).endswith(f"kind=commit&month={month}")
    month, href, commits, _ = rows[len(rows) // 2]
    page = client.get(unescape(href)).text
    assert f'id="total">{commits}<' in page


def test_hub_months_are_listed_with_links(client, published):
    html = client.get("/case/bigscience").text
    line = html[html.index('class="hub-months"'):]
    line = line[:line.index("</p>")]
    months = published.execute(
        "SELECT period, value FROM collab_measure WHERE case_key = 'bigscience' "
        "AND platform = 'hub' AND repo = '*' AND period <> 'all' AND measure = 'commits' "
        "ORDER BY 1"
    ).fetchall()
    assert months
    for month, value in months:
        assert f"{month}: <a href=\"/evidence?case=bigscience&amp;kind=hub-commit&amp;" \
               f"month={month}\">{int(value)}</a>" in line


@pytest.mark.parametrize("query, status, shown", [
    ("month=2024-13", 400, "expected a calendar month YYYY-MM"),
    ("month=%3Cb%3Ex", 400, "month &#39;&lt;b&gt;x&#39;"),
    ("case=eleutherai&repo=a%0Ab", 400, "repo: control characters are not allowed"),
    (f"repo={'x' * 301}", 400, "repo: longer than 300 characters"),
    ("case=eleutherai&repo=%3Cscript%3Ealert(1)%3C%2Fscript%3E", 200,
     "repo <strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"),
])
def test_untrusted_evidence_filters_are_refused_or_escaped(client, query, status, shown):
    res = client.get(f"/evidence?{query}")
    assert res.status_code == status
    assert shown in res.text
    assert "<script>" not in res.text and "<b>x" not in res.text
    if status == 200:
        assert 'id="total">0<' in res.text
