"""A fake Hugging Face Hub on 127.0.0.1 for the collector's tests.

It serves the bundled real model trees (`hf-trees/*.jsonl` of the snapshot) re-shaped into
the Hub's API JSON as design.md §8 documents it and huggingface_hub 2.x parses it:
camelCase keys, dates like ``2024-02-21T07:55:18.000Z``, ``GET /api/models`` lists paged
by a ``Link: <…>; rel="next"`` header, ``filter=base_model:<id>`` /
``base_model:<relation>:<id>`` / ``dataset:<id>`` filters, ``expand`` (only `_id`, `id` and
the asked properties come back), ``baseModels = {relation, models: [{id}]}``,
``childrenModelCount`` as a dict by relation, model info, README.md with
``X-Repo-Commit`` and ``ETag``, discussions (``{discussions, count, start}`` paged by
``p``) with events, and repo commits paged by ``Link``.

What it knows:
* every crawled row of the bundle is a model with its real metadata; each child in a
  row's lists is an edge (relation = the list it is in). A child that is not a row itself
  is served with only what the edges say (id, author, base models, tags) and no children:
  the bundle knows nothing more about it.
* discussions, their events and repo commits are SYNTHETIC (the bundle holds none): they
  come from ``tests/fixtures/synthetic_*.json`` and every such reply carries the header
  ``X-Synthetic-Fixture: <file name>`` so the collector can label the rows.

Faults on demand (`Fault`): 429 with ``Retry-After``/``RateLimit``, 500, slow replies,
truncated JSON bodies, dropped connections, a 400 for an expand property the list route
refuses — each on every n-th matching request, a bounded number of times.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import yaml

FIXTURES = Path(__file__).with_name("fixtures")
DISCUSSIONS_FIXTURE = "synthetic_discussions.json"
COMMITS_FIXTURE = "synthetic_commits.json"
RELATIONS = {"finetunes": "finetune", "adapters": "adapter", "quantized": "quantized",
             "merges": "merge"}
COUNT_KEYS = {"finetune": "children_count", "adapter": "adapters_count",
              "quantized": "quantized_count", "merge": "merges_count"}
LIST_DEFAULT = ("likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag",
                "library_name", "createdAt", "modelId")
DETAIL_ONLY = ("childrenModelCount", "baseModels", "downloadsAllTime")
HUB_PREFIX = "https://huggingface.co/"


def hub_date(value: str | None) -> str | None:
    """The bundle's ``2023-07-28 17:50:20+00:00`` as the Hub writes it."""
    if not value:
        return None
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _oid(text: str, n: int = 24) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:n]


@dataclass
class Model:
    id: str
    api: dict[str, Any]  # everything the Hub would return for the model, camelCase
    children: list[tuple[str, str]] = field(default_factory=list)  # (child id, relation)
    readme: str | None = None
    row: bool = False  # a crawled row of the bundle (else an edge-only node)


class HubData:
    """The fake Hub's universe: models by id, in a stable order, plus synthetic extras."""

    def __init__(self) -> None:
        self.models: dict[str, Model] = {}
        self.parents: dict[str, list[tuple[str, str]]] = {}
        self.discussions: dict[str, list[dict[str, Any]]] = {}
        self.commits: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ loading

    @classmethod
    def from_trees(cls, trees_dir: Path, files: list[str] | None = None) -> HubData:
        data = cls()
        paths = sorted(trees_dir.glob("*.jsonl"))
        if files is not None:
            paths = [p for p in paths if p.name in files]
        for path in paths:
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    data._add_row(json.loads(line))
        data._finish()
        data.load_fixtures()
        return data

    def _add_row(self, obj: dict[str, Any]) -> None:
        mid = obj["model_id"].removeprefix(HUB_PREFIX)
        info = obj["info"]
        counts = obj["counts"] or {}
        children = [(c, rel) for key, rel in RELATIONS.items()
                    for c in (obj["children"].get(key) or [])]
        spaces = obj["children"].get("spaces")
        api = _api_from_info(mid, info) if info else {"_id": _oid(mid), "id": mid,
                                                      "modelId": mid,
                                                      "author": mid.split("/")[0]}
        api["childrenModelCount"] = {rel: counts[col] for rel, col in COUNT_KEYS.items()
                                     if counts.get(col) is not None}
        if spaces is not None:
            api["spaces"] = list(spaces)
        readme = None
        if obj.get("card_yaml") is not None:
            front = obj["card_yaml"] if obj["card_yaml"].endswith("\n") else \
                obj["card_yaml"] + "\n"
            readme = f"---\n{front}---\n{obj.get('card_body') or ''}"
        self.models[mid] = Model(mid, api, children, readme, row=True)

    def _finish(self) -> None:
        """Edge-only nodes for children that are not rows; baseModels and tags from edges."""
        for model in list(self.models.values()):
            for child, rel in model.children:
                self.parents.setdefault(child, []).append((model.id, rel))
        for child in list(self.parents):
            if child not in self.models:
                self.models[child] = Model(child, {"_id": _oid(child), "id": child,
                                                   "modelId": child,
                                                   "author": child.split("/")[0],
                                                   "childrenModelCount": {}})
        for mid, parents in self.parents.items():
            self._set_bases(mid, parents)

    def _set_bases(self, mid: str, parents: list[tuple[str, str]]) -> None:
        api = self.models[mid].api
        relation = "merge" if len(parents) > 1 else parents[0][1]
        api["baseModels"] = {"relation": relation,
                             "models": [{"_id": _oid(p), "id": p} for p, _ in parents]}
        tags = api.setdefault("tags", [])
        for parent, rel in parents:
            for tag in (f"base_model:{parent}", f"base_model:{rel}:{parent}"):
                if tag not in tags:
                    tags.append(tag)

    def load_fixtures(self) -> None:
        disc = json.loads((FIXTURES / DISCUSSIONS_FIXTURE).read_text(encoding="utf-8"))
        self.discussions = {k: v for k, v in disc["repos"].items()}
        commits = json.loads((FIXTURES / COMMITS_FIXTURE).read_text(encoding="utf-8"))
        self.commits = {k: v for k, v in commits["repos"].items()}

    # ------------------------------------------------------------------ changes

    def add_model(self, mid: str, parent: str, relation: str, *, last_modified: str,
                  extra: dict[str, Any] | None = None) -> None:
        """A new child of `parent` (for delta sweeps): a row with a date and no children."""
        api = {"_id": _oid(mid), "id": mid, "modelId": mid, "author": mid.split("/")[0],
               "createdAt": last_modified, "lastModified": last_modified, "private": False,
               "gated": False, "downloads": 0, "likes": 0, "tags": [],
               "childrenModelCount": {k: 0 for k in COUNT_KEYS}, **(extra or {})}
        self.models[mid] = Model(mid, api, [], None, row=True)
        self.models[parent].children.append((mid, relation))
        counts = self.models[parent].api.setdefault("childrenModelCount", {})
        counts[relation] = counts.get(relation, 0) + 1
        self.parents.setdefault(mid, []).append((parent, relation))
        self._set_bases(mid, self.parents[mid])

    # ------------------------------------------------------------------ queries

    def children_of(self, parent: str, relation: str | None = None) -> list[str]:
        model = self.models.get(parent)
        if model is None:
            return []
        return [c for c, rel in model.children if relation is None or rel == relation]

    def edges(self, tree_ids: set[str] | None = None) -> set[tuple[str, str, str]]:
        """(parent, child, relation) of every listed child, spaces included."""
        out = set()
        for model in self.models.values():
            if tree_ids is not None and model.id not in tree_ids:
                continue
            out.update((model.id, c, rel) for c, rel in model.children)
            out.update((model.id, s, "space") for s in model.api.get("spaces") or [])
        return out


def _api_from_info(mid: str, info: dict[str, Any]) -> dict[str, Any]:
    """The crawler's ModelInfo serialisation back into the Hub's camelCase JSON."""

    def pick(*keys: str) -> Any:
        for key in keys:
            if info.get(key) is not None:
                return info[key]
        return None

    card = pick("card_data", "cardData")
    try:
        card_data = yaml.safe_load(card) if isinstance(card, str) else card
    except yaml.YAMLError:
        card_data = None  # the Hub leaves cardData out when the YAML does not parse
    siblings = []
    for s in info.get("siblings") or []:
        match = re.search(r"rfilename=(['\"])(.*?)\1", s) if isinstance(s, str) else None
        if match:
            siblings.append({"rfilename": match.group(2)})
        elif isinstance(s, dict) and "rfilename" in s:
            siblings.append({"rfilename": s["rfilename"]})
    api = {
        "_id": info.get("_id") or _oid(mid), "id": mid, "modelId": mid,
        "author": pick("author"), "sha": pick("sha"),
        "lastModified": hub_date(pick("last_modified", "lastModified")),
        "createdAt": hub_date(pick("created_at", "createdAt")),
        "private": bool(pick("private")), "gated": pick("gated") if pick("gated") else False,
        "disabled": bool(pick("disabled")), "downloads": pick("downloads"),
        "downloadsAllTime": pick("downloads_all_time", "downloadsAllTime"),
        "likes": pick("likes"), "library_name": pick("library_name"),
        "tags": list(pick("tags") or []), "pipeline_tag": pick("pipeline_tag"),
        "cardData": card_data if isinstance(card_data, dict) else None,
        "siblings": siblings, "usedStorage": pick("usedStorage", "used_storage"),
    }
    return {k: v for k, v in api.items() if v is not None}


# ====================================================================== faults


@dataclass
class Fault:
    """Fault every `every`-th request whose path+query matches `match`, `times` times."""

    kind: str  # "429" | "500" | "slow" | "truncated" | "drop" | "400"
    match: str = ".*"
    every: int = 1
    times: int | None = 1
    retry_after: int = 1
    delay: float = 1.5
    seen: int = 0
    fired: int = 0

    def fires(self, target: str) -> bool:
        if not re.search(self.match, target):
            return False
        self.seen += 1
        if self.times is not None and self.fired >= self.times:
            return False
        if self.seen % self.every:
            return False
        self.fired += 1
        return True


@dataclass
class Logged:
    method: str
    path: str
    query: list[tuple[str, str]]
    status: int
    fault: str | None
    auth: str | None  # the Authorization header as received (the tests check it is sent)


class FakeHub:
    """The server state: data, faults, request log. Use `serve()` to run it."""

    def __init__(self, data: HubData, *, discussion_page: int = 50, commit_page: int = 50,
                 list_refuses: tuple[str, ...] = (), echo_auth_in_errors: bool = False,
                 ratelimit_remaining: int | None = None) -> None:
        self.data = data
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self.discussion_page = discussion_page
        self.commit_page = commit_page
        self.list_refuses = list_refuses
        self.echo_auth_in_errors = echo_auth_in_errors
        self.ratelimit_remaining = ratelimit_remaining
        self.url = ""
        self.lock = threading.Lock()

    def requests(self, path_re: str = ".*", query_re: str = ".*") -> list[Logged]:
        with self.lock:
            return [r for r in self.log if re.search(path_re, r.path)
                    and re.search(query_re, urlencode(r.query))]

    @contextmanager
    def serve(self) -> Iterator[FakeHub]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.hub = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------------ routing

    def respond(self, method: str, raw_path: str, headers: dict[str, str]) -> _Response:
        parts = urlsplit(raw_path)
        path = parts.path
        query = parse_qsl(parts.query, keep_blank_values=True)
        target = path + ("?" + parts.query if parts.query else "")
        auth = headers.get("authorization")
        fault = None
        with self.lock:
            for f in self.faults:
                if f.fires(target):
                    fault = f
                    break
        if fault is not None and fault.kind in ("429", "500", "400"):
            resp = self._fault_response(fault, auth)
        else:
            resp = self._route(method, path, query)
        if fault is not None and fault.kind == "truncated" and resp.status == 200:
            resp.body = resp.body[: max(1, len(resp.body) // 2)]
        if fault is not None and fault.kind == "slow":
            resp.delay = fault.delay
        if fault is not None and fault.kind == "drop":
            resp.drop = True
        if self.echo_auth_in_errors and resp.status >= 400 and auth:
            resp.body += f" (request had Authorization: {auth})".encode()
        if self.ratelimit_remaining is not None:
            resp.headers["RateLimit"] = f'"api";r={self.ratelimit_remaining};t=1'
            resp.headers["RateLimit-Policy"] = '"fixed window";"api";q=1000;w=300'
        with self.lock:
            self.log.append(Logged(method, path, query, resp.status,
                                   fault.kind if fault else None, auth))
        return resp

    def _fault_response(self, fault: Fault, auth: str | None) -> _Response:
        if fault.kind == "429":
            return _Response(429, b'{"error":"rate limited"}', {
                "Retry-After": str(fault.retry_after),
                "RateLimit": f'"api";r=0;t={fault.retry_after}',
                "RateLimit-Policy": '"fixed window";"api";q=1000;w=300'})
        if fault.kind == "400":
            return _Response(400, b'{"error":"bad request"}')
        return _Response(500, b'{"error":"Internal Error - We\'re working hard to fix this"}')

    def _route(self, method: str, path: str, query: list[tuple[str, str]]) -> _Response:
        if path == "/api/models":
            return self._list(query)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/discussions/(\d+)", path)
        if m:
            return self._discussion(m.group(1), int(m.group(2)), query)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/discussions", path)
        if m:
            return self._discussions(m.group(1), query)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/commits/([^/]+)", path)
        if m:
            return self._commits(m.group(1), query)
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)", path)
        if m:
            return self._info(m.group(1), query)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/README\.md", path)
        if m:
            return self._readme(m.group(1), head=method == "HEAD")
        return _error(404, "Not Found")

    # ------------------------------------------------------------------ models

    def _expand(self, query: list[tuple[str, str]]) -> list[str] | None:
        asked = [v for k, v in query if k in ("expand", "expand[]")]
        return asked or None

    def _shape(self, model: Model, expand: list[str] | None, detail: bool) -> dict[str, Any]:
        api = model.api
        if expand is None:
            keys = [k for k in api if k not in DETAIL_ONLY] if detail else list(LIST_DEFAULT)
        else:
            keys = expand
        out = {"_id": api["_id"], "id": api["id"]}
        out.update({k: api[k] for k in keys if k in api})
        return out

    def _info(self, mid: str, query: list[tuple[str, str]]) -> _Response:
        model = self.data.models.get(mid)
        if model is None:
            return _error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        return _json(self._shape(model, self._expand(query), detail=True))

    def _list(self, query: list[tuple[str, str]]) -> _Response:
        expand = self._expand(query)
        refused = [e for e in expand or [] if e in self.list_refuses]
        if refused:
            return _error(400, f'"expand" contains an invalid value: {refused[0]}')
        filters = [v for k, v in query if k == "filter"]
        params = dict(query)
        ids: list[str] | None = None
        for flt in filters:
            m = re.fullmatch(r"base_model:(?:(finetune|adapter|quantized|merge):)?(.+/.+)", flt)
            if m:
                chosen = self.data.children_of(m.group(2), m.group(1))
            elif flt.startswith("dataset:"):
                ds = flt.split(":", 1)[1]
                chosen = [mid for mid, mo in self.data.models.items() if _uses_dataset(mo, ds)]
            else:
                chosen = [mid for mid, mo in self.data.models.items()
                          if flt in (mo.api.get("tags") or [])]
            ids = chosen if ids is None else [i for i in ids if i in set(chosen)]
        if ids is None:
            ids = list(self.data.models)
        if params.get("author"):
            owner = params["author"].lower()
            ids = [i for i in ids if i.split("/")[0].lower() == owner]
        if params.get("search"):
            ids = [i for i in ids if params["search"].lower() in i.lower()]
        if params.get("sort") in ("lastModified", "createdAt", "downloads", "likes"):
            key = params["sort"]
            desc = params.get("direction", "-1") == "-1"
            dated = [i for i in ids if self.data.models[i].api.get(key) is not None]
            undated = [i for i in ids if self.data.models[i].api.get(key) is None]
            ids = sorted(dated, key=lambda i: self.data.models[i].api[key],
                         reverse=desc) + undated
        limit = min(int(params.get("limit") or 1000), 1000)
        start = int(base64.urlsafe_b64decode(params["cursor"]).decode()) \
            if params.get("cursor") else 0
        page = ids[start:start + limit]
        body = [self._shape(self.data.models[i], expand, detail=False) for i in page]
        headers = {}
        if start + limit < len(ids):
            cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
            rest = [(k, v) for k, v in query if k != "cursor"] + [("cursor", cursor)]
            headers["Link"] = f'<{self.url}/api/models?{urlencode(rest, quote_via=quote)}>; ' \
                              'rel="next"'
        return _json(body, headers)

    def _readme(self, mid: str, head: bool) -> _Response:
        model = self.data.models.get(mid)
        if model is None:
            return _error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        if model.readme is None:
            return _error(404, "Entry not found", {"X-Error-Code": "EntryNotFound"})
        body = model.readme.encode("utf-8")
        blob = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
        commit = model.api.get("sha") or _oid(mid, 40)
        headers = {"Content-Type": "text/plain; charset=utf-8", "X-Repo-Commit": commit,
                   "ETag": f'"{blob}"'}
        return _Response(200, body, headers, head=head)

    # ------------------------------------------------------------------ community

    def _discussions(self, repo: str, query: list[tuple[str, str]]) -> _Response:
        if repo not in self.data.models:
            return _error(404, "Repository not found")
        items = self.data.discussions.get(repo, [])
        page = int(dict(query).get("p", 0))
        size = self.discussion_page
        chunk = items[page * size:(page + 1) * size]
        summaries = []
        for d in chunk:
            s = {k: v for k, v in d.items() if k not in ("events", "changes", "diff",
                                                         "filesWithConflicts")}
            s["numComments"] = sum(e["type"] == "comment" for e in d["events"])
            s.update({"pinned": False, "topReactions": [], "repoOwner": {
                "name": repo.split("/")[0], "type": "org", "isParticipating": False}})
            summaries.append(s)
        body = {"discussions": summaries, "count": len(items), "start": page * size,
                "numClosedDiscussions": sum(d["status"] == "closed" for d in items)}
        return _json(body, {"X-Synthetic-Fixture": DISCUSSIONS_FIXTURE})

    def _discussion(self, repo: str, num: int, query: list[tuple[str, str]]) -> _Response:
        for d in self.data.discussions.get(repo, []):
            if d["num"] == num:
                out = dict(d)
                if not d["isPullRequest"]:
                    out.pop("changes", None)
                    out.pop("filesWithConflicts", None)
                    out.pop("diff", None)
                elif dict(query).get("diff") != "1":
                    out.pop("diff", None)
                return _json(out, {"X-Synthetic-Fixture": DISCUSSIONS_FIXTURE})
        return _error(404, "Discussion not found")

    def _commits(self, repo: str, query: list[tuple[str, str]]) -> _Response:
        if repo not in self.data.models:
            return _error(404, "Repository not found")
        items = self.data.commits.get(repo, [])
        page = int(dict(query).get("p", 0))
        size = self.commit_page
        headers = {"X-Synthetic-Fixture": COMMITS_FIXTURE}
        if (page + 1) * size < len(items):
            headers["Link"] = f'<{self.url}/api/models/{repo}/commits/main?p={page + 1}>; ' \
                              'rel="next"'
        return _json(items[page * size:(page + 1) * size], headers)


def _uses_dataset(model: Model, dataset: str) -> bool:
    card = model.api.get("cardData") or {}
    declared = card.get("datasets") if isinstance(card, dict) else None
    names = declared if isinstance(declared, list) else [declared]
    return dataset in names or f"dataset:{dataset}" in (model.api.get("tags") or [])


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    head: bool = False
    delay: float = 0.0
    drop: bool = False


def _json(obj: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(200, json.dumps(obj).encode("utf-8"),
                     {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps({"error": message}).encode("utf-8"),
                     {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def _serve(self, method: str) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        resp = hub.respond(method, self.path, headers)
        try:
            if resp.delay:
                time.sleep(resp.delay)
            if resp.drop:
                self.close_connection = True
                return
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if not resp.head and method != "HEAD":
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the request log is `FakeHub.log`


def bundled_trees(tmp: Path) -> Path:
    """The snapshot's hf-trees folder, extracted into `tmp` (returns the folder)."""
    import shutil

    from llmcarto.bundle import extracted_snapshot

    with extracted_snapshot() as root:
        shutil.copytree(root / "hf-trees", tmp / "hf-trees")
    return tmp / "hf-trees"
