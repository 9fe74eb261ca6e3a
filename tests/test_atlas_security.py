"""Untrusted text stays text: a model card whose YAML, body, notes, host and URL carry
script tags, javascript: links, event-handler attributes and an SVG payload is shown,
escaped, on the case and evidence pages, and nothing of it runs in real Chromium."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from llmcarto.atlas.app import CSP, create_app
from tests.test_atlas_browser import chromium, needs_chromium, running_atlas
from tests.test_atlas_pages import parse

CARD_ID = "allenai/evil-card"
SCRIPT = "<script>window.__pwned=1;alert('script')</script>"
IMG = "<img src=x onerror=\"window.__pwned=1;alert('img')\">"
SVG = "<svg xmlns='http://www.w3.org/2000/svg' onload=\"window.__pwned=1;alert('svg')\">" \
      "<script>window.__pwned=1</script></svg>"
JS_LINK = "javascript:window.__pwned=1;alert('link')"
YAML = (f"license: apache-2.0\nbase_model: \"{IMG.replace(chr(34), chr(39))}\"\n"
        f"datasets:\n- \"{SCRIPT}\"\nlanguage:\n- \"<body onload=alert('lang')>\"\n"
        f"homepage: \"{JS_LINK}\"\n")
BODY = (f"# Evil card\n\n{SCRIPT}\n\n[click me]({JS_LINK})\n\n"
        f"<a href=\"{JS_LINK}\">a javascript link</a>\n\n{IMG}\n\n{SVG}\n\n"
        "<iframe srcdoc=\"<script>parent.__pwned=1</script>\"></iframe>\n"
        "<div onmouseover=\"window.__pwned=1\" style=\"position:fixed;inset:0\">cover</div>\n"
        "A fine link: https://example.org/ok and more text.\n")
CARDS = [
    {"id": CARD_ID, "repo_type": "model", "case": "allenai", "role": "flagship",
     "url": JS_LINK, "source_host": f"{IMG}.example", "revision": SCRIPT,
     "yaml": YAML, "yaml_collapsed": False, "body_head": BODY,
     "page_facts": [SCRIPT], "notes": f"notes with {SVG}"},
    # a second stored copy whose URL host carries the payload into the trace label
    {"id": CARD_ID, "repo_type": "model", "case": "allenai", "role": "flagship",
     "url": "https://<img src=x onerror=alert(1)>.example/allenai/evil-card",
     "source_host": "mirror", "revision": None, "yaml": YAML, "yaml_collapsed": False,
     "body_head": BODY, "page_facts": None, "notes": None},
]
PAGES = ("/case/allenai", "/evidence?case=allenai&kind=card")


@pytest.fixture(scope="module")
def evil_store(tmp_path_factory) -> Path:
    """The case registry plus the evil card, imported and published like any build."""
    from llmcarto.framework.cases import packaged_cases_path
    from llmcarto.store import InputFile, Store

    root = tmp_path_factory.mktemp("evil")
    cards = root / "data" / "hf-cards" / "cards.jsonl"
    cards.parent.mkdir(parents=True)
    cards.write_text("".join(json.dumps(c) + "\n" for c in CARDS), encoding="utf-8")
    db = root / "evil.duckdb"
    store = Store(db)
    store.import_inputs([InputFile(packaged_cases_path(), "cases/cases.yaml", explicit=True)],
                        "test")
    store.import_paths([cards], "test")
    store.close()
    return db


@pytest.fixture(scope="module")
def client(evil_store: Path) -> Iterator[TestClient]:
    with TestClient(create_app(evil_store)) as c:
        yield c


def test_the_card_is_attributed_to_allenai(evil_store: Path, tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(str(evil_store) + ".published", copy)
    con = duckdb.connect(str(copy), read_only=True)
    try:
        rows = con.execute("SELECT case_key, item_kind FROM stage_trace WHERE item_key LIKE ?",
                           [CARD_ID + "%"]).fetchall()
    finally:
        con.close()
    assert rows and {r[0] for r in rows} == {"allenai"}


@pytest.mark.parametrize("path", PAGES)
def test_payloads_are_escaped_text(client: TestClient, path: str):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    html = response.text
    assert not re.search(r"<\s*(script|svg|iframe|img)\b", html, re.IGNORECASE)
    assert len(re.findall(r"<\s*body\b", html, re.IGNORECASE)) == 1  # the page's own
    doc = parse(html)
    for node in doc.walk():
        assert not [a for a in node.attrs if a.lower().startswith("on")], node.tag
        for attr in ("href", "src", "action", "formaction", "srcdoc"):
            value = (node.attrs.get(attr) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (node.tag, attr)
        if node.tag == "a":
            href = node.attrs["href"]
            assert href.startswith(("/", "#")) or (
                href.startswith(("http://", "https://"))
                and node.attrs.get("rel") == "noopener noreferrer nofollow"), href
    text = doc.text()
    assert CARD_ID in text
    assert "onerror=" in text  # the payload is there, as text


def test_card_body_and_yaml_are_preformatted_text(client: TestClient):
    doc = parse(client.get("/case/allenai").text)
    article = next(a for a in doc.find_all("article", "hub-repo")
                   if a.find("h3").text() == CARD_ID)
    pres = [p.text() for p in article.find_all("pre", "inert")]
    assert any(SCRIPT in p and JS_LINK in p for p in pres)  # body, verbatim
    assert any("homepage:" in p for p in pres)  # YAML, verbatim
    links = [a.attrs["href"] for a in article.find_all("a")]
    assert "https://example.org/ok" in links
    assert not any("javascript" in href for href in links)
    assert JS_LINK in article.text()  # the card's javascript: URL shown as text


@pytest.mark.browser
@needs_chromium
def test_nothing_runs_in_chromium(evil_store: Path):
    with running_atlas(evil_store) as base, chromium(base) as (page, problems):
        page.add_init_script("window.__pwned = undefined;")
        for path in PAGES:
            response = page.goto(base + path)
            assert response.status == 200
            assert response.headers["content-security-policy"] == CSP
            for summary in page.locator("summary").all():
                summary.click()
            page.mouse.move(200, 200)
            page.mouse.move(700, 500)
            assert page.evaluate("window.__pwned") is None
            assert page.evaluate("document.scripts.length") == 0
            assert page.locator("svg, iframe, img, body [onload], [onerror], [onmouseover]"
                                ).count() == 0
            hrefs = page.evaluate("[...document.querySelectorAll('a[href]')]"
                                  ".map(a => a.getAttribute('href'))")
            assert all(h.startswith(("/", "#", "http://", "https://")) for h in hrefs), hrefs
            assert page.get_by_text(CARD_ID).first.is_visible()
        # the card text, visible as text on the case page
        page.goto(base + "/case/allenai")
        for summary in page.locator("summary").all():
            summary.click()
        assert page.get_by_text("<script>window.__pwned=1", exact=False).first.is_visible()
        assert page.get_by_text("a javascript link</a>", exact=False).first.is_visible()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        assert problems == []
