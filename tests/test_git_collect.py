"""The live git collector on real repositories built with `git init` (no network)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from llmcarto.errors import InputError
from llmcarto.privacy import git_email_pseudonym, git_name_pseudonym
from llmcarto.sources.gitclone import collect_git, read_mailmap

BASE_DATE = 1_700_000_000  # 2023-11-14


class Repo:
    """A scratch repository: commits with chosen authors, dates, files and messages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0
        path.mkdir(parents=True)
        self.git("init", "--quiet", "-b", "main")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict | None = None, input: bytes | None = None) -> str:
        proc = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True,
                              env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1",
                                   "HOME": str(self.path), **(env or {})},
                              input=input, check=True)
        return proc.stdout.decode("utf-8", "replace").strip()

    def commit(self, message: str, files: dict[str, str | bytes | None],
               author: tuple[str, str] = ("Alice Example", "alice@allenai.org"),
               committer: tuple[str, str] | None = None, days: int = 0) -> str:
        self.n += 1
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "--quiet", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
            self.git("add", name)
        committer = committer or author
        when = f"@{BASE_DATE + 86400 * (days or self.n)} +0100"
        self.git("commit", "--quiet", "--allow-empty", "-m", message,
                 env={"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1],
                      "GIT_COMMITTER_NAME": committer[0], "GIT_COMMITTER_EMAIL": committer[1],
                      "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when})
        return self.git("rev-parse", "HEAD")

    def rev_list(self, ref: str = "main") -> list[str]:
        return self.git("rev-list", ref).split()


@pytest.fixture()
def repo(tmp_path: Path) -> Repo:
    """main: 4 commits (a rename, a binary file, a quoted path, a co-author trailer) and a
    merge of a side branch."""
    r = Repo(tmp_path / "work")
    r.commit("Initial commit", {"README.md": "hello\n", "train.py": "x = 1\n"})
    r.commit("Add tokenizer (#3)", {"tokenizer.py": "a\nb\nc\n", "blob.bin": b"\x00\x01\x02"},
             author=("Bob Gmail", "bob@gmail.com"))
    r.git("checkout", "--quiet", "-b", "side")
    r.commit("Side work\n\nCo-authored-by: Carol Uni <carol@cs.cmu.edu>",
             {"données/é.txt": "un\n"}, author=("Alice Example", "alice@allenai.org"))
    r.git("checkout", "--quiet", "main")
    r.commit("Rename train", {"train.py": None, "scripts/train.py": "x = 1\n"})
    r.git("merge", "--quiet", "--no-ff", "-m", "Merge pull request #7 from someone/side", "side",
          env={"GIT_AUTHOR_DATE": f"@{BASE_DATE + 86400 * 9} +0000",
               "GIT_COMMITTER_DATE": f"@{BASE_DATE + 86400 * 9} +0000",
               "GIT_AUTHOR_NAME": "Alice Example", "GIT_AUTHOR_EMAIL": "alice@allenai.org",
               "GIT_COMMITTER_NAME": "Alice Example", "GIT_COMMITTER_EMAIL": "alice@allenai.org"})
    return r


@pytest.fixture()
def registry_db(tmp_path: Path) -> Iterator[Path]:
    """A store holding only the case registry (classes need the cases' domains)."""
    from llmcarto.bundle import snapshot_id
    from llmcarto.framework.cases import packaged_cases_path
    from llmcarto.store import InputFile, Store

    db = tmp_path / "store.duckdb"
    with Store(db) as store:
        store.import_inputs([InputFile(packaged_cases_path(), "cases/cases.yaml",
                                       explicit=True)], snapshot_id())
    yield db


def _collect(db: Path, path: Path, **kwargs):
    from llmcarto.store import Store

    with Store(db) as store:
        report = collect_git(store.con, path, **kwargs)
        store.mark_changed()
    return report


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    from llmcarto.store import open_published

    con = open_published(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_collects_every_commit_with_parents_files_and_trailers(repo: Repo, registry_db: Path):
    report = _collect(registry_db, repo.path, repo="someone/demo")
    expected = repo.git("rev-list", "--parents", "main").splitlines()
    assert report.new_commits == report.total_commits == len(expected) == 5
    got = dict(_rows(registry_db, "SELECT sha, parents FROM git_commit WHERE repo = ?",
                     ["someone/demo"]))
    for line in expected:
        sha, *parents = line.split()
        assert got[sha] == parents
    # numstat equals git's own per-commit diff (an independent command)
    for sha, files in _rows(registry_db, "SELECT sha, files FROM git_commit WHERE NOT is_merge "
                                         "AND repo = ?", ["someone/demo"]):
        parents = got[sha]
        args = ["diff-tree", "--numstat", "-r", "-M", "--root", sha] if not parents else [
            "diff-tree", "--numstat", "-r", "-M", parents[0], sha]
        truth = [line.split("\t") for line in repo.git("-c", "core.quotePath=false", *args)
                 .splitlines() if "\t" in line]
        mine = json.loads(files)
        assert len(mine) == len(truth)
        for (added, deleted, _path), f in zip(truth, mine, strict=True):
            assert f["added"] == (None if added == "-" else int(added))
            assert f["deleted"] == (None if deleted == "-" else int(deleted))
    renamed = _rows(registry_db, "SELECT files FROM git_commit WHERE subject = 'Rename train'")
    assert [(f["path"], f["old_path"]) for f in json.loads(renamed[0][0])] == [
        ("scripts/train.py", "train.py")]
    quoted = _rows(registry_db, "SELECT files FROM git_commit WHERE subject = 'Side work'")
    assert [f["path"] for f in json.loads(quoted[0][0])] == ["données/é.txt"]
    trailers = _rows(registry_db, "SELECT trailers FROM git_commit WHERE subject = 'Side work'")
    assert "carol@cs.cmu.edu" in trailers[0][0]
    numbers = _rows(registry_db, "SELECT raw->'pr_numbers_in_subjects' FROM git_repo "
                                 "WHERE source = 'git-clone'")
    assert numbers == [("[3,7]",)]


def test_a_rerun_adds_only_new_commits(repo: Repo, registry_db: Path):
    first = _collect(registry_db, repo.path, repo="someone/demo")
    again = _collect(registry_db, repo.path, repo="someone/demo")
    assert again.unchanged and again.new_commits == 0 and again.total_commits == 5
    repo.commit("More", {"more.txt": "1\n2\n"}, days=20)
    repo.commit("Even more", {"more.txt": "1\n"}, days=21)
    third = _collect(registry_db, repo.path, repo="someone/demo")
    assert (first.new_commits, third.new_commits, third.total_commits) == (5, 2, 7)
    assert not third.rewritten
    rows = _rows(registry_db, "SELECT count(*), count(DISTINCT sha) FROM git_commit "
                              "WHERE repo = 'someone/demo'")
    assert rows == [(7, 7)]
    assert set(repo.rev_list()) == {r[0] for r in _rows(
        registry_db, "SELECT sha FROM git_commit WHERE repo = 'someone/demo'")}
    state = _rows(registry_db, "SELECT head, runs, commits, new_commits, full_run "
                               "FROM git_crawl")
    assert state == [(repo.rev_list()[0], 3, 7, 2, False)]


def test_a_rewritten_branch_is_collected_again_whole(repo: Repo, registry_db: Path):
    _collect(registry_db, repo.path, repo="someone/demo")
    old_tip = repo.rev_list()[0]
    repo.git("reset", "--quiet", "--hard", "HEAD~1")
    repo.commit("Replacement", {"x.txt": "x\n"}, days=30)
    report = _collect(registry_db, repo.path, repo="someone/demo")
    assert report.rewritten
    shas = {r[0] for r in _rows(registry_db, "SELECT sha FROM git_commit")}
    assert shas == set(repo.rev_list()) and old_tip not in shas


def test_bare_clone_pull_heads_and_remote_name(repo: Repo, registry_db: Path, tmp_path: Path):
    merged = repo.rev_list("side")[0]
    repo.git("checkout", "--quiet", "-b", "open-pr", "main~1")
    unmerged = repo.commit("Unmerged idea", {"idea.txt": "?\n"}, author=("Dan", "dan@ibm.com"),
                           days=40)
    repo.git("checkout", "--quiet", "main")
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo.path), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "update-ref", "refs/pull/7/head", merged], check=True)
    subprocess.run(["git", "-C", str(bare), "update-ref", "refs/pull/9/head", unmerged],
                   check=True)
    subprocess.run(["git", "-C", str(bare), "remote", "set-url", "origin",
                    "https://github.com/Someone/Demo.git"], check=True)
    report = _collect(registry_db, bare)
    assert report.repo == "Someone/Demo" and report.total_commits == 5
    assert (report.pulls, report.pulls_merged) == (2, 1)
    pulls = _rows(registry_db, "SELECT number, head_sha, merged_by_ancestry, author_email "
                               "FROM git_pull ORDER BY number")
    assert pulls == [(7, merged, True, "alice@allenai.org"), (9, unmerged, False, "dan@ibm.com")]


def test_errors_name_the_problem(tmp_path: Path, registry_db: Path, repo: Repo):
    (tmp_path / "plain").mkdir()
    with pytest.raises(InputError, match="not a git repository"):
        _collect(registry_db, tmp_path / "plain", repo="a/b")
    with pytest.raises(InputError, match="give --repo OWNER/NAME"):
        _collect(registry_db, repo.path)
    with pytest.raises(InputError, match="--case 'nope': not a case"):
        _collect(registry_db, repo.path, repo="a/b", case="nope")
    with pytest.raises(InputError, match="expected OWNER/NAME"):
        _collect(registry_db, repo.path, repo="not a name")


def test_identities_are_classed_and_exported_as_pseudonyms(repo: Repo, registry_db: Path):
    from typer.testing import CliRunner

    from llmcarto.cli import app

    _collect(registry_db, repo.path, repo="someone/demo", case="allenai")
    classes = dict(_rows(registry_db, "SELECT c.subject, a.author_class FROM commit_affiliation a "
                                      "JOIN git_commit c USING (repo, sha)"))
    assert classes["Initial commit"] == "internal"  # allenai.org is the case's own
    assert classes["Add tokenizer (#3)"] == "unknown"  # gmail: never external
    stages = dict(_rows(registry_db, "SELECT rule, count(*) FROM stage_trace "
                                     "WHERE item_kind = 'commit' GROUP BY 1"))
    assert stages == {"no-role": 5}  # --case gives no role: unknown, never guessed
    runner = CliRunner()
    for what in ("commits", "persons"):
        result = runner.invoke(app, ["--db", str(registry_db), "export", what, "--repo",
                                     "someone/demo", "--format", "csv"])
        assert result.exit_code == 0, result.output
        text = result.output
        for raw in ("Alice", "alice@", "Bob", "bob@", "Carol", "carol@"):
            assert raw not in text
        assert git_name_pseudonym("Alice Example") in text
    persons = runner.invoke(app, ["--db", str(registry_db), "export", "persons", "--repo",
                                  "someone/demo"]).output.splitlines()
    assert persons[0] == "case,person,class,org,commits,inherited_commits,first,last"
    alice = [p for p in persons if git_name_pseudonym("Alice Example") in p]
    assert alice and alice[0].split(",")[2:5] == ["internal", "Allen Institute for AI (Ai2)", "4"]
    identities = {r[0] for r in _rows(registry_db, "SELECT identity FROM git_person_identity")}
    assert git_email_pseudonym("carol@cs.cmu.edu") in identities
    assert not any("@" in i and not i.split("@")[0].isalnum() for i in identities)


def test_mailmap_and_github_noreply_forms_merge_identities(tmp_path: Path, registry_db: Path):
    r = Repo(tmp_path / "mm")
    r.commit("one", {"a": "1\n"}, author=("Eve Old", "eve@old-lab.example.org"))
    r.commit("two", {"b": "1\n"}, author=("Eve", "eve@cs.cmu.edu"))
    r.commit("three", {"c": "1\n"}, author=("frank-gh", "12345+frank@users.noreply.github.com"))
    r.commit("four", {"d": "1\n"}, author=("Frank F.", "frank@users.noreply.github.com"))
    r.commit("mailmap", {".mailmap": "Eve <eve@cs.cmu.edu> Eve Old <eve@old-lab.example.org>\n"},
             author=("Eve", "eve@cs.cmu.edu"))
    assert read_mailmap(r.path, "HEAD")[0]["commit_email"] == "eve@old-lab.example.org"
    _collect(registry_db, r.path, repo="someone/mm")
    people = dict(_rows(registry_db, "SELECT c.subject, p.person FROM git_commit_person p "
                                     "JOIN git_commit c USING (repo, sha)"))
    assert people["one"] == people["two"] == people["mailmap"]
    assert people["three"] == people["four"] != people["one"]
    kinds = {r[0] for r in _rows(registry_db, "SELECT kind FROM git_person_link")}
    assert ".mailmap" in kinds


def test_machine_identities_and_generic_names_never_merge(tmp_path: Path, registry_db: Path):
    r = Repo(tmp_path / "gen")
    r.commit("a", {"a": "1\n"}, author=("root", "root@node-01.cluster.local"))
    r.commit("b", {"b": "1\n"}, author=("root", "root@login-02.hpc.example.org"))
    r.commit("c", {"c": "1\n"}, author=("Grace", "root@login-02.hpc.example.org"))
    r.commit("d", {"d": "1\n"}, author=("Grace", "grace@cs.cmu.edu"))
    _collect(registry_db, r.path, repo="someone/gen")
    people = dict(_rows(registry_db, "SELECT c.subject, p.person FROM git_commit_person p "
                                     "JOIN git_commit c USING (repo, sha)"))
    assert people["a"] != people["b"]
    assert people["c"] == people["d"] == git_name_pseudonym("Grace")
    assert people["b"] != people["c"]


def test_bots_are_kept_apart(tmp_path: Path, registry_db: Path):
    r = Repo(tmp_path / "bots")
    r.commit("bump", {"a": "1\n"}, author=("dependabot[bot]",
                                           "49699333+dependabot[bot]@users.noreply.github.com"))
    r.commit("fix\n\nCo-authored-by: Claude <noreply@anthropic.com>", {"b": "1\n"},
             author=("Heidi", "heidi@allenai.org"),
             committer=("GitHub", "noreply@github.com"))
    _collect(registry_db, r.path, repo="someone/bots", case="allenai")
    rows = dict(_rows(registry_db, "SELECT person, kind FROM git_person"))
    assert rows["bot:dependabot[bot]"] == "bot" and rows["bot:Claude"] == "bot"
    assert rows[git_name_pseudonym("Heidi")] == "person"
    classes = {r[0] for r in _rows(registry_db, "SELECT author_class FROM commit_affiliation "
                                                "WHERE person LIKE 'bot:%'")}
    assert classes == {"bot"}
    assert not _rows(registry_db, "SELECT * FROM git_person_identity WHERE identity LIKE "
                                  "'%github.com' OR identity LIKE '%anthropic.com'")


def test_lines_that_are_not_utf8_are_kept_and_reported(tmp_path: Path, registry_db: Path):
    r = Repo(tmp_path / "latin")
    first = r.commit("ok", {"a": "1\n"})
    tree = r.git("rev-parse", "HEAD^{tree}")
    raw = (f"tree {tree}\nparent {first}\nauthor Ivan <ivan@allenai.org> 1700000000 +0000\n"
           f"committer Ivan <ivan@allenai.org> 1700000000 +0000\n\n").encode() + \
        b"caf\xe9 in latin-1, written by a tool that did not re-encode\n"
    sha = r.git("hash-object", "-t", "commit", "-w", "--stdin", "--literally", input=raw)
    r.git("update-ref", "refs/heads/main", sha)
    report = _collect(registry_db, r.path, repo="someone/latin")
    assert report.total_commits == 2
    assert [s.kept for s in report.skips] == [True]
    assert "not UTF-8" in report.skips[0].reason and report.skips[0].loc.startswith("git log line")
    kept = _rows(registry_db, "SELECT kept, loc FROM skipped_item WHERE kind = 'git-clone'")
    assert kept and kept[0][0] is True


def test_collect_git_cli(repo: Repo, registry_db: Path, tmp_path: Path):
    from typer.testing import CliRunner

    from llmcarto.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["--db", str(registry_db), "collect", "git", str(repo.path),
                                 "--repo", "someone/demo", "--case", "allenai"])
    assert result.exit_code == 0, result.output
    assert "5 new commits, 5 in all" in result.output
    out = tmp_path / "c.parquet"
    result = runner.invoke(app, ["--db", str(registry_db), "export", "commits", "--repo",
                                 "someone/demo", "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    con = duckdb.connect()
    cols = [d[0] for d in con.execute(f"SELECT * FROM '{out}'").description]
    for col in ("sha", "date", "author_person", "author_class", "author_org", "stage",
                "activity", "artefact_domain", "rule", "upstream_contribution",
                "files_changed", "inherited"):
        assert col in cols
    assert con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0] == 5
    bad = runner.invoke(app, ["--db", str(registry_db), "export", "commits", "--repo",
                              "someone/demo", "--format", "parquet"])
    assert bad.exit_code != 0


def test_a_live_commit_wins_over_the_bundles_copy(repo: Repo, registry_db: Path):
    """Collecting a clone of a bundled repository must not count its commits twice."""
    from llmcarto.store import Store

    _collect(registry_db, repo.path, repo="someone/demo", case="allenai")
    with Store(registry_db) as store:
        store.con.execute("""INSERT INTO git_commit SELECT * REPLACE ('git-commits' AS source,
            'git/someone__demo/commits.log' AS file, 'line 1' AS loc,
            'dev-0000000000' AS author_name) FROM git_commit""")
        store.mark_changed()
    assert _rows(registry_db, "SELECT count(*) FROM git_commit") == [(10,)]
    traces = _rows(registry_db, "SELECT count(*), count(DISTINCT item_key) FROM stage_trace "
                                "WHERE item_kind = 'commit'")
    assert traces == [(5, 5)]
    assert _rows(registry_db, "SELECT count(*) FROM git_commit_person") == [(5,)]
    assert not _rows(registry_db, "SELECT * FROM git_person WHERE person = 'dev-0000000000'")
