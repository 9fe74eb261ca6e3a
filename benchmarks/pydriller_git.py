"""Baseline for `llmcarto bench git`: the same facts read with pydriller.

For every commit of the branch: sha, parents, author and committer (name, e-mail, date),
message, and per changed file its path, old path and added/deleted lines — what
`llmcarto collect git` stores (git log --numstat). Run by the benchmark in a child process
with a timeout; prints one JSON line: {"commits": n, "files": n, "seconds": s}.

    python benchmarks/pydriller_git.py REPO [--branch main]
"""

from __future__ import annotations

import argparse
import json
import time

from pydriller import Repository


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("repo")
    parser.add_argument("--branch", default="main")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    files = 0
    for commit in Repository(args.repo, only_in_branch=args.branch).traverse_commits():
        changed = [{"path": f.new_path or f.old_path, "old_path": f.old_path,
                    "added": f.added_lines, "deleted": f.deleted_lines}
                   for f in commit.modified_files]
        files += len(changed)
        rows.append({"sha": commit.hash, "parents": commit.parents,
                     "author": (commit.author.name, commit.author.email),
                     "author_date": commit.author_date.isoformat(),
                     "committer": (commit.committer.name, commit.committer.email),
                     "commit_date": commit.committer_date.isoformat(),
                     "message": commit.msg, "files": changed})
    seconds = time.perf_counter() - started
    print(json.dumps({"commits": len(rows), "files": files, "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    main()
