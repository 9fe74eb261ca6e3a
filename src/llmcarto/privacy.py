"""Pseudonyms for people: llmcarto never republishes names, handles or e-mails.

Git identities in the bundle are already pseudonyms (the bundle's salted hashes): they
are kept as they are and never reversed. Hub handles and display names get a pseudonym
of llmcarto's own, so the same handle is the same `hf-…` everywhere.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

HUB_SALT = "llmcarto/hub-handles/v1"
HUB_PSEUDONYM = re.compile(r"^hf-[0-9a-f]{10}$")


def hub_handle_pseudonym(name: str) -> str:
    """`hf-` + 10 hex of sha256(salt + normalised handle); idempotent on pseudonyms."""
    if HUB_PSEUDONYM.match(name):
        return name
    digest = hashlib.sha256((HUB_SALT + name.strip().lower()).encode("utf-8")).hexdigest()
    return "hf-" + digest[:10]



@dataclass(frozen=True)
class Trailer:
    """A `<Word>-by:` trailer seen in a message. `raw_name` never leaves the process: callers
    use it for in-process decisions (is it a bot?) and keep only `pseudonym`."""

    key: str
    raw_name: str
    pseudonym: str
    email: str | None


_TRAILER = re.compile(r"^([ \t]*)([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-[Bb][Yy]:[ \t]*)"
                      r"([^\r\n]*?)([ \t]*<[^<>\r\n]*>?)?([ \t\r]*)$", re.M)


def pseudonymise_trailers(message: str) -> tuple[str, list[Trailer]]:
    """`message` with the display name in every `<Word>-by:` trailer (Co-authored-by,
    Signed-off-by, …) replaced by its `hf-…` pseudonym; e-mails are kept (in the bundle
    they are already pseudonyms)."""
    trailers: list[Trailer] = []

    def swap(match: re.Match[str]) -> str:
        indent, key, name, email, tail = match.groups()
        name = name.strip()
        if not name:
            return match.group(0)
        address = email.strip()[1:].rstrip(">").strip() if email else None
        pseudonym = hub_handle_pseudonym(name)
        trailers.append(Trailer(key.rstrip(": \t"), name, pseudonym, address or None))
        return f"{indent}{key}{pseudonym}{email or ''}{tail}"

    return _TRAILER.sub(swap, message), trailers
