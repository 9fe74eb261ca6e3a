"""Persons behind git identities: identities merged with their evidence, bots kept apart.

A git identity is a name or an e-mail address. Two identities belong to one person when
they are written together (`Name <e-mail>` in an Author, Commit or `<Word>-by:` trailer
line, or a `.mailmap` entry), so a person is a connected component of that graph: the
same name seen with two addresses, or two names seen with one address, merge (design.md
§2 identity → person). GitHub's two noreply forms of one login (`123+login@…` and
`login@users.noreply.github.com`) are one address. Every edge is kept as evidence
(`git_person_link`), with the commit that showed it.

Bots and tools (GitHub's web-flow committer, Actions, dependabot, AI co-authors, …; see
`privacy.is_tool_identity`) are never merged with people: each is its own `bot` entry.

Bundled identities are the bundle's pseudonyms and are used as they are; identities from
live clones are merged on their collected values inside this process and leave it only as
pseudonyms (`privacy.git_name_pseudonym`, `git_email_pseudonym`). The two are never joined
(different salts; design.md §7). Generic names of live data (root, ubuntu, "Your Name" …)
never merge anything; the bundle's pseudonyms cannot be checked for them (its salted names
must not be matched against guesses), which is a known limit.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb

from llmcarto.analysis.affiliation import is_hostname
from llmcarto.analysis.stages import COMMITS_SQL, has_table, insert_derived
from llmcarto.privacy import git_email_pseudonym, git_name_pseudonym
from llmcarto.privacy import is_tool_identity as _is_tool
from llmcarto.sources.gitlog import email_domain
from llmcarto.store.schema import PROVENANCE_COLUMNS

LIVE_SOURCE = "git-clone"  # rows collected from real clones: raw identities

GENERIC_NAMES = frozenset({
    "root", "ubuntu", "user", "admin", "administrator", "unknown", "your name", "you",
    "none", "anonymous", "ec2-user", "runner", "test", "(no author)", "name", "default",
})
_GENERIC_EMAIL = re.compile(r"@(example\.(com|org|net)|localhost(\.localdomain)?|\(none\))$|"
                            r"^(you|root|user|test)@", re.I)
_GH_NOREPLY = re.compile(r"^(?:\d+\+)?([^@+]+)@users\.noreply\.github\.com$", re.I)
_HF_NOREPLY = re.compile(r"^([^@]+)@users\.noreply\.huggingface\.co$", re.I)

TOOL_LABELS = {
    "noreply@github.com": "GitHub (web-flow)", "github-actions@github.com": "github-actions",
    "action@github.com": "github-actions", "support@github.com": "dependabot[bot]",
    "noreply@anthropic.com": "Claude", "cursoragent@cursor.com": "Cursor",
    "ghost@gitbook.com": "gitbook-bot", "codex@openai.com": "OpenAI Codex",
    "openhands@all-hands.dev": "openhands",
    "175728472+copilot@users.noreply.github.com": "Copilot",
    "198982749+copilot@users.noreply.github.com": "Copilot",
}

PERSON_COLUMNS = ("person VARCHAR, kind VARCHAR, namespace VARCHAR, names INTEGER, "
                  "emails INTEGER, identities INTEGER, commits INTEGER, coauthored INTEGER, "
                  "repos INTEGER, first TIMESTAMPTZ, last TIMESTAMPTZ")
IDENTITY_COLUMNS = ("person VARCHAR, identity VARCHAR, identity_kind VARCHAR, "
                    "commits INTEGER")
LINK_COLUMNS = ("person VARCHAR, kind VARCHAR, a VARCHAR, b VARCHAR, n INTEGER, "
                "item VARCHAR, date TIMESTAMPTZ")
COMMIT_PERSON_COLUMNS = ("repo VARCHAR, sha VARCHAR, person VARCHAR, author_kind VARCHAR, "
                         "coauthors VARCHAR[]")


@lru_cache(maxsize=65536)
def is_tool_identity(name: str | None, email: str | None) -> bool:
    """`privacy.is_tool_identity`, cached (the same identities recur on every commit)."""
    return _is_tool(name, email)


@dataclass
class _Node:
    label: str  # the pseudonym shown for the identity
    kind: str  # name | email | github-login | hub-login
    commits: int = 0


@dataclass
class Persons:
    """The result of `merge_persons`: tables as lists of rows (no provenance yet)."""

    persons: list[dict[str, Any]] = field(default_factory=list)
    identities: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    commits: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (repo, sha) -> the commit row's (file, loc, snapshot_id, snapshot_date, source_url)
    provenance: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, key: str) -> None:
        self.parent.setdefault(key, key)

    def find(self, key: str) -> str:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _namespace(source: str | None) -> str:
    return "live" if source == LIVE_SOURCE else "bundle"


def tool_label(name: str | None, email: str | None) -> str:
    """The display name of a bot or tool (verbatim, as the bundle keeps them)."""
    e = (email or "").strip().lower()
    if e in TOOL_LABELS:
        return TOOL_LABELS[e]
    n = (name or "").strip()
    return n or e or "unnamed tool"


class _Graph:
    """Identity nodes, the union-find over them and the evidence of every edge."""

    def __init__(self, mergeable_names: set[str]) -> None:
        self.uf = _UnionFind()
        self.nodes: dict[str, _Node] = {}
        self.edges: dict[tuple[str, str, str], list[Any]] = {}  # (a, b, kind) -> [n, item, date]
        self.mergeable_names = mergeable_names

    def identity(self, ns: str, name: str | None, email: str | None, kind: str, item: str,
                 date: Any) -> str | None:
        """The node of a `name <email>` pair, linked with `kind` evidence; None when empty.

        Machine addresses (`user@host.local`, cluster hostnames) never merge: git writes
        them when no identity is configured, and one such address is shared by everybody
        who works as that user on that machine. A name seen only with such addresses is
        not used to merge either (it is typically the machine's login, e.g. root): the
        pair then stands for itself."""
        name_key = name_norm(ns, name)
        email_key = email_norm(ns, email)
        n = (self._node(name_key, _name_label(ns, name), "name")
             if name_key and name_key in self.mergeable_names else None)
        e = self._node(email_key[0], email_key[1], email_key[2]) if email_key else None
        if n is None and e is None:
            raw_name, raw_email = (name or "").strip(), (email or "").strip()
            if not raw_name and not raw_email:
                return None
            key = f"{ns}:pair:{raw_name.lower()}<{raw_email.lower()}>"
            label = (("id-" + _email_label(ns, raw_email).split("@", 1)[0][:10]) if raw_email
                     else _name_label(ns, raw_name))
            return self._node(key, label, "machine identity" if raw_email else "name")
        self.link(n, e, kind, item, date)
        return n or e

    def _node(self, key: str, label: str, kind: str) -> str:
        if key not in self.nodes:
            self.nodes[key] = _Node(label, kind)
            self.uf.add(key)
        return key

    def link(self, a: str | None, b: str | None, kind: str, item: str, date: Any) -> None:
        if a is None or b is None or a == b:
            return
        self.uf.union(a, b)
        key = (min(a, b), max(a, b), kind)
        seen = self.edges.get(key)
        if seen is None:
            self.edges[key] = [1, item, date]
        else:
            seen[0] += 1
            if date is not None and (seen[2] is None
                                     or (str(date), item) < (str(seen[2]), seen[1])):
                seen[1], seen[2] = item, date  # earliest, ties by item: order-independent


@lru_cache(maxsize=65536)
def _name_label(ns: str, name: str | None) -> str:
    raw = (name or "").strip()
    return git_name_pseudonym(raw) if ns == "live" else raw


def _email_label(ns: str, email: str) -> str:
    return git_email_pseudonym(email) if ns == "live" else email.strip().lower()


@lru_cache(maxsize=65536)
def name_norm(ns: str, name: str | None) -> str | None:
    """The merge key of a name, or None (empty, or a generic name of live data)."""
    raw = (name or "").strip()
    if not raw:
        return None
    if ns == "live":
        norm = raw.lower()
        return None if norm in GENERIC_NAMES else f"l:n:{norm}"
    return f"b:n:{raw}"


@lru_cache(maxsize=65536)
def email_norm(ns: str, email: str | None) -> tuple[str, str, str] | None:
    """(merge key, label, kind) of an address; None for empty, generic or machine addresses.

    GitHub's `123+login@users.noreply.github.com` and `login@…` are one key (live data
    only: the bundle hashed the whole local part, so its two forms cannot be matched)."""
    raw = (email or "").strip()
    if not raw or "@" not in raw or is_hostname(email_domain(raw)):
        return None
    norm = raw.lower()
    if ns != "live":
        return f"b:e:{norm}", norm, "email"
    if _GENERIC_EMAIL.search(norm):
        return None
    gh = _GH_NOREPLY.match(norm)
    if gh:
        login = gh.group(1)
        return (f"l:gh:{login}", git_email_pseudonym(f"{login}@users.noreply.github.com"),
                "github-login")
    hf = _HF_NOREPLY.match(norm)
    if hf:
        return f"l:hf:{hf.group(1)}", git_email_pseudonym(norm), "hub-login"
    return f"l:e:{norm}", git_email_pseudonym(norm), "email"


def _pairs(row: Mapping[str, Any]) -> Iterator[tuple[str | None, str | None, str]]:
    """Every `name <email>` pair of a commit row that is not a bot: (name, email, kind)."""
    if not is_tool_identity(row.get("author_name"), row.get("author_email")):
        yield row.get("author_name"), row.get("author_email"), "author line"
    if not is_tool_identity(row.get("committer_name"), row.get("committer_email")):
        yield row.get("committer_name"), row.get("committer_email"), "committer line"
    for trailer in _trailers(row.get("trailers")):
        if not is_tool_identity(trailer.get("name"), trailer.get("email")):
            yield (trailer.get("name"), trailer.get("email"),
                   f"{trailer.get('key') or 'trailer'} trailer")


def merge_persons(commits: Iterable[Mapping[str, Any]],
                  mailmap: Iterable[Mapping[str, Any]] = ()) -> Persons:
    """Merge identities into persons (connected components), keeping every edge's evidence.

    `commits` are git_commit rows (repo, sha, source, author/committer name and e-mail,
    author_date, trailers); `mailmap` rows (repo, proper_name, proper_email, commit_name,
    commit_email) come from live clones only.
    """
    rows = list(commits)
    maps = list(mailmap)
    mergeable: set[str] = set()  # names seen at least once with a real (non-machine) address
    for row in rows:
        ns = _namespace(row.get("source"))
        for name, email, _kind in _pairs(row):
            key = name_norm(ns, name)
            if key and email_norm(ns, email):
                mergeable.add(key)
    for row in maps:
        for name, email in ((row.get("proper_name"), row.get("proper_email")),
                            (row.get("commit_name"), row.get("commit_email"))):
            key = name_norm("live", name)
            if key and email_norm("live", email):
                mergeable.add(key)
    g = _Graph(mergeable)
    authored: list[tuple[str, str, str | None, str, Any, list[str]]] = []
    for row in rows:
        ns = _namespace(row.get("source"))
        repo, sha, date = row["repo"], row["sha"], row.get("author_date")
        item = f"{repo}@{sha}"
        author: str | None = None
        if is_tool_identity(row.get("author_name"), row.get("author_email")):
            author = "bot:" + tool_label(row.get("author_name"), row.get("author_email"))
        else:
            author = g.identity(ns, row.get("author_name"), row.get("author_email"),
                                "author line", item, date)
            if author:
                g.nodes[author].commits += 1
        if not is_tool_identity(row.get("committer_name"), row.get("committer_email")):
            g.identity(ns, row.get("committer_name"), row.get("committer_email"),
                       "committer line", item, date)
        coauthors: list[str] = []
        for trailer in _trailers(row.get("trailers")):
            t_name, t_email = trailer.get("name"), trailer.get("email")
            if is_tool_identity(t_name, t_email):
                if trailer.get("key") == "Co-authored-by":
                    coauthors.append("bot:" + tool_label(t_name, t_email))
                continue
            node = g.identity(ns, t_name, t_email, f"{trailer.get('key') or 'trailer'} trailer",
                              item, date)
            if trailer.get("key") == "Co-authored-by" and node:
                coauthors.append(node)  # resolved to a person below
        authored.append((repo, sha, author, ns, date, coauthors))
    for row in maps:
        item = f"{row['repo']}:.mailmap"
        proper = g.identity("live", row.get("proper_name"), row.get("proper_email"), ".mailmap",
                            item, None)
        alias = g.identity("live", row.get("commit_name"), row.get("commit_email"), ".mailmap",
                           item, None)
        g.link(proper, alias, ".mailmap", item, None)
    result = _assemble(g, authored)
    result.provenance = {(r["repo"], r["sha"]): (r.get("file"), r.get("loc"),
                                                 r.get("snapshot_id"), r.get("snapshot_date"),
                                                 r.get("source_url")) for r in rows}
    return result


def _trailers(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return [t for t in value or () if isinstance(t, Mapping)]


def _assemble(g: _Graph, authored: list) -> Persons:
    members: dict[str, list[str]] = defaultdict(list)
    for key in g.nodes:
        members[g.uf.find(key)].append(key)
    label_of: dict[str, str] = {}
    for root, keys in members.items():
        names = sorted((k for k in keys if g.nodes[k].kind == "name"),
                       key=lambda k: (-g.nodes[k].commits, g.nodes[k].label))
        if names:
            label = g.nodes[names[0]].label
        else:
            first = min(keys, key=lambda k: (-g.nodes[k].commits, g.nodes[k].label))
            node = g.nodes[first]
            label = (node.label if node.label.startswith(("id-", "dev-"))
                     else "id-" + node.label.split("@", 1)[0][:10])
        label_of[root] = label
    out = Persons()
    stats: dict[str, dict[str, Any]] = {}

    def person_of(key: str) -> str:
        return key if key.startswith("bot:") else label_of[g.uf.find(key)]

    for repo, sha, author, ns, date, coauthors in authored:
        person = person_of(author) if author else None
        co = sorted({person_of(c) for c in coauthors} - {person})
        out.commits[(repo, sha)] = {"repo": repo, "sha": sha, "person": person,
                                    "author_kind": ("bot" if person and person.startswith("bot:")
                                                    else "person" if person else None),
                                    "coauthors": co}
        for p, role in ([(person, "author")] if person else []) + [(c, "co") for c in co]:
            s = stats.setdefault(p, {"ns": ns, "commits": 0, "coauthored": 0, "repos": set(),
                                     "first": None, "last": None})
            s["commits" if role == "author" else "coauthored"] += 1
            s["repos"].add(repo.lower())
            if role == "author" and date is not None:
                d = str(date) if not hasattr(date, "isoformat") else date
                s["first"] = d if s["first"] is None or d < s["first"] else s["first"]
                s["last"] = d if s["last"] is None or d > s["last"] else s["last"]
    for root, keys in members.items():
        label = label_of[root]
        kinds = Counter(g.nodes[k].kind for k in keys)
        s = stats.get(label, {"ns": keys[0].split(":", 1)[0], "commits": 0, "coauthored": 0,
                              "repos": set(), "first": None, "last": None})
        out.persons.append({"person": label, "kind": "person",
                            "namespace": "live" if keys[0].startswith("l:") else "bundle",
                            "names": kinds["name"], "emails": len(keys) - kinds["name"],
                            "identities": len(keys), "commits": s["commits"],
                            "coauthored": s["coauthored"], "repos": len(s["repos"]),
                            "first": s["first"], "last": s["last"]})
        for k in sorted(keys, key=lambda k: g.nodes[k].label):
            node = g.nodes[k]
            out.identities.append({"person": label, "identity": node.label,
                                   "identity_kind": node.kind, "commits": node.commits})
    for label, s in stats.items():
        if label.startswith("bot:"):
            out.persons.append({"person": label, "kind": "bot", "namespace": s["ns"],
                                "names": 0, "emails": 0, "identities": 0,
                                "commits": s["commits"], "coauthored": s["coauthored"],
                                "repos": len(s["repos"]), "first": s["first"],
                                "last": s["last"]})
    for (a, b, kind), (n, item, date) in g.edges.items():
        out.links.append({"person": label_of[g.uf.find(a)], "kind": kind,
                          "a": g.nodes[a].label, "b": g.nodes[b].label, "n": n,
                          "item": item, "date": date})
    out.persons.sort(key=lambda r: r["person"])
    out.links.sort(key=lambda r: (r["person"], r["kind"], r["a"], r["b"]))
    return out


# --------------------------------------------------------------------------- store


def commit_url(item: str) -> str | None:
    """https://github.com/OWNER/NAME/commit/SHA for a `repo@sha` item."""
    repo, sep, sha = item.partition("@")
    return f"https://github.com/{repo}/commit/{sha}" if sep and "/" in repo else None


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    while batch := cur.fetchmany(10000):
        for row in batch:
            yield dict(zip(names, row, strict=True))


def read_persons(con: duckdb.DuckDBPyConnection) -> Persons:
    """`merge_persons` over the store's commits (deduplicated) and live `.mailmap` entries."""
    if not has_table(con, "git_commit"):
        return Persons()
    commits = _rows(con, "SELECT repo, sha, source, author_name, author_email, author_date, "
                         "committer_name, committer_email, trailers, file, loc, snapshot_id, "
                         f"snapshot_date, source_url FROM ({COMMITS_SQL}) "
                         "ORDER BY repo, sha")  # a stable order: the examples cited are too
    mailmap = (_rows(con, "SELECT repo, proper_name, proper_email, commit_name, commit_email "
                          "FROM git_mailmap") if has_table(con, "git_mailmap") else ())
    return merge_persons(commits, mailmap)


def _with_prov(rows: Iterable[dict[str, Any]], item_of, prov: Mapping[tuple[str, str], tuple]
               ) -> Iterator[dict[str, Any]]:
    """Each derived row with the provenance of the commit that shows it (`item_of(row)`:
    `repo@sha`, or `repo:.mailmap` for a live clone's mailmap)."""
    for row in rows:
        item = item_of(row) or ""
        repo, sep, sha = item.partition("@")
        file, loc, snapshot_id, snapshot_date, url = prov.get((repo, sha), (None,) * 5)
        if not sep and item.endswith(":.mailmap"):
            repo = item.removesuffix(":.mailmap")
            file, loc, url = f"git-clone/{repo}", ".mailmap", f"https://github.com/{repo}"
        yield {**row, "source": "persons", "source_url": url or commit_url(item),
               "snapshot_date": snapshot_date, "file": file or "persons",
               "loc": loc or item or "trailer",
               "snapshot_id": snapshot_id}


def replace_table(con: duckdb.DuckDBPyConnection, table: str, columns: str,
                  rows: Iterable[dict[str, Any]], kind: str) -> int:
    """Drop and recreate a derived table (with provenance columns) and fill it."""
    prov = ", ".join(f'"{n}" {t}' for n, t in PROVENANCE_COLUMNS)
    con.execute(f'DROP TABLE IF EXISTS "{table}"')
    con.execute(f'CREATE TABLE "{table}" ({columns}, {prov})')
    con.execute("INSERT OR REPLACE INTO data_table VALUES (?, ?, ?)", [table, kind, columns])
    return insert_derived(con, table, columns, rows)


def write_person_tables(con: duckdb.DuckDBPyConnection) -> int:
    """Recompute git_person, git_person_identity, git_person_link and git_commit_person."""
    if not has_table(con, "git_commit"):
        return 0
    result = read_persons(con)
    first_item: dict[str, str] = {}
    for c in result.commits.values():
        if c["person"]:
            first_item.setdefault(c["person"], f"{c['repo']}@{c['sha']}")
    con.execute("BEGIN TRANSACTION")
    try:
        prov = result.provenance
        replace_table(con, "git_person", PERSON_COLUMNS, _with_prov(
            result.persons, lambda r: first_item.get(r["person"]), prov), "persons")
        replace_table(con, "git_person_identity", IDENTITY_COLUMNS, _with_prov(
            result.identities, lambda r: first_item.get(r["person"]), prov), "persons")
        replace_table(con, "git_person_link", LINK_COLUMNS, _with_prov(
            result.links, lambda r: r["item"], prov), "persons")
        replace_table(con, "git_commit_person", COMMIT_PERSON_COLUMNS, _with_prov(
            sorted(result.commits.values(), key=lambda r: (r["repo"], r["sha"])),
            lambda r: f"{r['repo']}@{r['sha']}", prov), "persons")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return len(result.persons)
