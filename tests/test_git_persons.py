"""Persons from the bundled (pseudonymised) git logs: merged identities with evidence."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcarto.analysis.affiliation import DomainIndex, classify_commit, person_periods
from llmcarto.analysis.persons import merge_persons
from llmcarto.sources.base import Skip
from llmcarto.sources.gitlog import ParsedCommit, commit_row, parse_git_log


def test_commit_counts_equal_repo_json(published):
    rows = published.execute("""
        SELECT r.repo, r.commits, (SELECT count(*) FROM git_commit c WHERE c.repo = r.repo)
        FROM git_repo r WHERE r.source = 'git-repo'""").fetchall()
    assert len(rows) == 28
    assert all(expected == got for _repo, expected, got in rows), rows
    placed = published.execute(
        "SELECT count(*) FROM git_commit_person WHERE person IS NOT NULL").fetchone()[0]
    assert placed == published.execute("SELECT count(*) FROM git_commit").fetchone()[0]


def test_a_known_person_with_two_names_and_four_addresses_merges(published):
    # In the bundle, name pseudonyms dev-d5e98f90f2 and dev-055a0bdae5 both write as
    # 9cf7c648e21f@eleuther.ai and dc88ffa8ae59@sutawika.com (author lines of
    # EleutherAI/lm-evaluation-harness and bigscience-workshop/promptsource).
    people = {r[0] for r in published.execute(
        "SELECT person FROM git_person_identity WHERE identity IN "
        "('dev-d5e98f90f2', 'dev-055a0bdae5', '9cf7c648e21f@eleuther.ai', "
        "'dc88ffa8ae59@sutawika.com', '06c9347bc805@konvergen.ai')").fetchall()}
    assert len(people) == 1
    person = people.pop()
    links = published.execute(
        "SELECT kind, a, b, n, source_url FROM git_person_link WHERE person = ? "
        "AND kind = 'author line'", [person]).fetchall()
    pairs = {(a, b) for _k, a, b, _n, _u in links}
    assert ("9cf7c648e21f@eleuther.ai", "dev-055a0bdae5") in pairs
    assert ("9cf7c648e21f@eleuther.ai", "dev-d5e98f90f2") in pairs
    assert all(u.startswith("https://github.com/") and n >= 1 for *_x, n, u in links)
    # the person's commits are those of its identities, counted independently
    expected = published.execute("""
        SELECT count(*) FROM git_commit WHERE author_name IN ('dev-d5e98f90f2',
            'dev-055a0bdae5', 'dev-17e8d70ea3') OR author_email IN (SELECT identity
            FROM git_person_identity WHERE person = ?)""", [person]).fetchone()[0]
    got = published.execute("SELECT commits FROM git_person WHERE person = ?",
                            [person]).fetchone()[0]
    assert got == expected > 900


def test_one_address_or_one_name_never_spans_two_persons(published):
    split_addresses = published.execute("""
        SELECT c.author_email, count(DISTINCT p.person) FROM git_commit c
        JOIN git_commit_person p USING (repo, sha)
        WHERE p.author_kind = 'person' AND c.author_email IN
              (SELECT identity FROM git_person_identity WHERE identity_kind = 'email')
        GROUP BY 1 HAVING count(DISTINCT p.person) > 1""").fetchall()
    assert split_addresses == []
    split_names = published.execute("""
        SELECT c.author_name, count(DISTINCT p.person) FROM git_commit c
        JOIN git_commit_person p USING (repo, sha)
        WHERE c.author_name IN (SELECT identity FROM git_person_identity
                                WHERE identity_kind = 'name' AND person LIKE 'dev-%')
          AND c.author_name IN (SELECT b FROM git_person_link)
        GROUP BY 1 HAVING count(DISTINCT p.person) > 1""").fetchall()
    assert split_names == []


def test_a_name_seen_only_at_machine_addresses_does_not_merge(published):
    # dev-ec78c48679 appears only with machine addresses (cluster nodes, a laptop) in four
    # unrelated repositories: typically a machine login, so each address stays its own.
    rows = published.execute("""
        SELECT DISTINCT c.author_email, p.person FROM git_commit c
        JOIN git_commit_person p USING (repo, sha) WHERE c.author_name = 'dev-ec78c48679'
    """).fetchall()
    assert len(rows) == 7
    assert len({person for _e, person in rows}) == len({e for e, _p in rows})
    assert all(person.startswith("id-") for _e, person in rows)
    # while two names that share a real address are one person
    two = published.execute("SELECT DISTINCT person FROM git_person_identity WHERE identity IN "
                            "('dev-29914571f0', 'dev-7bd756a8d0')").fetchall()
    assert len(two) == 1


def test_bots_are_kept_apart(published):
    bots = dict(published.execute("SELECT person, commits FROM git_person WHERE kind = 'bot'"
                                  ).fetchall())
    expected = published.execute("""SELECT count(*) FROM git_commit
        WHERE author_email = 'github-actions@github.com'""").fetchone()[0]
    assert bots["bot:github-actions"] == expected == 73
    assert bots["bot:dependabot[bot]"] == 24
    assert published.execute("""SELECT count(*) FROM git_person_identity WHERE identity IN
        ('github-actions@github.com', 'noreply@github.com', 'noreply@anthropic.com')""").fetchone(
    )[0] == 0
    coauthored = dict(published.execute(
        "SELECT person, coauthored FROM git_person WHERE kind = 'bot'").fetchall())
    claude = published.execute("""
        SELECT count(DISTINCT (repo, sha)) FROM (SELECT repo, sha,
               unnest(from_json(trailers, '["json"]')) AS t FROM git_commit)
        WHERE t->>'email' = 'noreply@anthropic.com' AND t->>'key' = 'Co-authored-by'
    """).fetchone()[0]
    assert coauthored["bot:Claude"] == claude == 199


# --- damaged logs through parser, persons and classes ------------------------------------

_OPS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "garbage", "swap"]),
                          st.floats(0, 1, exclude_max=True),
                          st.sampled_from(["commit " + "cd" * 20, "Author: x <y", "Author:",
                                           "AuthorDate: 2024-13-01", "    Co-authored-by: <>",
                                           "    Co-authored-by: z", "-\t-\t", "Merge: 1",
                                           "\x00", "é" * 30, ""])),
                min_size=1, max_size=10)


@pytest.fixture(scope="module")
def megatron_head() -> list[str]:
    """The first 30 commit blocks of bigscience-workshop/Megatron-DeepSpeed's bundled log."""
    from llmcarto.commands.git_bench import bundled_log

    lines, _pulls = bundled_log("bigscience-workshop/Megatron-DeepSpeed")
    starts = [i for i, line in enumerate(lines) if line.startswith("commit ")]
    return [line.rstrip("\n") for line in lines[:starts[30]]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_damaged_logs_never_crash_and_the_bad_record_is_reported(megatron_head, ops):
    work = list(megatron_head)
    for op, where, text in ops:
        i = int(where * len(work))
        if op == "delete" and work:
            del work[i]
        elif op == "duplicate" and work:
            work.insert(i, work[i])
        elif op == "swap" and len(work) > 1:
            j = (i + 7) % len(work)
            work[i], work[j] = work[j], work[i]
        else:
            work.insert(i, text)
    items = list(parse_git_log(work, "damaged.log"))
    commits = [i for i in items if isinstance(i, ParsedCommit)]
    skips = [i for i in items if isinstance(i, Skip)]
    for skip in skips:
        assert skip.file == "damaged.log" and skip.loc.startswith("line ") and skip.reason
    rows = [{**commit_row(c, "bigscience-workshop/Megatron-DeepSpeed"), "source": "git-commits"}
            for c in commits]
    persons = merge_persons(rows)
    assert set(persons.commits) == {(r["repo"], r["sha"]) for r in rows}
    index = DomainIndex([{"case_key": "bigscience", "domain": "nvidia.com", "class": "partner",
                          "organisation": "NVIDIA", "source_url": None}],
                        {"bigscience": "BigScience"}, [])
    people = {k: v["person"] for k, v in persons.commits.items()}
    enriched = [{**r, "person": people[(r["repo"], r["sha"])]} for r in rows]
    periods = person_periods(enriched, index)
    for r in enriched:
        out = classify_commit(r, "bigscience", index, periods)
        assert out["author_class"] in ("internal", "partner", "external", "unknown", "bot")
    # nothing is lost silently: every commit line left in the log is read or reported
    parsed = {c.sha for c in commits}
    reasons = " ".join(s.reason for s in skips)
    for line in work:
        if re.match(r"^commit [0-9a-f]{40}( [0-9a-f]{40})*$", line):
            sha = line.split()[1]
            assert sha in parsed or f"commit {sha[:12]}" in reasons, sha


def test_merged_persons_and_their_cited_examples_do_not_depend_on_row_order(published):
    """The same commits in reverse order give the same persons, identities and links,
    including which commit each link cites (earliest date, ties broken by the commit)."""
    from llmcarto.analysis.stages import COMMITS_SQL

    cur = published.execute(
        "SELECT repo, sha, source, author_name, author_email, author_date, committer_name, "
        "committer_email, trailers, file, loc, snapshot_id, snapshot_date, source_url "
        f"FROM ({COMMITS_SQL}) WHERE repo IN (SELECT repo FROM git_commit GROUP BY repo "
        "ORDER BY count(*) DESC LIMIT 3)")
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(rows) > 1000
    a, b = merge_persons(rows), merge_persons(list(reversed(rows)))

    def canon(table):
        return sorted(repr(sorted(r.items())) for r in table)

    assert len(a.links) > 100
    for name in ("persons", "identities", "links"):
        assert canon(getattr(a, name)) == canon(getattr(b, name)), name
