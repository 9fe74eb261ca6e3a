"""The live Hub collector: a family (or an organisation) mapped from the Hugging Face Hub.

A family crawl is a breadth-first walk from the root. The root is read once
(``GET /api/models/<id>?expand=…``); every other model comes from a children listing,
``GET /api/models?filter=base_model:<parent>&expand=…`` paged by the ``Link`` header,
whose `expand` asks for everything the store keeps (baseModels, childrenModelCount,
cardData, tags, gated, dates, downloads, likes, library, pipeline tag, siblings — the
file names feed the lineage rules — and spaces with ``--spaces``). The relation of an
edge is the child's declared ``baseModels.relation``. A model whose
``childrenModelCount`` is zero is a leaf and costs no request, so the listing part of a
crawl makes Σ⌈children / page size⌉ requests over the non-leaf models (plus retries).
When the Hub refuses ``childrenModelCount`` on the list route (HTTP 400), the collector
drops it and lists the children of every model instead, and says so in the run.

With ``--discussions``, ``--commits``, ``--datasets`` and README fetching, the models of
the family's own organisation (the root's owner; the organisation itself for
``--author``) also get their discussions with events, their commit history, the reuse
of the datasets their cards declare (``filter=dataset:<id>``) and their README text.

A delta sweep (``--since DATE``) of a family does not walk the tree again: it reads the
Hub's model list sorted by last modification, newest first, down to DATE, and adds the
models among them that descend from a model already in the store (to a fixpoint), then
lists the children of the new models that have some. An ``--author`` sweep with
``--since`` stops its own listing at DATE.

Every unit of work is a `crawl_item`; every page is committed with its cursor
(`hubapi_store`), so a crawl killed at any point resumes where it stopped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from huggingface_hub.utils import parse_datetime

from llmcarto.errors import LlmcartoError
from llmcarto.sources.hubapi_http import FetchError, HubHttp, Reply
from llmcarto.sources.hubapi_rows import (
    FRONT_MATTER,
    api_card_row,
    base_ids,
    card_meta,
    children_total,
    commit_row,
    discussion_row,
    discussion_url,
    event_row,
    model_row,
    relation_to,
)
from llmcarto.sources.hubapi_store import HUB, CrawlStore, Run, ensure_tables, now
from llmcarto.sources.hubcards import card_row, parse_card_yaml

LIST_EXPAND = ("author", "baseModels", "cardData", "childrenModelCount", "createdAt",
               "downloads", "downloadsAllTime", "gated", "lastModified", "library_name",
               "likes", "pipeline_tag", "siblings", "tags")
#: work order: the root first, then the tree breadth-first, then the own models' extras
PRIORITY = {"info": 0, "author-list": 1, "delta-scan": 2, "children": 3, "readme": 4,
            "discussions": 5, "discussion": 6, "commits": 7, "dataset-use": 8}
_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_ORG = re.compile(r"^[A-Za-z0-9][\w.-]*$")


class CollectError(LlmcartoError):
    """The crawl cannot start (bad id, no earlier crawl for a delta sweep …)."""


@dataclass
class CrawlOptions:
    family: str | None = None
    author: str | None = None
    depth: int | None = None  # levels below the root(s); None = no limit
    discussions: bool = False
    commits: bool = False
    spaces: bool = False
    datasets: bool = False
    readmes: bool = True
    since: str | None = None  # ISO date/time, or "last" (the previous crawl's start)
    page_size: int = 1000

    def target(self) -> str:
        return f"family:{self.family}" if self.family else f"author:{self.author}"

    def tree(self) -> str:
        return self.family.replace("/", "__") if self.family else str(self.author)

    def stored(self) -> dict[str, Any]:
        return {"family": self.family, "author": self.author, "depth": self.depth,
                "discussions": self.discussions, "commits": self.commits,
                "spaces": self.spaces, "datasets": self.datasets, "readmes": self.readmes,
                "since": self.since, "page_size": self.page_size}


@dataclass
class Outcome:
    run_id: str
    resumed: bool
    status: str
    requests: dict[str, Any]
    items_gained: int
    items: dict[str, int]
    failures: list[tuple[str, str, str]]
    listing: dict[str, int] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)


Event = Callable[..., None]


class HubCollector:
    """One crawl of one family or organisation into a writable store connection."""

    def __init__(self, con, http: HubHttp, options: CrawlOptions, *,
                 retry_failed: bool = False, on_event: Event | None = None,
                 crawl_date: date | None = None) -> None:
        check_options(options)
        self.con = con
        self.http = http
        self.opt = options
        self.retry_failed = retry_failed
        self.emit = on_event or (lambda *a, **k: None)
        self.crawl_date = crawl_date or datetime.now(UTC).date()
        self._flushed = http.stats.snapshot()
        self._flushed_gained = 0

    # ================================================================== run

    def run(self) -> Outcome:
        ensure_tables(self.con)
        target = self.opt.target()
        latest = CrawlStore.latest_run(self.con, target)
        resumed = False
        if latest is not None and (latest.status == "running" or self.retry_failed):
            run = latest
            resumed = True
            stored = CrawlOptions(**{k: v for k, v in latest.options.items()
                                     if k in CrawlOptions.__dataclass_fields__})
            if stored != self.opt and not self.retry_failed:
                self.emit("note", text=f"resuming {latest.run_id} with the options it "
                                       f"started with: {json.dumps(stored.stored())}")
            self.opt = stored
        else:
            stamp = now()
            run = Run(f"hub-{self.opt.tree()}-{stamp.strftime('%Y%m%dT%H%M%S%fZ')}", target,
                      self.opt.tree(), self.opt.stored(), self.http.endpoint, "running",
                      stamp)
        self.store = CrawlStore(self.con, run, self.crawl_date)
        self.since = self._since(target)
        with self.store.transaction():
            if not resumed:
                self.store.create_run()
                self.store.add_items(self._seed_items())
            else:
                if self.retry_failed:
                    self.emit("requeued", n=self.store.requeue_failed())
                self.store.set_run_status("running")
        self.emit("start", run_id=run.run_id, resumed=resumed, target=target,
                  endpoint=self.http.endpoint)
        while True:
            item = self.store.next_item(PRIORITY)
            if item is None:
                break
            kind, key, depth = item
            self.emit("item", kind=kind, key=key, depth=depth)
            try:
                getattr(self, "_do_" + kind.replace("-", "_"))(key, depth)
            except FetchError as exc:
                with self.store.transaction():
                    self.store.set_item(kind, key, "failed", exc.reason)
                    self._flush()
                self.emit("failed", kind=kind, key=key, reason=exc.reason)
        with self.store.transaction():
            self._flush()
        return Outcome(run.run_id, resumed, "collected", self.http.stats.snapshot(),
                       self.store.gained, self.store.item_counts(), self.store.failures(),
                       self.listing_bound(), self.store.run_totals())

    def finish(self, outcome: Outcome) -> Outcome:
        """Mark the run done: called after the derived tables are refreshed, so a crawl
        killed before that resumes (with no work left) rather than starting again."""
        with self.store.transaction():
            self.store.set_run_status("done", finished=True)
        outcome.status = "done"
        return outcome

    def _since(self, target: str) -> datetime | None:
        if not self.opt.since:
            return None
        if self.opt.since == "last":
            mark = CrawlStore.watermark(self.con, target)
            if mark is None:
                raise CollectError(f"--since last: no finished crawl of {target} in the "
                                   "store yet; run a full crawl first")
            return mark
        try:
            moment = datetime.fromisoformat(self.opt.since)
        except ValueError:
            raise CollectError(f"--since {self.opt.since!r}: not a date (YYYY-MM-DD) or "
                               "date-time, nor 'last'") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def _seed_items(self) -> list[tuple[str, str, int | None, str, str | None]]:
        if self.opt.author:
            return [("author-list", self.opt.author, 0, "pending", None)]
        if self.since is not None:
            known = self.con.execute(
                "SELECT count(*) FROM hub_model WHERE source = 'hub-api' AND tree = ?",
                [self.opt.tree()]).fetchone()[0]
            if not known:
                raise CollectError(f"--since: the store has no model of {self.opt.family} "
                                   "from an earlier crawl; run a full crawl first")
            return [("delta-scan", self.opt.family, None, "pending", None)]
        return [("info", self.opt.family, 0, "pending", None)]

    def _flush(self) -> None:
        """Add this process's new request counts to the run (inside a transaction)."""
        snap = self.http.stats.snapshot()
        old = self._flushed
        self.store.add_counters(
            snap["requests"] - old["requests"],
            snap["by_kind"].get("list", 0) - old["by_kind"].get("list", 0),
            snap["retries"] - old["retries"], self.store.gained - self._flushed_gained,
            snap["rate_wait_s"] - old["rate_wait_s"])
        self._flushed = snap
        self._flushed_gained = self.store.gained
        self.emit("progress", stats=snap, gained=self.store.gained)

    # ================================================================== handlers

    def _do_info(self, model_id: str, depth: int | None) -> None:
        expand = self._expand()
        reply = self.http.get(f"/api/models/{model_id}", [("expand", e) for e in expand],
                              kind="info")
        item = reply.data
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise FetchError(f"model info of {model_id} is not a model object")
        with self.store.transaction():
            self._write_models([(item, 0, [])], loc=f"GET /api/models/{model_id}")
            self.store.set_item("info", model_id, "ok")
            self._flush()

    def _do_children(self, parent: str, depth: int | None) -> None:
        depth = depth or 0
        next_url, page, positions = self.store.cursor("children", parent)
        if next_url is None:
            params = [("filter", f"base_model:{parent}"), ("limit", self.opt.page_size),
                      *[("expand", e) for e in self._expand()]]
            next_url = self.http.url("/api/models?" + urlencode(params))
        while next_url:
            reply = self._list_page(next_url)
            items = [i for i in reply.data if isinstance(i, dict) and isinstance(i.get("id"),
                                                                                 str)]
            found = []
            for item in items:
                relation = relation_to(item, parent)
                found.append((item, depth + 1, [(parent, relation)]))
            page += 1
            with self.store.transaction():
                self._write_models(found, loc=f"children of {parent} page {page}",
                                   positions=positions)
                if reply.next_url:
                    self.store.set_cursor("children", parent, reply.next_url, page, positions)
                else:
                    self.store.drop_cursor("children", parent)
                    self.store.set_item("children", parent, "ok")
                self._flush()
            next_url = reply.next_url

    def _do_author_list(self, org: str, depth: int | None) -> None:
        next_url, page, positions = self.store.cursor("author-list", org)
        if next_url is None:
            params: list[tuple[str, Any]] = [("author", org), ("limit", self.opt.page_size),
                                             *[("expand", e) for e in self._expand()]]
            if self.since is not None:
                params += [("sort", "lastModified"), ("direction", -1)]
            next_url = self.http.url("/api/models?" + urlencode(params))
        while next_url:
            reply = self._list_page(next_url)
            items = [i for i in reply.data if isinstance(i, dict) and isinstance(i.get("id"),
                                                                                 str)]
            stop = False
            if self.since is not None:
                kept = [i for i in items if not _older(i, self.since)]
                stop = len(kept) < len(items)
                items = kept
            page += 1
            more = reply.next_url if not stop else None
            with self.store.transaction():
                self._write_models([(i, 0, []) for i in items],
                                   loc=f"models of {org} page {page}")
                if more:
                    self.store.set_cursor("author-list", org, more, page, positions)
                else:
                    self.store.drop_cursor("author-list", org)
                    self.store.set_item("author-list", org, "ok")
                self._flush()
            next_url = more

    def _do_delta_scan(self, family: str, depth: int | None) -> None:
        next_url, page, positions = self.store.cursor("delta-scan", family)
        if next_url is None:
            params = [("sort", "lastModified"), ("direction", -1),
                      ("limit", self.opt.page_size), *[("expand", e) for e in self._expand()]]
            next_url = self.http.url("/api/models?" + urlencode(params))
        while next_url:
            reply = self._list_page(next_url)
            items = [i for i in reply.data if isinstance(i, dict) and isinstance(i.get("id"),
                                                                                 str)]
            kept = [i for i in items if not _older(i, self.since)]
            more = reply.next_url if len(kept) == len(items) else None
            page += 1
            with self.store.transaction():
                self.store.write("crawl_delta_seen",
                                 [{"run_id": self.store.run.run_id, "id": i["id"], "item": i}
                                  for i in kept], lambda r: HUB + r["id"],
                                 f"models modified since {self.since:%Y-%m-%d} page {page}")
                if more:
                    self.store.set_cursor("delta-scan", family, more, page, positions)
                else:
                    self.store.drop_cursor("delta-scan", family)
                    self._apply_delta(family)
                    self.store.set_item("delta-scan", family, "ok")
                self._flush()
            next_url = more

    def _apply_delta(self, family: str) -> None:
        """Add the scanned models that descend from the family (to a fixpoint)."""
        run_id = self.store.run.run_id
        seen = {mid: json.loads(item) for mid, item in self.con.execute(
            "SELECT id, item FROM crawl_delta_seen WHERE run_id = ?", [run_id]).fetchall()}
        depth = dict(self.con.execute(
            "SELECT id, min(depth) FROM hub_model WHERE source = 'hub-api' AND tree = ? "
            "GROUP BY id", [self.store.run.tree]).fetchall())
        limit = self.opt.depth
        found: dict[str, tuple[dict[str, Any], int, list[tuple[str, str | None]]]] = {}
        changed = True
        while changed:
            changed = False
            for mid, item in seen.items():
                if mid in found:
                    continue
                parents = [(p, relation_to(item, p)) for p in base_ids(item)
                           if p in depth or p in found]
                if mid in depth:  # known: refresh the row, keep its place
                    found[mid] = (item, depth[mid], [])
                    continue
                if not parents:
                    continue
                level = 1 + min(depth[p] if p in depth else found[p][1] for p, _ in parents)
                if limit is not None and level > limit:
                    continue
                found[mid] = (item, level, parents)
                changed = True
        ordered = sorted(found.values(), key=lambda f: (f[1], f[0]["id"]))
        self._write_models(ordered, loc=f"delta sweep since {self.since:%Y-%m-%d}",
                           positions=None)
        self.con.execute("DELETE FROM crawl_delta_seen WHERE run_id = ?", [run_id])

    def _do_readme(self, model_id: str, depth: int | None) -> None:
        reply = self.http.get(f"/{model_id}/resolve/main/README.md", kind="readme",
                              expect_json=False, ok_status=(200, 404))
        with self.store.transaction():
            if reply.status == 404:
                self.store.set_item("readme", model_id, "ok", "no README.md in the repo")
            else:
                text = reply.body.decode("utf-8", "replace")
                self._write_readme(model_id, text, reply)
                self.store.set_item("readme", model_id, "ok")
            self._flush()

    def _do_discussions(self, repo_id: str, depth: int | None) -> None:
        _, page, _ = self.store.cursor("discussions", repo_id)
        while True:
            reply = self.http.get(f"/api/models/{repo_id}/discussions", [("p", page)],
                                  kind="discussions")
            data = reply.data if isinstance(reply.data, dict) else {}
            listed = [d for d in data.get("discussions") or [] if isinstance(d, dict)
                      and isinstance(d.get("num"), int)]
            total = data.get("count") if isinstance(data.get("count"), int) else 0
            start = data.get("start") if isinstance(data.get("start"), int) else 0
            more = bool(listed) and start + len(listed) < total
            fixture = reply.headers.get("x-synthetic-fixture")
            with self.store.transaction():
                self.store.write("hub_discussion",
                                 [discussion_row(self.store.run.tree, repo_id, d, fixture)
                                  for d in listed], discussion_url,
                                 f"GET /api/models/{repo_id}/discussions?p={page}")
                self.store.add_items(("discussion", f"{repo_id}#{d['num']}", depth,
                                      "pending", None) for d in listed)
                if more:
                    self.store.set_cursor("discussions", repo_id, None, page + 1, {})
                else:
                    self.store.drop_cursor("discussions", repo_id)
                    self.store.set_item("discussions", repo_id, "ok")
                self._flush()
            if not more:
                return
            page += 1

    def _do_discussion(self, key: str, depth: int | None) -> None:
        repo_id, _, num = key.rpartition("#")
        reply = self.http.get(f"/api/models/{repo_id}/discussions/{num}", [("diff", "1")],
                              kind="discussion")
        data = reply.data
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise FetchError(f"discussion {key} has no events list")
        fixture = reply.headers.get("x-synthetic-fixture")
        tree = self.store.run.tree
        loc = f"GET /api/models/{repo_id}/discussions/{num}"
        with self.store.transaction():
            self.store.write("hub_discussion", [discussion_row(tree, repo_id, data, fixture)],
                             discussion_url, loc)
            self.store.replace_where("hub_discussion_event", "repo_id = ? AND num = ?",
                                     [repo_id, int(num)])
            self.store.write("hub_discussion_event",
                             [event_row(tree, repo_id, int(num), i, e, fixture)
                              for i, e in enumerate(data["events"]) if isinstance(e, dict)],
                             lambda r: f"{HUB}{r['repo_id']}/discussions/{r['num']}", loc)
            self.store.set_item("discussion", key, "ok")
            self._flush()

    def _do_commits(self, repo_id: str, depth: int | None) -> None:
        next_url, page, positions = self.store.cursor("commits", repo_id)
        if next_url is None:
            next_url = self.http.url(f"/api/models/{repo_id}/commits/main")
        position = int(positions.get("commits", 0))
        while next_url:
            reply = self.http.get(next_url, kind="commits")
            rows = []
            fixture = reply.headers.get("x-synthetic-fixture")
            for c in reply.data if isinstance(reply.data, list) else []:
                if isinstance(c, dict) and isinstance(c.get("id"), str):
                    rows.append(commit_row(self.store.run.tree, repo_id, position, c, fixture))
                    position += 1
            page += 1
            with self.store.transaction():
                self.store.write("hub_repo_commit", rows,
                                 lambda r: f"{HUB}{r['repo_id']}/commit/{r['commit_id']}",
                                 f"GET /api/models/{repo_id}/commits/main page {page}")
                if reply.next_url:
                    self.store.set_cursor("commits", repo_id, reply.next_url, page,
                                          {"commits": position})
                else:
                    self.store.drop_cursor("commits", repo_id)
                    self.store.set_item("commits", repo_id, "ok")
                self._flush()
            next_url = reply.next_url

    def _do_dataset_use(self, key: str, depth: int | None) -> None:
        dataset, _, declared_by = key.partition("@")
        next_url, page, positions = self.store.cursor("dataset-use", key)
        if next_url is None:
            params = [("filter", f"dataset:{dataset}"), ("limit", self.opt.page_size),
                      ("expand", "author")]
            next_url = self.http.url("/api/models?" + urlencode(params))
        position = int(positions.get("models", 0))
        while next_url:
            reply = self.http.get(next_url, kind="dataset-use")
            rows = []
            for item in reply.data if isinstance(reply.data, list) else []:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    rows.append({"tree": self.store.run.tree, "dataset": dataset,
                                 "model": item["id"], "declared_by": declared_by,
                                 "position": position})
                    position += 1
            page += 1
            with self.store.transaction():
                self.store.write("hub_dataset_use", rows, lambda r: HUB + r["model"],
                                 f"models trained on dataset:{dataset} page {page}")
                if reply.next_url:
                    self.store.set_cursor("dataset-use", key, reply.next_url, page,
                                          {"models": position})
                else:
                    self.store.drop_cursor("dataset-use", key)
                    self.store.set_item("dataset-use", key, "ok")
                self._flush()
            next_url = reply.next_url

    # ================================================================== writing

    def _expand(self) -> list[str]:
        expand = list(LIST_EXPAND)
        if not self.store.run.children_count_on_list:
            expand.remove("childrenModelCount")
        if self.opt.spaces:
            expand.append("spaces")
        return expand

    def _list_page(self, url: str) -> Reply:
        """One list page; falls back once when the Hub refuses childrenModelCount."""
        try:
            reply = self.http.get(url, kind="list")
        except FetchError as exc:
            if exc.status == 400 and "childrenModelCount" in url and \
                    self.store.run.children_count_on_list:
                self.store.run.children_count_on_list = False
                self.emit("note", text="the Hub refused childrenModelCount on the list route: "
                                       "every model's children will be listed")
                return self._list_page(_without_param(url, "expand", "childrenModelCount"))
            raise
        if not isinstance(reply.data, list):
            raise FetchError(f"list reply from {urlsplit(url).path} is not a JSON list")
        return reply

    def _write_models(self, found: Iterable[tuple[dict[str, Any], int,
                                                  list[tuple[str, str | None]]]],
                      loc: str, positions: dict[str, Any] | None = None) -> None:
        """Models with their depth and (parent, relation) edges, cards, spaces and the work
        they create (children listings, own-model extras), in the caller's transaction."""
        found = list(found)
        tree = self.store.run.tree
        known = self.store.known_depths(i["id"] for i, _, _ in found)
        readme_ids = self.store.readme_cards(i["id"] for i, _, _ in found)
        models, edges, cards, items = [], [], [], []
        if positions is None:  # delta sweep: append after what each parent already has
            positions = {}
            for parent, relation, top in self.con.execute(
                    "SELECT parent, relation, max(position) FROM hub_child WHERE source = "
                    "'hub-api' AND tree = ? GROUP BY ALL", [tree]).fetchall():
                positions[f"{parent}\t{relation}"] = top + 1
        for item, depth, parents in found:
            mid = item["id"]
            depth = min(depth, known.get(mid, depth))
            meta = card_meta(item["cardData"]) if isinstance(item.get("cardData"), dict) \
                else None
            models.append(model_row(tree, item, depth, meta))
            for parent, relation in parents:
                slot = f"{parent}\t{relation}"
                pos = positions.get(slot, 0)
                positions[slot] = pos + 1
                edges.append({"tree": tree, "parent": parent, "child": mid,
                              "relation": relation, "position": pos})
            for pos, space in enumerate(item.get("spaces") or []):
                if isinstance(space, str):
                    edges.append({"tree": tree, "parent": mid, "child": space,
                                  "relation": "space", "position": pos})
            if meta is not None and mid not in readme_ids:
                cards.append(api_card_row(item, meta))
            items.extend(self._work_for(item, depth))
        self.store.write("hub_model", models, lambda r: HUB + r["id"], loc)
        self.store.write("hub_child", edges, lambda r: HUB + r["parent"], loc)
        self.store.write("model_card", cards, lambda r: HUB + r["id"], loc)
        self.store.add_items(items)

    def _work_for(self, item: dict[str, Any], depth: int
                  ) -> list[tuple[str, str, int | None, str, str | None]]:
        mid = item["id"]
        work = []
        total = children_total(item)
        limit = self.opt.depth
        if total != 0:
            if limit is not None and depth >= limit:
                why = (f"depth limit {limit} reached; "
                       f"{'unknown number of' if total is None else total} children not listed")
                work.append(("children", mid, depth, "skipped", why))
            else:
                work.append(("children", mid, depth, "pending", None))
        if self._own(mid):
            if self.opt.readmes:
                work.append(("readme", mid, depth, "pending", None))
            if self.opt.discussions:
                work.append(("discussions", mid, depth, "pending", None))
            if self.opt.commits:
                work.append(("commits", mid, depth, "pending", None))
            if self.opt.datasets:
                card = item.get("cardData") if isinstance(item.get("cardData"), dict) else {}
                declared = card.get("datasets")
                for ds in declared if isinstance(declared, list) else [declared]:
                    if isinstance(ds, str) and ds.strip():
                        work.append(("dataset-use", f"{ds.strip()}@{mid}", depth, "pending",
                                     None))
        return work

    def _own(self, model_id: str) -> bool:
        owner = (self.opt.family.split("/", 1)[0] if self.opt.family else self.opt.author) or ""
        return model_id.split("/", 1)[0].lower() == owner.lower()

    def _write_readme(self, model_id: str, text: str, reply: Reply) -> None:
        meta = parse_card_yaml(text)
        block = FRONT_MATTER.match(text)
        yaml_raw = block.group(1) if block else None
        body = text[block.end():] if block else text
        revision = reply.headers.get("x-repo-commit")
        etag = reply.headers.get("x-linked-etag") or reply.headers.get("etag")
        row = card_row(meta, id=model_id, yaml_raw=yaml_raw, yaml_collapsed=False,
                       origin="hub-api", repo_type="model", url=HUB + model_id,
                       source_host=urlsplit(HUB).hostname, revision=revision,
                       body=body or None,
                       notes=f"README.md; ETag {etag}" if etag else "README.md")
        self.store.write("model_card", [row], lambda r: HUB + r["id"],
                         f"GET /{model_id}/resolve/main/README.md")
        if meta.status in ("recovered", "raw"):
            self.store.skip_report(f"{model_id} README.md",
                                   f"card front matter not parsed ({meta.error}); kept raw "
                                   f"with yaml_status={meta.status}")

    def listing_bound(self) -> dict[str, int]:
        """The efficiency bound of this run: Σ⌈children / page size⌉ over the expanded
        models, against the list requests made (both from the store)."""
        rows = self.con.execute(
            "SELECT m.info FROM crawl_item i JOIN hub_model m ON m.id = i.key AND "
            "m.tree = ? AND m.source = 'hub-api' WHERE i.run_id = ? AND i.kind = 'children' "
            "AND i.status = 'ok'", [self.store.run.tree, self.store.run.run_id]).fetchall()
        pages = 0
        for (info,) in rows:
            total = children_total(json.loads(info)) if info else None
            pages += max(1, -(-(total or 0) // self.opt.page_size))
        totals = self.store.run_totals()
        return {"expanded_models": len(rows), "page_size": self.opt.page_size,
                "pages_needed": pages, "list_requests": int(totals["list_requests"] or 0)}


def _older(item: dict[str, Any], since: datetime | None) -> bool:
    if since is None:
        return False
    moment = item.get("lastModified")
    if not isinstance(moment, str):
        return False
    try:
        return parse_datetime(moment) < since
    except ValueError:
        return False


def _without_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k in (name, name + "[]") and v == value)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def check_options(opt: CrawlOptions) -> None:
    """Raise `CollectError` naming the flag when the options cannot make a crawl."""
    if bool(opt.family) == bool(opt.author):
        raise CollectError("name exactly one of --family ORG/NAME or --author ORG")
    if opt.family and not _ID.match(opt.family):
        raise CollectError(f"--family {opt.family!r}: not a Hub model id (ORG/NAME)")
    if opt.author and not _ORG.match(opt.author):
        raise CollectError(f"--author {opt.author!r}: not a Hub user or organisation name")
    if opt.depth is not None and opt.depth < 0:
        raise CollectError(f"--depth {opt.depth}: must be 0 or more")
    if not 1 <= opt.page_size <= 1000:
        raise CollectError(f"--page-size {opt.page_size}: must be between 1 and 1000")
    if opt.since not in (None, "last"):
        try:
            datetime.fromisoformat(opt.since)
        except ValueError:
            raise CollectError(f"--since {opt.since!r}: not a date (YYYY-MM-DD) or "
                               "date-time, nor 'last'") from None


# ====================================================================== entry point


def collect_hub(db_path, options: CrawlOptions, *, endpoint: str | None = None,
                token=None, retry_failed: bool = False, timeout: float = 30.0,
                backoff_base: float = 1.0, on_event: Event | None = None) -> Outcome:
    """Crawl into the store at `db_path`, then refresh the derived tables and publish.

    `endpoint` defaults to ``HF_ENDPOINT`` (read now, not at import), else the public
    Hub; `token` is a `hubapi_secret.Secret` (or None for anonymous requests).
    """
    import os

    from llmcarto.sources.hubapi_http import DEFAULT_ENDPOINT
    from llmcarto.store import Store, publish

    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise CollectError(f"--endpoint {endpoint!r}: not an http(s) URL")
    http = HubHttp(endpoint, token, timeout=timeout, backoff_base=backoff_base,
                   on_wait=(lambda why, s: on_event("wait", why=why, seconds=s))
                   if on_event else None)
    with Store(db_path) as store:
        collector = HubCollector(store.con, http, options, retry_failed=retry_failed,
                                 on_event=on_event)
        outcome = collector.run()
        store.refresh_derived()
        collector.finish(outcome)
    publish(db_path)
    return outcome
