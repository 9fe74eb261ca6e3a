"""Readers for hf-downloads, lineage (ecosystem graphs) and openness, on the real bundle.

Counts are compared with the bundle's own numbers (README §2, §4, §5, §8 and manifest.json
`rows` / `sanity`); sums are recomputed from the records, not read from the files. Damaged
copies of real files must give located Skips while everything else still loads.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmcarto.errors import InputError
from llmcarto.sources import downloads, ecosystem, openness
from llmcarto.sources.base import ReadContext, Record, Skip
from llmcarto.store.schema import PROVENANCE_NAMES, split_columns

MY_READERS = downloads.READERS + ecosystem.READERS + openness.READERS
MY_FOLDERS = ("hf-downloads/", "lineage/", "openness/")
EXPECTED_KIND = [  # (path pattern, kind): every file of these folders has exactly one kind
    (r"hf-downloads/snapshots/\d{4}-\d{2}-\d{2}\.json", "hf-downloads-snapshot"),
    (r"hf-downloads/timeseries\.jsonl", "hf-downloads-timeseries"),
    (r"hf-downloads/european-llm-hf-download-leaderboard\.json", "hf-downloads-config"),
    (r"hf-downloads/manifest/latest\.json", "hf-downloads-manifest"),
    (r"lineage/assets/[^/]+\.yaml", "ecosystem-assets"),
    (r"lineage/all_assets\.csv", "ecosystem-csv"),
    (r"openness/mot/[^/]+\.yml", "mot-model"),
    (r"openness/osai-index/[^/]+\.yaml", "osai-project"),
    (r"openness/fmti/[^/]+_disclosures\.csv", "fmti-disclosures"),
    (r"openness/fmti/[^/]+_scores\.csv", "fmti-scores"),
]


def _reader_for(name: str, head: bytes):
    claims = [r for r in MY_READERS if r.detect(name, head)]
    assert len(claims) <= 1, (name, [r.kind for r in claims])
    return claims[0] if claims else None


def read_file(path: Path, name: str, reader=None, extras=None) -> list[Record | Skip]:
    reader = reader or _reader_for(name, path.read_bytes()[:4096])
    assert reader is not None, f"no reader claims {name}"
    return list(reader.read(ReadContext(path=path, name=name, extras=extras or {})))


def records(outs, table: str | None = None) -> list[Record]:
    return [o for o in outs if isinstance(o, Record) and (table is None or o.table == table)]


def skips(outs) -> list[Skip]:
    return [o for o in outs if isinstance(o, Skip)]


@pytest.fixture(scope="module")
def manifest(shared_data: Path) -> dict:
    return json.loads((shared_data / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bundle(shared_data: Path, manifest: dict) -> dict[str, list[Record | Skip]]:
    """Every file of the three folders read once, with the manifest's file URL as extras."""
    out: dict[str, list[Record | Skip]] = {}
    for entry in manifest["files"]:
        name = entry["path"]
        if name.startswith(MY_FOLDERS):
            src = entry["source"]
            url = f"https://github.com/{src['source_repo']}/blob/{src['commit']}/" \
                  f"{src['original_path']}"
            out[name] = read_file(shared_data / name, name, extras={"file_url": url})
    return out


def by_table(bundle, table: str, prefix: str = "") -> list[Record]:
    return [r for name, outs in bundle.items() if name.startswith(prefix)
            for r in records(outs, table)]


# ---------------------------------------------------------------- contract


def test_each_file_is_claimed_by_exactly_its_reader_and_no_other_file_is(shared_data: Path):
    for path in sorted(p for p in shared_data.rglob("*") if p.is_file()):
        name = path.relative_to(shared_data).as_posix()
        reader = _reader_for(name, path.read_bytes()[:4096])
        expected = [kind for pattern, kind in EXPECTED_KIND if re.fullmatch(pattern, name)]
        assert (reader.kind if reader else None) == (expected[0] if expected else None), name


def test_detection_is_by_content_so_renamed_files_are_still_recognised(shared_data: Path):
    for rel, kind in [("hf-downloads/snapshots/2026-08-10.json", "hf-downloads-snapshot"),
                      ("hf-downloads/timeseries.jsonl", "hf-downloads-timeseries"),
                      ("hf-downloads/manifest/latest.json", "hf-downloads-manifest"),
                      ("hf-downloads/european-llm-hf-download-leaderboard.json",
                       "hf-downloads-config"),
                      ("lineage/assets/ai2.yaml", "ecosystem-assets"),
                      ("lineage/all_assets.csv", "ecosystem-csv"),
                      ("openness/mot/Amber.yml", "mot-model"),
                      ("openness/osai-index/olmo-7b-instruct.yaml", "osai-project"),
                      ("openness/fmti/May2024_disclosures.csv", "fmti-disclosures"),
                      ("openness/fmti/Dec2025_scores.csv", "fmti-scores")]:
        head = (shared_data / rel).read_bytes()[:4096]
        assert _reader_for("incoming/file.dat", head).kind == kind, rel


def test_rows_have_exactly_the_declared_columns_and_are_plain_json(bundle):
    declared = {t: [c for c, _ in split_columns(cols)]
                for r in MY_READERS for t, cols in r.tables.items()}
    for reader in MY_READERS:  # provenance columns belong to the store
        for cols in reader.tables.values():
            assert not {c for c, _ in split_columns(cols)} & set(PROVENANCE_NAMES), reader.kind
    seen = set()
    for name, outs in bundle.items():
        for rec in records(outs):
            assert sorted(rec.row) == sorted(declared[rec.table]), (name, rec.table)
            json.dumps(rec.row, allow_nan=False)
            assert rec.loc and rec.source_url and re.match(r"https?://", rec.source_url)
            seen.add(rec.table)
    assert seen == set(declared)


# ---------------------------------------------------------------- hf-downloads


def test_snapshots_21_days_with_the_manifest_repo_counts(bundle, manifest):
    expected = {e["path"]: e for e in manifest["files"]
                if e["path"].startswith("hf-downloads/snapshots/")}
    assert len(expected) == 21
    days = []
    for name, entry in expected.items():
        repos = records(bundle[name], "download_repo_day")
        assert len(repos) == entry["rows"], name
        assert len({r.row["repo_id"] for r in repos}) == len(repos)
        day = entry["snapshot_dates"]["snapshot_date"]
        assert {r.snapshot_date for r in records(bundle[name])} == {day}
        assert all(r.source_url == "https://huggingface.co/" + r.row["repo_id"] for r in repos)
        assert not skips(bundle[name])
        days.append(day)
    assert min(days) == "2026-08-02" and max(days) == "2026-08-22"
    counts = Counter(len(records(bundle[n], "download_repo_day")) for n in expected)
    assert counts == {436: 19, 429: 1, 437: 1}


def test_family_totals_equal_the_sum_of_their_repos_on_the_latest_manifest(bundle, manifest):
    """README §8: 19 snapshots (2026-08-04 … 22) × 158 families, 0 mismatches."""
    man = by_table(bundle, "download_manifest")
    latest_hash = {r.row["manifest_content_hash"] for r in man}
    assert len(latest_hash) == 1
    family_of = {r.row["repo_id"]: r.row["family"] for r in man}  # independent of the regexes
    checked, mismatches = [], 0
    for name, outs in bundle.items():
        if not name.startswith("hf-downloads/snapshots/"):
            continue
        (snap,) = records(outs, "download_snapshot")
        if snap.row["manifest_content_hash"] not in latest_hash:
            continue
        sums: Counter[str] = Counter()
        for r in records(outs, "download_repo_day"):
            sums[family_of[r.row["repo_id"]]] += r.row["downloads_30d"]
            assert r.row["family"] == family_of[r.row["repo_id"]]  # the config rule agrees
        totals = {r.row["family"]: r.row["total_downloads_30d"]
                  for r in records(outs, "download_family_day")}
        assert len(totals) == 158
        mismatches += sum(sums[f] != t for f, t in totals.items())
        checked.append(snap.snapshot_date)
    assert sorted(checked) == [c["snapshot"] for c in manifest["sanity"]["hf_downloads"]
                               ["sum_checks"]]
    assert (len(checked), min(checked), max(checked)) == (19, "2026-08-04", "2026-08-22")
    assert mismatches == 0


def test_families_from_the_config_rule_also_add_up_on_the_two_older_snapshots(bundle):
    for day in ("2026-08-02", "2026-08-03"):
        outs = bundle[f"hf-downloads/snapshots/{day}.json"]
        sums: Counter[str] = Counter()
        for r in records(outs, "download_repo_day"):
            assert r.row["family"] and r.row["family_rule"].startswith("^")
            sums[r.row["family"]] += r.row["downloads_30d"]
        fams = records(outs, "download_family_day")
        assert len(fams) == {"2026-08-02": 154, "2026-08-03": 158}[day]
        assert all(sums[f.row["family"]] == f.row["total_downloads_30d"] for f in fams)


def test_timeseries_keeps_both_2026_08_03_records(bundle, manifest):
    rows = records(bundle["hf-downloads/timeseries.jsonl"], "download_timeseries")
    indexes = {r.row["record_index"] for r in rows}
    assert len(indexes) == manifest["sanity"]["hf_downloads"]["timeseries_lines"] == 22
    per_day = defaultdict(set)
    for r in rows:
        per_day[r.snapshot_date].add(r.row["record_index"])
    assert len(per_day) == 21 and len(per_day["2026-08-03"]) == 2
    assert [d for d, idx in per_day.items() if len(idx) > 1] == ["2026-08-03"]
    first, second = sorted(per_day["2026-08-03"])
    assert all(r.row["superseded"] == (r.row["record_index"] == first) for r in rows)
    assert sum(r.row["record_index"] == first for r in rows) == 154
    assert sum(r.row["record_index"] == second for r in rows) == 158


def test_timeseries_agrees_with_the_snapshot_of_the_same_run(bundle):
    ts = {(r.row["fetched_at"], r.row["family"]): r.row["downloads_30d"]
          for r in records(bundle["hf-downloads/timeseries.jsonl"])}
    snap = records(bundle["hf-downloads/snapshots/2026-08-15.json"], "download_family_day")
    assert snap and all(ts[(r.row["fetched_at"], r.row["family"])]
                        == r.row["total_downloads_30d"] for r in snap)


def test_config_158_families_with_official_org_regexes(bundle):
    fams = records(bundle["hf-downloads/european-llm-hf-download-leaderboard.json"],
                   "download_family")
    assert len(fams) == 158
    assert [f.row["position"] for f in fams] == list(range(1, 159))
    for f in fams:
        assert f.row["regex"] and f.row["country"] and f.row["developer"]
        assert all(p.startswith(f"^{f.row['official_org']}/") for p in f.row["regex"])
    (config,) = records(bundle["hf-downloads/european-llm-hf-download-leaderboard.json"],
                        "download_config")
    assert config.row["deduplication"]["assignment"] == "first_matching_row_in_object_key_order"


def test_manifest_resolves_436_repos_bielik_80_teuken_4(bundle):
    man = records(bundle["hf-downloads/manifest/latest.json"], "download_manifest")
    assert len(man) == 436 and len({r.row["repo_id"] for r in man}) == 436
    assert {r.row["generated_at"] for r in man} == {"2026-08-17T05:30:37Z"}
    org = {f.row["family"]: f.row["official_org"]
           for f in by_table(bundle, "download_family")}
    assert {r.row["family"] for r in man} == set(org)
    per_org = Counter(org[r.row["family"]] for r in man)
    assert per_org["speakleash"] == 80 and per_org["openGPT-X"] == 4
    assert "NbAiLab" not in per_org and "norallm" not in per_org


# ---------------------------------------------------------------- lineage


def test_639_assets_816_dependencies_and_the_csv_has_the_same_assets(bundle, manifest):
    other = manifest["sanity"]["other"]
    assets = by_table(bundle, "eco_asset", "lineage/assets/")
    deps = by_table(bundle, "eco_dependency", "lineage/assets/")
    files = [n for n in bundle if n.startswith("lineage/assets/")]
    assert len(files) == other["lineage_yaml_files"] == 173
    assert len(assets) == other["lineage_assets"] == 639
    assert Counter(a.row["type"] for a in assets) == other["lineage_asset_types"]
    assert len(deps) == other["lineage_dependency_edges"] == 816
    assert sum(len(a.row["dependencies"]) for a in assets) == 816
    csv_rows = records(bundle["lineage/all_assets.csv"], "eco_asset_csv")
    assert len(csv_rows) == other["lineage_csv_rows"] == 639
    assert Counter((a.row["name"], a.row["organization"]) for a in assets) == \
        Counter((c.row["name"], c.row["organization"]) for c in csv_rows)
    assert sum(len(c.row["dependencies_list"]) for c in csv_rows) == 816
    assert not any(skips(bundle[n]) for n in files + ["lineage/all_assets.csv"])


def test_dates_and_licences_are_normalised_and_kept_raw(bundle, manifest):
    assets = {a.row["name"]: a for a in by_table(bundle, "eco_asset")}
    dated = [a.row["created_date"] for a in assets.values() if a.row["created_date"]]
    dates = manifest["files"][[e["path"] for e in manifest["files"]].index(
        "lineage/all_assets.csv")]["snapshot_dates"]
    assert (min(dated), max(dated)) == (dates["created_first"], dates["created_last"])
    sonnet = assets["Claude 3.5 Sonnet"].row  # a mapping with only an explanation
    assert sonnet["created_date"] is None and "explanation" in sonnet["created_date_raw"]
    assert sonnet["created_date_explanation"].startswith("Claude 3.5 Sonnet updated")
    assert assets["AssemblyAI"].row["created_date_raw"] == 2022
    assert assets["Dolma"].row["license"].startswith("AI2 ImpACT")  # README format notes
    tiger = assets["TigerBot"].row  # dependencies written as {value, explanation}
    assert tiger["dependencies"] == ["Llama 2", "BLOOM"] and tiger["dependencies_explanation"]
    yi = assets["Yi"].row
    assert yi["license"] == "custom" and yi["license_raw"]["value"] == "custom"
    assert "huggingface.co/01-ai" in yi["license_explanation"]


# ---------------------------------------------------------------- openness


def test_mot_273_models_with_components(bundle, manifest):
    models = by_table(bundle, "mot_model")
    comps = by_table(bundle, "mot_component")
    assert len(models) == manifest["sanity"]["other"]["mot_models"] == 273
    dates = [m.row["record_date"] for m in models]
    assert (min(dates), max(dates)) == ("2024-04-18", "2026-05-11")  # README §5
    assert sum(m.row["components"] for m in models) == len(comps)
    hf = [m for m in models if m.row["huggingface_url"]]
    assert all(m.source_url == m.row["huggingface_url"] for m in hf)
    assert sum(m.row["licenses"] == {} for m in models) > 136  # "most records have {}"
    # a component without `license` states none; "unlicensed" is kept as written
    assert any(not c.row["license_stated"] and c.row["license"] is None for c in comps)
    assert any(c.row["license"] == "unlicensed" for c in comps)
    amber = [c.row for c in comps if c.row["model"] == "Amber"]
    assert [c["component"] for c in amber][:2] == ["Model architecture",
                                                   "Data preprocessing code"]
    assert next(c for c in amber if c["component"] == "Datasets")["license"] == "MIT"


def test_osai_47_projects_14_dimensions_and_the_template_skipped(bundle, manifest):
    names = [n for n in bundle if n.startswith("openness/osai-index/")]
    assert len(names) == manifest["sanity"]["other"]["osai_projects"] == 48
    projects = by_table(bundle, "osai_project")
    dims = by_table(bundle, "osai_dimension")
    assert len(projects) == 47
    (template,) = [s for n in names for s in skips(bundle[n])]
    assert template.file.endswith("A_sample.yaml") and template.reason.startswith("template")
    per_project = Counter(d.row["project"] for d in dims)
    assert set(per_project.values()) == {14} and len(per_project) == 47
    assert {d.row["dimension"] for d in dims} == set(openness.OSAI_DIMENSIONS)
    assert {d.row["class"] for d in dims} == {"open", "partial", "closed"}
    olmo = {d.row["dimension"]: d.row for d in dims if d.row["project"] == "olmo-7b-instruct"}
    assert olmo["paper"]["class"] == "closed" and olmo["api"]["class"] == "partial"
    assert olmo["llmdata"]["link"] == "https://huggingface.co/datasets/allenai/dolma"
    webui = next(p for p in projects if p.row["project"] == "text-generation-webui")
    assert webui.row["name"] is None and webui.row["org"] == "Oobabooga"


def test_fmti_100_indicators_per_table_and_totals_add_up(bundle, manifest):
    disc = by_table(bundle, "fmti_disclosure")
    scores = by_table(bundle, "fmti_score")
    assert len({d.row["indicator"] for d in disc}) == \
        manifest["sanity"]["other"]["fmti_may2024_disclosure_rows"] == 100
    devs = {d.row["developer"] for d in disc}
    assert len(devs) == 14 and {"BigCode", "Meta", "Aleph Alpha"} <= devs
    assert {d.row["edition"] for d in disc} == {"May2024"}
    for edition, n_devs, some in [("May2024", 14, {"BigCode"}),
                                  ("Dec2025", 13, {"Alibaba", "IBM", "Meta"})]:
        ed = [s.row for s in scores if s.row["edition"] == edition]
        assert len({s["indicator"] for s in ed if not s["is_total"]}) == 100
        assert len({s["developer"] for s in ed}) == n_devs and some <= {s["developer"]
                                                                         for s in ed}
        assert {s["score"] for s in ed if not s["is_total"]} <= {0, 1}
    may = [s.row for s in scores if s.row["edition"] == "May2024"]
    totals = {s["developer"]: s["score"] for s in may if s["is_total"]}
    sums = Counter()
    for s in may:
        if not s["is_total"]:
            sums[s["developer"]] += s["score"]
    assert len(totals) == 14 and totals == dict(sums)
    assert {s.row["indicator"] for s in scores if s.row["edition"] == "May2024"} - {"Total"} \
        == {d.row["indicator"] for d in disc}  # trailing blanks ("Data creators ") stripped


# ---------------------------------------------------------------- the store takes the rows


def test_the_store_loads_every_table_with_its_types(shared_data: Path, bundle):
    """Every table, through the real import (a sample of the per-asset files: speed)."""
    duckdb = pytest.importorskip("duckdb")
    from llmcarto.store.ingest import discover, import_files
    from llmcarto.store.schema import migrate

    sample = [n for n in bundle if n.startswith(("hf-downloads/", "openness/fmti/"))
              or n in ("lineage/all_assets.csv", "lineage/assets/ai2.yaml",
                       "lineage/assets/anthropic.yaml", "openness/mot/Amber.yml",
                       "openness/osai-index/A_sample.yaml",
                       "openness/osai-index/olmo-7b-instruct.yaml")]
    con = duckdb.connect()
    migrate(con)
    report = import_files(con, discover([shared_data / n for n in sample]), "test")
    assert {f.status for f in report.files} == {"loaded"}
    mismatched = con.execute("""
        WITH s AS (SELECT snapshot_date, family, sum(downloads_30d) AS s
                   FROM download_repo_day GROUP BY ALL)
        SELECT count(*) FILTER (WHERE f.total_downloads_30d <> s.s), count(*)
        FROM download_family_day f JOIN s USING (snapshot_date, family)
        WHERE f.snapshot_date >= DATE '2026-08-04'""").fetchone()
    assert mismatched == (0, 19 * 158)
    loaded = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in {r.table for n in sample for r in records(bundle[n])}}
    assert loaded == dict(Counter(r.table for n in sample for r in records(bundle[n])))
    sonnet = con.execute("SELECT created_date, created_date_raw->>'explanation' FROM eco_asset "
                         "WHERE name = 'Claude 3.5 Sonnet'").fetchone()
    assert sonnet[0] is None and sonnet[1].startswith("Claude 3.5 Sonnet updated")
    assert con.execute("SELECT loc, reason FROM skipped_item").fetchall() == [
        ("file", next(s.reason for s in skips(bundle["openness/osai-index/A_sample.yaml"])))]
    url = con.execute("SELECT source_url FROM fmti_score LIMIT 1").fetchone()[0]
    assert url.startswith("https://github.com/stanford-crfm/fmti/blob/f4500c5f")
    fetched = con.execute("SELECT min(fetched_at) FROM download_snapshot").fetchone()[0]
    assert fetched == datetime(2026, 8, 2, 14, 49, 7, tzinfo=UTC)


# ---------------------------------------------------------------- damaged files


def test_a_broken_yaml_asset_file_is_one_located_skip_and_other_files_load(
        shared_data: Path, tmp_path: Path):
    good = shared_data / "lineage/assets/ai2.yaml"
    text = (shared_data / "lineage/assets/eleutherai.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if i > 20 and line.startswith("  name:"))
    lines.insert(at, "\tname: a tab cannot indent YAML\n")
    (tmp_path / "broken.yaml").write_text("".join(lines), encoding="utf-8")
    reader = ecosystem.EcosystemAssetsReader()
    broken = read_file(tmp_path / "broken.yaml", "lineage/assets/broken.yaml", reader)
    assert not records(broken)
    (skip,) = skips(broken)
    assert skip.file == "lineage/assets/broken.yaml"
    assert skip.loc == f"line {at + 1} column 1" and "YAML" in skip.reason
    ok = read_file(good, "lineage/assets/ai2.yaml", reader)
    assert len(records(ok, "eco_asset")) == len(yaml.safe_load(good.read_text())) > 0


def test_bad_asset_entries_are_skipped_by_index_and_line(tmp_path: Path):
    text = ("- name: A\n  type: model\n  created_date: 2023-13-45\n"
            "- just a string\n"
            "- type: dataset\n  created_date: 2020-01-01\n"
            "- name: B\n  type: dataset\n  created_date: {value: 2021-02-03, explanation: x}\n"
            "  license: {value: MIT, explanation: code only}\n  dependencies: [A, C]\n")
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    outs = read_file(path, "x.yaml", ecosystem.EcosystemAssetsReader())
    assert [(s.loc.split(",")[0]) for s in skips(outs)] == [
        "asset 1 (line 1)", "asset 2 (line 4)", "asset 3 (line 5)"]
    (b,) = records(outs, "eco_asset")
    assert (b.row["name"], b.row["created_date"], b.row["license"]) == ("B", "2021-02-03", "MIT")
    assert b.row["license_raw"] == {"value": "MIT", "explanation": "code only"}
    assert [(d.row["dependency"], d.row["position"]) for d in records(outs, "eco_dependency")] \
        == [("A", 1), ("C", 2)]


def test_a_truncated_snapshot_yields_what_precedes_the_damage(shared_data: Path,
                                                              tmp_path: Path):
    src = shared_data / "hf-downloads/snapshots/2026-08-10.json"
    full_text = src.read_text(encoding="utf-8")
    (tmp_path / "snapshots").mkdir()
    shutil.copy(shared_data / "hf-downloads" / downloads.CONFIG_NAME, tmp_path)
    cut = tmp_path / "snapshots/2026-08-10.json"
    cut.write_text(full_text[: len(full_text) // 3], encoding="utf-8")
    reader = downloads.SnapshotReader()
    full = records(read_file(src, "s/full.json", reader), "download_repo_day")
    outs = read_file(cut, "snapshots/2026-08-10.json", reader)
    part = records(outs, "download_repo_day")
    assert 0 < len(part) < len(full) == 436
    assert [r.row for r in part] == [r.row for r in full[: len(part)]]  # family from config
    assert all(r.row["family"] for r in part) and not records(outs, "download_family_day")
    (skip,) = skips(outs)
    line = int(re.fullmatch(r"line (\d+) column \d+", skip.loc).group(1))
    assert line == full_text[: len(full_text) // 3].count("\n") + 1
    assert "truncated" in skip.reason and f"{len(part)} repos" in skip.reason
    (snap,) = records(outs, "download_snapshot")
    assert snap.row["complete"] is False and snap.snapshot_date == "2026-08-10"


def test_a_snapshot_without_its_config_has_no_family_rather_than_a_guess(shared_data: Path,
                                                                          tmp_path: Path):
    shutil.copy(shared_data / "hf-downloads/snapshots/2026-08-10.json", tmp_path / "s.json")
    outs = read_file(tmp_path / "s.json", "s.json", downloads.SnapshotReader())
    repos = records(outs, "download_repo_day")
    assert len(repos) == 436 and {r.row["family"] for r in repos} == {None}
    assert records(outs, "download_snapshot")[0].row["families_resolved_from"] is None


def test_a_bad_timeseries_line_is_skipped_and_the_others_load(shared_data: Path,
                                                              tmp_path: Path):
    lines = (shared_data / "hf-downloads/timeseries.jsonl").read_text().splitlines(True)
    lines[4] = lines[4][:500] + "\n"
    (tmp_path / "t.jsonl").write_text("".join(lines), encoding="utf-8")
    outs = read_file(tmp_path / "t.jsonl", "t.jsonl")
    (skip,) = skips(outs)
    assert skip.loc.startswith("line 5 ")
    assert len({r.row["record_index"] for r in records(outs)}) == 21


def test_a_csv_row_with_the_wrong_column_count_is_skipped_with_its_line(shared_data: Path,
                                                                        tmp_path: Path):
    import csv
    import io

    rows = list(csv.reader(io.StringIO((shared_data / "lineage/all_assets.csv")
                                       .read_text(encoding="utf-8"), newline="")))
    rows[10] = rows[10][:-2]  # data row 10
    chunks = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        chunks.append(buf.getvalue())
    line = 1 + sum(c.count("\n") for c in chunks[:10])
    (tmp_path / "a.csv").write_text("".join(chunks), encoding="utf-8")
    outs = read_file(tmp_path / "a.csv", "lineage/a.csv")
    (skip,) = skips(outs)
    assert skip.loc == f"row 10 (line {line})"
    assert "31 fields" in skip.reason and "33" in skip.reason
    assert len(records(outs)) == 638
    assert any(c.count("\n") > 1 for c in chunks[:10])  # multi-line cells before it count


def test_fmti_row_with_wrong_width_is_skipped(shared_data: Path, tmp_path: Path):
    lines = (shared_data / "openness/fmti/Dec2025_scores.csv").read_text().splitlines(True)
    lines[3] = lines[3].rstrip("\n") + ",1\n"
    (tmp_path / "Dec2025_scores.csv").write_text("".join(lines), encoding="utf-8")
    outs = read_file(tmp_path / "Dec2025_scores.csv", "Dec2025_scores.csv")
    (skip,) = skips(outs)
    assert skip.loc == "row 3 (line 4)"
    assert len(records(outs)) == 99 * 13 and {r.row["edition"] for r in records(outs)} == \
        {"Dec2025"}


def test_a_file_that_is_not_utf8_is_unreadable_as_a_whole(tmp_path: Path):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"- name: caf\xe9\n  created_date: 2020-01-01\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_file(path, "x.yaml", ecosystem.EcosystemAssetsReader())


# ---------------------------------------------------------------- property: mutated YAML

_NOISE = st.sampled_from(list(":-[]{}\"'\n #&*!|>%@`\t,?") + ["  ", "- ", ": ", "\n- ",
                                                              "2023-02-30", "{value: "])


@st.composite
def mutated_yaml(draw):
    text = draw(st.sampled_from(SEED_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if op == "insert":
            text = text[:pos] + draw(_NOISE) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)):]
        else:
            end = min(len(text), pos + draw(st.integers(1, 80)))
            text = text[:end] + text[pos:end] + text[end:]
    return text


SEED_TEXTS = [
    "- name: B\n  type: dataset\n  organization: X\n  created_date: {value: 2021-02-03, "
    "explanation: x}\n  license: {value: MIT, explanation: y}\n  dependencies: [A, C]\n"
    "- name: C\n  type: model\n  created_date: 2022-01-01\n  dependencies:\n  - B\n",
]
_SEED_DIR = Path(__file__).resolve().parents[2] / "shared/data/lineage/assets"
SEED_TEXTS += [(_SEED_DIR / f).read_text(encoding="utf-8")[:3000]
               for f in ("ai2.yaml", "tiger.yaml", "anthropic.yaml")
               if (_SEED_DIR / f).exists()]


@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=mutated_yaml())
def test_mutated_yaml_never_raises_and_every_problem_is_a_skip(tmp_path: Path, text: str):
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    outs = read_file(path, "lineage/assets/m.yaml", ecosystem.EcosystemAssetsReader())
    declared = {t: sorted(c for c, _ in split_columns(cols))
                for t, cols in ecosystem.EcosystemAssetsReader.tables.items()}
    for out in outs:
        assert isinstance(out, Record | Skip)
        if isinstance(out, Skip):
            assert out.file == "lineage/assets/m.yaml" and out.loc and out.reason
        else:
            assert sorted(out.row) == declared[out.table]
            json.dumps(out.row, allow_nan=False)
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        event("does not parse: one Skip for the file")
        assert not records(outs) and len(skips(outs)) == 1
        return
    if isinstance(root, yaml.SequenceNode):  # nothing dropped silently: a row or a Skip each
        event(f"a list, {'some' if skips(outs) else 'no'} assets skipped")
        assert len(records(outs, "eco_asset")) + len(skips(outs)) == len(root.value)
    else:
        event("not a list")
        assert not records(outs) and len(skips(outs)) == 1


def test_an_undated_snapshot_is_one_skip_not_rows_dated_by_the_import(shared_data: Path,
                                                                      tmp_path: Path):
    data = json.loads((shared_data / "hf-downloads/snapshots/2026-08-10.json").read_text())
    del data["snapshot_date"]
    (tmp_path / "latest.json").write_text(json.dumps(data), encoding="utf-8")
    outs = read_file(tmp_path / "latest.json", "x/latest.json", downloads.SnapshotReader())
    assert not records(outs)
    (skip,) = skips(outs)
    assert skip.loc == "file" and "436 repos and 158 families" in skip.reason


def test_csv_rows_numbers_rows_by_their_first_line_and_skips_bad_ones(tmp_path: Path):
    from llmcarto.sources.base import CsvRow, csv_rows

    lines = ['a,b', '1,2', '', '  , ', '3', '"multi\nline",4', '5,6']
    path = tmp_path / "t.csv"
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    ctx = ReadContext(path=path, name="t.csv")

    def shape(items):
        return [(i.number, i.loc, i.cells) if isinstance(i, CsvRow) else ("skip", i.loc, i.reason)
                for i in items]

    header, *rows = shape(csv_rows(ctx))
    assert header == (0, "line 1", ["a", "b"])  # the byte-order mark is not part of 'a'
    assert rows == [
        (1, "row 1 (line 2)", ["1", "2"]),
        (2, "row 2 (line 4)", ["  ", " "]),  # a row of spaces is a row by default
        ("skip", "row 3 (line 5)", "row has 1 fields, the header has 2"),
        (4, "row 4 (line 6)", ["multi\nline", "4"]),
        (5, "row 5 (line 8)", ["5", "6"]),  # the quoted newline moved it one line down
    ]
    _, *rows = shape(csv_rows(ctx, spaces_are_blank=True))
    assert [r[1] for r in rows] == ["row 1 (line 2)", "row 2 (line 5)", "row 3 (line 6)",
                                    "row 4 (line 8)"]
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert shape(csv_rows(ReadContext(path=empty, name="empty.csv"))) == [
        ("skip", "line 1", "empty file: no header")]
