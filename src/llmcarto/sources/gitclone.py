"""The live git collector: a local clone (bare or not) into the store's git tables.

`collect_git` runs ``git log <branch> --no-color --date=iso-strict --pretty=fuller --parents
--numstat --no-show-signature`` (plus ``--no-decorate`` and ``--no-mailmap``, so identities
are the recorded ones and `.mailmap` is evidence, not a silent rewrite) and parses it with
the bundle's streaming parser (`gitlog.parse_git_log`, `gitlog.commit_row`): the bundled
logs and real clones go through the same code and land in the same `git_commit`,
`git_pull` and `git_repo` tables, with source ``git-clone``.

A re-run adds only new commits: the crawl state (`git_crawl`) remembers the branch head
of the last run, and the next run asks git for ``<head> ^<previous head>``. When the
previous head is no longer an ancestor (a force-push rewrote the branch) the repository's
collected commits are replaced whole, and the report says so. PR heads
(``refs/pull/N/head``, present in clones made with ``--mirror`` or a fetch of
``refs/pull/*``) are re-read every run: merged means "an ancestor of the branch"; PR
numbers written in default-branch subjects (squash merges) are kept in `git_repo.raw`.

Identities are stored as collected (public data); derived tables, exports and pages show
them only as pseudonyms (`llmcarto.privacy`). Bad commit blocks are reported with the
`git log` line and skipped; nothing else is lost.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from llmcarto.errors import InputError
from llmcarto.framework.cases import REPO_NAME
from llmcarto.sources.base import Skip
from llmcarto.sources.gitlog import (
    GitCommitsReader,
    GitPullsReader,
    GitRepoReader,
    commit_row,
    email_domain,
    parse_git_log,
)
from llmcarto.store.ingest import insert_rows
from llmcarto.store.schema import ensure_table
from llmcarto.store.status import has_table

SOURCE = "git-clone"
LOG_ARGS = ("log", "--no-color", "--date=iso-strict", "--pretty=fuller", "--parents",
            "--numstat", "--no-show-signature", "--no-decorate", "--no-mailmap")
GIT_CONFIG = ("-c", "i18n.logOutputEncoding=UTF-8", "-c", "core.quotePath=true",
              "-c", "log.showSignature=false")
TABLES = {
    "git_crawl": "repo VARCHAR, path VARCHAR, branch VARCHAR, head VARCHAR, commits INTEGER, "
                 "new_commits INTEGER, pulls INTEGER, runs INTEGER, full_run BOOLEAN, "
                 "collected_at TIMESTAMPTZ",
    "git_mailmap": "repo VARCHAR, proper_name VARCHAR, proper_email VARCHAR, "
                   "commit_name VARCHAR, commit_email VARCHAR",
    "git_clone_case": "repo VARCHAR, case_key VARCHAR",
}
_REMOTE = re.compile(r"github\.com[:/]+([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$")
_PULL_REF = re.compile(r"^refs/pull/(\d{1,9})/head$")
_MAILMAP = re.compile(r"^\s*([^<#]*?)\s*<([^<>]*)>\s*(?:([^<#]*?)\s*<([^<>]*)>)?\s*(?:#.*)?$")


@dataclass
class CollectReport:
    """What one `collect_git` run did."""

    repo: str
    path: str
    branch: str
    head: str
    new_commits: int = 0
    total_commits: int = 0
    pulls: int = 0
    pulls_merged: int = 0
    rewritten: bool = False  # the previous head was not an ancestor: collected again whole
    unchanged: bool = False  # the branch head had not moved
    skips: list[Skip] = field(default_factory=list)


def git(path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run git in `path` (no pager, no prompts); a failure is an InputError naming the call."""
    try:
        proc = subprocess.run(["git", "-C", str(path), *GIT_CONFIG, *args],
                              capture_output=True, check=False,
                              env=_git_env())
    except FileNotFoundError as exc:
        raise InputError("git is not installed (needed to read a clone)") from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{path}: `git {' '.join(args[:3])}` failed: "
                         f"{message[-1] if message else 'exit ' + str(proc.returncode)}")
    return proc


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    return env


def _out(proc: subprocess.CompletedProcess[bytes]) -> str:
    return proc.stdout.decode("utf-8", "replace").strip()


def open_clone(path: Path, branch: str | None = None) -> tuple[str, str]:
    """(branch, head sha) of a local clone, bare or not; InputError when it is none."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such directory")
    probe = git(path, "rev-parse", "--git-dir", check=False)
    if probe.returncode != 0:
        raise InputError(f"{path}: not a git repository (bare or not)")
    if branch is None:
        head = git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        branch = _out(head)
        if head.returncode != 0 or not branch:
            raise InputError(f"{path}: HEAD is detached; name the branch with --branch")
    resolved = git(path, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}", check=False)
    if resolved.returncode != 0:
        raise InputError(f"{path}: branch {branch!r} has no commits")
    return branch, _out(resolved)


def repo_from_remote(path: Path) -> str | None:
    """OWNER/NAME from a GitHub `origin` URL, or None."""
    url = _out(git(path, "config", "--get", "remote.origin.url", check=False))
    match = _REMOTE.search(url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def log_lines(path: Path, revisions: list[str], problems: list[int]) -> Iterator[str]:
    """The `git log` output line by line, streamed; lines that are not UTF-8 are decoded
    with replacement characters and their numbers added to `problems`.

    A thread drains git's pipe while this generator's consumer parses, so git never waits
    for the parser (the two overlap; the slower one sets the pace)."""
    cmd = ["git", "-C", str(path), *GIT_CONFIG, *LOG_ARGS, *revisions, "--"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_git_env()) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        chunks: queue.Queue[bytes | None] = queue.Queue()
        errors: list[bytes] = []

        def drain(stream=proc.stdout) -> None:
            while chunk := stream.read1(1 << 20):
                chunks.put(chunk)
            chunks.put(None)

        def drain_err(stream=proc.stderr) -> None:
            errors.append(stream.read())

        readers = [threading.Thread(target=drain, daemon=True),
                   threading.Thread(target=drain_err, daemon=True)]
        for reader in readers:
            reader.start()
        number, rest = 0, b""
        while (chunk := chunks.get()) is not None:
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            yield from _decode(lines, number, problems)
            number += len(lines)
        if rest:
            yield from _decode([rest], number, problems)
        for reader in readers:
            reader.join()
        if proc.wait() != 0:
            err = b"".join(errors).decode("utf-8", "replace")
            raise InputError(f"{path}: `git log` failed: {err.strip()[-200:]}")


def _decode(lines: list[bytes], before: int, problems: list[int]) -> list[str]:
    try:
        return b"\n".join(lines).decode("utf-8").split("\n")
    except UnicodeDecodeError:
        out = []
        for i, raw in enumerate(lines, before + 1):
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                problems.append(i)
                out.append(raw.decode("utf-8", "replace"))
        return out


def pull_heads(path: Path) -> list[dict[str, Any]]:
    """refs/pull/N/head: number, head sha, author name, e-mail and date of the head commit."""
    fmt = "%(refname)%00%(objectname)%00%(authorname)%00%(authoremail)%00%(authordate:iso-strict)"
    out = git(path, "for-each-ref", f"--format={fmt}", "refs/pull/").stdout
    heads = []
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split("\x00")
        if len(parts) != 5 or not (m := _PULL_REF.match(parts[0])):
            continue
        email = parts[3].strip().removeprefix("<").removesuffix(">").strip()
        heads.append({"number": int(m.group(1)), "head_sha": parts[1],
                      "author_name": parts[2].strip() or None, "author_email": email or None,
                      "author_domain": email_domain(email), "author_date": parts[4] or None})
    return heads


def read_mailmap(path: Path, head: str) -> list[dict[str, Any]]:
    """The `.mailmap` entries at `head` (gitmailmap(5) forms); none when there is no file."""
    proc = git(path, "show", f"{head}:.mailmap", check=False)
    if proc.returncode != 0:
        return []
    out = []
    for number, line in enumerate(proc.stdout.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MAILMAP.match(line)
        if not m:
            continue
        name1, email1, name2, email2 = m.groups()
        if email2 is None:  # "Proper Name <commit@email>"
            entry = (name1 or None, None, None, email1 or None)
        else:
            entry = (name1 or None, email1 or None, name2 or None, email2 or None)
        out.append({"proper_name": entry[0], "proper_email": entry[1], "commit_name": entry[2],
                    "commit_email": entry[3], "line": number})
    return out


def _canonical_repo(con: duckdb.DuckDBPyConnection, repo: str) -> str:
    """The registry's (or the store's) spelling of `repo`, so case-insensitive matches join."""
    for table in ("case_repository", "git_commit"):
        if has_table(con, table):
            row = con.execute(f"SELECT repo FROM {table} WHERE lower(repo) = lower(?) LIMIT 1",
                              [repo]).fetchone()
            if row:
                return row[0]
    return repo


def _prov(repo: str, head: str, loc: str, url: str | None, today: str) -> dict[str, Any]:
    return {"source": SOURCE, "source_url": url, "snapshot_date": today,
            "file": f"{SOURCE}/{repo}", "loc": loc, "snapshot_id": f"{SOURCE}/{repo}@{head[:12]}"}


def collect_git(con: duckdb.DuckDBPyConnection, path: Path, repo: str | None = None,
                case: str | None = None, branch: str | None = None,
                now: datetime | None = None) -> CollectReport:
    """Collect the clone at `path` into the store behind `con` (one transaction)."""
    path = Path(path)
    branch, head = open_clone(path, branch)
    repo = repo or repo_from_remote(path)
    if not repo:
        raise InputError(f"{path}: no GitHub `origin` remote to name the repository; give "
                         "--repo OWNER/NAME")
    if not REPO_NAME.match(repo):
        raise InputError(f"--repo {repo!r}: expected OWNER/NAME")
    repo = _canonical_repo(con, repo)
    if case is not None:
        known = ([r[0] for r in con.execute("SELECT case_key FROM case_info ORDER BY 1")
                  .fetchall()] if has_table(con, "case_info") else [])
        if case not in known:
            raise InputError(f"--case {case!r}: not a case in the store ("
                             f"{', '.join(known) or 'none: run llmcarto build first'})")
    now = now or datetime.now(UTC)
    today = now.date().isoformat()
    report = CollectReport(repo, str(path), branch, head)
    for table, columns in {**GitCommitsReader.tables, **GitPullsReader.tables,
                           **GitRepoReader.tables}.items():
        kind = ("git-commits" if table == "git_commit" else
                "git-pulls" if table == "git_pull" else "git-repo")
        ensure_table(con, table, kind, columns)
    for table, columns in TABLES.items():
        ensure_table(con, table, SOURCE, columns)
    state = con.execute("SELECT head, runs, branch FROM git_crawl WHERE lower(repo) = lower(?)",
                        [repo]).fetchone()
    revisions = [head]
    if state and state[0]:
        report.unchanged = state[0] == head and state[2] == branch
        if report.unchanged or (state[2] == branch and git(
                path, "merge-base", "--is-ancestor", state[0], head, check=False).returncode == 0):
            revisions = [head, f"^{state[0]}"]
        else:
            report.rewritten = True
    file_name = f"{SOURCE}/{repo}"
    problems: list[int] = []
    rows: list[dict[str, Any]] = []
    for item in parse_git_log(log_lines(path, revisions, problems), file_name, numstat=True):
        if isinstance(item, Skip):
            report.skips.append(item)
            continue
        row = commit_row(item, repo, numstat=True)
        row.update(_prov(repo, head, f"commit {item.sha}",
                         f"https://github.com/{repo}/commit/{item.sha}", today))
        rows.append(row)
    report.skips += [Skip(file_name, f"git log line {n}", "not UTF-8: decoded with replacement "
                          "characters", kept=True) for n in problems]
    heads = pull_heads(path)
    mailmap = read_mailmap(path, head)
    con.execute("BEGIN TRANSACTION")
    try:
        if report.rewritten or not state:
            con.execute("DELETE FROM git_commit WHERE source = ? AND lower(repo) = lower(?)",
                        [SOURCE, repo])
            con.execute("DELETE FROM skipped_item WHERE file = ?", [file_name])
        report.new_commits = insert_rows(con, "git_commit", GitCommitsReader.tables["git_commit"],
                                         rows)
        shas = {r[0] for r in con.execute(
            "SELECT sha FROM git_commit WHERE source = ? AND lower(repo) = lower(?)",
            [SOURCE, repo]).fetchall()}
        report.total_commits = len(shas)
        _write_pulls(con, repo, head, heads, shas, today, report)
        _write_repo(con, repo, branch, head, report, today)
        con.execute("DELETE FROM git_mailmap WHERE lower(repo) = lower(?)", [repo])
        insert_rows(con, "git_mailmap", TABLES["git_mailmap"], (
            {**{k: v for k, v in m.items() if k != "line"}, "repo": repo,
             **_prov(repo, head, f".mailmap line {m['line']}",
                     f"https://github.com/{repo}/blob/{head}/.mailmap", today)}
            for m in mailmap))
        if case is not None:
            con.execute("DELETE FROM git_clone_case WHERE lower(repo) = lower(?) AND case_key = ?",
                        [repo, case])
            insert_rows(con, "git_clone_case", TABLES["git_clone_case"], [
                {"repo": repo, "case_key": case,
                 **_prov(repo, head, "--case", f"https://github.com/{repo}", today)}])
        con.execute("DELETE FROM git_crawl WHERE lower(repo) = lower(?)", [repo])
        insert_rows(con, "git_crawl", TABLES["git_crawl"], [{
            "repo": repo, "path": str(path.resolve()), "branch": branch, "head": head,
            "commits": report.total_commits, "new_commits": report.new_commits,
            "pulls": report.pulls, "runs": (state[1] or 0) + 1 if state else 1,
            "full_run": len(revisions) == 1, "collected_at": now.isoformat(),
            **_prov(repo, head, "crawl state", f"https://github.com/{repo}", today)}])
        if report.skips:
            con.executemany(
                "INSERT INTO skipped_item (file, kind, loc, reason, snapshot_id, kept) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [[s.file, SOURCE, s.loc, s.reason, f"{SOURCE}/{repo}@{head[:12]}", s.kept]
                 for s in report.skips])
        skipped = con.execute("SELECT count(*) FILTER (WHERE NOT kept) FROM skipped_item "
                              "WHERE file = ?", [file_name]).fetchone()[0]
        con.execute(
            "INSERT OR REPLACE INTO import_file VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [file_name, SOURCE, head, 0, f"{SOURCE}/{repo}@{head[:12]}", today,
             f"https://github.com/{repo}/tree/{head}", report.total_commits + report.pulls,
             skipped, ["git_commit", "git_pull", "git_repo"], now])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return report


def _write_pulls(con: duckdb.DuckDBPyConnection, repo: str, head: str,
                 heads: list[dict[str, Any]], shas: set[str], today: str,
                 report: CollectReport) -> None:
    con.execute("DELETE FROM git_pull WHERE source = ? AND lower(repo) = lower(?)",
                [SOURCE, repo])
    rows = []
    for h in heads:
        merged = h["head_sha"] in shas
        report.pulls_merged += merged
        rows.append({**h, "repo": repo, "merged_by_ancestry": merged,
                     **_prov(repo, head, f"refs/pull/{h['number']}/head",
                             f"https://github.com/{repo}/pull/{h['number']}", today)})
    report.pulls = insert_rows(con, "git_pull", GitPullsReader.tables["git_pull"], rows)


def _write_repo(con: duckdb.DuckDBPyConnection, repo: str, branch: str, head: str,
                report: CollectReport, today: str) -> None:
    first, last = con.execute(
        "SELECT min(commit_date), max(commit_date) FROM git_commit "
        "WHERE source = ? AND lower(repo) = lower(?)", [SOURCE, repo]).fetchone()
    numbers = [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(pr_numbers) AS n FROM git_commit "
        "WHERE source = ? AND lower(repo) = lower(?) ORDER BY n", [SOURCE, repo]).fetchall()]
    raw = {"repo": repo, "default_branch": branch, "snapshot_commit": head,
           "commits": report.total_commits, "pulls": report.pulls,
           "pulls_merged_by_ancestry": report.pulls_merged,
           "pulls_numbers_referenced_in_default_branch_subjects": len(numbers),
           "pr_numbers_in_subjects": numbers, "collected_by": "llmcarto collect git"}
    con.execute("DELETE FROM git_repo WHERE source = ? AND lower(repo) = lower(?)",
                [SOURCE, repo])
    insert_rows(con, "git_repo", GitRepoReader.tables["git_repo"], [{
        "repo": repo, "default_branch": branch, "snapshot_commit": head,
        "commits": report.total_commits, "first": first, "last": last, "license": None,
        "pulls": report.pulls, "pulls_merged_by_ancestry": report.pulls_merged,
        "numstat_included": True, "numstat_placeholder_blobs": None, "raw": raw,
        **_prov(repo, head, "repository", f"https://github.com/{repo}/tree/{head}", today)}])
