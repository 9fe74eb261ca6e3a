"""Git history as store tables: commits, pull-request heads and repository facts.

The bundle's `git/<owner>__<repo>/` folders hold `commits.log` (the output of
``git log <branch> --no-color --date=iso-strict --pretty=fuller --parents --numstat``,
pseudonymised), `pulls.log` (one tab-separated line per ``refs/pull/N/head``) and
`repo.json`. `parse_git_log` is a pure, streaming parser of that `git log` output so the
live git collector can run it on real clones too: plain `git log` parsing is ~50x faster
than pydriller with stats (design §8).

A commit block that is cut or garbled (missing header, bad date, unknown header line)
becomes one `Skip`; the parser resynchronises on the next ``commit <sha>`` line, which
is unambiguous because git indents every message line by four spaces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from llmcarto.errors import InputError
from llmcarto.sources.base import ReadContext, Record, Skip

_SHA = r"[0-9a-f]{40}(?:[0-9a-f]{24})?"  # SHA-1, or SHA-256 repositories
# Optional " (HEAD -> main, tag: v1)" in case a live run has decorations switched on.
_COMMIT_RE = re.compile(rf"^commit ({_SHA})((?: {_SHA})*)(?: \(.*\))?$")
_HEADER_RE = re.compile(r"^(Merge|Author|AuthorDate|Commit|CommitDate):[ \t]*(.*)$")
_IDENTITY_RE = re.compile(r"^(.*?)[ \t]*<([^<>]*)>$")
# Counts are bounded so a garbage line can never reach int()'s digit limit.
_NUMSTAT_RE = re.compile(r"^(\d{1,12}|-)\t(\d{1,12}|-)\t(.+)$")
_BRACE_RENAME_RE = re.compile(r"^([^{]*)\{([^{}]*) => ([^{}]*)\}(.*)$")
_TRAILER_RE = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-[Bb][Yy]):[ \t]*(.*)$")
_TRAILER_VALUE_RE = re.compile(r"^(.*?)[ \t]*<([^<>]*)>?[ \t]*$")  # some lack the closing '>'
_PR_PAREN_RE = re.compile(r"\(#(\d{1,9})\)")
_PR_MERGE_RE = re.compile(r"^Merge pull request #(\d{1,9})\b")
_PULL_SHA_RE = re.compile(rf"^{_SHA}$")
_PULL_HEAD_RE = re.compile(rf"^\d{{1,9}}\t{_SHA}\t[^\t\n]*\t[^\t\n]*\t[^\t\n]*\t(?:yes|no)\r?$")
_OCTAL_RE = re.compile(r"[0-7]{1,3}")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
_REQUIRED_HEADERS = ("Author", "AuthorDate", "Commit", "CommitDate")


@dataclass(frozen=True)
class ParsedCommit:
    """One commit block of `git log --pretty=fuller --parents [--numstat]` output.

    `files` is None when the log was written without numstat; git prints no numstat for
    merge commits, so theirs is an empty list.
    """

    line: int  # 1-based line of the `commit <sha>` line
    sha: str
    parents: tuple[str, ...]
    author_name: str | None
    author_email: str | None
    author_date: str  # ISO 8601 as git printed it, offset kept
    committer_name: str | None
    committer_email: str | None
    commit_date: str
    message: str  # dedented, without leading/trailing blank lines
    files: list[dict[str, Any]] | None = field(default=None)

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def subject(self) -> str:
        """The first line of the message (GitHub's title; where PR numbers are written)."""
        return self.message.split("\n", 1)[0].split("\r", 1)[0].strip()

    @property
    def trailers(self) -> list[dict[str, str | None]]:
        """Every `<Word>-by:` line (Co-authored-by, Signed-off-by, …), key in git's case."""
        out = []
        for text in self.message.split("\n"):
            m = _TRAILER_RE.match(text)
            if not m:
                continue
            key, value = m.groups()
            v = _TRAILER_VALUE_RE.match(value)
            name, email = (v.group(1), v.group(2)) if v else (value, None)
            out.append({"key": key[0].upper() + key[1:].lower(),
                        "name": name.strip() or None, "email": (email or "").strip() or None})
        return out

    @property
    def pr_numbers(self) -> list[int]:
        """PR numbers written as `(#N)` or `Merge pull request #N` in the subject."""
        subject = self.subject
        found = [int(n) for n in _PR_MERGE_RE.findall(subject)]
        found += [int(n) for n in _PR_PAREN_RE.findall(subject)]
        return list(dict.fromkeys(found))


def email_domain(email: str | None) -> str | None:
    """Lower-cased part after the last '@'; None when there is none."""
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2].strip().lower() or None


def parse_git_log(lines: Iterable[str], name: str,
                  numstat: bool = True) -> Iterator[ParsedCommit | Skip]:
    """Parse `git log --pretty=fuller --parents [--numstat] --date=iso-strict` output.

    `name` labels the Skips. Pass ``numstat=False`` for a log written without
    `--numstat`: `files` is then None instead of a misleading empty list.
    """
    start = 0
    block: list[str] = []
    preamble: int | None = None
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        if text.startswith("commit ") and _COMMIT_RE.match(text):
            if block:
                yield _parse_block(start, block, name, numstat)
            start, block = number, [text]
        elif block:
            block.append(text)
        elif text.strip() and preamble is None:
            preamble = number
            yield Skip(name, f"line {number}", "text before the first `commit <sha>` line")
    if block:
        yield _parse_block(start, block, name, numstat)


def _parse_block(start: int, block: list[str], name: str,
                 numstat: bool) -> ParsedCommit | Skip:
    head = _COMMIT_RE.match(block[0])
    assert head is not None  # parse_git_log only starts blocks on commit lines
    sha = head.group(1)
    parents = tuple(head.group(2).split())

    def skip(offset: int, why: str) -> Skip:
        where = "" if offset == 0 else f" (line {start + offset})"
        return Skip(name, f"line {start}", f"commit {sha[:12]}{where}: {why}")

    headers: dict[str, str] = {}
    at: dict[str, int] = {}  # header -> offset of its line in the block
    i = 1
    while i < len(block) and block[i] != "":
        m = _HEADER_RE.match(block[i])
        if not m:
            return skip(i, f"unexpected line in the header: {block[i][:80]!r}")
        if m.group(1) in headers:
            return skip(i, f"{m.group(1)} appears twice")
        headers[m.group(1)], at[m.group(1)] = m.group(2).strip(), i
        i += 1
    if i >= len(block):
        return skip(i - 1, "block ends inside the header (truncated)")
    missing = [h for h in _REQUIRED_HEADERS if h not in headers]
    if missing:
        return skip(0, f"no {', '.join(missing)} line")
    author = _IDENTITY_RE.match(headers["Author"])
    committer = _IDENTITY_RE.match(headers["Commit"])
    if not author or not committer:
        which = "Author" if not author else "Commit"
        return skip(at[which], f"{which} is not `name <email>`: {headers[which][:80]!r}")
    for key in ("AuthorDate", "CommitDate"):
        if not _is_iso_with_offset(headers[key]):
            return skip(at[key],
                        f"{key} {headers[key][:40]!r} is not an ISO 8601 date with offset")
    if "Merge" in headers:
        short = headers["Merge"].split()
        if len(short) != len(parents) or not all(
                p.startswith(s) for s, p in zip(short, parents, strict=False)):
            return skip(at["Merge"],
                        f"Merge line {headers['Merge'][:80]!r} does not match the parents")

    message: list[str] = []
    files: list[dict[str, Any]] = []
    for text in block[i + 1:]:
        if text.startswith("    "):
            message.append(text[4:])
        elif text and text[0] in "-0123456789" and (m := _NUMSTAT_RE.match(text)):
            files.append(_numstat_file(*m.groups()))
        else:  # blank separators, and the rare unindented message lines git leaves
            message.append(text)
    while message and not message[-1].strip():
        message.pop()
    while message and not message[0].strip():
        message.pop(0)
    return ParsedCommit(
        line=start, sha=sha, parents=parents,
        author_name=author.group(1).strip() or None,
        author_email=author.group(2).strip() or None, author_date=headers["AuthorDate"],
        committer_name=committer.group(1).strip() or None,
        committer_email=committer.group(2).strip() or None, commit_date=headers["CommitDate"],
        message="\n".join(message), files=files if numstat else None)


def _is_iso_with_offset(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


def _numstat_file(added: str, deleted: str, raw_path: str) -> dict[str, Any]:
    path, old_path = _numstat_path(raw_path)
    return {"path": path, "old_path": old_path,
            "added": None if added == "-" else int(added),
            "deleted": None if deleted == "-" else int(deleted),
            "binary": added == "-" and deleted == "-"}


def _numstat_path(raw: str) -> tuple[str, str | None]:
    """(path, old path or None) from a numstat name: plain, C-quoted, or a rename written
    `old => new`, `dir/{old => new}/file` or `"old" => "new"` (git's pprint_rename)."""
    if raw.startswith('"'):
        first, rest = _take_quoted(raw)
        if first is None:
            return raw, None
        if rest == "":
            return first, None
        if rest.startswith(" => "):
            return _maybe_unquote(rest[4:]), first
        return raw, None
    if " => " not in raw:
        return raw, None
    m = _BRACE_RENAME_RE.match(raw)
    if m:
        prefix, old, new, suffix = m.groups()
        return _join_rename(prefix, new, suffix), _join_rename(prefix, old, suffix)
    old, new = raw.split(" => ", 1)
    return _maybe_unquote(new), old


def _join_rename(prefix: str, middle: str, suffix: str) -> str:
    if middle:
        return prefix + middle + suffix
    # `dir/{ => sub}/f`: the empty side leaves one '/' too many
    if prefix.endswith("/") and suffix.startswith("/"):
        return prefix + suffix[1:]
    if not prefix:
        return suffix[1:] if suffix.startswith("/") else suffix
    if not suffix:
        return prefix[:-1] if prefix.endswith("/") else prefix
    return prefix + suffix


def _maybe_unquote(text: str) -> str:
    if text.startswith('"'):
        value, rest = _take_quoted(text)
        if value is not None and rest == "":
            return value
    return text


def _take_quoted(text: str) -> tuple[str | None, str]:
    """Decode git's C-style quoted name at the start of `text` (octal escapes are UTF-8
    bytes); (None, text) when the quote is not closed."""
    out = bytearray()
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", "replace"), text[i + 1:]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            octal = _OCTAL_RE.match(text, i + 1, i + 4)
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            if nxt in _C_ESCAPES:
                out.append(_C_ESCAPES[nxt])
            else:
                out.extend(nxt.encode("utf-8", "replace"))
            i += 2
            continue
        out.extend(ch.encode("utf-8", "replace"))
        i += 1
    return None, text


def _repo_from_context(ctx: ReadContext) -> str | None:
    """`owner/repo`: the manifest's `source_repo`, else the `<owner>__<repo>` folder."""
    repo = ctx.extras.get("source_repo")
    if isinstance(repo, str) and repo:
        return repo
    folder = PurePosixPath(ctx.name).parent.name or ctx.path.parent.name
    owner, sep, name = folder.partition("__")
    return f"{owner}/{name}" if sep and owner and name else None


def _head_text(head: bytes) -> str:
    return head.decode("utf-8", "replace").lstrip("\ufeff")


def _lines(ctx: ReadContext) -> Iterator[str]:
    """The file's lines as text; the file as a whole is unreadable when it is not UTF-8."""
    try:
        with ctx.path.open(encoding="utf-8", newline="\n") as handle:
            yield from handle
    except UnicodeDecodeError as exc:
        raise InputError(f"{ctx.name}: not UTF-8 text at byte {exc.start} ({exc.reason}); "
                         "decode git output before parsing it") from exc
    except OSError as exc:
        raise InputError(f"{ctx.name}: cannot be read ({exc.strerror})") from exc


def _has_numstat(ctx: ReadContext) -> bool:
    """Whether the log was written with --numstat: any numstat line in it (the loop stops
    at the first commit that changed a file, i.e. at once for an ordinary log)."""
    return any(line[:1] in "-0123456789" and _NUMSTAT_RE.match(line.rstrip("\r\n"))
               for line in _lines(ctx))


class GitCommitsReader:
    kind = "git-commits"
    description = ("`git log --pretty=fuller --parents --numstat --date=iso-strict` output "
                   "(the bundle's git/<owner>__<repo>/commits.log)")
    tables = {
        "git_commit": "repo VARCHAR, sha VARCHAR, parents VARCHAR[], is_merge BOOLEAN, "
                      "author_name VARCHAR, author_email VARCHAR, author_domain VARCHAR, "
                      "author_date TIMESTAMPTZ, committer_name VARCHAR, "
                      "committer_email VARCHAR, committer_domain VARCHAR, "
                      "commit_date TIMESTAMPTZ, subject VARCHAR, message VARCHAR, "
                      "trailers JSON, pr_numbers INTEGER[], files JSON, "
                      "files_changed INTEGER, insertions INTEGER, deletions INTEGER, "
                      "numstat BOOLEAN",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = _head_text(head)
        if not text.strip():
            return name.endswith("commits.log")
        first, _, rest = text.partition("\n")
        return bool(_COMMIT_RE.match(first.rstrip("\r"))) and (
            "\nAuthor:" in "\n" + rest and "\nAuthorDate:" in "\n" + rest)

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        repo = _repo_from_context(ctx)
        numstat = _has_numstat(ctx)
        for item in parse_git_log(_lines(ctx), ctx.name, numstat=numstat):
            if isinstance(item, Skip):
                yield item
                continue
            url = (f"https://github.com/{repo}/commit/{item.sha}" if repo
                   else ctx.extras.get("file_url"))
            yield Record("git_commit", commit_row(item, repo, numstat), url, f"line {item.line}")


def commit_row(commit: ParsedCommit, repo: str | None, numstat: bool = True) -> dict[str, Any]:
    """The `git_commit` row of a parsed commit.

    Counts are None when the log has no numstat, and for merge commits (git prints no
    numstat for them), so averages over commits are not pulled down by false zeros.
    """
    files = commit.files if numstat else None
    changed = insertions = deletions = None
    if files is not None and (files or not commit.is_merge):
        changed = len(files)
        insertions = sum(f["added"] or 0 for f in files)
        deletions = sum(f["deleted"] or 0 for f in files)
    return {
        "repo": repo, "sha": commit.sha, "parents": list(commit.parents),
        "is_merge": commit.is_merge, "author_name": commit.author_name,
        "author_email": commit.author_email, "author_domain": email_domain(commit.author_email),
        "author_date": commit.author_date, "committer_name": commit.committer_name,
        "committer_email": commit.committer_email,
        "committer_domain": email_domain(commit.committer_email),
        "commit_date": commit.commit_date, "subject": commit.subject,
        "message": commit.message, "trailers": commit.trailers,
        "pr_numbers": commit.pr_numbers, "files": files,
        "files_changed": changed, "insertions": insertions, "deletions": deletions,
        "numstat": numstat,
    }


class GitPullsReader:
    kind = "git-pulls"
    description = ("pull-request heads, one line per refs/pull/N/head: "
                   "N, head sha, author name, author e-mail, author date, merged (yes/no)")
    tables = {
        "git_pull": "repo VARCHAR, number INTEGER, head_sha VARCHAR, author_name VARCHAR, "
                    "author_email VARCHAR, author_domain VARCHAR, author_date TIMESTAMPTZ, "
                    "merged_by_ancestry BOOLEAN",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = _head_text(head)
        if not text.strip():  # two repos have no PR heads at all: an empty pulls.log
            return name.endswith("pulls.log")
        return bool(_PULL_HEAD_RE.match(text.partition("\n")[0]))

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        repo = _repo_from_context(ctx)
        for number, raw in enumerate(_lines(ctx), 1):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            row = self._row(text, repo)
            if isinstance(row, str):
                yield Skip(ctx.name, f"line {number}", row)
                continue
            url = (f"https://github.com/{repo}/pull/{row['number']}" if repo
                   else ctx.extras.get("file_url"))
            yield Record("git_pull", row, url, f"line {number}")

    @staticmethod
    def _row(text: str, repo: str | None) -> dict[str, Any] | str:
        """The row, or why the line is not one."""
        fields = text.split("\t")
        if len(fields) != 6:
            return f"expected 6 tab-separated fields, found {len(fields)}"
        number, sha, name, email, date, merged = (f.strip() for f in fields)
        if not number.isascii() or not number.isdigit() or len(number) > 9:
            return f"PR number {number[:20]!r} is not a number"
        if not _PULL_SHA_RE.match(sha):
            return f"head {sha[:50]!r} is not a commit sha"
        if date and not _is_iso_with_offset(date):
            return f"author date {date[:40]!r} is not an ISO 8601 date with offset"
        if merged not in ("yes", "no"):
            return f"merged is {merged[:20]!r}, not yes/no"
        return {"repo": repo, "number": int(number), "head_sha": sha, "author_name": name or None,
                "author_email": email or None, "author_domain": email_domain(email),
                "author_date": date or None, "merged_by_ancestry": merged == "yes"}


class GitRepoReader:
    kind = "git-repo"
    description = "facts about one git repository at a snapshot commit (the bundle's repo.json)"
    tables = {
        "git_repo": "repo VARCHAR, default_branch VARCHAR, snapshot_commit VARCHAR, "
                    "commits INTEGER, first TIMESTAMPTZ, last TIMESTAMPTZ, license VARCHAR, "
                    "pulls INTEGER, pulls_merged_by_ancestry INTEGER, "
                    "numstat_included BOOLEAN, numstat_placeholder_blobs INTEGER, raw JSON",
    }

    def detect(self, name: str, head: bytes) -> bool:
        text = _head_text(head).lstrip()
        return (text.startswith("{") and '"snapshot_commit"' in text
                and '"default_branch"' in text)

    def read(self, ctx: ReadContext) -> Iterator[Record | Skip]:
        text = "".join(_lines(ctx))
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Skip(ctx.name, f"line {exc.lineno} column {exc.colno}",
                       f"not valid JSON: {exc.msg}")
            return
        if not isinstance(data, dict):
            yield Skip(ctx.name, "line 1", f"expected a JSON object, found {type(data).__name__}")
            return
        repo = ctx.extras.get("source_repo") or _text(data, "repo") or _repo_from_context(ctx)
        sha = _text(data, "snapshot_commit")
        if sha is not None and not _PULL_SHA_RE.match(sha):
            yield Skip(ctx.name, "line 1", f"snapshot_commit {sha[:50]!r} is not a commit sha")
            return
        row = {
            "repo": repo, "default_branch": _text(data, "default_branch"),
            "snapshot_commit": sha, "commits": _count(data, "commits"),
            "first": _date(data, "first"), "last": _date(data, "last"),
            "license": _text(data, "license"), "pulls": _count(data, "pulls"),
            "pulls_merged_by_ancestry": _count(data, "pulls_merged_by_ancestry"),
            "numstat_included": (data.get("numstat_included")
                                 if isinstance(data.get("numstat_included"), bool) else None),
            "numstat_placeholder_blobs": _count(data, "numstat_placeholder_blobs"),
            "raw": data,
        }
        url = (f"https://github.com/{repo}/tree/{sha}" if repo and sha
               else ctx.extras.get("file_url"))
        yield Record("git_repo", row, url, "line 1")


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _count(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _date(data: Mapping[str, Any], key: str) -> str | None:
    value = _text(data, key)
    return value if value and _is_iso_with_offset(value) else None


READERS = [GitCommitsReader(), GitPullsReader(), GitRepoReader()]
