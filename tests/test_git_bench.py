"""The benchmark's replay: a bundled log becomes a real repository with the same history."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from llmcarto.commands.git_bench import bundled_log, replay, run_baseline, run_bench
from llmcarto.sources.gitlog import ParsedCommit, parse_git_log


@pytest.mark.parametrize("repo", ["OpenGPTX/olm-datasets", "scb-10x/typhoon-s"])
def test_replay_then_collect_gives_back_the_bundled_history(tmp_path: Path, repo: str):
    from tests.test_git_collect import _collect, _rows

    log, pulls = bundled_log(repo)
    original = [c for c in parse_git_log(log, "x") if isinstance(c, ParsedCommit)]
    target = tmp_path / "replay.git"
    count, skips = replay(repo, target)
    assert count == len(original) and not skips
    from llmcarto.bundle import snapshot_id
    from llmcarto.framework.cases import packaged_cases_path
    from llmcarto.store import InputFile, Store

    db = tmp_path / "s.duckdb"
    with Store(db) as store:
        store.import_inputs([InputFile(packaged_cases_path(), "cases/cases.yaml",
                                       explicit=True)], snapshot_id())
    report = _collect(db, target, repo=repo, branch="main")
    assert report.total_commits == len(original)
    # same authors, dates, subjects, parents and changed paths, commit for commit (shas
    # differ: the contents are synthetic, so a rename shows as a deletion and an addition)
    got = sorted(((a, b, c, d, sorted(set(paths or [])) + sorted(set(olds or []) - {None}), n)
                  for a, b, c, d, paths, olds, n in _rows(
                      db, "SELECT author_name, author_email, author_date, subject, "
                          "json_extract_string(files, '$[*].path'), "
                          "json_extract_string(files, '$[*].old_path'), len(parents) "
                          "FROM git_commit WHERE source = 'git-clone'")),
                 key=lambda r: (r[2], r[3], r[0]))
    want = []
    for c in original:
        files = c.files or []
        paths = {f["path"] for f in files} | {f["old_path"] for f in files if f["old_path"]}
        want.append((c.author_name, c.author_email, datetime.fromisoformat(c.author_date),
                     c.subject, sorted(paths), len(c.parents)))
    want.sort(key=lambda r: (r[2], r[3], r[0]))
    assert [(a, b, c, d, sorted(set(e)), f) for a, b, c, d, e, f in got] == want
    heads = [line for line in pulls if line.strip()]
    assert report.pulls == len(heads)
    merged = sum(line.rstrip().endswith("\tyes") for line in heads)
    assert report.pulls_merged == merged
    assert "SYNTHETIC" in (target / "description").read_text()


def test_baseline_script_reads_the_same_commits(tmp_path: Path):
    target = tmp_path / "replay.git"
    count, _ = replay("scb-10x/typhoon-s", target)
    result = run_baseline(target, timeout=300)
    assert result["baseline_status"] == "ok" and result["baseline_commits"] == count


def test_bench_prints_numbers_and_ends_with_one_json_line(capsys):
    lines: list[str] = []
    result = run_bench("FlagOpen/FlagData", None, None,
                       print_line=lambda text, **_kw: lines.append(text))
    assert json.loads(lines[-1]) == result
    assert result["commits"] == 6 and result["synthetic_contents"] is True
    assert result["baseline_status"] == "not run" and result["commits_per_s"] > 0
