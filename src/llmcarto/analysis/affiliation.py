"""Who is inside: the affiliation class of every commit author for each case (design.md §4).

For a commit in a repository of case X, by the author's e-mail domain (a subdomain counts
as its domain; the first rule that applies wins):

1. no domain, a malformed one, a noreply address (GitHub, Hugging Face), a machine hostname
   (`*.local`, cluster nodes such as `login-01.…`, names without a public suffix) or a
   free-mail provider → **unknown** (never external, never an organisation);
2. an `internal` domain of X in the case registry → **internal**;
3. a `partner` domain of X → **partner**;
4. a domain X lists as an unsourced candidate → **unknown**;
5. a domain registered for another organisation: another case's internal or partner
   domain, or an entry of the sourced organisation registry (`framework/organisations.yaml`
   plus `--organisations` files) → **external**;
6. an academic domain (`.edu`, `.ac.<cc>`, `.edu.<cc>`) → **external** (the organisation
   is the academic domain, e.g. cmu.edu for cs.cmu.edu);
7. anything else (personal or unregistered domains) → **unknown**.

Bots and tools are not persons: their commits have class `bot` and are kept apart from the
shares. A commit whose own address says nothing (unknown) takes the class of its author's
affiliation — a registered domain of the same person (`analysis.persons`) — when exactly
one such affiliation spans the commit's date (first to last dated use); otherwise it stays
unknown. `class_basis` says which: `domain`, `person-period` or `bot`. The external share
is external / (internal + partner + external), always shown with the unknown share.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from llmcarto.analysis.stages import (
    COMMITS_SQL,
    CaseIndex,
    case_index,
    has_table,
    inherited_commits,
)
from llmcarto.framework.organisations import (
    Organisation,
    domain_table,
    load_organisation_files,
    packaged_organisations,
)
from llmcarto.settings import current
from llmcarto.sources.gitlog import email_domain

CLASSES = ("internal", "partner", "external", "unknown")
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "msn.com", "windowslive.com", "ymail.com", "rocketmail.com",
    "aol.com", "icloud.com", "me.com", "mac.com", "qq.com", "foxmail.com", "163.com",
    "126.com", "yeah.net", "sina.com", "sina.cn", "sohu.com", "aliyun.com", "139.com",
    "pm.me", "proton.me", "mail.com", "email.com", "web.de", "ya.ru", "mail.ru", "inbox.ru",
    "bk.ru", "list.ru", "naver.com", "daum.net", "hanmail.net", "hey.com", "mailbox.org",
    "laposte.net", "orange.fr", "free.fr", "wanadoo.fr", "sfr.fr", "virgilio.it",
    "libero.it", "zoho.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "onet.pl",
    "rediffmail.com", "t-online.de", "btinternet.com", "comcast.net", "rogers.com",
    "shaw.ca", "sbcglobal.net", "att.net", "verizon.net", "bigpond.com", "optusnet.com.au",
    "tutanota.com", "tuta.io", "gmx.net", "gmx.de", "gmx.com", "126.net",
})
# Providers with one address space under many country domains (hotmail.co.uk, yahoo.com.sg …)
FREE_MAIL_FAMILY = re.compile(
    r"^(outlook|hotmail|live|yahoo|gmx|yandex|fastmail|protonmail|posteo|tutanota)"
    r"\.[a-z]{2,3}(\.[a-z]{2})?$")
FREE_MAIL_HOSTED = re.compile(r"\.(fastmail\.(fm|com)|posteo\.(de|net))$")  # name.fastmail.fm
NOREPLY = ("users.noreply.github.com", "noreply.github.com", "users.noreply.huggingface.co",
           "noreply.huggingface.co")
PSEUDO_TLDS = frozenset({"local", "localdomain", "lan", "home", "internal", "intranet",
                         "corp", "cluster", "pcluster", "localhost", "juwels", "invalid",
                         "test", "example", "none", "(none)", "os30", "et15"})
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
_ACADEMIC = re.compile(r"(?:^|\.)([a-z0-9-]+\.(?:edu|ac\.[a-z]{2}|edu\.[a-z]{2}))$")
_PUBLIC_TLD = re.compile(r"^(?:[a-z]{2,24}|xn--[a-z0-9-]{2,59})$")


def valid_domain(domain: str | None) -> bool:
    if not domain or len(domain) > 253:
        return False
    labels = domain.split(".")
    return all(_LABEL.match(label) for label in labels)


def is_noreply(domain: str | None) -> bool:
    return bool(domain) and any(domain == d or domain.endswith("." + d) for d in NOREPLY)


def is_free_mail(domain: str | None) -> bool:
    return bool(domain) and (domain in FREE_MAIL or bool(FREE_MAIL_FAMILY.match(domain))
                             or bool(FREE_MAIL_HOSTED.search(domain)))


def is_hostname(domain: str | None) -> bool:
    """A machine's name rather than a mail domain: no dot, a suffix that is not a public
    top-level domain (local, internal, cluster …), or three or more labels whose first ends
    in a digit (cluster nodes and cloud instances: `login-01.…`, `ip-172-31-…`, `dgx0092.…`)."""
    if not domain:
        return False
    labels = domain.split(".")
    if len(labels) == 1 or labels[-1] in PSEUDO_TLDS or not _PUBLIC_TLD.match(labels[-1]):
        return True
    return len(labels) >= 3 and labels[0][-1:].isdigit()


def academic_domain(domain: str) -> str | None:
    """The academic organisation's domain (cmu.edu for cs.cmu.edu), or None."""
    match = _ACADEMIC.search(domain)
    return match.group(1) if match else None


def _suffixes(domain: str) -> Iterator[str]:
    labels = domain.split(".")
    for i in range(len(labels) - 1):
        yield ".".join(labels[i:])


@dataclass(frozen=True)
class DomainClass:
    """The class of a domain for one case, the organisation shown (None unless registered),
    why, the URL that ties the domain to the organisation, and the registered domain."""

    cls: str
    org: str | None
    reason: str
    evidence: str | None = None
    matched: str | None = None


@dataclass(frozen=True)
class Registered:
    org: str
    evidence: str | None
    origin: str  # "case registry" | "organisation registry" | "academic pattern"


class DomainIndex:
    """The case registry's domains and the organisation registry, shaped for look-ups."""

    def __init__(self, case_domains: Iterable[Mapping[str, Any]],
                 case_names: Mapping[str, str], organisations: Sequence[Organisation]) -> None:
        self.own: dict[str, dict[str, dict[str, tuple[str | None, str | None]]]] = \
            defaultdict(lambda: defaultdict(dict))  # case -> class -> domain -> (org, url)
        explicit: dict[str, Counter] = defaultdict(Counter)
        fallback: dict[str, set[str]] = defaultdict(set)
        urls: dict[tuple[str, str], str | None] = {}
        for row in case_domains:
            case, domain, cls = row["case_key"], row["domain"].lower(), row["class"]
            org = row.get("organisation")
            if cls == "internal":
                org = org or case_names.get(case) or case
            self.own[case][cls][domain] = (org, row.get("source_url"))
            if cls in ("internal", "partner"):
                if row.get("organisation"):
                    explicit[domain][row["organisation"]] += 1
                elif org:
                    fallback[domain].add(org)
                urls.setdefault((domain, org or ""), row.get("source_url"))
        self._cache: dict[tuple[str | None, str], DomainClass] = {}
        self._lookups: dict[str, tuple[str, Registered] | None] = {}
        self.registered: dict[str, Registered] = {}
        for domain in set(explicit) | set(fallback):
            if explicit[domain]:
                org = sorted(explicit[domain].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            else:
                org = " / ".join(sorted(fallback[domain]))
            url = urls.get((domain, org)) or next(
                (u for (d, _o), u in urls.items() if d == domain and u), None)
            self.registered[domain] = Registered(org, url, "case registry")
        for domain, entry in domain_table(organisations).items():
            self.registered.setdefault(domain, Registered(entry.name, entry.source,
                                                          "organisation registry"))

    def _own(self, case: str, cls: str, domain: str) -> tuple[str, str | None, str | None] | None:
        table = self.own.get(case, {}).get(cls, {})
        for suffix in _suffixes(domain):
            if suffix in table:
                org, url = table[suffix]
                return suffix, org, url
        return None

    def lookup(self, domain: str | None) -> tuple[str, Registered] | None:
        """The registered domain and organisation `domain` belongs to (case-independent)."""
        if not domain:
            return None
        if domain not in self._lookups:
            self._lookups[domain] = self._lookup(domain)
        return self._lookups[domain]

    def _lookup(self, domain: str) -> tuple[str, Registered] | None:
        if not self.usable(domain)[0]:
            return None
        for suffix in _suffixes(domain):
            if suffix in self.registered:
                return suffix, self.registered[suffix]
        academic = academic_domain(domain)
        if academic:
            return academic, Registered(academic, None, "academic pattern")
        return None

    @staticmethod
    def usable(domain: str | None) -> tuple[bool, str]:
        if not domain:
            return False, "no e-mail domain"
        if not valid_domain(domain):
            return False, "malformed e-mail domain"
        if is_noreply(domain):
            return False, "noreply address"
        if is_hostname(domain):
            return False, "machine hostname"
        if is_free_mail(domain):
            return False, "free-mail provider"
        return True, ""

    def classify(self, domain: str | None, case: str) -> DomainClass:
        """The class of `domain` for `case` by the rules of this module's docstring."""
        key = (domain, case)
        if key not in self._cache:
            self._cache[key] = self._classify(domain, case)
        return self._cache[key]

    def _classify(self, domain: str | None, case: str) -> DomainClass:
        domain = (domain or "").strip().lower() or None
        ok, why = self.usable(domain)
        if not ok:
            return DomainClass("unknown", None, why)
        assert domain is not None
        for cls in ("internal", "partner"):
            hit = self._own(case, cls, domain)
            if hit:
                matched, org, url = hit
                return DomainClass(cls, org, f"{cls} domain of the case", url, matched)
        if self._own(case, "unsourced_candidate", domain):
            return DomainClass("unknown", None, "an unsourced candidate domain of the case")
        found = self.lookup(domain)
        if found:
            matched, reg = found
            reason = ("academic domain pattern" if reg.origin == "academic pattern"
                      else f"registered for another organisation ({reg.origin})")
            return DomainClass("external", reg.org, reason, reg.evidence, matched)
        return DomainClass("unknown", None, "unregistered domain")


def domain_index(con: duckdb.DuckDBPyConnection,
                 organisations: Sequence[Organisation] | None = None) -> DomainIndex:
    rows: list[dict[str, Any]] = []
    if has_table(con, "case_domain"):
        cur = con.execute("SELECT case_key, domain, class, organisation, source_url "
                          "FROM case_domain")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    case_names = dict(con.execute("SELECT case_key, name FROM case_info").fetchall()
                      ) if has_table(con, "case_info") else {}
    if organisations is None:
        organisations = registry_entries(con)
    return DomainIndex(rows, case_names, organisations)


# ----------------------------------------------------------------- organisation registry

ORG_REGISTRY_COLUMNS = ("domain VARCHAR, organisation VARCHAR, shows VARCHAR, "
                        "source_kind VARCHAR, note VARCHAR, origin VARCHAR")


def registry_entries(con: duckdb.DuckDBPyConnection) -> list[Organisation]:
    """The packaged registry, then the user's files: those given to this process
    (`--organisations`), else those a previous write kept in the store's `org_registry`."""
    entries = list(packaged_organisations())
    files = current().organisation_files
    if files:
        return entries + load_organisation_files(files)
    if has_table(con, "org_registry"):
        for domain, org, shows, kind, note, url, file, loc in con.execute(
                "SELECT domain, organisation, shows, source_kind, note, source_url, file, loc "
                "FROM org_registry WHERE origin = 'user' ORDER BY rowid").fetchall():
            line = int(loc.split()[-1]) if loc and loc.split()[-1].isdigit() else None
            entries.append(Organisation(org, (domain,), url, shows, kind, note, file, line))
    return entries


def _registry_rows(entries: Sequence[Organisation]) -> Iterator[dict[str, Any]]:
    for domain, e in domain_table(entries).items():
        yield {"domain": domain, "organisation": e.name, "shows": e.shows,
               "source_kind": e.source_kind, "note": e.note,
               "origin": "packaged" if e.file == "organisations.yaml" else "user",
               "source": "organisations", "source_url": e.source, "snapshot_date": None,
               "file": e.file, "loc": f"line {e.line}" if e.line else "entry",
               "snapshot_id": None}


# ----------------------------------------------------------------------- commit classes

COMMIT_AFFILIATION_COLUMNS = (
    "case_key VARCHAR, repo VARCHAR, sha VARCHAR, person VARCHAR, date TIMESTAMPTZ, "
    "inherited BOOLEAN, domain_class VARCHAR, author_class VARCHAR, class_basis VARCHAR, "
    "author_org VARCHAR, org_domain VARCHAR, reason VARCHAR, evidence_url VARCHAR")
PERSON_AFFILIATION_COLUMNS = (
    "case_key VARCHAR, person VARCHAR, class VARCHAR, org VARCHAR, commits INTEGER, "
    "inherited_commits INTEGER, repos VARCHAR[], first TIMESTAMPTZ, last TIMESTAMPTZ")


def person_periods(commits: Iterable[Mapping[str, Any]], index: DomainIndex
                   ) -> dict[str, list[tuple[Any, Any, str]]]:
    """person → [(first, last, registered domain)]: when each of the person's registered
    domains was used (author dates of their commits)."""
    spans: dict[tuple[str, str], list[Any]] = {}
    for c in commits:
        person, date = c.get("person"), c.get("author_date")
        if not person or person.startswith("bot:") or date is None:
            continue
        found = index.lookup(email_domain(c.get("author_email")))
        if not found:
            continue
        span = spans.setdefault((person, found[0]), [date, date])
        span[0], span[1] = min(span[0], date), max(span[1], date)
    out: dict[str, list[tuple[Any, Any, str]]] = defaultdict(list)
    for (person, domain), (first, last) in sorted(spans.items()):
        out[person].append((first, last, domain))
    return dict(out)


def classify_commit(commit: Mapping[str, Any], case: str, index: DomainIndex,
                    periods: Mapping[str, list[tuple[Any, Any, str]]]) -> dict[str, Any]:
    """domain_class, author_class, class_basis, author_org, org_domain, reason, evidence."""
    person = commit.get("person")
    if person and person.startswith("bot:"):
        return {"domain_class": "bot", "author_class": "bot", "class_basis": "bot",
                "author_org": None, "org_domain": None,
                "reason": "a bot or tool, not a person", "evidence_url": None}
    dc = index.classify(email_domain(commit.get("author_email")), case)
    out = {"domain_class": dc.cls, "author_class": dc.cls, "class_basis": "domain",
           "author_org": dc.org, "org_domain": dc.matched, "reason": dc.reason,
           "evidence_url": dc.evidence}
    date = commit.get("author_date")
    if dc.cls != "unknown" or not person or date is None:
        return out
    covering = {d for first, last, d in periods.get(person, ()) if first <= date <= last}
    classes = {}
    for domain in covering:
        other = index.classify(domain, case)
        if other.cls != "unknown":
            classes[(other.cls, other.org)] = other
    if len(classes) == 1:
        other = next(iter(classes.values()))
        out.update({"author_class": other.cls, "class_basis": "person-period",
                    "author_org": other.org, "org_domain": other.matched,
                    "reason": f"{dc.reason}; the author used {other.matched} "
                              "over a period that includes this commit",
                    "evidence_url": other.evidence})
    elif len(classes) > 1:
        out["reason"] = (f"{dc.reason}; the author's identities name several organisations "
                         "over this period")
    return out


def _iter_rows(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    while batch := cur.fetchmany(10000):
        for row in batch:
            yield dict(zip(names, row, strict=True))


def commit_affiliations(con: duckdb.DuckDBPyConnection, index: DomainIndex,
                        cases: CaseIndex) -> list[dict[str, Any]]:
    """One row per (case, commit of the case's repositories), with provenance."""
    person_join = ("LEFT JOIN git_commit_person p ON p.repo = c.repo AND p.sha = c.sha"
                   if has_table(con, "git_commit_person") else "")
    person_col = "p.person" if person_join else "NULL"
    commits = list(_iter_rows(con, f"""
        SELECT c.repo, c.sha, c.parents, c.author_email, c.author_date, {person_col} AS person,
               c.source_url, c.snapshot_date, c.file, c.loc, c.snapshot_id
        FROM ({COMMITS_SQL}) c {person_join}"""))
    periods = person_periods(commits, index)
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in commits:
        by_repo[c["repo"]].append(c)
    out: list[dict[str, Any]] = []
    for repo, rows in sorted(by_repo.items()):
        for case_key, _roles, fork_point, synced in cases.repos.get(repo.lower(), ()):
            starts = [s for s in (fork_point, synced) if s]
            inherited = inherited_commits({r["sha"]: list(r["parents"] or ()) for r in rows},
                                          starts) if starts else set()
            for c in rows:
                out.append({"case_key": case_key, "repo": repo, "sha": c["sha"],
                            "person": c["person"], "date": c["author_date"],
                            "inherited": c["sha"] in inherited,
                            **classify_commit(c, case_key, index, periods),
                            "source": "affiliation", "source_url": c["source_url"],
                            "snapshot_date": c["snapshot_date"], "file": c["file"],
                            "loc": c["loc"], "snapshot_id": c["snapshot_id"]})
    return out


def person_affiliations(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per case, person, class and organisation: own and inherited commits, period, repos."""
    groups: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        if not r["person"]:
            continue
        key = (r["case_key"], r["person"], r["author_class"], r["author_org"])
        g = groups.setdefault(key, {"commits": 0, "inherited_commits": 0, "repos": set(),
                                    "first": None, "last": None, "url": r["source_url"],
                                    "file": r["file"], "loc": r["loc"],
                                    "snapshot_id": r["snapshot_id"]})
        if r["inherited"]:
            g["inherited_commits"] += 1
            continue
        g["commits"] += 1
        g["repos"].add(r["repo"])
        d = r["date"]
        if d is not None:
            g["first"] = d if g["first"] is None or d < g["first"] else g["first"]
            g["last"] = d if g["last"] is None or d > g["last"] else g["last"]
    return [{"case_key": k[0], "person": k[1], "class": k[2], "org": k[3],
             "commits": g["commits"], "inherited_commits": g["inherited_commits"],
             "repos": sorted(g["repos"]), "first": g["first"], "last": g["last"],
             "source": "affiliation", "source_url": g["url"], "snapshot_date": None,
             "file": g["file"], "loc": g["loc"], "snapshot_id": g["snapshot_id"]}
            for k, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0]))]


def write_affiliation_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute org_registry, commit_affiliation and person_affiliation (derived tables)."""
    from llmcarto.analysis.persons import replace_table

    entries = registry_entries(con)
    index = domain_index(con, entries)
    if has_table(con, "git_commit") and has_table(con, "case_info"):
        rows = commit_affiliations(con, index, case_index(con))
    else:
        rows = []
    con.execute("BEGIN TRANSACTION")
    try:
        replace_table(con, "org_registry", ORG_REGISTRY_COLUMNS, _registry_rows(entries),
                      "affiliation")
        if rows or has_table(con, "git_commit"):
            replace_table(con, "commit_affiliation", COMMIT_AFFILIATION_COLUMNS, rows,
                          "affiliation")
            replace_table(con, "person_affiliation", PERSON_AFFILIATION_COLUMNS,
                          person_affiliations(rows), "affiliation")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(rows)


# ----------------------------------------------------------------------------- shares


def affiliation_shares(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per case, over its own (non-inherited) commits by persons: commits per class, the
    external share external / (internal + partner + external) and the unknown share
    unknown / all; bots and inherited commits are counted beside them."""
    if not has_table(con, "commit_affiliation"):
        return []
    rows = con.execute("""
        SELECT case_key,
               count(*) FILTER (WHERE NOT inherited AND author_class = 'internal'),
               count(*) FILTER (WHERE NOT inherited AND author_class = 'partner'),
               count(*) FILTER (WHERE NOT inherited AND author_class = 'external'),
               count(*) FILTER (WHERE NOT inherited AND author_class = 'unknown'),
               count(*) FILTER (WHERE NOT inherited AND author_class = 'bot'),
               count(*) FILTER (WHERE inherited),
               count(*) FILTER (WHERE NOT inherited AND class_basis = 'person-period')
        FROM commit_affiliation GROUP BY case_key ORDER BY case_key""").fetchall()
    out = []
    for case, internal, partner, external, unknown, bot, inherited, by_person in rows:
        known = internal + partner + external
        out.append({"case": case, "internal": internal, "partner": partner,
                    "external": external, "unknown": unknown, "bot": bot,
                    "inherited": inherited, "by_person_period": by_person,
                    "external_share": external / known if known else None,
                    "unknown_share": unknown / (known + unknown) if known + unknown else None})
    return out


def shares_markdown(shares: Sequence[Mapping[str, Any]]) -> str:
    """The README block: per case and in total, over the cases' own commits."""
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.1f} %"

    lines = ["| case | internal | partner | external | unknown | external share | "
             "unknown share | classed by person period | bots | inherited (excluded) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    total: Counter = Counter()
    for s in shares:
        lines.append(f"| `{s['case']}` | {s['internal']:,} | {s['partner']:,} | "
                     f"{s['external']:,} | {s['unknown']:,} | {pct(s['external_share'])} | "
                     f"{pct(s['unknown_share'])} | {s['by_person_period']:,} | {s['bot']:,} | "
                     f"{s['inherited']:,} |")
        total.update({k: s[k] for k in ("internal", "partner", "external", "unknown", "bot",
                                        "inherited", "by_person_period")})
    known = total["internal"] + total["partner"] + total["external"]
    everyone = known + total["unknown"]
    lines.append(f"| **all** | {total['internal']:,} | {total['partner']:,} | "
                 f"{total['external']:,} | {total['unknown']:,} | "
                 f"{pct(total['external'] / known if known else None)} | "
                 f"{pct(total['unknown'] / everyone if everyone else None)} | "
                 f"{total['by_person_period']:,} | {total['bot']:,} | {total['inherited']:,} |")
    return "\n".join(lines) + "\n"
