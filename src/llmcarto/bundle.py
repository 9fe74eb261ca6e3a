"""The bundled real snapshot: built from ../shared/data by a maintainer, shipped compressed
in the package, and loaded by `llmcarto build` on a fresh clone that has no ../shared.

Building is deterministic (same input → same bytes): sorted members, fixed metadata, xz.
Two transformations protect third parties (design.md §7, §9): card text bodies are kept
only under the listed open licences, and Hub handles and display names become `hf-…`
pseudonyms. Everything else is copied byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import lzma
import re
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from llmcarto.privacy import hub_handle_pseudonym, pseudonymise_trailers

ARCHIVE = "bundle.tar.xz"
INPUTS = "inputs.json"
CARD_BODY_LICENCES = frozenset({"apache-2.0", "mit", "bsd-2-clause", "bsd-3-clause",
                                "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "odc-by"})
BUNDLE_SALT = "open-llm-collab/shared-data/v1"  # public; see the bundle README §6
HF_COMMITS = "hf-commits/fixed3_repository_evolution_commits_0_5014.csv"
# Not data: the registry ships once, as framework/cases.yaml; READMEs are rewritten in
# snapshot/README.md with the attribution they carry.
EXCLUDED = ("cases/", "README.md")


def snapshot_dir() -> Path:
    return Path(str(resources.files("llmcarto") / "snapshot"))


def snapshot_id(archive: Path | None = None) -> str:
    archive = archive or snapshot_dir() / ARCHIVE
    return "bundle-" + hashlib.sha256(archive.read_bytes()).hexdigest()[:12]


# ----------------------------------------------------------------------------- build


def build_snapshot(shared_data: Path, out_dir: Path) -> dict[str, Any]:
    """Write ARCHIVE and INPUTS into `out_dir` from the bundle at `shared_data`."""
    manifest_bytes = (shared_data / "manifest.json").read_bytes()
    manifest = json.loads(manifest_bytes)
    members: list[tuple[str, bytes]] = [("manifest.json", manifest_bytes)]
    inputs: dict[str, Any] = {}
    for entry in sorted(manifest["files"], key=lambda e: e["path"]):
        rel = entry["path"]
        if rel.startswith(EXCLUDED) or rel.endswith("README.md"):
            continue
        raw = (shared_data / rel).read_bytes()
        data, transform = transform_file(rel, raw)
        members.append((rel, data))
        inputs[rel] = {"sha256": hashlib.sha256(raw).hexdigest(), "transform": transform,
                       "output_sha256": hashlib.sha256(data).hexdigest()}
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    archive = lzma.compress(tar_bytes.getvalue(), format=lzma.FORMAT_XZ,
                            preset=9 | lzma.PRESET_EXTREME)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ARCHIVE).write_bytes(archive)
    summary = {"bundle_taken": manifest.get("taken"),
               "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
               "archive_bytes": len(archive), "files": inputs}
    (out_dir / INPUTS).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n",
                                  encoding="utf-8")
    return summary


def transform_file(rel: str, raw: bytes) -> tuple[bytes, str]:
    if rel.startswith("hf-trees/") and rel.endswith(".jsonl"):
        return _filter_jsonl_bodies(raw, "card_body", _tree_row_licences), "card bodies filtered"
    if rel == "hf-cards/cards.jsonl":
        return _filter_jsonl_bodies(raw, "body_head", _card_record_licences), \
            "card bodies filtered"
    if rel == HF_COMMITS:
        return _pseudonymise_hf_commits(raw), "hub handles pseudonymised"
    if rel.startswith("git/") and rel.endswith("/commits.log"):
        fixed = _GIT_TRAILER_PERSON.sub(_dev_pseudonym, raw.decode("utf-8"))
        if fixed.encode("utf-8") != raw:
            return fixed.encode("utf-8"), "trailer names the bundle left in clear pseudonymised"
    return raw, "copied"


# A person's trailer (their e-mail is already a 12-hex pseudonym) whose name the bundle
# left in clear because the line lacks its closing '>'; tools keep their names.
_GIT_TRAILER_PERSON = re.compile(
    r"(?m)^(    [A-Za-z][A-Za-z0-9-]*-[Bb][Yy]:[ \t]*)(?!dev-[0-9a-f]{10}\b)([^<\s][^<\n]*?)"
    r"([ \t]*<[0-9a-f]{12}@[^>\n]*>?[ \t]*)$")


def _dev_pseudonym(match: re.Match[str]) -> str:
    """The bundle's own rule for person names (its README §6), so pseudonyms stay stable."""
    digest = hashlib.sha256((BUNDLE_SALT + match.group(2).strip().lower()).encode("utf-8"))
    return match.group(1) + "dev-" + digest.hexdigest()[:10] + match.group(3)


def licences_allow_body(licences: list[str]) -> bool:
    """A body is kept only when every licence the card declares is on the allow-list."""
    return bool(licences) and all(lic.strip().lower() in CARD_BODY_LICENCES for lic in licences)


def _filter_jsonl_bodies(raw: bytes, field: str, licences_of) -> bytes:
    out = []
    for line in raw.decode("utf-8").splitlines(keepends=True):
        try:
            obj = json.loads(line)
        except ValueError:
            out.append(line)  # kept as is: the reader reports it
            continue
        if isinstance(obj, dict) and obj.get(field) is not None and \
                not licences_allow_body(licences_of(obj)):
            obj[field] = None
            line = json.dumps(obj, ensure_ascii=False) + "\n"
        out.append(line)
    return "".join(out).encode("utf-8")


def _licences_in_yaml(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict):
        value = data.get("license")
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(v) for v in value]
        return []
    match = re.search(r"(?:^|\s)license:\s*([A-Za-z0-9.+-]+)", text)
    return [match.group(1)] if match else []


def _tree_row_licences(obj: dict) -> list[str]:
    info = obj.get("info") or {}
    card_data = info.get("card_data") or info.get("cardData") if isinstance(info, dict) else None
    found = _licences_in_yaml(card_data) if isinstance(card_data, str) else []
    return found or _licences_in_yaml(obj.get("card_yaml"))


def _card_record_licences(obj: dict) -> list[str]:
    return _licences_in_yaml(obj.get("yaml"))


def _pseudonymise_hf_commits(raw: bytes) -> bytes:
    text = raw.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]
    author, message = header.index("author"), header.index("message")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in body:
        if len(row) == len(header):
            row = list(row)
            if row[author].strip():
                row[author] = hub_handle_pseudonym(row[author])
            row[message] = pseudonymise_trailers(row[message])[0]
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- extract


@contextmanager
def extracted_snapshot(archive: Path | None = None) -> Iterator[Path]:
    """The snapshot unpacked into a temporary folder (removed afterwards)."""
    archive = archive or snapshot_dir() / ARCHIVE
    with tempfile.TemporaryDirectory(prefix="llmcarto-snapshot-") as tmp:
        with tarfile.open(archive, mode="r:xz") as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)
