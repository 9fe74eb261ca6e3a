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
    MONTHLY_GIT,
    MONTHLY_HUB,
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


# ------------------------------------------------------------------- monthly series

def _monthly(con, case, measure, repo="*", stage="*", platform="git"):
    return {p: (v, n) for p, v, n in con.execute(
        "SELECT period, value, n FROM collab_measure WHERE case_key = ? AND repo = ? "
        "AND stage = ? AND platform = ? AND measure = ? AND period <> 'all'",
        [case, repo, stage, platform, measure]).fetchall()}


def test_monthly_repo_series_against_the_raw_commit_tables(published):
    """allenai/OLMo-core (no inherited history): monthly commits and contributors from
    git_commit / git_commit_person, new and returning from first months, external share
    from the commits' classes — none of it through analysis.measures."""
    repo, case = "allenai/OLMo-core", "allenai"
    assert not published.execute("SELECT count(*) FROM commit_affiliation WHERE repo = ? "
                                 "AND inherited", [repo]).fetchone()[0]
    raw = published.execute("""
        SELECT strftime(c.author_date AT TIME ZONE 'UTC', '%Y-%m') AS m,
               count(DISTINCT c.sha) AS commits,
               count(DISTINCT p.person) FILTER (WHERE p.author_kind = 'person') AS people
        FROM git_commit c LEFT JOIN git_commit_person p USING (repo, sha)
        WHERE c.repo = ? GROUP BY 1""", [repo]).fetchall()
    assert len(raw) >= 6
    commits, people = _monthly(published, case, "commits", repo), \
        _monthly(published, case, "contributors", repo)
    assert {m: c for m, c, _ in raw} == {m: v for m, (v, _n) in commits.items()}
    assert {m: p for m, _, p in raw} == {m: v for m, (v, _n) in people.items()}
    first = dict(published.execute("""
        SELECT p.person, min(strftime(c.author_date AT TIME ZONE 'UTC', '%Y-%m'))
        FROM git_commit c JOIN git_commit_person p USING (repo, sha)
        WHERE c.repo = ? AND p.author_kind = 'person' GROUP BY 1""", [repo]).fetchall())
    active = published.execute("""
        SELECT DISTINCT p.person, strftime(c.author_date AT TIME ZONE 'UTC', '%Y-%m')
        FROM git_commit c JOIN git_commit_person p USING (repo, sha)
        WHERE c.repo = ? AND p.author_kind = 'person'""", [repo]).fetchall()
    new = {m: sum(1 for p, mm in active if mm == m and first[p] == m) for m in commits}
    ret = {m: sum(1 for p, mm in active if mm == m and first[p] < m) for m in commits}
    assert new == {m: v for m, (v, _) in _monthly(published, case, "new_contributors",
                                                    repo).items()}
    assert ret == {m: v for m, (v, _) in _monthly(published, case, "returning_contributors",
                                                    repo).items()}
    assert sum(ret.values()) > 0 and sum(new.values()) == len(first)
    shares = _monthly(published, case, "external_share", repo)
    checked = 0
    for m, ext, known, unknown in published.execute("""
            SELECT strftime(date AT TIME ZONE 'UTC', '%Y-%m'),
                   count(*) FILTER (WHERE author_class = 'external'),
                   count(*) FILTER (WHERE author_class IN ('internal', 'partner', 'external')),
                   count(*) FILTER (WHERE author_class = 'unknown')
            FROM commit_affiliation WHERE repo = ? AND NOT inherited GROUP BY 1""",
                                                    [repo]).fetchall():
        value, n = shares[m]
        assert n == known
        row = _m(published, case, "external_share", repo=repo, period=m)
        assert row["unknown_share"] == pytest.approx(unknown / (known + unknown))
        if known >= MIN_N:
            assert value == pytest.approx(ext / known)
            checked += 1
        else:
            assert value is None and row["status"] == "insufficient data"
    assert checked >= 3


def test_monthly_stage_cell_against_the_stage_traces(published):
    """A (case, repo, stage) cell's monthly commits and organisations, counted in SQL over
    stage_trace ⋈ commit_affiliation."""
    case, repo, stage = "eleutherai", "EleutherAI/lm-evaluation-harness", "post-release"
    want = {m: (c, o) for m, c, o in published.execute("""
        SELECT strftime(t.date AT TIME ZONE 'UTC', '%Y-%m'), count(*),
               count(DISTINCT a.author_org) FILTER (
                   WHERE a.author_class IN ('internal', 'partner', 'external'))
        FROM stage_trace t JOIN commit_affiliation a
          ON t.case_key = a.case_key AND t.item_key = a.repo || '@' || a.sha
        WHERE t.item_kind = 'commit' AND t.case_key = ? AND a.repo = ? AND t.stage = ?
        GROUP BY 1""", [case, repo, stage]).fetchall()}
    assert len(want) > 12
    commits = _monthly(published, case, "commits", repo, stage)
    orgs = _monthly(published, case, "organisations", repo, stage)
    assert {m: (commits[m][0], orgs[m][0]) for m in commits} == want


def test_monthly_commits_add_up_to_the_overall_commits_in_every_cell(published):
    cells = published.execute("""
        SELECT platform, case_key, repo, stage,
               max(n) FILTER (WHERE period = 'all') AS overall,
               sum(n) FILTER (WHERE period <> 'all') AS monthly,
               max(value) FILTER (WHERE period = 'all') AS value,
               sum(value) FILTER (WHERE period <> 'all') AS monthly_value,
               count(*) FILTER (WHERE period <> 'all') AS months
        FROM collab_measure WHERE measure = 'commits' GROUP BY ALL""").fetchall()
    git = [c for c in cells if c[0] == "git"]
    assert len(git) > 50 and all(c[8] > 0 for c in git)
    for platform, case, repo, stage, overall, monthly, value, mvalue, _months in cells:
        assert (monthly or 0) == overall, (platform, case, repo, stage)
        if value is not None and platform == "git":
            assert mvalue == value, (case, repo, stage)
    # every git cell has the whole monthly series, one row per measure and month
    per = dict(published.execute("""
        SELECT measure, count(*) FROM collab_measure WHERE platform = 'git'
        AND period <> 'all' GROUP BY 1""").fetchall())
    assert set(per) == set(MONTHLY_GIT) == {"commits", "contributors", "new_contributors",
                                            "returning_contributors", "external_share",
                                            "organisations", "organisational_diversity",
                                            "elephant_factor", "contributor_absence_factor"}
    assert {m for (m,) in published.execute(
        "SELECT DISTINCT measure FROM collab_measure WHERE platform = 'hub' "
        "AND period <> 'all'").fetchall()} == set(MONTHLY_HUB)
    assert len(set(per.values())) == 1


def test_hub_monthly_rows_against_hf_commit(published):
    from llmcarto.analysis.stages import case_index

    index = case_index(published)
    want: dict[str, dict[str, int]] = {}
    commits = published.execute("""
        SELECT repo_id, min(strftime(date AT TIME ZONE 'UTC', '%Y-%m')),
               count(DISTINCT strftime(date AT TIME ZONE 'UTC', '%Y-%m'))
        FROM hf_commit GROUP BY repo_id, commit_hash""").fetchall()
    assert all(k == 1 for _r, _m, k in commits)  # one month per (repo, commit)
    for repo_id, month, _k in commits:
        for case in index.cases_of_owner(repo_id):
            want.setdefault(case, {}).setdefault(month, 0)
            want[case][month] += 1
    assert want.get("bigscience")
    for case, months in want.items():
        got = _monthly(published, case, "commits", platform="hub")
        assert {m: n for m, (_v, n) in got.items()} == months
        overall = _m(published, case, "commits", platform="hub")
        if overall["value"] is None:  # too few Hub commits: every month null too
            assert all(v is None for v, _n in got.values())
        else:
            assert {m: v for m, (v, _n) in got.items()} == months


def test_every_commits_row_links_to_exactly_its_items(published):
    """The evidence link of each `commits` row (git and Hub, overall and monthly), read
    back with the atlas' own filter, selects exactly n traces."""
    from urllib.parse import parse_qsl, urlsplit

    from llmcarto.atlas.queries import EvidenceFilter

    rows = published.execute("SELECT n, evidence FROM collab_measure "
                             "WHERE measure = 'commits' AND n > 0").fetchall()
    assert len(rows) > 1000
    seen = set()
    for n, url in rows:
        flt = EvidenceFilter(**dict(parse_qsl(urlsplit(url).query)))
        seen.update(name for name, _ in flt.items())
        where, params = flt.where()
        assert published.execute(f"SELECT count(*) FROM stage_trace {where}",
                                 params).fetchone()[0] == n, url
    assert {"repo", "month", "stage", "kind", "case"} <= seen


# ----------------------------------------------------------------------- exports

def test_export_measures_parquet_and_period(built_store: Path, tmp_path: Path):
    import duckdb
    from typer.testing import CliRunner

    from llmcarto.cli import app
    from llmcarto.commands.measures import MEASURE_FIELDS

    runner = CliRunner()
    base = ["--db", str(built_store), "export", "measures", "--case", "eleutherai"]
    docs = {}
    for period in ("overall", "monthly", "both"):
        res = runner.invoke(app, [*base, "--period", period])
        assert res.exit_code == 0, res.output
        docs[period] = json.loads(res.output)["measures"]
    assert docs["overall"] and all(r["period"] == "all" for r in docs["overall"])
    assert docs["monthly"] and all(r["period"] != "all" for r in docs["monthly"])
    assert len(docs["both"]) == len(docs["overall"]) + len(docs["monthly"])
    out = tmp_path / "m.parquet"
    res = runner.invoke(app, [*base, "--format", "parquet", "--out", str(out)])
    assert res.exit_code == 0, res.output
    con = duckdb.connect()
    cur = con.execute(f"SELECT {', '.join(MEASURE_FIELDS)} FROM read_parquet(?)", [str(out)])
    back = [dict(zip(MEASURE_FIELDS, r, strict=True)) for r in cur.fetchall()]
    assert back == docs["both"]
    assert dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                            "read_parquet(?))", [str(out)]).fetchall())["n"] == "INTEGER"
    for args, message in (([*base, "--format", "parquet"], "give --out"),
                          ([*base, "--period", "weekly"], "--period 'weekly'"),
                          ([*base, "--format", "xml"], "--format 'xml'")):
        bad = runner.invoke(app, args)
        assert bad.exit_code != 0 and message in str(bad.exception), bad.output


def test_readme_measures_block_is_generated(published):
    from llmcarto.analysis.measures import BLOCK_BEGIN, BLOCK_END, readme_block

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start, end = readme.find(BLOCK_BEGIN), readme.find(BLOCK_END)
    assert 0 <= start < end, "README.md lost its measures block"
    block = readme_block(published)
    assert "`bigscience`" in block
    assert readme[start + len(BLOCK_BEGIN):end] == block, \
        "README measures block drifted: run `make readme-numbers`"


def _half(counts):
    """Smallest number of the largest counts reaching half the total (written apart)."""
    values, run, k = sorted(counts, reverse=True), 0, 0
    while 2 * run < sum(values):
        run += values[k]
        k += 1
    return k


def test_monthly_factors_against_independent_sql(published):
    """Contributor absence factor per month (allenai/OLMo-core) and elephant factor and
    diversity per month (EleutherAI) from commit_affiliation, null under 10 observations."""
    repo = "allenai/OLMo-core"
    per_month: dict[str, list[int]] = {}
    for month, n in published.execute("""
            SELECT strftime(date AT TIME ZONE 'UTC', '%Y-%m'), count(*) FROM commit_affiliation
            WHERE repo = ? AND NOT inherited AND author_class <> 'bot' AND person IS NOT NULL
            GROUP BY 1, person""", [repo]).fetchall():
        per_month.setdefault(month, []).append(n)
    got = _monthly(published, "allenai", "contributor_absence_factor", repo)
    checked = 0
    for month, counts in per_month.items():
        value, n = got[month]
        assert n == sum(counts)
        if n >= MIN_N:
            assert value == _half(counts)
            checked += 1
        else:
            assert value is None
    assert checked >= 3
    orgs: dict[str, dict[str, int]] = {}
    for month, org, n in published.execute("""
            SELECT strftime(date AT TIME ZONE 'UTC', '%Y-%m'), author_org, count(*)
            FROM commit_affiliation WHERE case_key = 'eleutherai' AND NOT inherited
              AND author_class IN ('internal', 'partner', 'external') AND author_org IS NOT NULL
            GROUP BY 1, 2""").fetchall():
        orgs.setdefault(month, {})[org] = n
    elephant = _monthly(published, "eleutherai", "elephant_factor")
    diversity = _monthly(published, "eleutherai", "organisational_diversity")
    checked = 0
    for month, by_org in orgs.items():
        total = sum(by_org.values())
        assert elephant[month][1] == diversity[month][1] == total
        if total >= MIN_N:
            assert elephant[month][0] == _half(by_org.values())
            assert diversity[month][0] == pytest.approx(
                1 - sum((v / total) ** 2 for v in by_org.values()))
            checked += 1
        else:
            assert elephant[month][0] is None and diversity[month][0] is None
    assert checked >= 3


def test_hub_commits_per_model_repo_against_hf_commit(published):
    """One row set per (case, model repo): distinct (repo, commit) pairs of the case's
    owners, counted here straight from hf_commit."""
    from llmcarto.analysis.stages import case_index

    index = case_index(published)
    want = {}
    for repo_id, n in published.execute("SELECT repo_id, count(DISTINCT commit_hash) "
                                        "FROM hf_commit GROUP BY 1").fetchall():
        for case in index.cases_of_owner(repo_id):
            want[(case, repo_id)] = n
    got = {(c, r): v for c, r, v in published.execute(
        "SELECT case_key, repo, value FROM collab_measure WHERE platform = 'hub' "
        "AND repo <> '*' AND measure = 'commits' AND period = 'all'").fetchall()}
    assert want and got == want
    for (case, repo_id), n in want.items():
        if n < MIN_N:  # ratios stay null on a handful of commits; counts are given
            assert _m(published, case, "bot_share", repo=repo_id, platform="hub")["value"] \
                is None
