"""Faults and kills: a crawl under 429s, 500s, timeouts, truncated JSON and dropped
connections, and a crawl SIGKILLed again and again and re-run, both converge to the store
a clean crawl writes — nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from llmcarto.sources.hubapi import CrawlOptions, collect_hub
from tests.fakehub import FakeHub, Fault, HubData, bundled_trees

LLMCARTO = str(Path(sys.executable).with_name("llmcarto"))
FAMILY = "meta-llama/Llama-2-7b"
FINDINGS = ("hub_model", "hub_child", "model_card", "hub_discussion", "hub_discussion_event",
            "hub_repo_commit")
KEYS = {"hub_model": "tree, id", "hub_child": "tree, parent, child, relation",
        "model_card": "id, origin", "hub_discussion": "repo_id, num",
        "hub_discussion_event": "repo_id, num, event_id", "hub_repo_commit": "repo_id, commit_id"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> Path:
    return bundled_trees(tmp_path_factory.mktemp("trees"))


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every finding row (all columns but the run id), sorted; and the keys' duplicates."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in FINDINGS:
            out[table] = con.execute(
                f"SELECT * EXCLUDE (snapshot_id) FROM {table} ORDER BY ALL").fetchall()
            dupes = con.execute(f"SELECT count(*) - count(DISTINCT ({KEYS[table]})) "
                                f"FROM {table}").fetchone()[0]
            assert dupes == 0, table
        out["items"] = con.execute("SELECT kind, key, status FROM crawl_item "
                                   "ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def options(**kw) -> CrawlOptions:
    return CrawlOptions(family=FAMILY, page_size=5, spaces=True, discussions=True,
                        commits=True, **kw)


def test_fault_injected_crawls_converge_to_the_clean_store(trees, tmp_path):
    clean = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    with clean.serve():
        collect_hub(tmp_path / "clean.duckdb", options(), endpoint=clean.url, timeout=5,
                    backoff_base=0.01)
    faulty = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    faulty.faults = [Fault("429", every=11, times=2, retry_after=1),
                     Fault("500", every=3, times=12), Fault("truncated", every=4, times=6),
                     Fault("drop", every=9, times=3),
                     Fault("slow", every=13, times=2, delay=1.0)]
    with faulty.serve():
        out = collect_hub(tmp_path / "faulty.duckdb", options(), endpoint=faulty.url,
                          timeout=0.5, backoff_base=0.01)
    fired = {f.kind: f.fired for f in faulty.faults}
    assert fired == {"429": 2, "500": 12, "truncated": 6, "drop": 3, "slow": 2}
    assert out.failures == []
    assert out.requests["rate_limited"] == 2 and out.requests["rate_wait_s"] >= 2.0
    assert out.requests["retries"] >= 12 + 6 + 3 + 2
    assert dump(tmp_path / "faulty.duckdb") == dump(tmp_path / "clean.duckdb")


def _cli(db: Path, url: str) -> list[str]:
    return [LLMCARTO, "--db", str(db), "collect", "hub", "--family", FAMILY, "--endpoint", url,
            "--page-size", "5", "--spaces", "--discussions", "--commits", "--json",
            "--backoff", "0.01", "--timeout", "5"]


def test_sigkill_at_any_point_and_rerun_converges(trees, tmp_path):
    clean = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    with clean.serve():
        collect_hub(tmp_path / "clean.duckdb", options(), endpoint=clean.url, timeout=5,
                    backoff_base=0.01)
    total = len(clean.log)
    hub = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    hub.faults = [Fault("slow", every=1, times=None, delay=0.03)]
    db = tmp_path / "killed.duckdb"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
    kills = []
    with hub.serve():
        for fraction in (0.02, 0.2, 0.45, 0.7, 0.9):
            proc = subprocess.Popen(_cli(db, hub.url), env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while len(hub.log) < max(1, int(total * fraction)) \
                    and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert proc.poll() is None, "the crawl ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            kills.append(len(hub.log))
        done = subprocess.run(_cli(db, hub.url), env=env, capture_output=True, text=True,
                              timeout=300)
    assert done.returncode == 0, done.stderr
    assert kills == sorted(kills) and kills[-1] < len(hub.log)  # killed mid-crawl each time
    assert dump(db) == dump(tmp_path / "clean.duckdb")
    runs = duckdb.connect(str(db), read_only=True).execute(
        "SELECT count(*), min(status) FROM crawl_run").fetchone()
    assert runs == (1, "done")  # one run, resumed each time


def test_rate_limits_are_waited_as_the_server_says(trees):
    """429 waits Retry-After (not the backoff), a RateLimit header with no request left
    makes the next request wait for the window, and 429s do not use the retry budget."""
    from llmcarto.sources.hubapi_http import FetchError, HubHttp

    hub = FakeHub(HubData.from_trees(trees))
    hub.faults = [Fault("429", match="bloom", every=1, times=3, retry_after=7)]
    slept: list[float] = []
    with hub.serve():
        http = HubHttp(hub.url, None, max_attempts=2, backoff_base=0.5, sleep=slept.append)
        reply = http.get("/api/models/bigscience/bloom", kind="info")
        assert reply.data["id"] == "bigscience/bloom"
        assert slept == [7.0, 7.0, 7.0]  # three 429s within a budget of 2 attempts
        assert http.stats.rate_limited == 3 and http.stats.rate_wait == 21.0
        hub.ratelimit_remaining = 0  # "api";r=0;t=1 on every reply from now on
        slept.clear()
        http.get("/api/models/EleutherAI/gpt-neox-20b", kind="info")
        http.get("/api/models/EleutherAI/gpt-neox-20b", kind="info")
        assert len(slept) == 1 and 0 < slept[0] <= 1.0
        hub.ratelimit_remaining = None
        http.get("/api/models/EleutherAI/gpt-neox-20b", kind="info")  # waits, then clear
        assert len(slept) == 2
        hub.faults = [Fault("500", match="gpt-neox", every=1, times=None)]
        slept.clear()
        with pytest.raises(FetchError, match="gave up after 2 attempts") as exc:
            http.get("/api/models/EleutherAI/gpt-neox-20b", kind="info")
        assert exc.value.status == 500 and not exc.value.permanent
        assert len(slept) == 1 and 0.25 <= slept[0] <= 0.5  # jittered first backoff
        with pytest.raises(FetchError) as exc:
            http.get("/api/models/nobody/nothing", kind="info")
        assert exc.value.status == 404 and exc.value.permanent
        assert http.stats.requests["info"] == 3 + 1 + 2 + 1 + 2 + 1
