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


# ------------------------------------------------------------------ live git identities
#
# Identities read from real clones (`llmcarto collect git`) are stored as collected (public
# data) and shown and exported only as pseudonyms, by the bundle's own rule with a salt of
# llmcarto's own: `dev-` + 10 hex of sha256(salt + lower(stripped name)) for names and
# `<12 hex of sha256(salt + lower(e-mail))>@<lower(domain)>` for e-mails. Bots and tools
# stay verbatim, as in the bundle, so they can be recognised and kept apart.

GIT_SALT = "llmcarto/git-identities/v1"
GIT_NAME_PSEUDONYM = re.compile(r"^dev-[0-9a-f]{10}$")

# Non-person identities the bundle keeps verbatim (its README, §6), matched on the lower-cased
# address; plus any name or address ending in `[bot]`.
TOOL_EMAILS = frozenset({
    "noreply@github.com", "github-actions@github.com", "action@github.com",
    "support@github.com", "noreply@anthropic.com", "cursoragent@cursor.com",
    "ghost@gitbook.com", "175728472+copilot@users.noreply.github.com",
    "198982749+copilot@users.noreply.github.com", "codex@openai.com",
    "openhands@all-hands.dev",
    "41898282+github-actions[bot]@users.noreply.github.com",
})
TOOL_NAMES = frozenset({"github", "github-actions", "gitbook-bot", "copilot", "openhands",
                        "openai codex"})
_BOT_SUFFIX = re.compile(r"\[bot\]$|\[bot\]@", re.I)
_CLAUDE = re.compile(r"^claude\b", re.I)


def is_tool_identity(name: str | None, email: str | None) -> bool:
    """True for bots and tools (GitHub web-flow, Actions, dependabot, AI co-authors …)."""
    e = (email or "").strip().lower()
    n = (name or "").strip()
    if e in TOOL_EMAILS or _BOT_SUFFIX.search(e) or _BOT_SUFFIX.search(n):
        return True
    if e.startswith("git@github.com"):
        return True
    return n.lower() in TOOL_NAMES or bool(_CLAUDE.match(n) and e.endswith("@anthropic.com"))


def git_name_pseudonym(name: str) -> str:
    """`dev-` + 10 hex of sha256(GIT_SALT + lower(stripped name)) for a live git name."""
    digest = hashlib.sha256((GIT_SALT + name.strip().lower()).encode("utf-8")).hexdigest()
    return "dev-" + digest[:10]


def git_email_pseudonym(email: str) -> str:
    """`<12 hex>@<domain>` for a live git e-mail (the bundle's shape, llmcarto's salt)."""
    address = email.strip().lower()
    digest = hashlib.sha256((GIT_SALT + address).encode("utf-8")).hexdigest()[:12]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return f"{digest}@{domain}"
