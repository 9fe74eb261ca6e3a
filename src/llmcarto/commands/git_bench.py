"""`llmcarto bench git`: collect + classify speed on a real history, against pydriller.

The bundle holds logs, not repositories, so the benchmark first *replays* a bundled log
into a real repository with `git fast-import`: the real history's commits (parents, so
merges and their topology), authors and committers (the bundle's pseudonyms), dates,
messages (with their trailers and PR numbers) and changed paths (renames included); the
file contents are synthetic (one line naming the commit and path per added line, capped),
and the repository says so in its description and config. PR heads of `pulls.log` become
`refs/pull/N/head`: on the replayed commit when the head is in the log, else on a
synthetic commit. Replaying is not timed.

Timed: `collect_git` into a fresh store holding only the case registry, then the derived
tables (persons, affiliation classes, stages). llmcarto's peak RSS is read before the
baseline starts; the baseline is the committed script `benchmarks/pydriller_git.py`, run in
a child process with a timeout on the same repository. The last line printed is JSON.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from llmcarto.bundle import ARCHIVE, snapshot_dir, snapshot_id
from llmcarto.errors import InputError
from llmcarto.sources.base import Skip
from llmcarto.sources.gitlog import ParsedCommit, parse_git_log

TARGET_COMMITS_PER_S = 2000
MAX_SYNTHETIC_LINES = 20
BASELINE = Path(__file__).resolve().parents[3] / "benchmarks" / "pydriller_git.py"


def bundled_log(repo: str) -> tuple[list[str], list[str]]:
    """The bundle's commits.log and pulls.log lines of `repo` (read from the snapshot)."""
    folder = "git/" + repo.replace("/", "__", 1)
    with tarfile.open(snapshot_dir() / ARCHIVE, mode="r:xz") as tar:
        try:
            commits = tar.extractfile(f"{folder}/commits.log")
            pulls = tar.extractfile(f"{folder}/pulls.log")
        except KeyError as exc:
            raise InputError(f"--repo {repo}: not a repository of the bundled snapshot") from exc
        assert commits is not None and pulls is not None
        return (commits.read().decode("utf-8").splitlines(keepends=True),
                pulls.read().decode("utf-8").splitlines())


def topological(commits: Sequence[ParsedCommit]) -> list[ParsedCommit]:
    """Parents before children (iterative depth-first post-order; log order breaks ties)."""
    by_sha = {c.sha: c for c in commits}
    done: set[str] = set()
    out: list[ParsedCommit] = []
    for start in reversed(commits):
        stack = [(start.sha, False)]
        while stack:
            sha, expanded = stack.pop()
            if sha in done or sha not in by_sha:
                continue
            if expanded:
                done.add(sha)
                out.append(by_sha[sha])
                continue
            stack.append((sha, True))
            stack.extend((p, False) for p in reversed(by_sha[sha].parents) if p not in done)
    return out


def _raw_date(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{int(moment.timestamp())} {sign}{minutes // 60:02d}{minutes % 60:02d}"


def _ident(name: str | None, email: str | None) -> str:
    clean = (name or "unknown").replace("<", "").replace(">", "").replace("\n", " ").strip()
    address = (email or "").replace("<", "").replace(">", "").replace("\n", "").strip()
    return f"{clean or 'unknown'} <{address}>"


def _path(path: str) -> str:
    if path.startswith('"') or "\n" in path or "\\" in path:
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return path


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def fast_import_stream(commits: Sequence[ParsedCommit], pulls: Iterable[str]) -> bytes:
    """The `git fast-import` input replaying `commits` (newest first, as git log prints)."""
    ordered = topological(commits)
    mark = {c.sha: i for i, c in enumerate(ordered, 1)}
    chunks: list[bytes] = []
    for c in ordered:
        parents = [p for p in c.parents if p in mark]
        if not parents:
            chunks.append(b"reset refs/heads/main\n")
        chunks.append(b"commit refs/heads/main\nmark :%d\n" % mark[c.sha])
        chunks.append(f"author {_ident(c.author_name, c.author_email)} "
                      f"{_raw_date(c.author_date)}\n".encode())
        chunks.append(f"committer {_ident(c.committer_name, c.committer_email)} "
                      f"{_raw_date(c.commit_date)}\n".encode())
        chunks.append(_data(c.message + "\n"))
        if parents:
            chunks.append(b"from :%d\n" % mark[parents[0]])
            chunks += [b"merge :%d\n" % mark[p] for p in parents[1:]]
        for f in c.files or ():
            if f.get("old_path") and f["old_path"] != f["path"]:
                chunks.append(f"D {_path(f['old_path'])}\n".encode())
            lines = min(max(f.get("added") or 1, 1), MAX_SYNTHETIC_LINES)
            body = f"synthetic content (llmcarto bench git) of {f['path']} at {c.sha}\n" * lines
            chunks.append(f"M 100644 inline {_path(f['path'])}\n".encode() + _data(body))
    next_mark = len(ordered) + 1
    tip = mark[commits[0].sha] if commits else None
    for line in pulls:
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 6 or not fields[0].isdigit() or tip is None:
            continue
        number, head, name, email, date, _merged = fields
        ref = f"refs/pull/{number}/head".encode()
        if head in mark:
            chunks.append(b"reset " + ref + b"\nfrom :%d\n" % mark[head])
            continue
        chunks.append(b"commit " + ref + b"\nmark :%d\n" % next_mark)
        when = _raw_date(date) if date else _raw_date(commits[0].commit_date)
        chunks.append(f"author {_ident(name, email)} {when}\n".encode())
        chunks.append(f"committer {_ident(name, email)} {when}\n".encode())
        chunks.append(_data(f"synthetic PR head (llmcarto bench git): #{number}\n"))
        chunks.append(b"from :%d\n" % tip)
        chunks.append(f"M 100644 inline synthetic/pr-{number}\n".encode()
                      + _data(f"synthetic PR head #{number}\n"))
        next_mark += 1
    if tip is not None:
        chunks.append(b"reset refs/heads/main\nfrom :%d\n" % tip)
    chunks.append(b"done\n")
    return b"".join(chunks)


def replay(repo: str, target: Path) -> tuple[int, list[Skip]]:
    """Replay the bundled log of `repo` into a new bare repository at `target`."""
    log, pulls = bundled_log(repo)
    parsed = list(parse_git_log(log, f"git/{repo}/commits.log"))
    commits = [c for c in parsed if isinstance(c, ParsedCommit)]
    skips = [s for s in parsed if isinstance(s, Skip)]
    subprocess.run(["git", "init", "--quiet", "--bare", "-b", "main", str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "config", "llmcarto.synthetic-contents", "true"],
                   check=True)
    (target / "description").write_text(
        f"Replay of {repo}'s bundled git log by `llmcarto bench git`: real commits, authors "
        "(pseudonyms), dates, messages and paths; SYNTHETIC file contents.\n", encoding="utf-8")
    proc = subprocess.run(["git", "-C", str(target), "fast-import", "--quiet", "--done"],
                          input=fast_import_stream(commits, pulls), capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise InputError(f"git fast-import failed: {proc.stderr.decode('utf-8', 'replace')[-300:]}")
    return len(commits), skips


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_bench(repo: str, baseline_timeout: float | None, keep: Path | None,
              print_line: Callable[..., Any] = print) -> dict[str, Any]:
    """Replay, time collect + classify, run the baseline; print lines and the JSON line."""
    from llmcarto.framework.cases import packaged_cases_path
    from llmcarto.sources.gitclone import collect_git
    from llmcarto.store import InputFile, Store

    with tempfile.TemporaryDirectory(prefix="llmcarto-bench-git-") as tmp:
        target = keep if keep is not None else Path(tmp) / "replay.git"
        if target.exists():
            raise InputError(f"--keep {target}: already exists; give a new folder")
        replayed, skips = replay(repo, target)
        print_line(f"replayed {replayed:,} commits of {repo} into {target} (git fast-import; "
                   "file contents synthetic)", highlight=False, markup=False)
        db = Path(tmp) / "bench.duckdb"
        with Store(db) as store:  # the registry only: classes need the cases' domains
            store.import_inputs([InputFile(packaged_cases_path(), "cases/cases.yaml",
                                           explicit=True)], snapshot_id())
        started = time.perf_counter()
        store = Store(db)
        report = collect_git(store.con, target, repo=repo, branch="main")
        collected = time.perf_counter()
        store.refresh_derived()
        classified = time.perf_counter()
        traces = store.con.execute("SELECT count(*) FROM stage_trace WHERE item_kind = "
                                   "'commit'").fetchone()[0]
        store.close(publish_copy=False)
        seconds = classified - started
        rate = report.total_commits / seconds if seconds else float("inf")
        rss = _peak_rss_mb()
        print_line(f"llmcarto: {report.total_commits:,} commits ({report.pulls:,} PR heads) "
                   f"collected in {collected - started:.2f} s and classified in "
                   f"{classified - collected:.2f} s: {rate:,.0f} commits/s "
                   f"(target ≥ {TARGET_COMMITS_PER_S:,}); {traces:,} commit traces; peak RSS "
                   f"{rss:.0f} MB", highlight=False, markup=False)
        result: dict[str, Any] = {
            "bench": "git", "repo": repo, "commits": report.total_commits,
            "replay_skipped": len(skips), "pulls": report.pulls,
            "collect_s": round(collected - started, 3),
            "classify_s": round(classified - collected, 3), "total_s": round(seconds, 3),
            "commits_per_s": round(rate, 1), "target_commits_per_s": TARGET_COMMITS_PER_S,
            "meets_target": rate >= TARGET_COMMITS_PER_S, "peak_rss_mb": round(rss, 1),
            "synthetic_contents": True, "baseline": "pydriller", "baseline_s": None,
            "baseline_commits": None, "baseline_status": "not run", "speedup": None,
        }
        if baseline_timeout is not None:
            result.update(run_baseline(target, baseline_timeout))
            if result["baseline_s"]:
                result["speedup"] = round(result["baseline_s"] / seconds, 1)
            print_line(f"pydriller baseline ({BASELINE.name}): {result['baseline_status']}"
                       + (f", {result['baseline_commits']:,} commits in "
                          f"{result['baseline_s']:.1f} s; speedup {result['speedup']}×"
                          if result["baseline_s"] else ""), highlight=False, markup=False)
    print_line(json.dumps(result), highlight=False, markup=False, soft_wrap=True)
    return result


def run_baseline(repo_path: Path, timeout: float) -> dict[str, Any]:
    """The committed pydriller script in a child process; its last line is JSON."""
    if not BASELINE.exists():
        return {"baseline_status": f"missing: {BASELINE} (run from a source checkout)"}
    try:
        proc = subprocess.run([sys.executable, str(BASELINE), str(repo_path), "--branch", "main"],
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"baseline_status": f"timed out after {timeout:.0f} s", "baseline_s": None}
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        return {"baseline_status": f"failed (exit {proc.returncode}): {' '.join(tail)}"}
    data = json.loads(lines[-1])
    return {"baseline_status": "ok", "baseline_s": data["seconds"],
            "baseline_commits": data["commits"]}
