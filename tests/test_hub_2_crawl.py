"""The live Hub collector against the fake Hub: the real collector code, real bundled trees.

Expected values are read from the bundle's JSONL here, independently of the fake and of
the collector: a crawl must give back the bundle's edges, its depths and list positions,
and spend no more list requests than Σ⌈children / page size⌉ over the non-leaf models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from llmcarto.sources.hubapi import CollectError, CrawlOptions, collect_hub
from llmcarto.store import open_published
from llmcarto.store.status import status
from tests.fakehub import FakeHub, Fault, HubData, bundled_trees

LISTS = {"finetunes": "finetune", "adapters": "adapter", "quantized": "quantized",
         "merges": "merge", "spaces": "space"}
TREES = {"bigscience/bloom": "bigscience__bloom.jsonl",
         "meta-llama/Llama-2-7b": "meta-llama__Llama-2-7b.jsonl",
         "meta-llama/Llama-2-7b-chat-hf": "meta-llama__Llama-2-7b-chat-hf.jsonl",
         "EleutherAI/gpt-neox-20b": "EleutherAI__gpt-neox-20b.jsonl"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> Path:
    return bundled_trees(tmp_path_factory.mktemp("trees"))


def bundle_rows(trees: Path, name: str) -> dict[str, dict]:
    out = {}
    for line in (trees / name).read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        out[obj["model_id"].removeprefix("https://huggingface.co/")] = obj
    return out


def bundle_edges(rows: dict[str, dict]) -> set[tuple[str, str, str, int]]:
    return {(mid, child, LISTS[key], pos) for mid, obj in rows.items()
            for key, children in obj["children"].items()
            for pos, child in enumerate(children or [])}


@pytest.fixture()
def hub(trees: Path):
    fake = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    with fake.serve():
        yield fake


def crawl(db: Path, hub: FakeHub, **kw):
    retry = kw.pop("retry_failed", False)
    return collect_hub(db, CrawlOptions(**kw), endpoint=hub.url, retry_failed=retry,
                       timeout=5, backoff_base=0.01)


def q(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("family", sorted(TREES))
def test_a_family_crawl_reproduces_the_bundled_tree(trees, hub, tmp_path, family):
    rows = bundle_rows(trees, TREES[family])
    db = tmp_path / "s.duckdb"
    out = crawl(db, hub, family=family, spaces=True)
    assert out.failures == []
    tree = family.replace("/", "__")
    got = set(q(db, "SELECT parent, child, relation, position FROM hub_child WHERE tree = ?",
                [tree]))
    assert got == bundle_edges(rows)
    depths = dict(q(db, "SELECT id, depth FROM hub_model WHERE tree = ?", [tree]))
    assert {mid: depths.get(mid) for mid in rows} == {mid: o["depth"] for mid, o in rows.items()}
    # provenance: the public URL, the crawl run, the endpoint kept apart
    url, run, src = q(db, "SELECT source_url, snapshot_id, source FROM hub_model WHERE id = ?",
                      [family])[0]
    assert (url, run, src) == (f"https://huggingface.co/{family}", out.run_id, "hub-api")
    assert q(db, "SELECT endpoint FROM crawl_run")[0][0] == hub.url
    # nothing twice
    assert q(db, "SELECT count(*) - count(DISTINCT (tree, parent, child, relation)) "
                 "FROM hub_child")[0][0] == 0


def test_listing_costs_at_most_the_bound_and_leaves_cost_nothing(trees, hub, tmp_path):
    family, page = "meta-llama/Llama-2-7b", 7
    rows = bundle_rows(trees, TREES[family])
    sizes = {mid: sum(len(o["children"][k] or []) for k in ("finetunes", "adapters",
                                                             "quantized", "merges"))
             for mid, o in rows.items()}
    bound = sum(-(-n // page) for n in sizes.values() if n)
    crawl(tmp_path / "s.duckdb", hub, family=family, page_size=page)
    lists = hub.requests("^/api/models$")
    assert len(lists) <= 1.2 * bound
    assert len(lists) == bound  # no fault: exactly one request per page
    listed = {dict(r.query)["filter"].split(":", 1)[1] for r in lists}
    assert listed == {mid for mid, n in sizes.items() if n}  # no leaf was listed
    assert len(hub.requests("^/api/models/[^/]+/[^/]+$")) == 1  # the root's info


def test_when_the_list_route_refuses_children_counts_every_model_is_listed(trees, tmp_path):
    fake = FakeHub(HubData.from_trees(trees), list_refuses=("childrenModelCount",))
    family = "meta-llama/Llama-2-7b"
    with fake.serve():
        out = crawl(tmp_path / "s.duckdb", fake, family=family)
    rows = bundle_rows(trees, TREES[family])
    got = set(q(tmp_path / "s.duckdb", "SELECT parent, child, relation, position "
                                       "FROM hub_child"))
    assert got == {e for e in bundle_edges(rows) if e[2] != "space"}
    models = q(tmp_path / "s.duckdb", "SELECT count(*) FROM hub_model")[0][0]
    assert out.listing["expanded_models"] == models  # each model's children were listed
    assert q(tmp_path / "s.duckdb", "SELECT children_count_on_list FROM crawl_run")[0][0] \
        is False


def test_depth_limit_keeps_the_unlisted_children_as_skipped_items(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    crawl(db, hub, family="meta-llama/Llama-2-7b", depth=1)
    rows = bundle_rows(trees, TREES["meta-llama/Llama-2-7b"])
    assert max(d for (d,) in q(db, "SELECT depth FROM hub_model")) == 1
    skipped = dict(q(db, "SELECT key, reason FROM crawl_item WHERE status = 'skipped'"))
    expected = {mid for mid, o in rows.items() if o["depth"] == 1 and any(
        o["children"][k] for k in ("finetunes", "adapters", "quantized", "merges"))}
    assert set(skipped) == expected
    assert all("depth limit 1" in r for r in skipped.values())


def test_a_delta_sweep_adds_only_the_new_models(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    family = "meta-llama/Llama-2-7b"
    crawl(db, hub, family=family)
    before_models = set(q(db, "SELECT id, depth FROM hub_model"))
    before_edges = set(q(db, "SELECT parent, child, relation FROM hub_child"))
    leaf = next(m for (m,) in q(db, "SELECT id FROM hub_model WHERE depth = 2 AND "
                                    "children_count = 0 AND adapters_count = 0 AND "
                                    "quantized_count = 0 AND merges_count = 0 ORDER BY id"))
    stamp = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    hub.data.add_model("new-org/child-of-root", family, "adapter", last_modified=stamp)
    hub.data.add_model("new-org/child-of-a-leaf", leaf, "finetune", last_modified=stamp)
    hub.data.add_model("new-org/grandchild", "new-org/child-of-a-leaf", "quantized",
                       last_modified=stamp)
    hub.log.clear()
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    out = crawl(db, hub, family=family, since=since)
    after_models = set(q(db, "SELECT id, depth FROM hub_model"))
    assert after_models - before_models == {("new-org/child-of-root", 1),
                                            ("new-org/child-of-a-leaf", 3),
                                            ("new-org/grandchild", 4)}
    assert before_models <= after_models
    after_edges = set(q(db, "SELECT parent, child, relation FROM hub_child"))
    assert after_edges - before_edges == {
        (family, "new-org/child-of-root", "adapter"),
        (leaf, "new-org/child-of-a-leaf", "finetune"),
        ("new-org/child-of-a-leaf", "new-org/grandchild", "quantized")}
    assert q(db, "SELECT count(*) - count(DISTINCT (tree, id)) FROM hub_model")[0][0] == 0
    # one page of the modified-since scan, one listing of the new model with a child
    assert out.requests["by_kind"]["list"] == 2
    assert out.items_gained >= 6
    # the root's new child is appended after the root's adapters
    pos = q(db, "SELECT position FROM hub_child WHERE child = 'new-org/child-of-root'")[0][0]
    assert pos == len(bundle_rows(trees, TREES[family])[family]["children"]["adapters"])


def test_a_delta_sweep_needs_an_earlier_crawl(hub, tmp_path):
    with pytest.raises(CollectError, match="run a full crawl first"):
        crawl(tmp_path / "s.duckdb", hub, family="bigscience/bloom", since="2024-01-01")


def test_own_models_get_discussions_events_commits_and_readme(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    family = "meta-llama/Llama-2-7b"
    crawl(db, hub, family=family, discussions=True, commits=True)
    fixture = hub.data.discussions[family]
    got = q(db, "SELECT num, title, status, is_pull_request, num_events, synthetic_fixture "
                "FROM hub_discussion ORDER BY num")
    assert got == [(d["num"], d["title"], d["status"], d["isPullRequest"], len(d["events"]),
                    "synthetic_discussions.json") for d in fixture]
    events = q(db, "SELECT num, position, type, author FROM hub_discussion_event "
                   "ORDER BY num, position")
    assert events == [(d["num"], i, e["type"], e["author"]["name"]) for d in fixture
                      for i, e in enumerate(d["events"])]
    commits = q(db, "SELECT commit_id, title, synthetic_fixture FROM hub_repo_commit "
                    "ORDER BY position")
    assert commits == [(c["id"], c["title"], "synthetic_commits.json")
                       for c in hub.data.commits[family]]
    # only the family's own organisation: no third-party repo was asked for discussions
    asked = {r.path.split("/discussions")[0] for r in hub.requests("/discussions")}
    assert asked == {f"/api/models/{family}"}
    rows = bundle_rows(trees, TREES[family])
    card = q(db, "SELECT yaml_raw, revision, yaml_status, origin FROM model_card "
                 "WHERE id = ? AND yaml_raw IS NOT NULL", [family])
    assert card == [(rows[family]["card_yaml"], rows[family]["info"]["sha"], "parsed",
                     "hub-api")]


def test_dataset_reuse_lists_the_models_trained_on_declared_datasets(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    crawl(db, hub, family="epfl-llm/meditron-7b", datasets=True)
    declared = "epfl-llm/guidelines"
    users = {mid for name in TREES.values() for mid, o in bundle_rows(trees, name).items()
             if o["info"] and (f"dataset:{declared}" in o["info"]["tags"]
                               or declared in (o["card_yaml"] or ""))}
    got = {m for (m,) in q(db, "SELECT model FROM hub_dataset_use WHERE dataset = ?",
                           [declared])}
    assert "epfl-llm/meditron-7b" in got
    assert got == users


def test_a_malformed_card_is_kept_raw_and_reported(hub, tmp_path):
    db = tmp_path / "s.duckdb"
    hub.data.models["bigscience/bloom"].readme = "---\nlicense: [mit\nbase_model: x: y\n---\nB"
    out = crawl(db, hub, family="bigscience/bloom")
    assert out.failures == []
    status_, raw = q(db, "SELECT yaml_status, yaml_raw FROM model_card WHERE id = "
                         "'bigscience/bloom'")[0]
    assert status_ in ("recovered", "raw") and raw.startswith("license: [mit")
    reports = q(db, "SELECT loc, kept FROM skipped_item WHERE file = "
                    "'hub-api/bigscience__bloom'")
    assert reports == [("bigscience/bloom README.md", True)]


def test_an_author_sweep_collects_the_organisation(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    org = "tsavage68"
    out = crawl(db, hub, author=org, depth=0, page_size=7)
    expected = {m for name in TREES.values() for o in bundle_rows(trees, name).values()
                for key in LISTS for m in o["children"][key] or []
                if m.split("/")[0] == org} | {m for name in TREES.values()
                                                for m in bundle_rows(trees, name)
                                                if m.split("/")[0] == org}
    got = {m for (m,) in q(db, "SELECT id FROM hub_model WHERE tree = ?", [org])}
    assert got == expected and len(expected) > 7
    assert out.requests["by_kind"]["list"] == -(-len(expected) // 7)


def test_failures_are_listed_by_status_and_retried(trees, hub, tmp_path):
    db = tmp_path / "s.duckdb"
    family = "meta-llama/Llama-2-7b"
    hub.faults.append(Fault("500", match="base_model%3Aepfl-llm%2Fmeditron-7b", times=None))
    out = crawl(db, hub, family=family)
    assert [(k, key) for k, key, _ in out.failures] == [("children", "epfl-llm/meditron-7b")]
    assert "HTTP 500" in out.failures[0][2] and "gave up after 6 attempts" in out.failures[0][2]
    con = open_published(db)
    try:
        listed = status(con)["crawl"]["failures"]
    finally:
        con.close()
    assert [(f["kind"], f["key"]) for f in listed] == [("children", "epfl-llm/meditron-7b")]
    hub.faults.clear()
    out = crawl(db, hub, family=family, retry_failed=True)
    assert out.resumed and out.failures == []
    rows = bundle_rows(trees, TREES[family])
    got = set(q(db, "SELECT parent, child, relation, position FROM hub_child"))
    assert got == {e for e in bundle_edges(rows) if e[2] != "space"}


def test_card_data_is_read_as_the_card_parser_reads_it(trees):
    """`card_meta` skips the YAML round trip; it must agree with `parse_card_yaml` on every
    real card of the bundle (the API's cardData is the parsed front matter)."""
    from llmcarto.sources.hubapi_rows import card_meta
    from llmcarto.sources.hubcards import parse_card_yaml

    cards = [m.api["cardData"] for m in HubData.from_trees(trees).models.values()
             if isinstance(m.api.get("cardData"), dict)]
    assert len(cards) > 400
    for card in cards:
        assert card_meta(card) == parse_card_yaml(json.dumps(card))
