"""Hub readers (hf-trees, hf-cards, hf-commits) on the real bundle, plus fault tests.

Numbers are the bundle's own: README §1/§3/§8, hf-cards/README.md and manifest.json
`sanity`/`rows`. Fault and property tests write small files built from real lines.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcarto.privacy import hub_handle_pseudonym
from llmcarto.sources import hubcards, hubcommits, hubtrees
from llmcarto.sources.base import ReadContext, Record, Skip
from llmcarto.sources.hubcards import STATUSES, parse_card_yaml
from tests.conftest import SHARED_DATA

TREES = hubtrees.READERS[0]
CARDS = hubcards.READERS[0]
COMMITS, DISCUSSIONS, BOT_ACTIVITY = hubcommits.READERS
OURS = [TREES, CARDS, COMMITS, DISCUSSIONS, BOT_ACTIVITY]
COMMITS_CSV = "hf-commits/fixed3_repository_evolution_commits_0_5014.csv"
PSEUDONYM = re.compile(r"^hf-[0-9a-f]{10}$")
# The property tests build their inputs from bundle lines at collection time.
needs_bundle = pytest.mark.skipif(not (SHARED_DATA / "manifest.json").exists(),
                                  reason="../shared/data is not beside this checkout")

# README §8: Σ children listed per relation (finetunes/adapters/quantized/merges/spaces),
# finetune edges whose target is a row in the same file, info-null rows (README §1).
SECTION_8 = {
    "meta-llama__Llama-2-7b": ((91, 20, 58, 4, 120), 90, 1),
    "meta-llama__Llama-2-7b-chat-hf": ((464, 1129, 85, 4, 498), 457, 11),
    "bigscience__bloom": ((2, 0, 2, 2, 19), 2, 0),
    "EleutherAI__gpt-neox-20b": ((8, None, None, None, None), 8, 0),
}


def read_all(reader, path: Path, name: str | None = None) -> list[Record | Skip]:
    return list(reader.read(ReadContext(path=path, name=name or path.name)))


def records(out, table: str | None = None) -> list[Record]:
    return [o for o in out if isinstance(o, Record) and (table is None or o.table == table)]


def skips(out) -> list[Skip]:
    return [o for o in out if isinstance(o, Skip)]


@pytest.fixture(scope="module")
def trees(shared_data: Path) -> dict[str, list[Record | Skip]]:
    return {p.stem: read_all(TREES, p, f"hf-trees/{p.name}")
            for p in sorted((shared_data / "hf-trees").glob("*.jsonl"))}


@pytest.fixture(scope="module")
def cards(shared_data: Path) -> list[Record | Skip]:
    return read_all(CARDS, shared_data / "hf-cards/cards.jsonl", "hf-cards/cards.jsonl")


@pytest.fixture(scope="module")
def commits(shared_data: Path) -> list[Record | Skip]:
    return read_all(COMMITS, shared_data / COMMITS_CSV, COMMITS_CSV)


@pytest.fixture(scope="module")
def manifest(shared_data: Path) -> dict:
    return json.loads((shared_data / "manifest.json").read_text(encoding="utf-8"))


# --- detection ------------------------------------------------------------------------

EXPECTED_KIND = {
    "hf-cards/cards.jsonl": "hf-cards",
    COMMITS_CSV: "hf-commits",
    "hf-commits/discussion_urls.csv": "hf-discussion-urls",
    "hf-commits/sfconvertbot_activity.csv": "hf-bot-activity",
}


def test_detect_claims_exactly_our_files(shared_data: Path) -> None:
    claimed = {}
    for path in sorted(p for p in shared_data.rglob("*") if p.is_file()):
        name = path.relative_to(shared_data).as_posix()
        with path.open("rb") as fh:
            head = fh.read(4096)
        kinds = [r.kind for r in OURS if r.detect(name, head)]
        assert len(kinds) <= 1, (name, kinds)
        if kinds:
            claimed[name] = kinds[0]
    expected = dict(EXPECTED_KIND)
    for path in (shared_data / "hf-trees").glob("*.jsonl"):
        expected[f"hf-trees/{path.name}"] = "hf-trees"
    assert claimed == expected


def test_detect_by_content_after_rename(shared_data: Path, tmp_path: Path) -> None:
    for source, kind in [("hf-trees/bigscience__bloom.jsonl", "hf-trees"),
                         ("hf-cards/cards.jsonl", "hf-cards"), (COMMITS_CSV, "hf-commits")]:
        head = (shared_data / source).read_bytes()[:4096]
        assert [r.kind for r in OURS if r.detect("misc/renamed.dat", head)] == [kind]
    line = json.loads((shared_data / "hf-trees/EleutherAI__gpt-neox-20b.jsonl")
                      .read_text(encoding="utf-8").splitlines()[1])
    reordered = json.dumps(dict(reversed(list(line.items())))).encode() + b"\n"
    assert [r.kind for r in OURS if r.detect("x.jsonl", reordered[:4096])] == ["hf-trees"]


# --- hf-trees -------------------------------------------------------------------------

def test_trees_models_ids_and_depths(trees, manifest) -> None:
    models = [r for out in trees.values() for r in records(out, "hub_model")]
    assert len(models) == 569
    assert len({m.row["id"] for m in models}) == 569
    assert not any(m.row["id"].startswith("http") for m in models)
    assert not any(skips(out) for out in trees.values())
    sanity = manifest["sanity"]["hf_trees"]["trees"]
    for tree, out in trees.items():
        rows = [r.row for r in records(out, "hub_model")]
        assert len(rows) == sanity[f"{tree}.jsonl"]["rows"]
        depths = Counter(str(r["depth"]) for r in rows)
        assert depths == Counter(sanity[f"{tree}.jsonl"]["depth_histogram"])
        assert all(r["tree"] == tree for r in rows)


@pytest.mark.parametrize("tree", sorted(SECTION_8))
def test_trees_children_match_counts(trees, tree: str) -> None:
    sums, edges_to_rows, info_null = SECTION_8[tree]
    out = trees[tree]
    models = {r.row["id"]: r.row for r in records(out, "hub_model")}
    per_parent: dict[tuple[str, str], int] = Counter()
    for edge in records(out, "hub_child"):
        assert edge.row["parent"] in models
        per_parent[edge.row["parent"], edge.row["relation"]] += 1
    for (relation, count_col), total in zip(hubtrees.RELATIONS.values(), sums, strict=True):
        if total is None:  # v1 file: no such relation, no such column
            assert all(m[count_col] is None for m in models.values())
            assert not any(rel == relation for _, rel in per_parent)
            continue
        for model_id, row in models.items():
            assert per_parent[model_id, relation] == row[count_col], (model_id, relation)
        assert sum(per_parent[m, relation] for m in models) == total
    # README §8 matched child ids against model_id as written; a few info-null rows write
    # it as https://huggingface.co/<id>. Stripped, those rows join their parents' lists too.
    finetunes = [e.row["child"] for e in records(out, "hub_child")
                 if e.row["relation"] == "finetune"]
    raw_ids = {json.loads(line)["model_id"] for line in
               (SHARED_DATA / "hf-trees" / f"{tree}.jsonl").read_text("utf-8").splitlines()}
    prefixed = {i.removeprefix("https://huggingface.co/") for i in raw_ids if "://" in i}
    assert sum(child in raw_ids for child in finetunes) == edges_to_rows
    assert sum(child in models for child in finetunes) == edges_to_rows + sum(
        child in prefixed for child in finetunes)
    root = next(r for r in models.values() if r["depth"] == 0)
    assert root["children_count"] == sum(r["depth"] == 1 for r in models.values())
    nulls = [r for r in models.values() if r["info"] is None]
    assert len(nulls) == info_null
    assert {r["info_status"] for r in nulls} <= {"null: crawler could not read the repo"}
    assert all(r["info_status"] == "ok" for r in models.values() if r["info"] is not None)


def test_trees_info_normalised(trees) -> None:
    neox = {r.row["id"]: r for r in records(trees["EleutherAI__gpt-neox-20b"], "hub_model")}
    root = neox["EleutherAI/gpt-neox-20b"]
    assert "README.md" in root.row["siblings"] and "config.json" in root.row["siblings"]
    assert root.row["created_at"] == "2022-04-07T20:28:29+00:00"
    assert root.row["last_modified"] == "2024-01-31T20:30:35+00:00"
    assert root.row["gated"] == "false" and root.row["license"] == "apache-2.0"
    assert root.row["downloads"] == 80628 and root.row["likes"] == 558
    assert root.source_url == "https://huggingface.co/EleutherAI/gpt-neox-20b"
    assert root.snapshot_date == "2025-04-07"
    assert root.row["adapters_count"] is None and root.row["children_count"] == 8
    llama = {r.row["id"]: r for r in records(trees["meta-llama__Llama-2-7b"], "hub_model")}
    assert llama["meta-llama/Llama-2-7b"].row["gated"] == "manual"
    assert llama["meta-llama/Llama-2-7b"].snapshot_date == "2025-04-22"
    assert llama["malhajar/meditron-7b-chat"].row["base_models"] == [
        {"id": "epfl-llm/meditron-7b", "relation": "finetune"}]
    # every depth-1 row of the chat tree that has info declares the root as a base model
    chat = [r.row for r in records(trees["meta-llama__Llama-2-7b-chat-hf"], "hub_model")]
    declared = [r for r in chat if r["depth"] == 1 and r["info"] is not None
                and {"id": "meta-llama/Llama-2-7b-chat-hf", "relation": "finetune"}
                in r["base_models"]]
    assert len(declared) >= 400
    with_info = [r for r in chat if r["info"] is not None]
    assert all(len(r["siblings"]) == len(r["info"]["siblings"]) for r in with_info)


def test_trees_model_cards(trees, shared_data: Path) -> None:
    index = json.loads((shared_data / "hf-trees/index.json").read_text(encoding="utf-8"))
    for entry in index["trees"]:
        out = trees[Path(entry["file"]).stem]
        card_rows = [r.row for r in records(out, "model_card")]
        assert len(card_rows) == entry["rows_with_card_yaml"]
        assert sum(r["body"] is not None for r in card_rows) == entry["rows_with_card_body"]
        assert all(r["yaml_status"] == "parsed" and r["origin"] == "hf-trees"
                   and r["url"] == "https://huggingface.co/" + r["id"]
                   and r["revision"] is None for r in card_rows)
        models = [r.row for r in records(out, "hub_model")]
        assert sum(r["info"] is None for r in models) == entry["rows_info_null"]
    bloom = {r.row["id"]: r.row for r in records(trees["bigscience__bloom"], "model_card")}
    assert bloom["bigscience/bloom"]["license"] == "bigscience-bloom-rail-1.0"
    assert "en" in bloom["bigscience/bloom"]["languages"]


# --- hf-cards -------------------------------------------------------------------------

def test_cards_rows_and_statuses(cards) -> None:
    rows = [r.row for r in records(cards, "model_card")]
    assert len(rows) == 78
    assert len({(r["id"], r["url"]) for r in rows}) == 78
    assert len({r["id"] for r in rows}) < 78  # some repos appear at several urls/revisions
    assert Counter(r["repo_type"] for r in rows) == {"model": 60, "dataset": 17, "space": 1}
    assert sum(r["yaml_raw"] is not None for r in rows) == 58
    assert sum(r["source_host"] == "huggingface.co" for r in rows) == 26
    status = Counter(r["yaml_status"] for r in rows)
    assert status == {"parsed": 38, "absent": 20, "recovered": 19, "raw": 1}
    assert sum(r["yaml_collapsed"] is True for r in rows) == 14
    assert all(r["yaml_status"] != "parsed" for r in rows if r["yaml_collapsed"])
    not_parsed = [r for r in rows if r["yaml_status"] in ("recovered", "raw")]
    assert all(r["yaml_error"] and r["card_data"] is None for r in not_parsed)
    # each front matter that was not parsed is also reported, at its line
    assert len(skips(cards)) == len(not_parsed) == 20
    assert all(s.loc.startswith("line ") and s.kept for s in skips(cards))
    assert all(r.source_url == r.row["url"] for r in records(cards))


def test_cards_recovery_reads_collapsed_licence(cards) -> None:
    by_loc = {r.loc: r.row for r in records(cards)}
    olmo = by_loc["line 3"]  # allenai/OLMo-2-1124-13B at a sha, collapsed
    assert olmo["id"] == "allenai/OLMo-2-1124-13B" and olmo["yaml_collapsed"] is True
    assert "license: apache-2.0" in olmo["yaml_raw"]
    assert olmo["yaml_status"] == "recovered" and olmo["license"] == "apache-2.0"
    assert olmo["datasets"] == ["allenai/dolmino-mix-1124", "allenai/dolma"]
    assert olmo["revision"] == "bf5d4228dfa97b13cf2b8579ebbfd167f4bd6b76"
    nb = by_loc["line 39"]  # collapsed, with quoted values and "# comments"
    assert nb["license"] == "llama3.3"
    assert nb["languages"] == ["no", "nb", "nn", "en"]
    assert nb["base_model"] == ["meta-llama/Llama-3.3-70B-Instruct"]
    parsed = by_loc["line 1"]
    assert parsed["yaml_status"] == "parsed" and parsed["card_data"]["license"] == "apache-2.0"
    assert parsed["datasets"] == ["allenai/dolmino-mix-1124", "allenai/olmo-mix-1124"]


def test_parse_card_yaml_fields() -> None:
    meta = parse_card_yaml("base_model: org/a\nlanguage: no\nlicense: mit\ndate: 2024-01-02")
    assert meta.status == "parsed" and meta.base_model == ("org/a",)
    assert meta.languages == ("no",)  # YAML 1.1 reads bare `no` as false
    assert meta.data["date"] == "2024-01-02"
    meta = parse_card_yaml("---\nbase_model:\n- org/a\n- org/b\nbase_model_relation: merge\n---")
    assert meta.base_model == ("org/a", "org/b") and meta.base_model_relation == "merge"
    assert parse_card_yaml(None).status == "absent" and parse_card_yaml("  \n").status == "absent"
    assert parse_card_yaml("just words").status == "raw"
    collapsed = parse_card_yaml("license: mit", collapsed=True)
    assert collapsed.status == "recovered" and collapsed.license == "mit" and collapsed.data is None
    cut = parse_card_yaml('license: "apache-2.0" base_model: "meta-lla', collapsed=True)
    assert cut.license == "apache-2.0" and cut.base_model == ()  # a cut value is dropped


# --- hf-commits -----------------------------------------------------------------------

def raw_commit_rows(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / COMMITS_CSV).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_commits_counts(commits, manifest) -> None:
    rows = [r.row for r in records(commits, "hf_commit")]
    assert not skips(commits)
    entry = next(f for f in manifest["files"] if f["path"] == COMMITS_CSV)
    assert len(rows) == entry["rows"] == 8171
    assert len({(r["repo_id"], r["commit_hash"]) for r in rows}) == 4737
    assert len({r["repo_id"] for r in rows}) == 1031
    assert [r["row"] for r in rows] == list(range(1, 8172))
    assert not any("\\" in r["model_file_path"] for r in rows)
    dates = sorted(r["date"] for r in rows)
    first, last = entry["snapshot_dates"]["first"], entry["snapshot_dates"]["last"]
    assert dates[0] == first.replace(" ", "T") + "+00:00"
    assert dates[-1] == last.replace(" ", "T") + "+00:00"
    first_rec = records(commits)[0]
    assert first_rec.loc == "row 1 (line 2)" and records(commits)[1].loc == "row 2 (line 9)"
    assert first_rec.source_url == ("https://huggingface.co/rinna/japanese-gpt-neox-small/"
                                    "commit/f33d44540298e143079f34c35b21eebe4f3dce89")


def test_commits_pseudonymised(commits, shared_data: Path) -> None:
    raw = raw_commit_rows(shared_data)
    rows = [r.row for r in records(commits, "hf_commit")]
    raw_authors = {r["author"] for r in raw}
    trailer = re.compile(r"(?im)^[A-Za-z-]+-by:[ \t]*(.*?)[ \t]*<([^<>]*)>[ \t]*$")
    raw_names = {m.group(1) for r in raw for m in trailer.finditer(r["message"])}
    assert len(raw_names) > 30 and "Safetensors convertbot" in raw_names
    assert all(PSEUDONYM.match(r["author"]) for r in rows)
    assert not raw_authors & {r["author"] for r in rows}
    coauthors = [c for r in rows for c in r["coauthors"]]
    assert len(coauthors) == 460
    assert all(PSEUDONYM.match(c["name"]) for c in coauthors)
    for row in rows:
        for match in trailer.finditer(row["message"]):
            assert PSEUDONYM.match(match.group(1)), match.group(0)
            assert match.group(1) not in raw_names
    bot = hub_handle_pseudonym("Safetensors convertbot")
    convert = [c for c in coauthors if c["name"] == bot]
    assert len(convert) == 317 and all(c["is_bot"] for c in convert)
    assert {c["email"] for c in convert} == {"b364c2a21654@users.noreply.huggingface.co"}
    # the e-mail addresses in messages are untouched (already the bundle's pseudonyms)
    email = re.compile(r"[\w.+-]+@[\w.-]+")
    assert sorted(m for r in raw for m in email.findall(r["message"])) == \
        sorted(m for r in rows for m in email.findall(r["message"]))


def test_commits_bot_rule(commits, shared_data: Path) -> None:
    raw = raw_commit_rows(shared_data)
    rows = [r.row for r in records(commits, "hf_commit")]
    bots = Counter(raw_row["author"] for raw_row, row in zip(raw, rows, strict=True)
                   if row["author_is_bot"])
    assert bots == {"DumBot": 537, "system": 359, "AutoNLP Admin": 6, "bigscience-bot": 1}


def test_discussion_and_bot_urls(shared_data: Path) -> None:
    disc = read_all(DISCUSSIONS, shared_data / "hf-commits/discussion_urls.csv")
    bot = read_all(BOT_ACTIVITY, shared_data / "hf-commits/sfconvertbot_activity.csv")
    assert not skips(disc) and not skips(bot)
    disc_rows = [r.row for r in records(disc, "hf_discussion_url")]
    bot_rows = [r.row for r in records(bot, "hf_bot_activity")]
    assert len(disc_rows) == 9260 and len(bot_rows) == 220
    assert len({r["url"] for r in disc_rows} & {r["url"] for r in bot_rows}) == 155
    for row in disc_rows + bot_rows:
        assert row["url"].startswith(f"https://huggingface.co/{row['repo_id']}/discussions/")
        assert row["number"] >= 1 and len(row["event_id"]) == 24
    assert max(r["event_at"] for r in bot_rows) < "2024-11-03"  # crawled 2024-11-02
    assert all(r.source_url == r.row["url"] for r in records(disc))


# --- the rows load into DuckDB with the declared types ---------------------------------

def test_rows_load_with_declared_types(trees, cards, commits, tmp_path: Path) -> None:
    con = duckdb.connect()
    outputs = [(TREES, [o for out in trees.values() for o in out]), (CARDS, cards),
               (COMMITS, commits)]
    for reader, out in outputs:
        by_table = defaultdict(list)
        for rec in records(out):
            assert set(rec.row) == {c.split()[0] for c in reader.tables[rec.table].split(",")}
            by_table[rec.table].append(rec.row)
        for table, rows in by_table.items():
            columns = [c.strip().split(" ", 1) for c in reader.tables[table].split(",")]
            path = tmp_path / f"{reader.kind}-{table}.ndjson"
            path.write_text("\n".join(json.dumps(r, allow_nan=False) for r in rows),
                            encoding="utf-8")
            spec = "{" + ", ".join(f"'{n}': '{t}'" for n, t in columns) + "}"
            con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM read_json(?, "
                        f"format='newline_delimited', columns={spec}, "
                        f"maximum_object_size=67108864)", [str(path)])
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == len(rows)
    con.execute(f"CREATE TABLE c AS SELECT * FROM read_json('{tmp_path}/hf-commits-*.ndjson',"
                " columns={'date': 'TIMESTAMPTZ', 'coauthors': 'JSON'})")
    assert con.execute("SELECT count(*) FROM c WHERE date IS NULL").fetchone()[0] == 0


# --- faults ---------------------------------------------------------------------------

def test_truncated_tree_line_is_one_skip(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "hf-trees/EleutherAI__gpt-neox-20b.jsonl").read_text(
        encoding="utf-8").splitlines()
    lines[3] = lines[3][: len(lines[3]) // 2]
    path = tmp_path / "EleutherAI__gpt-neox-20b.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = read_all(TREES, path, "hf-trees/EleutherAI__gpt-neox-20b.jsonl")
    assert [(s.loc, s.file) for s in skips(out)] == [
        ("line 4", "hf-trees/EleutherAI__gpt-neox-20b.jsonl")]
    assert "not a JSON line" in skips(out)[0].reason and not skips(out)[0].kept
    models = records(out, "hub_model")
    assert len(models) == 8 and "line 4" not in {m.loc for m in models}
    assert {m.row["id"] for m in models} == {
        json.loads(line)["model_id"] for i, line in enumerate(lines) if i != 3}


def test_broken_yaml_card_is_reported_and_kept(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "hf-cards/cards.jsonl").read_text(encoding="utf-8").splitlines()
    good = json.loads(lines[0])
    broken = dict(good, yaml="license: mit\nbase_model: [org/a\ndatasets:\n- x: y: z",
                  url=good["url"] + "#broken", yaml_collapsed=False)
    path = tmp_path / "cards.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(broken), lines[1], "{\"id\": "]) + "\n",
                    encoding="utf-8")
    out = read_all(CARDS, path, "hf-cards/cards.jsonl")
    assert [s.loc for s in skips(out)] == ["line 2", "line 4"]
    assert "not valid YAML" in skips(out)[0].reason
    assert [s.kept for s in skips(out)] == [True, False]  # row kept raw / line lost
    rows = {r.loc: r.row for r in records(out)}
    assert sorted(rows) == ["line 1", "line 2", "line 3"]
    assert rows["line 2"]["yaml_status"] == "recovered" and rows["line 2"]["license"] == "mit"
    assert rows["line 1"]["yaml_status"] == rows["line 3"]["yaml_status"] == "parsed"


def test_broken_card_yaml_in_tree_line(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "hf-trees/bigscience__bloom.jsonl").read_text(
        encoding="utf-8").splitlines()
    obj = json.loads(lines[1])
    obj["card_yaml"] = "license: apache-2.0\n  bad: [indent"
    lines[1] = json.dumps(obj)
    path = tmp_path / "bigscience__bloom.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = read_all(TREES, path, "hf-trees/bigscience__bloom.jsonl")
    assert [s.loc for s in skips(out)] == ["line 2"]
    assert len(records(out, "hub_model")) == 3
    card = next(r.row for r in records(out, "model_card") if r.loc == "line 2")
    assert card["yaml_status"] == "recovered" and card["license"] == "apache-2.0"


def test_bad_csv_rows_are_skips(shared_data: Path, tmp_path: Path) -> None:
    with (shared_data / COMMITS_CSV).open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        rows = [next(reader) for _ in range(5)]
    sio = io.StringIO()
    writer = csv.writer(sio, lineterminator="\n")
    writer.writerow(rows[0])                   # header, line 1
    writer.writerow(rows[1])                   # row 1, lines 2-8 (multi-line message)
    writer.writerow(rows[2][:5])               # row 2: too few fields
    writer.writerow(rows[3][:6] + ["yesterday"])  # row 3: bad date
    writer.writerow(rows[4])                   # row 4
    path = tmp_path / "commits.csv"
    path.write_text(sio.getvalue(), encoding="utf-8")
    out = read_all(COMMITS, path, "hf-commits/commits.csv")
    assert [(s.loc, "fields" in s.reason, "date" in s.reason) for s in skips(out)] == [
        ("row 2 (line 9)", True, False), ("row 3 (line 10)", False, True)]
    assert [r.loc for r in records(out)] == ["row 1 (line 2)", "row 4 (line 11)"]
    assert all(s.file == "hf-commits/commits.csv" for s in skips(out))


def test_bad_pr_url_is_skip(tmp_path: Path) -> None:
    path = tmp_path / "discussion_urls.csv"
    path.write_text("pr_url\r\nhttps://huggingface.co/a/b/discussions/3#6725770bba8b00fb5b71b574"
                    "\r\nnot a url\r\nhttps://huggingface.co/datasets/c/d/discussions/12\r\n",
                    encoding="utf-8")
    out = read_all(DISCUSSIONS, path)
    assert [s.loc for s in skips(out)] == ["row 2 (line 3)"]
    rows = [r.row for r in records(out)]
    assert [(r["repo_id"], r["repo_type"], r["number"]) for r in rows] == [
        ("a/b", "model", 3), ("c/d", "dataset", 12)]
    assert rows[0]["event_at"] == "2024-11-02T00:49:15+00:00"


# --- property tests -------------------------------------------------------------------

NO_NEWLINE = st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))


@st.composite
def mutated(draw, texts: list[str]) -> str:
    """A real text with random inserts, deletions and maybe a truncation."""
    text = draw(st.sampled_from(texts))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "truncate"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(st.text(NO_NEWLINE, min_size=1, max_size=4)) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)):]
        else:
            text = text[:pos]
    return text


def _bundle_lines(rel: str) -> list[str]:
    path = SHARED_DATA / rel
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else ["{}"]


TREE_LINES = _bundle_lines("hf-trees/EleutherAI__gpt-neox-20b.jsonl")[:3] + \
    _bundle_lines("hf-trees/bigscience__bloom.jsonl")[1:]
CARD_LINES = _bundle_lines("hf-cards/cards.jsonl")
CARD_YAMLS = [y for y in (json.loads(line).get("yaml") for line in CARD_LINES
                          if line.startswith("{")) if y] or ["license: mit"]


def _read_three(reader, middle: str, name: str, good: str) -> list[Record | Skip]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text("\n".join([good, middle, good]) + "\n", encoding="utf-8")
        return read_all(reader, path)


def _json_ok(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@needs_bundle
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(TREE_LINES))
def test_mutated_tree_lines_never_raise(line: str) -> None:
    out = _read_three(TREES, line, "t.jsonl", TREE_LINES[-1])
    at_2 = [o for o in out if o.loc == "line 2"]
    assert [r.loc for r in records(out, "hub_model")].count("line 1") == 1
    assert [r.loc for r in records(out, "hub_model")].count("line 3") == 1
    if not line.strip():
        assert not at_2
    elif not _json_ok(line):
        assert [type(o) for o in at_2] == [Skip]
    else:  # valid JSON: either the whole line loads, or it is one Skip
        line_skips = [o for o in at_2 if isinstance(o, Skip)]
        assert (len(line_skips) == 1 and len(at_2) == 1) or \
            sum(isinstance(o, Record) and o.table == "hub_model" for o in at_2) == 1
    for rec in records(out):
        json.dumps(rec.row, allow_nan=False)


@needs_bundle
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(CARD_LINES))
def test_mutated_card_lines_never_raise(line: str) -> None:
    out = _read_three(CARDS, line, "cards.jsonl", CARD_LINES[0])
    at_2 = [o for o in out if o.loc == "line 2"]
    assert len([r for r in records(out) if r.loc in ("line 1", "line 3")]) == 2
    if line.strip() and not _json_ok(line):
        assert [type(o) for o in at_2] == [Skip]
    for rec in records(out):
        json.dumps(rec.row, allow_nan=False)


@needs_bundle
@settings(max_examples=300, deadline=None)
@given(mutated(CARD_YAMLS), st.booleans())
def test_mutated_front_matter(text: str, collapsed: bool) -> None:
    meta = parse_card_yaml(text, collapsed=collapsed)
    assert meta.status in STATUSES
    json.dumps(meta.data, allow_nan=False)
    if meta.status == "parsed":
        assert not collapsed and isinstance(yaml.safe_load(text), dict)
    if meta.status in ("recovered", "raw"):
        assert meta.error and meta.data is None
    # through the reader: a card whose front matter did not parse is a row and a Skip
    good = json.loads(CARD_LINES[0])
    line = json.dumps(dict(good, yaml=text, yaml_collapsed=collapsed))
    out = _read_three(CARDS, line, "cards.jsonl", CARD_LINES[0])
    rows = [r for r in records(out) if r.loc == "line 2"]
    assert len(rows) == 1 and rows[0].row["yaml_status"] == meta.status
    assert bool([s for s in skips(out) if s.loc == "line 2"]) == (
        meta.status in ("recovered", "raw"))


@needs_bundle
@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mutated_commit_csv_never_raises(data) -> None:
    source = SHARED_DATA / COMMITS_CSV
    header, body = "".join(source.open(encoding="utf-8").readlines()[:20]).split("\n", 1)
    text = data.draw(mutated([body]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.csv"
        path.write_text(header + "\n" + text, encoding="utf-8")
        out = read_all(COMMITS, path)
    for rec in records(out):
        assert PSEUDONYM.match(rec.row["author"] or "hf-0000000000")
        json.dumps(rec.row, allow_nan=False)
    assert all(re.match(r"^row \d+ \(line \d+\)$", o.loc) for o in out)
