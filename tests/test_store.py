"""The store built from the bundled real snapshot: provenance, idempotency, real counts,
and bad input reported with its location while every good record is kept."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import duckdb
import pytest

from llmcarto.bundle import ARCHIVE, INPUTS, extracted_snapshot, snapshot_dir
from llmcarto.errors import InputError
from llmcarto.store import Store, current_published, open_published, publish
from llmcarto.store.build import build
from llmcarto.store.schema import PROVENANCE_NAMES
from llmcarto.store.status import status, status_markdown

REPO = Path(__file__).resolve().parents[1]


def test_every_data_row_carries_provenance(published):
    tables = [r[0] for r in published.execute("SELECT name FROM data_table").fetchall()]
    assert {"git_commit", "hub_model", "hub_child", "model_card", "case_info",
            "stage_trace"} <= set(tables)
    for table in tables:
        cols = {r[0] for r in published.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [table]).fetchall()}
        assert set(PROVENANCE_NAMES) <= cols, table
        if table in ("stage_gap",):
            continue
        missing = published.execute(
            f'SELECT count(*) FROM "{table}" WHERE source IS NULL OR file IS NULL '
            "OR loc IS NULL").fetchone()[0]
        assert missing == 0, table


def test_source_urls_point_at_the_items(published):
    url, repo, sha = published.execute(
        "SELECT source_url, repo, sha FROM git_commit LIMIT 1").fetchone()
    assert url == f"https://github.com/{repo}/commit/{sha}"
    url, model = published.execute("SELECT source_url, id FROM hub_model LIMIT 1").fetchone()
    assert url == f"https://huggingface.co/{model}"
    # file-level provenance from the bundle manifest: source repo at its commit
    url = published.execute("SELECT file_url FROM import_file WHERE file = "
                            "'lineage/assets/ai2.yaml'").fetchone()[0]
    assert url.startswith("https://github.com/stanford-crfm/ecosystem-graphs/blob/576655a5")


def test_commit_counts_equal_each_repo_json(published):
    rows = published.execute("""
        SELECT r.repo, r.commits, (SELECT count(*) FROM git_commit c WHERE c.repo = r.repo),
               r.pulls, (SELECT count(*) FROM git_pull p WHERE p.repo = r.repo)
        FROM git_repo r ORDER BY r.repo""").fetchall()
    assert len(rows) == 28
    for repo, expected, got, pulls, got_pulls in rows:
        assert got == expected, repo
        assert got_pulls == pulls, repo
    assert sum(r[1] for r in rows) == 25_539


def test_children_per_relation_equal_the_dump_count_columns(published):
    relation_count = {"finetune": "children_count", "adapter": "adapters_count",
                      "quantized": "quantized_count", "merge": "merges_count",
                      "space": "spaces_count"}
    trees = [r[0] for r in published.execute("SELECT DISTINCT tree FROM hub_model").fetchall()]
    assert len(trees) == 4
    for relation, column in relation_count.items():
        mismatches = published.execute(f"""
            SELECT m.tree, m.id, m.{column},
                   (SELECT count(*) FROM hub_child c WHERE c.tree = m.tree AND c.parent = m.id
                      AND c.relation = '{relation}') AS listed
            FROM hub_model m WHERE m.{column} IS NOT NULL AND m.{column} <> listed""").fetchall()
        assert mismatches == [], (relation, mismatches[:3])
    # and the rows themselves: 569 models, distinct ids
    assert published.execute("SELECT count(*), count(DISTINCT id) FROM hub_model").fetchone() \
        == (569, 569)


def test_hf_commits_are_counted_as_distinct_repo_commit_pairs(published):
    rows, pairs = published.execute(
        "SELECT count(*), count(DISTINCT (repo_id, commit_hash)) FROM hf_commit").fetchone()
    assert (rows, pairs) == (8_171, 4_737)
    traced = published.execute(
        "SELECT count(DISTINCT item_key) FROM stage_trace WHERE item_kind = 'hub-commit'"
    ).fetchone()[0]
    owned = published.execute("""
        SELECT count(DISTINCT (repo_id, commit_hash)) FROM hf_commit
        WHERE lower(split_part(repo_id, '/', 1)) IN
              (SELECT lower(unnest(hub_orgs)) FROM case_release_line)""").fetchone()[0]
    assert traced == owned > 0


def test_cards_keep_every_copy_keyed_on_id_and_url(published):
    n, distinct, ids = published.execute(
        "SELECT count(*), count(DISTINCT (id, url)), count(DISTINCT id) FROM model_card "
        "WHERE origin = 'hf-cards'").fetchone()
    assert n == distinct == 78 and ids < n


def test_hub_handles_are_pseudonymised(published):
    authors = [r[0] for r in published.execute(
        "SELECT DISTINCT author FROM hf_commit WHERE author IS NOT NULL").fetchall()]
    assert authors and all(re.fullmatch(r"hf-[0-9a-f]{10}", a) for a in authors)
    messages = [r[0] for r in published.execute(
        "SELECT message FROM hf_commit WHERE message ILIKE '%co-authored-by:%'").fetchall()]
    names = [m.group(1) for msg in messages
             for m in re.finditer(r"(?im)^\s*Co-authored-by:[ \t]*([^<\n]*?)[ \t]*<", msg)]
    assert len(names) >= 317  # the conversion bot's trailers alone
    assert all(re.fullmatch(r"hf-[0-9a-f]{10}", n) for n in names), \
        [n for n in names if not n.startswith("hf-")][:3]


def test_build_twice_changes_nothing(tmp_path: Path):
    db = tmp_path / "twice.duckdb"
    first = build(db)
    assert first.by_status("loaded")
    before = _fingerprint(current_published(db))
    second = build(db)
    assert second.by_status("loaded") == [] and second.records == 0
    assert len(second.by_status("unchanged")) == len(first.by_status("loaded"))
    assert _fingerprint(current_published(db)) == before


def _fingerprint(path: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for (table,) in con.execute("SELECT name FROM data_table ORDER BY name").fetchall():
            out[table] = con.execute(
                f'SELECT count(*), sum(hash(columns(* EXCLUDE (snapshot_id))))::VARCHAR '
                f'FROM "{table}"').fetchone()
        out["_skipped"] = con.execute("SELECT count(*) FROM skipped_item").fetchone()
        return out
    finally:
        con.close()


def test_the_real_snapshot_loads_without_skips(published):
    skipped = published.execute(
        "SELECT file, loc, reason FROM skipped_item WHERE NOT kept").fetchall()
    # the only deliberate skip: the empty template of the Opening-up data
    assert all("A_sample.yaml" in f for f, _, _ in skipped), skipped[:5]


# ------------------------------------------------------------------------- bad input


@pytest.fixture()
def broken_bundle(tmp_path: Path) -> Path:
    """A copy of three real files, each damaged once."""
    root = tmp_path / "data"
    with extracted_snapshot() as snap:
        for rel in ("hf-trees/bigscience__bloom.jsonl", "git/huggingface__smollm/commits.log",
                    "hf-cards/cards.jsonl"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(snap / rel, root / rel)
    # 1. a truncated JSONL line (the second of three)
    tree = root / "hf-trees/bigscience__bloom.jsonl"
    lines = tree.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1][: len(lines[1]) // 2] + "\n"
    tree.write_text("".join(lines), encoding="utf-8")
    # 2. a git log cut in the middle of the last commit's header
    log = root / "git/huggingface__smollm/commits.log"
    text = log.read_text(encoding="utf-8")
    last = text.rindex("\ncommit ")
    log.write_text(text[: last + 1] + text[last + 1:].split("\n")[0] + "\nAuthor: dev-x",
                   encoding="utf-8")
    # 3. a card whose YAML front matter is broken
    cards = root / "hf-cards/cards.jsonl"
    records = [json.loads(line) for line in cards.read_text(encoding="utf-8").splitlines()]
    target = next(i for i, r in enumerate(records) if r["yaml"] and not r["yaml_collapsed"])
    records[target]["yaml"] = "license: [apache-2.0\nbase_model: {oops"
    cards.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return root


def test_damaged_files_are_reported_with_location_and_the_rest_loads(broken_bundle, tmp_path):
    db = tmp_path / "broken.duckdb"
    with Store(db) as store:
        report = store.import_paths([broken_bundle], "test")
    skips = {(s.file, s.loc): s.reason for s in report.skips}
    assert any(f.endswith("bigscience__bloom.jsonl") and "2" in loc for f, loc in skips), skips
    assert any(f.endswith("smollm/commits.log") for f, _ in skips), skips
    con = open_published(db)
    try:
        assert con.execute("SELECT count(*) FROM hub_model").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM git_commit").fetchone()[0] == 197
        # the broken card is kept raw, not dropped
        statuses = dict(con.execute("SELECT yaml_status, count(*) FROM model_card "
                                    "WHERE origin = 'hf-cards' GROUP BY 1").fetchall())
        assert sum(statuses.values()) == 78
        stored = con.execute("SELECT count(*) FROM skipped_item").fetchone()[0]
        assert stored == len(report.skips) >= 2
    finally:
        con.close()


def test_an_unknown_kind_names_the_file_and_the_accepted_kinds(tmp_path):
    odd = tmp_path / "notes.csv"
    odd.write_text("a,b\n1,2\n", encoding="utf-8")
    with Store(tmp_path / "s.duckdb") as store:
        report = store.import_paths([odd], "test")
    (result,) = report.files
    assert result.status == "unknown" and str(odd) in result.message
    assert "git-commits" in result.message and "hf-trees" in result.message
    assert report.readable == 0


def test_a_missing_path_is_an_input_error(tmp_path):
    with Store(tmp_path / "s.duckdb") as store, pytest.raises(InputError, match="no such file"):
        store.import_paths([tmp_path / "nope"], "test")


# ------------------------------------------------------------------------- snapshot


def test_snapshot_is_small_and_complete():
    archive = snapshot_dir() / ARCHIVE
    assert archive.stat().st_size <= 10 * 1024 * 1024
    with tarfile.open(archive, "r:xz") as tar:
        names = set(tar.getnames())
    inputs = json.loads((snapshot_dir() / INPUTS).read_text(encoding="utf-8"))
    assert set(inputs["files"]) <= names and "manifest.json" in names
    assert not any(n.startswith("cases/") for n in names)  # the registry ships once


@pytest.mark.shared
def test_committed_snapshot_is_up_to_date_with_the_bundle(shared_data: Path):
    manifest = json.loads((shared_data / "manifest.json").read_text(encoding="utf-8"))
    inputs = json.loads((snapshot_dir() / INPUTS).read_text(encoding="utf-8"))
    expected = {e["path"]: e["sha256"] for e in manifest["files"]
                if not e["path"].startswith("cases/") and not e["path"].endswith("README.md")}
    got = {path: entry["sha256"] for path, entry in inputs["files"].items()}
    stale = sorted(p for p in expected.keys() | got.keys() if expected.get(p) != got.get(p))
    assert not stale, f"run `make snapshot`: {len(stale)} files differ, e.g. {stale[:3]}"


@pytest.mark.shared
def test_snapshot_build_is_deterministic(shared_data: Path, tmp_path: Path):
    from llmcarto.bundle import build_snapshot

    build_snapshot(shared_data, tmp_path)
    assert (tmp_path / ARCHIVE).read_bytes() == (snapshot_dir() / ARCHIVE).read_bytes()


# ------------------------------------------------------------------------- README numbers


def test_readme_numbers_are_generated_from_the_store(published):
    block = status_markdown(status(published))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- status:begin -->\n(.*?)<!-- status:end -->", readme, re.S)
    assert match, "README lacks the generated numbers block"
    assert match.group(1) == block, "README numbers drifted: run `make readme-numbers`"


def test_readers_use_the_published_copy_while_a_writer_holds_the_store(built_store, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(built_store, db)
    publish(db)
    reader = open_published(db)
    before = reader.execute("SELECT count(*) FROM git_commit").fetchone()[0]
    with Store(db) as writer:  # the writer holds the working file …
        writer.con.execute("DELETE FROM git_commit WHERE repo = 'huggingface/smollm'")
        writer.mark_changed()
        # … and the published copy stays readable and unchanged until the write finishes
        again = open_published(db)
        assert again.execute("SELECT count(*) FROM git_commit").fetchone()[0] == before
        again.close()
    after = open_published(db)
    assert after.execute("SELECT count(*) FROM git_commit").fetchone()[0] == before - 198
    # the connection opened before the swap still reads the old copy
    assert reader.execute("SELECT count(*) FROM git_commit").fetchone()[0] == before
    after.close()
    reader.close()


def test_no_person_name_is_left_in_clear_in_git_trailers(published):
    """Persons (their e-mail is a 12-hex pseudonym) appear only as dev-… pseudonyms."""
    rows = published.execute("SELECT trailers FROM git_commit WHERE trailers IS NOT NULL "
                             "AND json_array_length(trailers) > 0").fetchall()
    people = [t for (raw,) in rows for t in json.loads(raw)
              if re.fullmatch(r"[0-9a-f]{12}@.+", t.get("email") or "")]
    assert len(people) > 100
    assert all(re.fullmatch(r"dev-[0-9a-f]{10}", t["name"] or "") for t in people), \
        [t["email"] for t in people if not (t["name"] or "").startswith("dev-")][:3]


def test_a_user_case_file_replaces_a_case_whole_and_can_be_removed(tmp_path: Path):
    from tests.test_cases import USER_CASE

    user = tmp_path / "meta.yaml"
    user.write_text(USER_CASE.replace("swiss-ai:", "meta:", 1), encoding="utf-8")
    db = tmp_path / "user.duckdb"
    build(db, [user])
    con = open_published(db)
    try:
        rows = con.execute("SELECT name, file FROM case_info WHERE case_key = 'meta'").fetchall()
        assert rows == [("Swiss AI Initiative", "cases/user/01-meta.yaml")]
        repos = con.execute(
            "SELECT repo FROM case_repository WHERE case_key = 'meta'").fetchall()
        assert repos == [("swiss-ai/Megatron-LM",)]
        # the stage analysis sees only the winning case: meta's git history is unattributed
        assert con.execute("SELECT count(*) FROM stage_trace WHERE case_key = 'meta' "
                           "AND item_kind = 'commit'").fetchone()[0] == 0
    finally:
        con.close()
    build(db)  # without the user file, the packaged case comes back
    con = open_published(db)
    try:
        assert con.execute("SELECT name FROM case_info WHERE case_key = 'meta'").fetchall() \
            == [("Meta (Llama team)",)]
        assert con.execute("SELECT count(*) FROM stage_trace WHERE case_key = 'meta' "
                           "AND item_kind = 'commit'").fetchone()[0] > 2000
    finally:
        con.close()


def test_the_public_api_opens_the_published_copy(built_store):
    import llmcarto

    con = llmcarto.open(built_store)
    try:
        assert con.execute("SELECT count(*) FROM case_info").fetchone()[0] == 14
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM case_info")
    finally:
        con.close()
