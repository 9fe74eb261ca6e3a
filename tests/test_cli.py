"""The command line as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.test_cases import USER_CASE

LLMCARTO = [str(Path(sys.executable).with_name("llmcarto"))]


def run(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    if not env or "LLMCARTO_CASES" not in env:
        full_env.pop("LLMCARTO_CASES", None)
    proc = subprocess.run([*LLMCARTO, *args], capture_output=True, text=True, env=full_env,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_version_matches_the_package():
    from llmcarto import __version__

    assert run("--version").stdout.strip() == f"llmcarto {__version__}"


def test_cases_json_lists_every_case_with_placement_lines_and_repositories():
    rows = json.loads(run("cases", "--json").stdout)
    assert len(rows) == 14
    by_key = {r["case"]: r for r in rows}
    assert by_key["meta"]["study_box"] == "single-company projects"
    assert by_key["nb-ailab"]["study_box"] is None and by_key["ant-group"]["study_box"] is None
    assert sum(r["study_box"] is not None for r in rows) == 12
    assert any(line["name"] == "BLOOM" for line in by_key["bigscience"]["release_lines"])
    mds = next(r for r in by_key["bigscience"]["repositories"]
               if r["repo"] == "bigscience-workshop/Megatron-DeepSpeed")
    assert mds["fork_point"].startswith("b56b50bb") and mds["roles"] == ["pre-training code"]


def test_cases_table_says_not_placed_by_the_study():
    out = run("cases", env={"COLUMNS": "250"}).stdout
    assert "not placed by the study" in out and "14 cases" in out


def test_user_cases_from_flag_and_environment(tmp_path: Path):
    user = tmp_path / "mine.yaml"
    user.write_text(USER_CASE, encoding="utf-8")
    for proc in (run("--cases", str(user), "cases", "--json"),
                 run("cases", "--json", env={"LLMCARTO_CASES": str(user)})):
        rows = json.loads(proc.stdout)
        assert len(rows) == 15 and rows[-1]["case"] == "swiss-ai"


def test_a_broken_case_file_is_one_clear_error_line(tmp_path: Path):
    user = tmp_path / "broken.yaml"
    user.write_text(USER_CASE.replace("role: [pre-training code]", "role: pre-training"),
                    encoding="utf-8")
    proc = run("--cases", str(user), "cases", check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{user}:" in proc.stderr and "repositories[0].role" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_atlas_serves_on_loopback(built_store: Path):
    port = _free_port()
    proc = subprocess.Popen([*LLMCARTO, "--db", str(built_store), "atlas",
                             "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    body = resp.read().decode()
                    csp = resp.headers["Content-Security-Policy"]
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert "llmcarto" in body and "Allen Institute for AI" in body
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"http://127.0.0.1:{port}" in out


def test_import_reports_bad_records_and_status_lists_them(tmp_path: Path):
    from llmcarto.bundle import extracted_snapshot

    with extracted_snapshot() as snap:
        data = snap / "git" / "huggingface__smollm" / "pulls.log"
        lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    broken = tmp_path / "git" / "huggingface__smollm" / "pulls.log"
    broken.parent.mkdir(parents=True)
    broken.write_text("".join(lines[:3]) + "17\tnot-a-sha\n" + "".join(lines[3:]),
                      encoding="utf-8")
    db = tmp_path / "s.duckdb"
    proc = run("--db", str(db), "import", str(broken))
    assert f"{len(lines):,} records, 1 skipped" in proc.stdout.replace("\n", " ")
    assert "line 4" in proc.stderr
    status = json.loads(run("--db", str(db), "status", "--json").stdout)
    (skip,) = status["skipped"]
    assert skip["file"] == "git/huggingface__smollm/pulls.log" and "line 4" in skip["loc"]
    assert {t["table"]: t["rows"] for t in status["tables"]}["git_pull"] == len(lines)


def test_import_of_an_unknown_kind_fails_naming_the_kinds(tmp_path: Path):
    odd = tmp_path / "notes.json"
    odd.write_text('{"hello": 1}\n', encoding="utf-8")
    proc = run("--db", str(tmp_path / "s.duckdb"), "import", str(odd), check=False)
    assert proc.returncode == 1
    assert str(odd) in proc.stderr and "accepted kinds" in proc.stderr
    assert "git-commits" in proc.stderr
