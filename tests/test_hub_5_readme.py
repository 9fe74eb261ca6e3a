"""The README's "what it costs" block is what the collector spends on the bundled trees."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.fakehub import bundled_trees

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("hub_crawl", REPO / "benchmarks" /
                                                  "hub_crawl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_request_costs_match_a_crawl_of_the_bundled_trees(tmp_path):
    bench = _bench()
    results = bench.measure(bundled_trees(tmp_path))
    block = bench.BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert block, "README.md lost its <!-- hub-costs:begin --> block"
    assert block.group(2) == bench.markdown(results), \
        "README drifted: run .venv/bin/python benchmarks/hub_crawl.py --write-readme"
    for r in results:  # the efficiency bound holds with no fault: one request per page
        assert r["list_requests"] == r["listing_bound"]
        assert r["requests"] == r["list_requests"] + 2  # + the root's info and README
