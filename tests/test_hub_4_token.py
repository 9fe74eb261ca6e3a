"""A planted Hub token never appears in output, logs, the store, the published copy,
exports or error messages — even when the server echoes it back in an error body."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmcarto.sources.hubapi_secret import (
    RedactingFilter,
    Secret,
    TokenError,
    load_token,
    redact,
)
from tests.fakehub import FakeHub, Fault, HubData, bundled_trees

LLMCARTO = str(Path(sys.executable).with_name("llmcarto"))
PLANTED_ENV = "hf_PlantedEnvToken0123456789abcdefGHIJ"
PLANTED_FILE = "hf_PlantedFileToken9876543210zyxwvuTSRQ"


def test_secret_never_prints_itself():
    secret = Secret("hf_NotPrintedAnywhere12345")
    assert str(secret) == "***" and "hf_Not" not in repr(secret) and f"{secret}" == "***"
    assert redact(f"header was Bearer {secret.reveal()} ok") == "header was *** ok"
    assert redact("a registered value hf_NotPrintedAnywhere12345 here") == \
        "a registered value *** here"


def test_the_log_filter_masks_messages_args_and_tracebacks():
    Secret("sk-custom-secret-value")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s",
                               ("sk-custom-secret-value",), None)
    try:
        raise RuntimeError("failed with sk-custom-secret-value")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    assert record.getMessage() == "token ***"
    assert "sk-custom-secret-value" not in record.exc_text and "***" in record.exc_text


def test_an_unreadable_token_file_names_the_file_not_the_content(tmp_path):
    with pytest.raises(TokenError, match="cannot read the token file"):
        load_token(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.write_text("\n\n")
    with pytest.raises(TokenError, match="is empty"):
        load_token(empty)
    assert load_token(None, env={"HF_TOKEN": " hf_abc12345678 "}).reveal() == "hf_abc12345678"
    assert load_token(None, env={}) is None


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([LLMCARTO, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_a_planted_token_leaks_nowhere(tmp_path_factory, tmp_path):
    trees = bundled_trees(tmp_path_factory.mktemp("trees"))
    hub = FakeHub(HubData.from_trees(trees), echo_auth_in_errors=True)
    # a permanent 500 whose body echoes the Authorization header, and a 429 that does too
    hub.faults = [Fault("500", match="base_model%3Aepfl-llm%2Fmeditron-7b", times=None),
                  Fault("429", match="/discussions", times=1, retry_after=0)]
    db = tmp_path / "store" / "llmcarto.duckdb"
    token_file = tmp_path / "token.txt"
    token_file.write_text(PLANTED_FILE + "\n")
    log_env, log_file = tmp_path / "env.log", tmp_path / "file.log"
    export = tmp_path / "export"
    env = {k: v for k, v in os.environ.items() if k != "HF_ENDPOINT"}
    outputs = []
    with hub.serve():
        for args, extra in (
            (["--db", str(db), "collect", "hub", "--family", "meta-llama/Llama-2-7b",
              "--endpoint", hub.url, "--backoff", "0.01", "--log-file", str(log_env),
              "--discussions", "--commits"], {"HF_TOKEN": PLANTED_ENV}),
            (["--db", str(db), "collect", "hub", "--family", "bigscience/bloom",
              "--token-file", str(token_file), "--backoff", "0.01", "--log-file",
              str(log_file), "--discussions", "--json"], {"HF_ENDPOINT": hub.url}),
            (["--db", str(db), "status"], {}),
            (["--db", str(db), "status", "--json"], {}),
            (["--db", str(db), "export", "hub", "--out", str(export)], {}),
        ):
            proc = _run(args, {**env, **extra})
            assert proc.returncode == 0, proc.stderr
            outputs += [proc.stdout, proc.stderr]
    # the tokens were really used
    auths = {r.auth for r in hub.log}
    assert f"Bearer {PLANTED_ENV}" in auths and f"Bearer {PLANTED_FILE}" in auths
    # the echoed token reached the collector and was masked where it is kept
    status = json.loads(outputs[6])
    reasons = [f["reason"] for f in status["crawl"]["failures"]]
    assert len(reasons) == 1 and "Authorization: ***" in reasons[0]
    assert "failed children epfl-llm/meditron-7b" in outputs[4]
    assert len(list(export.glob("*.csv"))) >= 6
    # grep everything: outputs, logs, the store (and its WAL), the published copies, exports
    for text in outputs:
        assert PLANTED_ENV not in text and PLANTED_FILE not in text
    checked = 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != token_file:
            data = path.read_bytes()
            assert PLANTED_ENV.encode() not in data, path
            assert PLANTED_FILE.encode() not in data, path
            checked += 1
    assert log_env.stat().st_size > 0 and log_file.stat().st_size > 0
    assert db.exists() and any((tmp_path / "store").glob("*.published.d/*.duckdb"))
    assert checked >= 10
