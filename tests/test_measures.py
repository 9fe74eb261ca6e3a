"""Collaboration measures: pure functions on small cases, then the `collab_measure` table
checked against independent SQL over the real bundled data (design.md §5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcarto.analysis.affiliation import affiliation_shares
from llmcarto.analysis.measures import (
    CONVERT_BOT_EMAIL,
    MIN_N,
    activity_decay,
    contributor_absence_factor,
    elephant_factor,
    external_share,
    is_hub_bot,
    lifespan_months,
    merge_rate,
    new_and_returning,
    organisational_diversity,
)


def _m(con, case, measure, repo="*", stage="*", platform="git", period="all"):
    rows = con.execute("SELECT value, n, unknown_share, status, reason FROM collab_measure "
                       "WHERE case_key = ? AND repo = ? AND stage = ? AND platform = ? "
                       "AND period = ? AND measure = ?",
                       [case, repo, stage, platform, period, measure]).fetchall()
    assert len(rows) == 1, (case, repo, stage, measure, rows)
    return dict(zip(("value", "n", "unknown_share", "status", "reason"), rows[0], strict=True))


# ------------------------------------------------------------------------- pure functions

def test_half_share_factors_on_small_counts():
    assert contributor_absence_factor({"a": 5, "b": 3, "c": 2}) == 1  # 5 of 10 reaches 50 %
    assert contributor_absence_factor({"a": 4, "b": 3, "c": 3}) == 2
    assert elephant_factor({"x": 1, "y": 1, "z": 1, "w": 1}) == 2
    assert elephant_factor({}) == 0


def test_diversity_share_and_lifespan_definitions():
    assert organisational_diversity({"x": 10}) == 0.0
    assert organisational_diversity({"x": 5, "y": 5}) == pytest.approx(0.5)
    assert organisational_diversity({}) is None
    ext, unk = external_share({"internal": 6, "partner": 1, "external": 3, "unknown": 10})
    assert ext == pytest.approx(0.3) and unk == pytest.approx(0.5)
    assert external_share({"unknown": 4}) == (None, 1.0)
    assert lifespan_months(["2024-01", "2024-01"]) == 1
    assert lifespan_months(["2023-12", "2024-02"]) == 3
    assert lifespan_months([]) is None


def test_new_returning_and_decay():
    nr = new_and_returning([("a", "2024-01"), ("b", "2024-02"), ("a", "2024-02"),
                            ("a", "2024-03")])
    assert nr == {"2024-01": (1, 0), "2024-02": (1, 1), "2024-03": (0, 1)}
    assert activity_decay({"2024-01": 10}, "2024-01") == 0.0
    assert activity_decay({"2020-01": 10}, "2024-01") == 1.0
    assert activity_decay({"2023-01": 12, "2024-01": 3}, "2024-01") == pytest.approx(0.75)
    assert merge_rate([("external", True), ("partner", False), ("unknown", True)]) == (0.5, 2)


def test_hub_bot_rule_reads_coauthor_trailers():
    assert is_hub_bot(True, "[]")
    assert is_hub_bot(False, json.dumps([{"name": "hf-x", "email": CONVERT_BOT_EMAIL,
                                          "is_bot": False}]))
    assert is_hub_bot(False, [{"name": "hf-y", "email": "e@x.org", "is_bot": True}])
    assert not is_hub_bot(False, None)


# ------------------------------------------------------------- the table on the real data

def test_external_and_unknown_shares_match_the_affiliation_module(published):
    shares = affiliation_shares(published)
    assert shares
    for s in shares:
        got = _m(published, s["case"], "external_share")
        known = s["internal"] + s["partner"] + s["external"]
        assert got["n"] == known
        if known >= MIN_N:
            assert got["value"] == pytest.approx(s["external_share"])
        else:
            assert got["value"] is None and got["status"] == "insufficient data"
        assert got["unknown_share"] == pytest.approx(s["unknown_share"])


def test_factors_and_diversity_match_independent_sql(published):
    repo = "allenai/OLMo-core"
    persons = [n for (n,) in published.execute(
        "SELECT count(*) FROM commit_affiliation WHERE repo = ? AND NOT inherited "
        "AND author_class <> 'bot' AND person IS NOT NULL GROUP BY person ORDER BY 1 DESC",
        [repo]).fetchall()]
    half, run, k = sum(persons) / 2, 0, 0
    while run < half:
        run += persons[k]
        k += 1
    assert _m(published, "allenai", "contributor_absence_factor", repo=repo)["value"] == k
    orgs = dict(published.execute(
        "SELECT author_org, count(*) FROM commit_affiliation WHERE case_key = 'eleutherai' "
        "AND NOT inherited AND author_class IN ('internal', 'partner', 'external') "
        "AND author_org IS NOT NULL GROUP BY 1").fetchall())
    total = sum(orgs.values())
    simpson = 1 - sum((v / total) ** 2 for v in orgs.values())
    div = _m(published, "eleutherai", "organisational_diversity")
    assert div["n"] == total and div["value"] == pytest.approx(simpson)
    top, ef = 0, 0
    for v in sorted(orgs.values(), reverse=True):
        if top >= total / 2:
            break
        top, ef = top + v, ef + 1
    assert _m(published, "eleutherai", "elephant_factor")["value"] == ef


def test_per_stage_commits_sum_to_the_case(published):
    rows = published.execute(
        "SELECT case_key, stage, value FROM collab_measure WHERE repo = '*' AND platform = 'git' "
        "AND period = 'all' AND measure = 'commits'").fetchall()
    by_case: dict[str, dict[str, float]] = {}
    for case, stage, value in rows:
        by_case.setdefault(case, {})[stage] = value
    direct = dict(published.execute(
        "SELECT case_key, count(*) FROM commit_affiliation WHERE NOT inherited "
        "GROUP BY 1").fetchall())
    assert by_case
    for case, stages in by_case.items():
        assert stages["*"] == direct[case]
        assert sum(v for s, v in stages.items() if s != "*") == direct[case]


def test_monthly_new_and_returning_against_first_months(published):
    expected = dict(((m, (new, ret)) for m, new, ret in published.execute("""
        WITH pm AS (SELECT DISTINCT person, strftime(date AT TIME ZONE 'UTC', '%Y-%m') AS m
                    FROM commit_affiliation WHERE case_key = 'eleutherai' AND NOT inherited
                      AND author_class <> 'bot' AND person IS NOT NULL AND date IS NOT NULL),
             f AS (SELECT person, min(m) AS first FROM pm GROUP BY person)
        SELECT m, count(*) FILTER (WHERE m = first), count(*) FILTER (WHERE m > first)
        FROM pm JOIN f USING (person) GROUP BY m""").fetchall()))
    got = {}
    for period, measure, value in published.execute(
            "SELECT period, measure, value FROM collab_measure WHERE case_key = 'eleutherai' "
            "AND repo = '*' AND stage = '*' AND period <> 'all' "
            "AND measure IN ('new_contributors', 'returning_contributors')").fetchall():
        new, ret = got.get(period, (0, 0))
        got[period] = (value, ret) if measure == "new_contributors" else (new, value)
    assert len(expected) > 24
    assert {m: v for m, v in got.items() if v != (0, 0)} == expected


def test_lifespan_and_short_lived_per_repo(published):
    for repo, months in published.execute("""
            SELECT repo, datediff('month', date_trunc('month', min(date AT TIME ZONE 'UTC')),
                                  date_trunc('month', max(date AT TIME ZONE 'UTC'))) + 1
            FROM commit_affiliation WHERE NOT inherited AND date IS NOT NULL
            GROUP BY repo""").fetchall():
        case = published.execute("SELECT any_value(case_key) FROM commit_affiliation "
                                 "WHERE repo = ?", [repo]).fetchone()[0]
        assert _m(published, case, "lifespan_months", repo=repo)["value"] == months
        assert _m(published, case, "short_lived", repo=repo)["value"] == float(months <= 2)


def test_outside_pr_merge_rate_against_ancestry_and_subjects(published):
    from llmcarto.analysis.affiliation import domain_index

    repo, case = "EleutherAI/lm-evaluation-harness", "eleutherai"
    index = domain_index(published)
    refs = {n for (n,) in published.execute(
        "SELECT DISTINCT unnest(pr_numbers) FROM git_commit WHERE repo = ?", [repo]).fetchall()}
    outside = merged = unknown = total = 0
    for number, domain, anc in published.execute(
            "SELECT DISTINCT ON (number) number, author_domain, merged_by_ancestry FROM git_pull "
            "WHERE repo = ? ORDER BY number, file", [repo]).fetchall():
        cls = index.classify(domain, case).cls
        total += 1
        unknown += cls == "unknown"
        if cls in ("external", "partner"):
            outside += 1
            merged += bool(anc) or number in refs
    got = _m(published, case, "outside_pr_merge_rate", repo=repo)
    assert outside >= MIN_N and got["n"] == outside
    assert got["value"] == pytest.approx(merged / outside)
    assert got["unknown_share"] == pytest.approx(unknown / total)


def test_small_samples_are_null_with_their_n(published):
    rows = published.execute(
        "SELECT measure, value, n, status, reason FROM collab_measure WHERE platform = 'git' "
        "AND measure IN ('external_share', 'elephant_factor', 'contributor_absence_factor', "
        "'organisational_diversity', 'outside_pr_merge_rate') AND n < ?", [MIN_N]).fetchall()
    assert rows
    for _measure, value, n, status, reason in rows:
        assert value is None and status == "insufficient data" and str(n) in reason


def test_hub_commits_are_distinct_and_bots_counted(published):
    from llmcarto.analysis.stages import case_index

    index = case_index(published)
    commits = bots = 0
    for repo_id, is_bot, coauthors in published.execute(
            "SELECT DISTINCT ON (repo_id, commit_hash) repo_id, author_is_bot, "
            "coauthors::VARCHAR FROM hf_commit ORDER BY repo_id, commit_hash").fetchall():
        if "bigscience" in index.cases_of_owner(repo_id):
            commits += 1
            bots += bool(is_bot) or CONVERT_BOT_EMAIL in (coauthors or "") \
                or '"is_bot":true' in (coauthors or "").replace(" ", "")
    got = _m(published, "bigscience", "commits", platform="hub")
    assert got["n"] == commits
    if commits >= MIN_N:
        assert got["value"] == commits
        assert _m(published, "bigscience", "bot_commits", platform="hub")["value"] == bots
    empty = _m(published, "huggingface", "commits", platform="hub")
    assert empty["value"] is None and empty["n"] == 0 and "no Hub commits" in empty["reason"]
    authors = [a for (a,) in published.execute(
        "SELECT DISTINCT author FROM hf_commit WHERE author IS NOT NULL").fetchall()]
    assert authors and all(a.startswith("hf-") for a in authors)


# ------------------------------------------------------------------------------- CLI

def test_export_measures_json_csv_and_errors(built_store: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from llmcarto.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["--db", str(built_store), "export", "measures", "--case",
                              "allenai", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["case"] == "allenai" and doc["measures"]
    assert {r["platform"] for r in doc["measures"]} == {"git", "hub"}
    assert all(r["evidence"].startswith("/evidence?case=allenai") for r in doc["measures"])
    out = tmp_path / "m.csv"
    res = runner.invoke(app, ["--db", str(built_store), "export", "measures", "--case",
                              "allenai", "--format", "csv", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("case_key,repo,stage,platform,period,measure,value,n")
    assert len(lines) == len(doc["measures"]) + 1
    bad = runner.invoke(app, ["--db", str(built_store), "export", "measures", "--case", "nope"])
    assert bad.exit_code != 0 and "no such case" in str(bad.exception)
