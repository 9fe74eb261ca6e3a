"""Pseudonyms for people: llmcarto never republishes names, handles or e-mails.

Git identities in the bundle are already pseudonyms (the bundle's salted hashes): they
are kept as they are and never reversed. Hub handles and display names get a pseudonym
of llmcarto's own, so the same handle is the same `hf-…` everywhere.
"""

from __future__ import annotations

import hashlib
import re

HUB_SALT = "llmcarto/hub-handles/v1"
HUB_PSEUDONYM = re.compile(r"^hf-[0-9a-f]{10}$")


def hub_handle_pseudonym(name: str) -> str:
    """`hf-` + 10 hex of sha256(salt + normalised handle); idempotent on pseudonyms."""
    if HUB_PSEUDONYM.match(name):
        return name
    digest = hashlib.sha256((HUB_SALT + name.strip().lower()).encode("utf-8")).hexdigest()
    return "hf-" + digest[:10]


_COAUTHOR = re.compile(r"(?im)^(\s*Co-authored-by:[ \t]*)([^<\n]*?)([ \t]*<[^>\n]*>)")


def pseudonymise_coauthor_names(message: str) -> str:
    """Replace the display name in every `Co-authored-by: Name <mail>` trailer, keep the mail
    (e-mails in the bundle are already pseudonyms)."""
    return _COAUTHOR.sub(
        lambda m: m.group(1) + (hub_handle_pseudonym(m.group(2)) if m.group(2).strip() else "")
        + m.group(3), message)
