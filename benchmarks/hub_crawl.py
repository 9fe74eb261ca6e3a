"""What a live family crawl costs in requests: each bundled tree crawled from the fake Hub.

    .venv/bin/python benchmarks/hub_crawl.py [--page-size 1000] [--write-readme]

For each of the bundle's four trees (served by tests/fakehub.py on 127.0.0.1, no fault)
it runs the real collector with ``--spaces`` and prints: models and edges stored, models
whose children were listed, Σ⌈children / page size⌉ over them (the listing bound), list
requests made, all requests, and seconds. The last line is one JSON object.
``--write-readme`` replaces the README's ``<!-- hub-costs:begin -->`` block with the
request counts (deterministic; the seconds are left out), and a test fails when it drifts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- hub-costs:begin -->\n)(.*?)(<!-- hub-costs:end -->)", re.S)
FAMILIES = ("bigscience/bloom", "EleutherAI/gpt-neox-20b", "meta-llama/Llama-2-7b",
            "meta-llama/Llama-2-7b-chat-hf")


def measure(trees: Path, page_size: int = 1000) -> list[dict]:
    import duckdb
    from tests.fakehub import FakeHub, HubData

    from llmcarto.sources.hubapi import CrawlOptions, collect_hub

    results = []
    for family in FAMILIES:
        hub = FakeHub(HubData.from_trees(trees))
        with hub.serve(), tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            start = time.perf_counter()
            out = collect_hub(db, CrawlOptions(family=family, spaces=True,
                                               page_size=page_size), endpoint=hub.url)
            seconds = time.perf_counter() - start
            con = duckdb.connect(str(db), read_only=True)
            models, edges = con.execute(
                "SELECT (SELECT count(*) FROM hub_model), (SELECT count(*) FROM hub_child)"
            ).fetchone()
            con.close()
        results.append({"family": family, "models": models, "edges": edges,
                        "listed_models": out.listing["expanded_models"],
                        "listing_bound": out.listing["pages_needed"],
                        "list_requests": out.listing["list_requests"],
                        "requests": out.requests["requests"],
                        "by_kind": out.requests["by_kind"], "seconds": round(seconds, 2),
                        "page_size": page_size})
    return results


def markdown(results: list[dict]) -> str:
    lines = ["| family | models | edges | models listed | Σ⌈children/page⌉ | list requests "
             "| all requests |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| `{r['family']}` | {r['models']:,} | {r['edges']:,} | "
                     f"{r['listed_models']:,} | {r['listing_bound']:,} | "
                     f"{r['list_requests']:,} | {r['requests']:,} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    from tests.fakehub import bundled_trees

    with tempfile.TemporaryDirectory() as tmp:
        results = measure(bundled_trees(Path(tmp)), args.page_size)
    print(markdown(results), end="")
    for r in results:
        print(f"{r['family']}: {r['seconds']:.2f} s")
    if args.write_readme:
        text = README.read_text(encoding="utf-8")
        if not BLOCK.search(text):
            print("README.md has no <!-- hub-costs:begin --> block", file=sys.stderr)
            return 1
        README.write_text(BLOCK.sub(lambda m: m.group(1) + markdown(results) + m.group(3),
                                    text), encoding="utf-8")
    print(json.dumps({"benchmark": "hub_crawl", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
