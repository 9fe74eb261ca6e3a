"""The atlas pages against the real bundled snapshot: the first page lists every case with
its study placement and a case × stage grid whose every number is backed, item for item,
by the evidence view it links to; the case page holds the registry and the Hub repos."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from llmcarto.atlas.app import CSP, create_app
from llmcarto.atlas.queries import GRID_STAGES

# ----------------------------------------------------------------------------- HTML helpers

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


@dataclass(eq=False)
class Node:
    """A parsed element: enough of a DOM to select by tag, class and attribute."""

    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None,
                 where: Callable[[Node], bool] | None = None) -> list[Node]:
        return [n for n in self.walk() if (tag is None or n.tag == tag)
                and (cls is None or cls in n.classes) and (where is None or where(n))]

    def find(self, tag: str | None = None, cls: str | None = None,
             where: Callable[[Node], bool] | None = None) -> Node:
        found = self.find_all(tag, cls, where)
        assert found, f"no <{tag} class={cls}> found"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def leading_number(text: str) -> int:
    match = re.match(r"\s*([\d,]+)", text)
    assert match, f"no number at the start of {text!r}"
    return int(match.group(1).replace(",", ""))


def evidence_rows(client: TestClient, href: str) -> tuple[int, int]:
    """(the total the evidence page states, the rows listed over all its pages)."""
    html = client.get(href).text
    doc = parse(html)
    stated = leading_number(doc.find(where=lambda n: n.attrs.get("id") == "total").text())
    rows = 0
    for _ in range(1000):
        rows += len(_TRACE_ROW.findall(html))
        nxt = _NEXT_LINK.search(html)
        if not nxt:
            return stated, rows
        html = client.get(unescape(nxt.group(1))).text
    raise AssertionError("the evidence pager does not end")


# Pages are walked with two patterns (the full parse is kept for the first page): the
# pager's rel="next" link and the rows of the trace table.
_TRACE_ROW = re.compile(r'<tr class="trace">')
_NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def client(built_store: Path) -> Iterator[TestClient]:
    with TestClient(create_app(built_store)) as c:
        yield c


@pytest.fixture(scope="module")
def store_rows(built_store: Path) -> Callable[..., list[tuple]]:
    """Run SQL on a private copy of the published store (never the atlas' own file, so
    DuckDB's per-path instance cache cannot tie the two together)."""
    import shutil

    copy = built_store.with_name("atlas-test-copy.duckdb")
    shutil.copyfile(str(built_store) + ".published", copy)

    def run(sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(copy), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    return run


@pytest.fixture(scope="module")
def index(client: TestClient) -> Node:
    response = client.get("/")
    assert response.status_code == 200
    return parse(response.text)


def case_rows(index: Node) -> dict[str, Node]:
    grid = index.find("table", "grid")
    return {tr.attrs["id"].removeprefix("case-"): tr
            for tr in grid.find("tbody").find_all("tr")}


# ----------------------------------------------------------------------------- first page


def test_first_page_lists_every_case_with_organisation_type_region(index, store_rows):
    rows = case_rows(index)
    assert len(rows) == 14
    cases = store_rows("SELECT case_key, name, org_type, region FROM case_info")
    assert set(rows) == {c[0] for c in cases}
    for key, name, org_type, region in cases:
        text = rows[key].text()
        assert name in text and org_type in text and (region or "region unknown") in text


def test_study_placement_is_labelled_and_unplaced_cases_say_so(index, store_rows):
    rows = case_rows(index)
    for key in ("nb-ailab", "ant-group"):
        assert "not placed by the study" in rows[key].text()
    for key, box in store_rows("SELECT case_key, study_box FROM case_info "
                               "WHERE study_box IS NOT NULL"):
        placement = rows[key].find("td", "placement")
        assert placement.find(cls="tag").text() == "study"
        assert box in placement.text()
        assert "not placed" not in placement.text()


def test_grid_numbers_equal_the_store_counts(index, store_rows):
    rows = case_rows(index)
    expected = {(c, s, k): n for c, s, k, n in store_rows(
        "SELECT case_key, stage, item_kind, count(*) FROM stage_trace GROUP BY ALL")}
    shown = {}
    for key, tr in rows.items():
        for a in tr.find_all("a", where=lambda n: n.attrs["href"].startswith("/evidence?")):
            params = dict(re.findall(r"(\w+)=([^&]+)", a.attrs["href"]))
            assert params["case"] == key
            shown[(key, params["stage"], params["kind"])] = leading_number(a.text())
    assert shown == expected


def test_every_number_on_the_first_page_is_backed_item_for_item(client, index):
    links = index.find_all("a", where=lambda n: n.attrs.get("href", "").startswith("/evidence"))
    assert len(links) > 20
    for a in links:
        number = leading_number(a.text())
        stated, listed = evidence_rows(client, a.attrs["href"].replace("&amp;", "&"))
        assert (stated, listed) == (number, number), a.attrs["href"]


def test_empty_cells_say_no_data_and_why(index, store_rows):
    rows = case_rows(index)
    gaps = store_rows("SELECT case_key, stage, reason FROM stage_gap")
    assert gaps, "the real snapshot has empty cells"
    header = [th.text() for th in index.find("table", "grid").find("thead").find_all("th")]
    for key, stage, reason in gaps:
        column = next(i for i, h in enumerate(header) if h.lower().startswith(stage))
        cell = rows[key].find_all(where=lambda n: n.tag in ("td", "th"))[column]
        text = cell.text()
        assert text.startswith("no data") and reason in text, (key, stage, text)
        assert not cell.find_all("a")
    filled = store_rows("SELECT DISTINCT case_key, stage FROM stage_trace")
    for key, stage in filled:
        if stage in GRID_STAGES:
            column = next(i for i, h in enumerate(header) if h.lower().startswith(stage))
            cell = rows[key].find_all(where=lambda n: n.tag in ("td", "th"))[column]
            assert "no data" not in cell.text()


def test_inherited_and_unknown_are_counted_beside_the_grid(index, store_rows):
    rows = case_rows(index)
    outside = store_rows("""SELECT case_key, stage, item_kind, count(*) FROM stage_trace
                            WHERE stage IN ('inherited', 'unknown') GROUP BY ALL""")
    assert outside, "the snapshot has forks with inherited history"
    for key, stage, kind, n in outside:
        cell = rows[key].find("td", "outside")
        hrefs = {a.attrs["href"]: leading_number(a.text()) for a in cell.find_all("a")}
        assert hrefs[f"/evidence?case={key}&stage={stage}&kind={kind}"] == n


def test_header_explains_stages_milestone_and_sample(index):
    intro = index.find("section", "intro").text()
    for word in ("Pre-training", "Post-training", "Post-release", "Public release of weights",
                 "A sample, not a census"):
        assert word in intro


# ----------------------------------------------------------------------------- case page


def test_case_page_of_bigscience(client, store_rows):
    response = client.get("/case/bigscience")
    assert response.status_code == 200
    doc = parse(response.text)
    repo_row = doc.find("tr", where=lambda n: "bigscience-workshop/Megatron-DeepSpeed"
                        in n.text() and n.find_all("th"))
    fork_point = store_rows("SELECT fork_point FROM case_repository WHERE repo = "
                            "'bigscience-workshop/Megatron-DeepSpeed'")[0][0]
    assert fork_point and fork_point in repo_row.text()
    assert "microsoft/Megatron-DeepSpeed" in repo_row.text()
    text = doc.text()
    for part in ("BigScience Workshop", "vendor-sponsored grassroots projects", "BLOOM",
                 "Release lines", "Partners", "Hub repositories"):
        assert part in text
    # each organisation fact with its source link
    facts = doc.find("dl", "facts")
    assert any(a.attrs["href"].startswith("https://") for a in facts.find_all("a")) or \
        "study slide" in facts.text()


def test_case_page_numbers_are_backed_by_evidence(client):
    doc = parse(client.get("/case/bigscience").text)
    links = doc.find_all("a", where=lambda n: n.attrs.get("href", "").startswith("/evidence")
                         and re.match(r"\s*[\d,]+", n.text()) is not None)
    assert links
    for a in links:
        number = leading_number(a.text())
        assert evidence_rows(client, a.attrs["href"]) == (number, number), a.attrs["href"]


def test_case_page_lists_every_hub_repo_of_its_orgs(client, store_rows):
    for key in ("bigscience", "meta", "eleutherai"):
        orgs = [o.lower() for (line,) in store_rows(
            "SELECT hub_orgs FROM case_release_line WHERE case_key = ?", [key])
            for o in line or []]
        expected = {r[0] for r in store_rows(
            """SELECT id FROM hub_model WHERE list_contains(?, lower(split_part(id, '/', 1)))
               UNION SELECT id FROM model_card
               WHERE case_key = ? OR list_contains(?, lower(split_part(id, '/', 1)))""",
            [orgs, key, orgs])}
        shown: set[str] = set()
        href = f"/case/{key}"
        while href:
            doc = parse(client.get(href).text)
            section = doc.find("section", where=lambda n: n.attrs.get("id") == "hub-repos")
            shown |= {a.find("h3").text() for a in section.find_all("article", "hub-repo")}
            nxt = section.find_all("a", where=lambda n: n.attrs.get("rel") == "next")
            href = nxt[0].attrs["href"] if nxt else None
        assert shown == expected, key


def test_model_card_text_is_preformatted_text(client, store_rows):
    (card_id,) = store_rows("SELECT id FROM model_card WHERE case_key = 'allenai' AND "
                            "body IS NOT NULL ORDER BY id LIMIT 1")[0]
    doc = parse(client.get("/case/allenai").text)
    article = doc.find("article", where=lambda n: n.find_all("h3")
                       and n.find("h3").text() == card_id)
    bodies = article.find_all("pre", "inert")
    assert bodies
    for a in article.find_all("a"):
        assert a.attrs["href"].startswith(("http://", "https://"))
        assert a.attrs["rel"] == "noopener noreferrer nofollow"


def test_unknown_case_is_a_helpful_404(client):
    response = client.get("/case/no-such-case")
    assert response.status_code == 404
    doc = parse(response.text)
    assert "no-such-case" in doc.text()
    assert len(doc.find("ul", "case-list").find_all("a")) == 14
    assert client.get("/no/such/page").status_code == 404


# ----------------------------------------------------------------------------- evidence


def test_evidence_rows_carry_provenance(client):
    doc = parse(client.get("/evidence?case=bigscience&stage=inherited").text)
    rows = doc.find_all("tr", "trace")
    assert len(rows) == 100
    for row in rows:
        link = row.find("a")
        assert link.attrs["href"].startswith("https://github.com/")
        assert "commits.log:line" in row.text()
        assert re.search(r"\d{4}-\d{2}-\d{2}", row.text())


def test_evidence_pages_do_not_overlap(client):
    first = parse(client.get("/evidence?stage=post-release&kind=pull-request").text)
    second = parse(client.get("/evidence?stage=post-release&kind=pull-request&page=2").text)
    keys = [[r.find(cls="label").text() for r in d.find_all("tr", "trace")]
            for d in (first, second)]
    assert len(keys[0]) == len(keys[1]) == 100
    assert not set(keys[0]) & set(keys[1])


def test_evidence_filters_are_optional_and_rule_filters(client, store_rows):
    total = store_rows("SELECT count(*) FROM stage_trace")[0][0]
    assert evidence_rows(client, "/evidence?page=999999")[0] == total
    rule, n = store_rows("SELECT rule, count(*) FROM stage_trace GROUP BY 1 "
                         "ORDER BY 2 LIMIT 1")[0]
    assert evidence_rows(client, f"/evidence?rule={rule}") == (n, n)
    assert client.get("/evidence?page=zero").status_code == 400


# ----------------------------------------------------------------------------- HTTP


def test_read_only_and_headers(client):
    for path in ("/", "/case/meta", "/evidence", "/static/atlas.css", "/nope"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.head("/").status_code == 200
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response = client.request(method, "/")
        assert response.status_code == 405
        assert response.headers["content-security-policy"] == CSP


def test_no_inline_script_or_style(client):
    for path in ("/", "/case/bigscience", "/evidence?case=meta"):
        doc = parse(client.get(path).text)
        assert not doc.find_all("script")
        assert not doc.find_all("style")
        assert not doc.find_all(where=lambda n: "style" in n.attrs
                                or any(a.startswith("on") for a in n.attrs))
        for link in doc.find_all("link"):
            assert link.attrs["href"].startswith("/static/")


def test_a_rebuilt_store_is_picked_up_without_restart(tmp_path):
    """A build swaps the published file; the next request reads the new one."""
    from llmcarto.framework.cases import packaged_cases_path
    from llmcarto.store import InputFile, Store

    db = tmp_path / "small.duckdb"
    with Store(db) as store:
        store.import_inputs([InputFile(packaged_cases_path(), "cases/cases.yaml",
                                       explicit=True)], "test")
    with TestClient(create_app(db)) as c:
        assert len(case_rows(parse(c.get("/").text))) == 14
        user = tmp_path / "mine.yaml"
        user.write_text(USER_CASE, encoding="utf-8")
        with Store(db) as store:
            store.import_inputs([InputFile(user, "cases/user/mine.yaml", explicit=True)],
                                "test")
        rows = case_rows(parse(c.get("/").text))
        assert len(rows) == 15 and "swiss-ai" in rows
        assert c.get("/case/swiss-ai").status_code == 200


def test_missing_store_says_how_to_build_it(tmp_path):
    with TestClient(create_app(tmp_path / "none.duckdb")) as c:
        response = c.get("/")
    assert response.status_code == 503
    assert "llmcarto build" in response.text


USER_CASE = """\
cases:
  swiss-ai:
    organisation:
      name: {value: Swiss AI Initiative, source: "https://www.swiss-ai.org/"}
      type: {value: public research institute or public body, source: "https://www.swiss-ai.org/"}
    region: {value: Europe, source: "https://www.swiss-ai.org/"}
    study:
      box: {value: null, note: not one of the study's cases}
    families:
    - name: Apertus
      hub_orgs: {value: [swiss-ai], source: "https://huggingface.co/swiss-ai"}
      id_regex: ^swiss-ai/Apertus-.+$
      first_release: {date: null, note: not looked up}
    repositories:
    - repo: swiss-ai/Megatron-LM
      role: [pre-training code]
      source: https://github.com/swiss-ai/Megatron-LM
"""


def test_family_panel_shows_licence_drift_with_honest_denominators(client, published):
    from llmcarto.atlas.licence_panel import licence_panel

    expected = licence_panel(published, "meta-llama/Llama-2-7b-chat-hf")
    assert expected["summary"]["known_both"] > 0
    text = client.get("/case/meta").text
    assert "Licence and gating drift" in text
    summary = expected["summary"]
    assert (f"{summary['change_rate_text']} of {summary['known_both']:,} edges with both "
            "licences known") in text
    assert f"unknown share beside it: {summary['unknown_share_text']}" in text
    for example in expected["incompatible"][:2]:
        assert example["child"] in text and example["rule"] in text
