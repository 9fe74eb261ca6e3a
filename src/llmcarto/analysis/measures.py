"""Collaboration measures per case, repository, lifecycle stage and platform (design.md §5).

The measures are pure functions over plain values (each docstring cites its definition);
`collab_rows` feeds them the store's derived tables (`commit_affiliation`, `stage_trace`,
`git_pull`, `hf_commit`) and `write_measure_tables` keeps the result as the derived table
`collab_measure`, one row per (case, repo, stage, platform, period, measure):

- repo `*` is the whole case, stage `*` all stages; period `all` or a calendar month
  `YYYY-MM` (author date, UTC). Every git cell has monthly rows for `MONTHLY_GIT`
  (commits, contributors, new and returning contributors, external share with its
  unknown share, organisations, organisational diversity, elephant factor, contributor
  absence factor); each case's Hub cell and each of its model repos for `MONTHLY_HUB`;
- platform `git` (the cases' repositories, own commits: inherited upstream history is left
  out) or `hub` (Hugging Face model-repo commits of the case's owners, bundled data);
- a ratio or factor over fewer than `MIN_N` observations is **null** with status
  `insufficient data` and its n; counts are always given;
- `evidence` is the atlas evidence link of the items behind the number, narrowed to the
  cell's repository, stage (`own` = every stage but inherited) and month.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from llmcarto.analysis.stages import COMMIT_TRACE_ON, COMMITS_SQL, case_index, has_table

MIN_N = 10
# The safetensors conversion bot appears only in Co-authored-by trailers, under this
# pseudonymised address (shared data README, "hf-commits" privacy notes).
CONVERT_BOT_EMAIL = "b364c2a21654@users.noreply.huggingface.co"
SHORT_LIVED_MONTHS = 2
DECAY_WINDOW_MONTHS = 6
COLLAB_MEASURE_COLUMNS = (
    "case_key VARCHAR, repo VARCHAR, stage VARCHAR, platform VARCHAR, period VARCHAR, "
    "measure VARCHAR, value DOUBLE, n INTEGER, unknown_share DOUBLE, status VARCHAR, "
    "reason VARCHAR, evidence VARCHAR")
KNOWN = ("internal", "partner", "external")
ALL = "*"
OWN_STAGE = "own"  # the evidence view's "every stage but inherited" (atlas.queries)
MONTHLY_GIT = ("commits", "contributors", "new_contributors", "returning_contributors",
               "external_share", "organisations", "organisational_diversity",
               "elephant_factor", "contributor_absence_factor")
MONTHLY_HUB = ("commits", "bot_commits", "contributors")


# ------------------------------------------------------------------- pure measures


def month_of(value: datetime | date) -> str:
    """The calendar month `YYYY-MM` of an author date (already UTC in the store)."""
    return f"{value.year:04d}-{value.month:02d}"


def _month_index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def half_share_count(counts: Iterable[int]) -> int:
    """The smallest number of the largest counts that together reach 50 % of the total."""
    values = sorted((c for c in counts if c > 0), reverse=True)
    total, running = sum(values), 0
    for i, c in enumerate(values, 1):
        running += c
        if 2 * running >= total:
            return i
    return 0


def contributor_absence_factor(commits_by_person: Mapping[str, int]) -> int:
    """CHAOSS "Contributor Absence Factor" (formerly bus factor): the smallest number of
    contributors whose commits make up 50 % of all commits."""
    return half_share_count(commits_by_person.values())


def elephant_factor(commits_by_org: Mapping[str, int]) -> int:
    """CHAOSS "Elephant Factor": the smallest number of organisations whose contributors
    made 50 % of the commits — here over commits with a known organisation only (design.md
    §5: the unknown share is shown beside it, never folded in)."""
    return half_share_count(commits_by_org.values())


def organisational_diversity(commits_by_org: Mapping[str, int]) -> float | None:
    """CHAOSS "Organizational Diversity", as the Gini–Simpson index of commits over known
    organisations: 1 − Σ pᵢ² (0 = one organisation, → 1 = many equal ones); the
    probability that two commits drawn at random come from different organisations."""
    total = sum(commits_by_org.values())
    if not total:
        return None
    return 1.0 - sum((c / total) ** 2 for c in commits_by_org.values())


def external_share(class_counts: Mapping[str, int]) -> tuple[float | None, float | None]:
    """design.md §4: external / (internal + partner + external), and beside it the unknown
    share unknown / (internal + partner + external + unknown); bots are left out."""
    known = sum(class_counts.get(c, 0) for c in KNOWN)
    unknown = class_counts.get("unknown", 0)
    ext = class_counts.get("external", 0) / known if known else None
    return ext, (unknown / (known + unknown) if known + unknown else None)


def new_and_returning(person_months: Iterable[tuple[str, str]]
                      ) -> dict[str, tuple[int, int]]:
    """CHAOSS "New Contributors" / returning contributors by calendar month (design.md §5):
    in month m a contributor is new when m is their first month with a commit, returning
    when they authored a commit in an earlier month. → {month: (new, returning)}."""
    first: dict[str, str] = {}
    active: dict[str, set[str]] = defaultdict(set)
    for person, month in person_months:
        active[month].add(person)
        if person not in first or month < first[person]:
            first[person] = month
    return {m: (sum(first[p] == m for p in ps), sum(first[p] < m for p in ps))
            for m, ps in sorted(active.items())}


def lifespan_months(months: Iterable[str]) -> int | None:
    """The study's "projects that live one or two months", measured as calendar months
    from the first to the last own commit, both included (a repository whose commits all
    fall in one month lives 1 month). Short-lived: ≤ `SHORT_LIVED_MONTHS`."""
    ms = sorted(set(months))
    return _month_index(ms[-1]) - _month_index(ms[0]) + 1 if ms else None


def activity_decay(commits_by_month: Mapping[str, int], snapshot_month: str,
                   window: int = DECAY_WINDOW_MONTHS) -> float | None:
    """Activity decay (our definition): 1 − recent / peak, where recent is the number of
    commits in the `window` calendar months ending at the snapshot month and peak the most
    commits in any `window` consecutive months. 0 = as active as ever, 1 = stopped. The
    reference month is the last month the data covers (the newest own commit in the store),
    not the build date, so an old snapshot does not read as decay."""
    if not commits_by_month:
        return None
    idx = {_month_index(m): c for m, c in commits_by_month.items()}
    end = _month_index(snapshot_month)
    lo = min(idx)
    peak = max(sum(idx.get(s + k, 0) for k in range(window)) for s in range(lo, max(idx) + 1))
    recent = sum(idx.get(end - k, 0) for k in range(window))
    return 1.0 - min(recent, peak) / peak if peak else None


def merge_rate(prs: Iterable[tuple[str, bool]], classes: Sequence[str] = ("partner", "external")
               ) -> tuple[float | None, int]:
    """Outside-PR merge rate (the study's openness to outside work): merged / all over pull
    requests whose head author is in `classes` (external or partner); merged = the head is
    an ancestor of the default branch or a commit subject references the PR (`(#n)`)."""
    chosen = [merged for cls, merged in prs if cls in classes]
    return (sum(chosen) / len(chosen) if chosen else None), len(chosen)


# -------------------------------------------------------------------- reading the store


@dataclass
class Group:
    """The observations of one (case, repo, stage, platform) cell."""

    commits: int = 0
    persons: Counter = None  # type: ignore[assignment]
    orgs: Counter = None  # type: ignore[assignment]
    classes: Counter = None  # type: ignore[assignment]
    months: Counter = None  # type: ignore[assignment]
    person_months: set = None  # type: ignore[assignment]
    prs: list = None  # type: ignore[assignment]
    bots: int = 0
    repos: set = None  # type: ignore[assignment]
    month_classes: Counter = None  # type: ignore[assignment]  # (month, class) → commits
    month_orgs: dict = None  # type: ignore[assignment]  # month → Counter(known organisation)
    month_bots: Counter = None  # type: ignore[assignment]
    month_person_commits: Counter = None  # type: ignore[assignment]  # (month, person) → n

    def __post_init__(self) -> None:
        self.persons, self.orgs, self.classes, self.months = Counter(), Counter(), Counter(), \
            Counter()
        self.person_months, self.prs, self.repos = set(), [], set()
        self.month_classes, self.month_orgs, self.month_bots = Counter(), \
            defaultdict(Counter), Counter()
        self.month_person_commits = Counter()

    def month_persons(self) -> dict[str, set[str]]:
        """month → the persons (pseudonyms) with a commit in it."""
        out: dict[str, set[str]] = defaultdict(set)
        for person, month in self.person_months:
            out[month].add(person)
        return out


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def _evidence(case: str, stage: str, kind: str, repo: str = ALL, period: str = "all") -> str:
    """The evidence link of a cell: its case, repository, stage and month. Stage `*` of
    commits is `own` (inherited upstream commits are not counted, so not listed)."""
    from llmcarto.atlas.links import evidence_url

    stage_filter = (OWN_STAGE if kind == "commit" else None) if stage == ALL else stage
    return evidence_url(case=case, stage=stage_filter, kind=kind,
                        repo=None if repo == ALL else repo,
                        month=None if period == "all" else period)


def _row(case: str, repo: str, stage: str, platform: str, period: str, measure: str,
         value: float | None, n: int, unknown: float | None, evidence: str,
         reason: str | None = None, ratio: bool = True) -> dict[str, Any]:
    status = "ok"
    if value is None and reason is None:
        status, reason = "insufficient data", f"no observations (n={n})"
    elif ratio and n < MIN_N:
        status, value, reason = "insufficient data", None, \
            f"n={n} observations, fewer than {MIN_N}"
    elif value is None:
        status = "not available"
    return {"case_key": case, "repo": repo, "stage": stage, "platform": platform,
            "period": period, "measure": measure, "value": value, "n": n,
            "unknown_share": unknown, "status": status, "reason": reason,
            "evidence": evidence}


def git_groups(con: duckdb.DuckDBPyConnection) -> tuple[dict[tuple, Group], str | None]:
    """Own commits and PR heads of every case, in cells (case, repo|*, stage|*)."""
    groups: dict[tuple, Group] = defaultdict(Group)
    snapshot = None
    if not (has_table(con, "commit_affiliation") and has_table(con, "stage_trace")):
        return groups, snapshot
    for case, repo, person, month, cls, org, stage in _rows(con, f"""
            SELECT a.case_key, a.repo, a.person,
                   strftime(a.date AT TIME ZONE 'UTC', '%Y-%m'), a.author_class, a.author_org,
                   coalesce(t.stage, 'unknown')
            FROM commit_affiliation a LEFT JOIN stage_trace t ON {COMMIT_TRACE_ON}
            WHERE NOT a.inherited"""):
        if month is not None and (snapshot is None or month > snapshot):
            snapshot = month
        for key in {(case, r, s) for r in (repo, ALL) for s in (stage, ALL)}:
            g = groups[key]
            g.commits += 1
            g.repos.add(repo)
            if month:
                g.months[month] += 1
            if cls == "bot":
                g.bots += 1
                if month:
                    g.month_bots[month] += 1
                continue
            g.classes[cls] += 1
            if month:
                g.month_classes[(month, cls)] += 1
            if person:
                g.persons[person] += 1
                if month:
                    g.person_months.add((person, month))
                    g.month_person_commits[(month, person)] += 1
            if cls in KNOWN and org:
                g.orgs[org] += 1
                if month:
                    g.month_orgs[month][org] += 1
    if has_table(con, "git_pull"):
        from llmcarto.analysis.affiliation import domain_index

        index, cases = domain_index(con), case_index(con)
        referenced = {(r.lower(), n) for r, n in _rows(
            con, f"SELECT repo, unnest(pr_numbers) FROM ({COMMITS_SQL})")}
        stages = dict(_rows(con, "SELECT case_key || ' ' || item_key, stage FROM stage_trace "
                                 "WHERE item_kind = 'pull-request'"))
        for repo, number, domain, merged in _rows(con, """
                SELECT DISTINCT ON (lower(repo), number) repo, number, author_domain,
                       merged_by_ancestry FROM git_pull
                ORDER BY lower(repo), number, (source = 'git-clone') DESC, file"""):
            done = bool(merged) or (repo.lower(), number) in referenced
            for case, _roles, _fp, _sync in cases.repos.get(repo.lower(), ()):
                cls = index.classify(domain, case).cls
                stage = stages.get(f"{case} {repo}#{number}", "unknown")
                for key in {(case, r, s) for r in (repo, ALL) for s in (stage, ALL)}:
                    groups[key].prs.append((cls, done))
    return groups, snapshot


def git_measure_rows(groups: Mapping[tuple, Group], snapshot_month: str | None
                     ) -> list[dict[str, Any]]:
    """The git rows of every cell: overall (`all`) and per calendar month."""
    out: list[dict[str, Any]] = []
    for (case, repo, stage), g in sorted(groups.items()):
        ev = _evidence(case, stage, "commit", repo)
        pr_ev = _evidence(case, stage, "pull-request", repo)
        known = sum(g.classes[c] for c in KNOWN)
        people = sum(g.classes.values())
        ext, unknown = external_share(g.classes)
        org_n = sum(g.orgs.values())

        def add(measure: str, value: float | None, n: int, unk: float | None = unknown,
                reason: str | None = None, ratio: bool = True, evidence: str = ev,
                period: str = "all", cell: tuple = (case, repo, stage)) -> None:
            out.append(_row(*cell, "git", period, measure, value, n, unk,
                            evidence, reason, ratio))

        add("commits", g.commits, g.commits, ratio=False,
            reason=f"{g.bots} by bots; inherited upstream commits left out")
        add("contributors", len(g.persons), people, ratio=False)
        months_of: Counter = Counter(p for p, _m in g.person_months)
        returning = sum(1 for count in months_of.values() if count > 1)
        add("returning_contributors", returning, people, ratio=False,
            reason="contributors with commits in more than one calendar month")
        add("external_share", ext, known)
        add("organisations", len(g.orgs), org_n, ratio=False,
            reason="distinct registered organisations of the authors (known class only)")
        add("organisational_diversity", organisational_diversity(g.orgs), org_n,
            reason=None if g.orgs else "no commit with a known organisation")
        add("elephant_factor", elephant_factor(g.orgs) if g.orgs else None, org_n,
            reason=None if g.orgs else "no commit with a known organisation")
        add("contributor_absence_factor",
            contributor_absence_factor(g.persons) if g.persons else None,
            sum(g.persons.values()))
        rate, n_out = merge_rate(g.prs)
        pr_unknown = (sum(c == "unknown" for c, _ in g.prs) / len(g.prs)) if g.prs else None
        add("outside_pr_merge_rate", rate, n_out, pr_unknown, evidence=pr_ev,
            reason=None if g.prs else "no pull-request heads")
        rate_u, n_u = merge_rate(g.prs, ("unknown",))
        add("unknown_author_pr_merge_rate", rate_u, n_u, pr_unknown, evidence=pr_ev,
            reason=None if g.prs else "no pull-request heads")
        if stage == ALL:
            life = lifespan_months(g.months)
            add("lifespan_months", life, g.commits, None, ratio=False)
            if repo != ALL and life is not None:
                add("short_lived", float(life <= SHORT_LIVED_MONTHS), g.commits, None,
                    reason=f"1 when the lifespan is at most {SHORT_LIVED_MONTHS} months",
                    ratio=False)
            decay = activity_decay(g.months, snapshot_month) if snapshot_month else None
            add("activity_decay", decay, g.commits, None,
                reason=None if snapshot_month else "no dated commit")
        nr = new_and_returning(g.person_months)
        persons = g.month_persons()
        person_commits: dict[str, Counter] = defaultdict(Counter)
        for (mo, person), k in g.month_person_commits.items():
            person_commits[mo][person] = k
        for month, count in sorted(g.months.items()):
            mc = {c: g.month_classes[(month, c)] for c in (*KNOWN, "unknown")}
            m_ext, m_unknown = external_share(mc)
            m_known = sum(mc[c] for c in KNOWN)
            m_people = sum(mc.values())
            new, ret = nr.get(month, (0, 0))
            m_ev = _evidence(case, stage, "commit", repo, month)

            def monthly(measure: str, value: float | None, n: int, ratio: bool = False,
                        reason: str | None = None, m: str = month, ev: str = m_ev,
                        unk: float | None = m_unknown) -> None:
                add(measure, value, n, unk, reason=reason, ratio=ratio, evidence=ev, period=m)

            monthly("commits", count, count, reason=f"{g.month_bots[month]} by bots")
            monthly("contributors", len(persons.get(month, ())), m_people)
            monthly("new_contributors", new, m_people,
                    reason="first calendar month with a commit in this cell")
            monthly("returning_contributors", ret, m_people,
                    reason="authored a commit in this cell in an earlier calendar month")
            monthly("external_share", m_ext, m_known, ratio=True)
            m_orgs = g.month_orgs.get(month, Counter())
            monthly("organisations", len(m_orgs), sum(m_orgs.values()),
                    reason="distinct registered organisations of the month's authors "
                    "(known class only)")
            org_n = sum(m_orgs.values())
            no_org = None if m_orgs else "no commit with a known organisation this month"
            monthly("organisational_diversity", organisational_diversity(m_orgs), org_n,
                    ratio=True, reason=no_org)
            monthly("elephant_factor", elephant_factor(m_orgs) if m_orgs else None, org_n,
                    ratio=True, reason=no_org)
            by_person = person_commits.get(month, Counter())
            monthly("contributor_absence_factor",
                    contributor_absence_factor(by_person) if by_person else None,
                    sum(by_person.values()), ratio=True)
    return out


def is_hub_bot(author_is_bot: bool | None, coauthors: Any) -> bool:
    """A Hub commit is a bot's when its author is a bot or a co-author trailer names one
    (per-co-author `is_bot`, or the safetensors conversion bot's documented address)."""
    if author_is_bot:
        return True
    items = json.loads(coauthors) if isinstance(coauthors, str) else coauthors or []
    return any(c.get("is_bot") or (c.get("email") or "").lower() == CONVERT_BOT_EMAIL
               for c in items)


def hub_measure_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per case, overall and per calendar month (commit date, UTC): distinct (repo, commit)
    Hub commits of the case's owners, bots vs people (pseudonymous `hf-…` authors only),
    distinct repos; every cell of a case with fewer than `MIN_N` Hub commits is null with
    the reason (its n kept). Per model repo, overall and per month: the same counts, with
    the ratios null under `MIN_N` commits as everywhere."""
    if not has_table(con, "case_info"):
        return []
    index = case_index(con)
    groups: dict[str, Group] = {c: Group() for c in sorted(index.cases)}
    per_repo: dict[tuple[str, str], Group] = defaultdict(Group)
    if has_table(con, "hf_commit"):
        for repo_id, author, is_bot, coauthors, month in _rows(con, """
                SELECT DISTINCT ON (repo_id, commit_hash) repo_id, author, author_is_bot,
                       coauthors::VARCHAR, strftime(date AT TIME ZONE 'UTC', '%Y-%m')
                FROM hf_commit ORDER BY repo_id, commit_hash, file, loc"""):
            for case in index.cases_of_owner(repo_id):
                bot = is_hub_bot(is_bot, coauthors)
                r = per_repo[(case, repo_id)]
                r.commits += 1
                r.repos.add(repo_id)
                r.bots += bot
                if author and not bot:
                    r.persons[author] += 1
                if month:
                    r.months[month] += 1
                    r.month_bots[month] += bot
                    if author and not bot:
                        r.person_months.add((author, month))
                g = groups.setdefault(case, Group())
                g.commits += 1
                g.repos.add(repo_id)
                if month:
                    g.months[month] += 1
                if bot:
                    g.bots += 1
                    if month:
                        g.month_bots[month] += 1
                elif author:
                    g.persons[author] += 1
                    if month:
                        g.person_months.add((author, month))
    out = []
    for case, g in sorted(groups.items()):
        ev = _evidence(case, ALL, "hub-commit")
        few = None
        if g.commits == 0:
            few = "no Hub commits of the case's repositories in the bundled data"
        elif g.commits < MIN_N:
            few = f"only {g.commits} Hub commits (fewer than {MIN_N})"
        values = (("commits", g.commits), ("repos", len(g.repos)),
                  ("bot_commits", g.bots), ("person_commits", g.commits - g.bots),
                  ("contributors", len(g.persons)),
                  ("bot_share", g.bots / g.commits if g.commits else None),
                  ("contributor_absence_factor",
                   contributor_absence_factor(g.persons) if g.persons else None))
        rows = [_row(case, ALL, ALL, "hub", "all", measure, value, g.commits, None, ev,
                     few, ratio=True) for measure, value in values]
        persons = g.month_persons()
        for month, count in sorted(g.months.items()):
            m_ev = _evidence(case, ALL, "hub-commit", period=month)
            monthly = (("commits", count), ("bot_commits", g.month_bots[month]),
                       ("contributors", len(persons.get(month, ()))))
            rows += [_row(case, ALL, ALL, "hub", month, measure, value, count, None, m_ev,
                          None, ratio=False) for measure, value in monthly]
        for row in rows:
            if few:
                row.update(value=None, status="insufficient data", reason=few)
        out += rows
    for (case, repo_id), g in sorted(per_repo.items()):
        ev = _evidence(case, ALL, "hub-commit", repo=repo_id)
        out += [_row(case, repo_id, ALL, "hub", "all", measure, value, g.commits, None, ev,
                     None, ratio=ratio) for measure, value, ratio in (
            ("commits", g.commits, False), ("bot_commits", g.bots, False),
            ("person_commits", g.commits - g.bots, False),
            ("contributors", len(g.persons), False),
            ("bot_share", g.bots / g.commits, True),
            ("contributor_absence_factor",
             contributor_absence_factor(g.persons) if g.persons else None, True))]
        persons = g.month_persons()
        for month, count in sorted(g.months.items()):
            m_ev = _evidence(case, ALL, "hub-commit", repo=repo_id, period=month)
            out += [_row(case, repo_id, ALL, "hub", month, measure, value, count, None, m_ev,
                         None, ratio=False) for measure, value in (
                ("commits", count), ("bot_commits", g.month_bots[month]),
                ("contributors", len(persons.get(month, ()))))]
    return out


def collab_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every `collab_measure` row (without provenance columns)."""
    groups, snapshot_month = git_groups(con)
    return git_measure_rows(groups, snapshot_month) + hub_measure_rows(con)


def write_measure_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute `collab_measure` (derived table, rebuilt whole)."""
    from llmcarto.analysis.persons import replace_table

    if not has_table(con, "case_info"):
        return 0
    files = {"git": "commit_affiliation, stage_trace, git_pull", "hub": "hf_commit"}
    rows = [{**r, "source": "measures", "source_url": r["evidence"], "snapshot_date": None,
             "file": files[r["platform"]],
             "loc": f"case {r['case_key']} repo {r['repo']} stage {r['stage']} "
                    f"period {r['period']}", "snapshot_id": None} for r in collab_rows(con)]
    con.execute("BEGIN TRANSACTION")
    try:
        replace_table(con, "collab_measure", COLLAB_MEASURE_COLUMNS, rows, "measures")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


# ---------------------------------------------------------------------- README numbers

BLOCK_BEGIN, BLOCK_END = "<!-- measures:begin -->\n", "<!-- measures:end -->"


def readme_block(con: duckdb.DuckDBPyConnection) -> str:
    """The README's generated measures block: the size of `collab_measure` and the Hub
    commits per case (count, bot commits, repositories, or why the cell is null)."""
    if not has_table(con, "collab_measure"):
        return "The store has no `collab_measure` table.\n"
    sizes = dict(((p, m), n) for p, m, n in _rows(con, """
        SELECT platform, period <> 'all', count(*) FROM collab_measure GROUP BY ALL"""))
    total = sum(sizes.values())
    size = (f"On the bundled data `collab_measure` has {total:,} rows: git "
            f"{sizes.get(('git', False), 0):,} overall and {sizes.get(('git', True), 0):,} "
            f"monthly, Hub {sizes.get(('hub', False), 0):,} overall and "
            f"{sizes.get(('hub', True), 0):,} monthly.\n\n")
    return size + hub_commits_markdown(con)


def update_readme(text: str, block: str) -> str:
    """`text` with the measures block replaced (ValueError when the markers are missing)."""
    start, end = text.find(BLOCK_BEGIN), text.find(BLOCK_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {BLOCK_BEGIN.strip()} … {BLOCK_END} block")
    return text[:start + len(BLOCK_BEGIN)] + block + text[end:]


def hub_commits_markdown(con: duckdb.DuckDBPyConnection) -> str:
    """The README's sentence on Hub commits per case, from `collab_measure` (overall Hub
    rows): count (n), bot commits and repositories, or why the cell is null."""
    cells: dict[str, dict[str, tuple]] = defaultdict(dict)
    for case, measure, value, n, reason in _rows(con, """
            SELECT case_key, measure, value, n, reason FROM collab_measure
            WHERE platform = 'hub' AND repo = '*' AND period = 'all' ORDER BY case_key"""):
        cells[case][measure] = (value, n, reason)
    parts, empty = [], []
    for case, m in sorted(cells.items(), key=lambda kv: (-kv[1]["commits"][1], kv[0])):
        value, n, reason = m["commits"]
        if n == 0:
            empty.append(case)
        elif value is None:
            parts.append(f"`{case}` {n:,}, shown as null: {reason}")
        else:
            parts.append(f"`{case}` {int(value):,} ({int(m['bot_commits'][0] or 0):,} by "
                         f"bots, {int(m['repos'][0] or 0):,} repositories)")
    if empty:
        parts.append(f"the other {len(empty)} cases none" if parts
                     else f"none of the {len(empty)} cases has any")
    return ("Hub commits per case in the bundled data (distinct repository and commit of "
            "the case's Hub owners): " + "; ".join(parts) + ".\n")
