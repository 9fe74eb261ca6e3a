"""The fake Hub checked with the real huggingface_hub client before any collector test uses
it (this module's name sorts before the collector's): if the client can read it, its
shapes are the ones the collector will meet on the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from tests.fakehub import FakeHub, Fault, HubData, bundled_trees

RELATIONS = {"finetunes": "finetune", "adapters": "adapter", "quantized": "quantized",
             "merges": "merge"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> Path:
    return bundled_trees(tmp_path_factory.mktemp("trees"))


@pytest.fixture(scope="module")
def rows(trees: Path) -> dict[str, dict]:
    """The bundle's rows by model id, read straight from the JSONL (not via the fake)."""
    out = {}
    for path in trees.glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            out[obj["model_id"].removeprefix("https://huggingface.co/")] = obj
    return out


@pytest.fixture()
def hub(trees: Path):
    fake = FakeHub(HubData.from_trees(trees), discussion_page=2, commit_page=2)
    with fake.serve():
        yield fake


def test_children_listing_follows_link_pages_and_matches_the_bundle(hub, rows):
    api = HfApi(endpoint=hub.url, token=False)
    root = "meta-llama/Llama-2-7b-chat-hf"
    expected = [(c, rel) for key, rel in RELATIONS.items() for c in rows[root]["children"][key]]
    assert len(expected) > 1000  # more than one page of 1000
    got = list(api.list_models(filter=f"base_model:{root}",
                               expand=["baseModels", "childrenModelCount", "createdAt"]))
    assert [(m.id, m.base_models["relation"]) for m in got] == expected
    assert all(m.base_models["models"][0]["id"] == root for m in got)
    pages = hub.requests("^/api/models$")
    assert len(pages) == 2 and any(k == "cursor" for k, _ in pages[1].query)
    # a relation filter narrows to one list
    quantized = list(api.list_models(filter=f"base_model:quantized:{root}"))
    assert [m.id for m in quantized] == rows[root]["children"]["quantized"]


def test_model_objects_carry_the_bundle_metadata_in_hub_shapes(hub, rows):
    api = HfApi(endpoint=hub.url, token=False)
    mid = "epfl-llm/meditron-7b"
    info = rows[mid]["info"]
    got = api.model_info(mid, expand=["childrenModelCount", "createdAt", "lastModified",
                                      "gated", "siblings", "tags", "spaces", "cardData"])
    counts = rows[mid]["counts"]
    assert got.children_model_count == {"finetune": counts["children_count"],
                                        "adapter": counts["adapters_count"],
                                        "quantized": counts["quantized_count"],
                                        "merge": counts["merges_count"]}
    assert got.created_at.isoformat() == info["created_at"].replace(" ", "T")
    assert got.gated == info["gated"]
    assert len(got.siblings) == len(info["siblings"])
    assert got.spaces == rows[mid]["children"]["spaces"]
    assert "base_model:finetune:meta-llama/Llama-2-7b" in got.tags
    assert got.card_data.base_model == "meta-llama/Llama-2-7b"
    # expand returns only what was asked (plus _id, id)
    raw = hub.requests("^/api/models/epfl-llm/meditron-7b$")
    assert raw
    assert set(api.model_info(mid, expand=["likes"]).__dict__) >= {"likes"}
    # the Hub's date format, exactly
    body = json.loads(_get(hub.url + f"/api/models/{mid}?expand=createdAt"))
    assert body == {"_id": info["_id"], "id": mid,
                    "createdAt": info["created_at"].replace(" ", "T")[:19] + ".000Z"}


def test_readme_downloads_with_commit_and_etag(hub, rows, tmp_path):
    path = hf_hub_download("bigscience/bloom", "README.md", endpoint=hub.url, token=False,
                           cache_dir=tmp_path)
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("---\n" + rows["bigscience/bloom"]["card_yaml"][:200])
    assert rows["bigscience/bloom"]["info"]["sha"] in path  # X-Repo-Commit names the snapshot
    with pytest.raises(HfHubHTTPError):
        hf_hub_download("EleutherAI/gpt-neox-20b", "README.md", endpoint=hub.url,
                        token=False, cache_dir=tmp_path)  # a v1 row has no card


def test_discussions_events_and_commits_are_read_by_the_client(hub):
    api = HfApi(endpoint=hub.url, token=False)
    fixture = hub.data.discussions["meta-llama/Llama-2-7b"]
    listed = list(api.get_repo_discussions("meta-llama/Llama-2-7b"))
    assert [d.num for d in listed] == [d["num"] for d in fixture]  # over 2 pages of 2
    assert all(d.title.startswith("[synthetic]") for d in listed)
    pr = api.get_discussion_details("meta-llama/Llama-2-7b", 2)
    assert pr.is_pull_request and pr.target_branch == "refs/heads/main"
    assert [e.type for e in pr.events] == ["comment", "commit", "status-change"]
    assert pr.events[1].summary == "Update README.md"
    commits = api.list_repo_commits("meta-llama/Llama-2-7b")
    assert [c.commit_id for c in commits] == \
        [c["id"] for c in hub.data.commits["meta-llama/Llama-2-7b"]]
    assert hub.requests("/discussions$")[0].path.endswith("/discussions")


def test_faults_on_demand(hub):
    api = HfApi(endpoint=hub.url, token=False)
    hub.faults.append(Fault("429", match="base_model", retry_after=1))
    got = list(api.list_models(filter="base_model:bigscience/bloom"))  # the client waits
    assert len(got) == 6
    assert [r.status for r in hub.requests("^/api/models$")] == [429, 200]
    hub.faults.append(Fault("500", match="gpt-neox"))
    with pytest.raises(HfHubHTTPError):  # model_info does not retry (design.md §8)
        api.model_info("EleutherAI/gpt-neox-20b")
    hub.faults.append(Fault("truncated", match="gpt-neox"))
    with pytest.raises(ValueError):
        api.model_info("EleutherAI/gpt-neox-20b")
    assert api.model_info("EleutherAI/gpt-neox-20b").id == "EleutherAI/gpt-neox-20b"


def test_a_list_route_refusal_is_a_400(trees):
    fake = FakeHub(HubData.from_trees(trees), list_refuses=("childrenModelCount",))
    with fake.serve():
        api = HfApi(endpoint=fake.url, token=False)
        with pytest.raises(HfHubHTTPError) as exc:
            list(api.list_models(filter="base_model:bigscience/bloom",
                                 expand=["childrenModelCount"]))
        assert exc.value.response.status_code == 400
        assert api.model_info("bigscience/bloom", expand=["childrenModelCount"]) \
            .children_model_count["quantized"] == 2


def _get(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
        return resp.read().decode("utf-8")


def test_the_client_documents_every_expand_property_the_collector_asks_for():
    """The list route's `expand` values come from the client's own type: if a client
    upgrade drops one (e.g. childrenModelCount), this fails before a live crawl does."""
    import inspect
    import typing

    from huggingface_hub.hf_api import ExpandModelProperty_T

    from llmcarto.sources.hubapi import LIST_EXPAND

    assert "ExpandModelProperty_T" in str(inspect.signature(HfApi.list_models)
                                          .parameters["expand"].annotation)
    missing = set(LIST_EXPAND) - set(typing.get_args(ExpandModelProperty_T))
    assert not missing, f"not expand properties of this huggingface_hub: {sorted(missing)}"
