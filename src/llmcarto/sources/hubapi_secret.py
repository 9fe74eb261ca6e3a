"""The Hub token: read once, handed only to the HTTP layer, never written anywhere.

A token is read from ``--token-file`` or ``HF_TOKEN`` and wrapped in `Secret`, whose
``str``/``repr`` are masked, so an f-string or a traceback that reaches it prints
``***``. Everything the collector prints, logs or stores passes through `redact`, which
replaces every registered secret (and any ``Bearer …``/``hf_…`` token-looking string the
server might echo back) with ``***``; `install_log_redaction` puts the same filter on the
logging handlers, huggingface_hub's included.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path

from llmcarto.errors import LlmcartoError

MASK = "***"
ENV_TOKEN = "HF_TOKEN"
# Hub user access tokens are `hf_` and 34 letters or digits; a server that echoes a header
# back may send `Bearer <token>`. Both are masked even when not a registered secret.
_TOKEN_LIKE = re.compile(r"(?i)\b(?:bearer\s+)[^\s\"',;]+|\bhf_[A-Za-z0-9]{30,}\b")
_SECRETS: set[str] = set()
_LOCK = threading.Lock()


class TokenError(LlmcartoError):
    """The token file cannot be read (the message names the file, never its content)."""


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register(value)

    def reveal(self) -> str:
        """The token itself: only for the Authorization header."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __bool__(self) -> bool:
        return bool(self._value)


def register(value: str) -> None:
    """Mask `value` wherever `redact` runs from now on."""
    if value and len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: object) -> str:
    """`text` as a string with every registered secret and token-looking word masked."""
    out = str(text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in out:
            out = out.replace(secret, MASK)
    return _TOKEN_LIKE.sub(MASK, out)


def load_token(token_file: Path | None = None, env: dict[str, str] | None = None
               ) -> Secret | None:
    """The token from `token_file` (first non-blank line), else ``HF_TOKEN``, else None."""
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"{token_file}: cannot read the token file "
                             f"({type(exc).__name__})") from None
        for line in text.splitlines():
            if line.strip():
                return Secret(line.strip())
        raise TokenError(f"{token_file}: the token file is empty")
    value = (env if env is not None else os.environ).get(ENV_TOKEN, "").strip()
    return Secret(value) if value else None


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's message, arguments and formatted traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the raw template
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = redact(self._formatter.formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction(*handlers: logging.Handler) -> None:
    """Add the redacting filter to `handlers`, to every root handler and to the loggers
    whose messages may carry request details (huggingface_hub, httpx2, llmcarto)."""
    targets: list[logging.Filterer] = [*handlers, *logging.getLogger().handlers]
    if logging.lastResort is not None:  # what prints warnings when no handler is set
        targets.append(logging.lastResort)
    for name in ("huggingface_hub", "httpx2", "httpx", "httpcore", "llmcarto",
                 "llmcarto.hub"):
        logger = logging.getLogger(name)
        targets.append(logger)
        targets.extend(logger.handlers)
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
