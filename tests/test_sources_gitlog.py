"""The git readers on the bundle's 28 real repositories, checked against the bundle's own
numbers (repo.json, README §6/§8, manifest `sanity`), plus faults and random damage."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcarto.errors import InputError
from llmcarto.sources.base import ReadContext, Record, Skip
from llmcarto.sources.gitlog import (
    READERS,
    GitCommitsReader,
    GitPullsReader,
    GitRepoReader,
    ParsedCommit,
    parse_git_log,
)

COMMITS, PULLS, REPO = GitCommitsReader(), GitPullsReader(), GitRepoReader()
FILES = {"commits.log": COMMITS, "pulls.log": PULLS, "repo.json": REPO}


def _read(reader, path: Path, name: str, **extras) -> list[Record | Skip]:
    return list(reader.read(ReadContext(path=path, name=name, extras=extras)))


@pytest.fixture(scope="module")
def bundle(shared_data: Path) -> dict[str, dict]:
    """Every git folder read once: repo -> {commits, pulls, repo, skips, seconds}."""
    out: dict[str, dict] = {}
    started = time.perf_counter()
    for folder in sorted((shared_data / "git").iterdir()):
        items = {f: _read(r, folder / f, f"git/{folder.name}/{f}") for f, r in FILES.items()}
        repo = items["repo.json"][0].row
        out[repo["repo"]] = {
            "commits": [i for i in items["commits.log"] if isinstance(i, Record)],
            "pulls": [i for i in items["pulls.log"] if isinstance(i, Record)],
            "repo": repo,
            "skips": [i for v in items.values() for i in v if isinstance(i, Skip)],
        }
    elapsed = time.perf_counter() - started
    print(f"\nread 28 git folders in {elapsed:.2f} s")
    out["_seconds"] = {"value": elapsed}
    return out


def _repos(bundle: dict) -> dict[str, dict]:
    return {k: v for k, v in bundle.items() if not k.startswith("_")}


def _by_sha(bundle: dict, repo: str, prefix: str) -> dict:
    rows = [r.row for r in bundle[repo]["commits"] if r.row["sha"].startswith(prefix)]
    assert len(rows) == 1, prefix
    return rows[0]


@pytest.fixture(scope="module")
def sanity(shared_data: Path) -> dict:
    return json.loads((shared_data / "manifest.json").read_text())["sanity"]["git"]


# --- detection -------------------------------------------------------------------------


def test_each_git_file_is_claimed_by_exactly_its_reader(shared_data: Path) -> None:
    folders = sorted((shared_data / "git").iterdir())
    assert len(folders) == 28
    for folder in folders:
        for fname, reader in FILES.items():
            head = (folder / fname).read_bytes()[:4096]
            name = f"git/{folder.name}/{fname}"
            assert [r.kind for r in READERS if r.detect(name, head)] == [reader.kind], name


def test_detection_is_by_content_for_renamed_files(shared_data: Path) -> None:
    folder = shared_data / "git" / "allenai__OLMo"
    assert COMMITS.detect("elsewhere/history.txt", (folder / "commits.log").read_bytes()[:4096])
    assert PULLS.detect("elsewhere/prs.tsv", (folder / "pulls.log").read_bytes()[:4096])
    assert REPO.detect("elsewhere/facts.json", (folder / "repo.json").read_bytes()[:4096])
    # an empty file is claimed only by its bundle name (two repos have no PR heads)
    assert PULLS.detect("git/scb-10x__typhoon-s/pulls.log", b"")
    assert not PULLS.detect("elsewhere/empty.tsv", b"")


def test_no_other_bundle_file_is_claimed(shared_data: Path) -> None:
    manifest = json.loads((shared_data / "manifest.json").read_text())
    others = [f["path"] for f in manifest["files"] if not f["path"].startswith("git/")]
    assert len(others) > 500
    for path in others:
        head = (shared_data / path).read_bytes()[:4096]
        assert not [r.kind for r in READERS if r.detect(path, head)], path


# --- the real logs against the bundle's own numbers -------------------------------------


def test_counts_equal_repo_json_and_nothing_is_skipped(bundle: dict) -> None:
    repos = _repos(bundle)
    assert len(repos) == 28
    for name, data in repos.items():
        assert data["skips"] == [], name
        assert len(data["commits"]) == data["repo"]["commits"], name
        assert len(data["pulls"]) == data["repo"]["pulls"], name
        merged = sum(p.row["merged_by_ancestry"] for p in data["pulls"])
        assert merged == data["repo"]["pulls_merged_by_ancestry"], name
    assert sum(len(d["commits"]) for d in repos.values()) == 25_539  # README §6 total
    assert sum(len(d["pulls"]) for d in repos.values()) == 9_621
    assert sum(p.row["merged_by_ancestry"] for d in repos.values() for p in d["pulls"]) == 2_276


def test_whole_bundle_parses_in_a_few_seconds(bundle: dict) -> None:
    assert bundle["_seconds"]["value"] < 10


def test_distinct_author_identities_equal_readme_section_8(bundle: dict, sanity: dict) -> None:
    repos = _repos(bundle)
    for name, data in repos.items():
        emails = {r.row["author_email"] for r in data["commits"]}  # `<>` counts as one
        names = {r.row["author_name"] for r in data["commits"]}
        assert len(emails) == sanity[name]["distinct_author_emails"], name
        assert len(names) == sanity[name]["distinct_author_names"], name
        pull_emails = {p.row["author_email"] for p in data["pulls"]}
        assert len(pull_emails) == sanity[name]["distinct_pull_authors"], name
    # the README table's first numbers, written out
    assert len({r.row["author_email"] for r in repos["allenai/OLMo"]["commits"]}) == 86
    assert len({r.row["author_email"] for r in repos["huggingface/smollm"]["commits"]}) == 27
    assert len({r.row["author_email"]
                for r in repos["EleutherAI/lm-evaluation-harness"]["commits"]}) == 470


def test_author_domains_equal_manifest_top_domains(bundle: dict, sanity: dict) -> None:
    for name, data in _repos(bundle).items():
        counts = Counter(r.row["author_domain"] for r in data["commits"])
        for domain, n in sanity[name]["top_domains"]:
            assert counts[domain or None] == n, (name, domain)
    olmo = Counter(r.row["author_domain"] for r in bundle["allenai/OLMo"]["commits"])
    assert olmo["allenai.org"] == 3289 and olmo["gmail.com"] == 1007


def test_pr_numbers_in_subjects_match_repo_json(bundle: dict) -> None:
    """repo.json counts the PR heads whose number a default-branch subject references."""
    for name, data in _repos(bundle).items():
        referenced = {n for r in data["commits"] for n in r.row["pr_numbers"]}
        heads = {p.row["number"] for p in data["pulls"]}
        expected = data["repo"]["raw"]["pulls_numbers_referenced_in_default_branch_subjects"]
        assert len(referenced & heads) == expected, name
    assert _by_sha(bundle, "allenai/OLMo", "6726585b")["pr_numbers"] == [884]
    assert _by_sha(bundle, "EleutherAI/gpt-neox", "facb280d")["pr_numbers"] == [1351]


def test_first_and_last_committer_dates_equal_repo_json(bundle: dict) -> None:
    for name, data in _repos(bundle).items():
        dates = sorted(datetime.fromisoformat(r.row["commit_date"]) for r in data["commits"])
        assert dates[0] == datetime.fromisoformat(data["repo"]["first"]), name
        assert dates[-1] == datetime.fromisoformat(data["repo"]["last"]), name


def test_merge_commits_have_no_files_and_no_counts(bundle: dict) -> None:
    merges = [r.row for d in _repos(bundle).values() for r in d["commits"] if r.row["is_merge"]]
    assert len(merges) > 1000
    for row in merges:
        assert len(row["parents"]) >= 2
        assert row["files"] in ([], None)
        assert row["files_changed"] is None and row["insertions"] is None
    olmo_merge = _by_sha(bundle, "allenai/OLMo", "59a53e3f68e5")  # the snapshot commit
    assert olmo_merge["parents"] == ["6726585b000a80e8b402a4e2a9c7fb8c236eff81",
                                     "3a6f001a12a89ebd39bc8f9c65a0d9ee171aaebb"]
    assert olmo_merge["subject"] == "Revise README checkpoint link texts from 50B to 51B"
    assert olmo_merge["message"].endswith("Revise checkpoint link texts: 50B --> 51B")


def test_empty_author_emails_are_null(bundle: dict) -> None:
    empty = Counter(name for name, d in _repos(bundle).items()
                    for r in d["commits"] if r.row["author_email"] is None)
    assert empty == {"EleutherAI/lm-evaluation-harness": 12, "bigcode-project/bigcode-dataset": 3}
    for name in empty:
        for r in bundle[name]["commits"]:
            if r.row["author_email"] is None:
                assert r.row["author_domain"] is None and r.row["author_name"].startswith("dev-")
    empty_pulls = Counter(name for name, d in _repos(bundle).items()
                          for p in d["pulls"] if p.row["author_email"] is None)
    assert empty_pulls == {"bigscience-workshop/Megatron-DeepSpeed": 3,
                           "EleutherAI/lm-evaluation-harness": 2,
                           "bigcode-project/bigcode-dataset": 1}


def test_notram_has_no_numstat_and_null_counts(bundle: dict) -> None:
    for name, data in _repos(bundle).items():
        flags = {r.row["numstat"] for r in data["commits"]}
        assert flags == {data["repo"]["numstat_included"]}, name
    notram = bundle["NbAiLab/notram"]
    assert notram["repo"]["numstat_included"] is False
    for r in notram["commits"]:
        assert r.row["files"] is None and r.row["files_changed"] is None
        assert r.row["insertions"] is None and r.row["deletions"] is None
    # elsewhere non-merge commits have real counts, 0 included (empty commits)
    olmo = [r.row for r in bundle["allenai/OLMo"]["commits"] if not r.row["is_merge"]]
    assert all(isinstance(r["files_changed"], int) for r in olmo)


def test_renames_are_resolved(bundle: dict) -> None:
    neox = _by_sha(bundle, "EleutherAI/gpt-neox", "3f43f0705b6d")
    files = {f["path"]: f for f in neox["files"]}
    assert files["tools/bash/kill.sh"]["old_path"] == "tools/kill.sh"  # tools/{ => bash}/kill.sh
    assert files["tools/ckpts/convert_hf_to_sequential.py"] == {
        "path": "tools/ckpts/convert_hf_to_sequential.py",
        "old_path": "tools/convert_hf_to_sequential.py", "added": 243, "deleted": 172,
        "binary": False}
    assert files["README.md"]["old_path"] is None
    plain = {f["path"]: f for f in _by_sha(bundle, "EleutherAI/gpt-neox", "facb280d")["files"]}
    assert plain["containers/docker/Dockerfile"]["old_path"] == "Dockerfile"
    dropped = _by_sha(bundle, "bigscience-workshop/Megatron-DeepSpeed", "2bd6196cfecf")["files"]
    assert {"path": "scripts/run_gpt2_eval.py", "old_path": "tasks/run_gpt2_eval.py",
            "added": 0, "deleted": 0, "binary": False} in dropped
    every = [f for d in _repos(bundle).values() for r in d["commits"] for f in r.row["files"] or []]
    assert not [f for f in every if "=>" in f["path"] or "{" in (f["old_path"] or "")
                or "//" in f["path"] or f["path"].startswith(("/", '"'))]


def test_binary_and_quoted_paths(bundle: dict) -> None:
    olmo = _by_sha(bundle, "allenai/OLMo", "fcca250c1b11")
    assert {"path": "test_fixtures/test-olmo-model/pytorch_model.bin", "old_path": None,
            "added": None, "deleted": None, "binary": True} in olmo["files"]
    assert (olmo["files_changed"], olmo["insertions"], olmo["deletions"]) == (5, 200006, 50003)
    flag = _by_sha(bundle, "FlagOpen/FlagData", "84a3d7e7a22a")
    paths = {f["path"] for f in flag["files"]}
    assert ("flagdata/cleaner/input/book_demo_data/"
            "11836283_《望古神话之秦墟》（全本校对）作者 月关.epub") in paths
    binary = sum(f["binary"] for d in _repos(bundle).values() for r in d["commits"]
                 for f in r.row["files"] or [])
    assert binary == 1722  # = the `-<TAB>-` lines in the 28 logs (grep -c)


def test_trailers_message_and_provenance(bundle: dict) -> None:
    neox = _by_sha(bundle, "EleutherAI/gpt-neox", "3f43f0705b6d")
    # squashed commits carry trailers mid-message too: all 8 `-by:` lines of the block
    assert len(neox["trailers"]) == 8
    assert [t["key"] for t in neox["trailers"][-4:]] == ["Signed-off-by"] + ["Co-authored-by"] * 3
    assert {"key": "Co-authored-by", "name": "github-actions",
            "email": "github-actions@github.com"} in neox["trailers"]
    assert not neox["message"].startswith(" ")
    # a merge message whose lines are separated by bare CRs: the subject stops at the first
    cr = _by_sha(bundle, "bigscience-workshop/Megatron-DeepSpeed", "a0bcee9488a0")
    assert cr["subject"] == "Merge branch 'staging' into staging_gpt2_evals"
    assert cr["message"].endswith("# the commit.") and "\r# Please enter" in cr["message"]
    first = bundle["allenai/OLMo"]["commits"][0]
    assert first.loc == "line 1"
    assert first.source_url == ("https://github.com/allenai/OLMo/commit/"
                                "59a53e3f68e546330ca5a99ec626e58f9ab96494")
    assert bundle["allenai/OLMo"]["commits"][1].loc == "line 12"
    pull = bundle["allenai/OLMo"]["pulls"][0]
    assert pull.source_url == "https://github.com/allenai/OLMo/pull/3" and pull.loc == "line 1"
    assert pull.row["author_date"] == "2023-02-20T18:19:34-08:00"


def test_rows_have_every_column_and_are_json(bundle: dict) -> None:
    for reader, table in ((COMMITS, "git_commit"), (PULLS, "git_pull"), (REPO, "git_repo")):
        columns = [c.strip().split(" ")[0] for c in reader.tables[table].split(",")]
        key = {"git_commit": "commits", "git_pull": "pulls", "git_repo": None}[table]
        for data in _repos(bundle).values():
            rows = [r.row for r in data[key][:50]] if key else [data["repo"]]
            for row in rows:
                assert sorted(row) == sorted(columns)
                json.dumps(row)


def test_repo_rows(bundle: dict, shared_data: Path) -> None:
    notram = _read(REPO, shared_data / "git/NbAiLab__notram/repo.json",
                   "git/NbAiLab__notram/repo.json")[0]
    assert notram.row["default_branch"] == "master" and notram.row["commits"] == 1271
    assert notram.row["numstat_placeholder_blobs"] == 23 and notram.row["license"] == "Apache-2.0"
    assert notram.source_url == ("https://github.com/NbAiLab/notram/tree/"
                                 "7efec822c5dc3d2227aa062ab77b155f8027aae1")
    assert bundle["meta-llama/llama"]["repo"]["license"] is None
    assert sum(d["repo"]["numstat_placeholder_blobs"] for d in _repos(bundle).values()) > 0


def test_source_repo_extra_wins_over_folder(shared_data: Path) -> None:
    path = shared_data / "git/for-ai__aya-annotations-ui/commits.log"
    items = _read(COMMITS, path, "x/commits.log", source_repo="someone/else")
    assert {i.row["repo"] for i in items} == {"someone/else"}
    assert items[0].source_url.startswith("https://github.com/someone/else/commit/")


# --- faults ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def olmo_head(shared_data: Path) -> tuple[list[str], list[int]]:
    """The first 40 commit blocks of allenai/OLMo: lines, and the 0-based start of each."""
    lines = []
    starts: list[int] = []
    with (shared_data / "git/allenai__OLMo/commits.log").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("commit "):
                if len(starts) == 40:
                    break
                starts.append(len(lines))
            lines.append(line.rstrip("\n"))
    return lines, starts


def _parse(lines: list[str]) -> tuple[list[ParsedCommit], list[Skip]]:
    items = list(parse_git_log(lines, "t.log"))
    return ([i for i in items if isinstance(i, ParsedCommit)],
            [i for i in items if isinstance(i, Skip)])


def test_log_truncated_mid_header(olmo_head) -> None:
    lines, starts = olmo_head
    cut = lines[:starts[-1] + 3]  # commit, Author, AuthorDate of the 40th block
    good, skips = _parse(cut)
    assert len(good) == 39
    assert [s.loc for s in skips] == [f"line {starts[-1] + 1}"]
    assert "truncated" in skips[0].reason


def test_block_cut_in_the_middle_resynchronises(olmo_head) -> None:
    lines, starts = olmo_head
    damaged = lines[:starts[10] + 2] + lines[starts[11]:]  # block 11 loses all after Author
    good, skips = _parse(damaged)
    assert len(good) == 39 and len(skips) == 1
    assert skips[0].loc == f"line {starts[10] + 1}"
    assert lines[starts[10]].split()[1] not in {c.sha for c in good}


def test_garbled_author_date(olmo_head, tmp_path: Path) -> None:
    lines, starts = olmo_head
    damaged = list(lines)
    target = next(i for i in range(starts[20], starts[21]) if lines[i].startswith("AuthorDate:"))
    damaged[target] = "AuthorDate: 2024-13-45T99:00:00-07:00"
    path = tmp_path / "commits.log"
    path.write_text("\n".join(damaged) + "\n", encoding="utf-8")
    items = _read(COMMITS, path, "git/allenai__OLMo/commits.log")
    skips = [i for i in items if isinstance(i, Skip)]
    assert [(s.file, s.loc) for s in skips] == [("git/allenai__OLMo/commits.log",
                                                 f"line {starts[20] + 1}")]
    assert f"(line {target + 1}): AuthorDate '2024-13-45T" in skips[0].reason
    assert len([i for i in items if isinstance(i, Record)]) == 39


def test_pulls_line_with_too_few_fields(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "git/allenai__OLMo/pulls.log").read_text().splitlines()[:30]
    lines[11] = "\t".join(lines[11].split("\t")[:4])
    path = tmp_path / "pulls.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = _read(PULLS, path, "git/allenai__OLMo/pulls.log")
    skips = [i for i in items if isinstance(i, Skip)]
    assert [s.loc for s in skips] == ["line 12"] and "found 4" in skips[0].reason
    assert len([i for i in items if isinstance(i, Record)]) == 29


def test_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "commits.log"
    path.write_bytes(b"commit " + b"a" * 40 + b"\nAuthor:     x <\xff@y>\n")
    with pytest.raises(InputError, match="not UTF-8"):
        _read(COMMITS, path, "commits.log")


def test_rename_and_quote_edge_cases() -> None:
    head = ["commit " + "1" * 40 + " " + "2" * 40, "Author:     a <>",
            "AuthorDate: 2024-01-01T00:00:00+00:00", "Commit:     b <b@X.Org>",
            "CommitDate: 2024-01-01T00:00:00+00:00", "", "    fix (#12) and (#13)", "",
            "1\t2\t{a => b}/c.py", "3\t4\tdir/{x => }/y.py", '-\t-\t"q\\"t\\303\\251.bin"',
            '5\t6\t"a\\tb" => "c d"', "7\t8\tplain => moved/plain"]
    (commit,) = parse_git_log(head, "t")
    assert isinstance(commit, ParsedCommit)
    assert [(f["path"], f["old_path"]) for f in commit.files] == [
        ("b/c.py", "a/c.py"), ("dir/y.py", "dir/x/y.py"), ('q"té.bin', None),
        ("c d", "a\tb"), ("moved/plain", "plain")]
    assert commit.pr_numbers == [12, 13] and commit.author_email is None
    assert commit.committer_email == "b@X.Org"


# --- random damage --------------------------------------------------------------------------

_OPS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "truncate", "garbage"]),
                          st.floats(0, 1, exclude_max=True),
                          st.one_of(st.text(st.characters(blacklist_characters="\r\n"),
                                            max_size=60),
                                    st.sampled_from(["commit " + "ab" * 20, "Author: x",
                                                     "AuthorDate: nope", "", "1\t2\tf",
                                                     "    text", "Merge: 1 2"]))),
                max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_random_damage_never_raises_and_keeps_intact_blocks(olmo_head, ops) -> None:
    lines, starts = olmo_head
    lines, starts = lines[:starts[12]], starts[:12]  # a small slice: 12 blocks
    work: list[tuple[int | None, str]] = list(enumerate(lines))
    for op, where, text in ops:
        if not work and op != "garbage":
            continue
        i = int(where * len(work))
        if op == "delete":
            del work[i]
        elif op == "duplicate":
            work.insert(i, work[i])
        elif op == "truncate":
            work[i] = (None, work[i][1][: len(text) % max(1, len(work[i][1]))])
        else:
            work.insert(i, (None, text))
    items = list(parse_git_log([t for _, t in work], "t.log"))
    assert all(isinstance(i, ParsedCommit | Skip) for i in items)
    ends = starts[1:] + [len(lines)]
    order = [k for k, _ in work]
    intact = []
    for s, e in zip(starts, ends, strict=True):
        run = list(range(s, e))
        if any(order[j:j + len(run)] == run for j in range(len(order) - len(run) + 1)):
            intact.append(lines[s].split()[1])
    good = {i.sha for i in items if isinstance(i, ParsedCommit)}
    assert len(items) >= len(intact)
    assert set(intact) <= good
