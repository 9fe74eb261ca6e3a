"""`llmcarto collect hub`: map a family (or an organisation) live from the Hugging Face Hub,
and `llmcarto export hub`: the collected rows as CSV with people pseudonymised.

Thin on purpose: flags → `sources.hubapi.collect_hub`; a rich progress line shows the
requests made, the items gained and the time waited on rate limits. Everything printed
or logged passes through the token redaction of `sources.hubapi_secret`.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from llmcarto.commands import command_group
from llmcarto.errors import LlmcartoError

console = Console()
err_console = Console(stderr=True)
log = logging.getLogger("llmcarto.hub")



def register(app: typer.Typer, export_app: typer.Typer) -> None:
    command_group(app, "collect").command("hub")(collect_hub_command)
    export_app.command("hub")(export_hub_command)


def collect_hub_command(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Option(
        "--family", help="Root model ORG/NAME: crawl it and its descendants.",
        show_default=False)] = None,
    author: Annotated[str | None, typer.Option(
        "--author", help="Crawl every model of this user or organisation instead.",
        show_default=False)] = None,
    depth: Annotated[int | None, typer.Option(
        "--depth", help="Levels of descendants to collect (default: all for --family, "
                        "0 for --author).", show_default=False)] = None,
    discussions: Annotated[bool, typer.Option(
        "--discussions", help="Discussions and their events of the family's own models.")
    ] = False,
    commits: Annotated[bool, typer.Option(
        "--commits", help="Commit history of the family's own models.")] = False,
    spaces: Annotated[bool, typer.Option(
        "--spaces", help="Spaces using each model (as 'space' edges).")] = False,
    datasets: Annotated[bool, typer.Option(
        "--datasets", help="Models trained on the datasets the own models' cards declare.")
    ] = False,
    readmes: Annotated[bool, typer.Option(
        "--readmes/--no-readmes", help="Read README.md (card text) of the own models.")
    ] = True,
    since: Annotated[str | None, typer.Option(
        "--since", help="Delta sweep: only models modified since DATE (YYYY-MM-DD) or "
                        "'last' (the previous finished crawl).", show_default=False)] = None,
    endpoint: Annotated[str | None, typer.Option(
        "--endpoint", help="Hub URL (env HF_ENDPOINT; default https://huggingface.co).",
        show_default=False)] = None,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help="File holding a Hub token (else env HF_TOKEN; else anonymous).",
        show_default=False)] = None,
    page_size: Annotated[int, typer.Option("--page-size", help="Models per list page.")
                         ] = 1000,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Retry the items the last crawl of this target marked failed.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per request.")] = 30.0,
    backoff: Annotated[float, typer.Option(
        "--backoff", help="First backoff delay in seconds (doubles per retry).")] = 1.0,
    log_file: Annotated[Path | None, typer.Option(
        "--log-file", help="Write a debug log (tokens masked) to this file.",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")
                       ] = False,
) -> None:
    """Map a model family (or an organisation's models) live from the Hugging Face Hub.

    Resumable: kill it at any point and run the same command again. Every page is
    committed with its cursor; failed items are listed by `llmcarto status`.
    """
    from llmcarto.cli import settings
    from llmcarto.sources.hubapi import CrawlOptions, check_options, collect_hub
    from llmcarto.sources.hubapi_secret import install_log_redaction, load_token, redact

    handler = _log_to(log_file) if log_file else None
    install_log_redaction(*([handler] if handler else []))
    token = load_token(token_file)
    options = CrawlOptions(family=family, author=author,
                           depth=depth if depth is not None or family else 0,
                           discussions=discussions, commits=commits, spaces=spaces,
                           datasets=datasets, readmes=readmes, since=since,
                           page_size=page_size)
    check_options(options)
    db = settings(ctx).db_path
    view = _ProgressView(quiet=as_json)
    try:
        with view:
            outcome = collect_hub(db, options, endpoint=endpoint, token=token,
                                  retry_failed=retry_failed, timeout=timeout,
                                  backoff_base=backoff, on_event=view.event)
    except KeyboardInterrupt:
        err_console.print("interrupted: run the same command again to resume")
        raise typer.Exit(130) from None
    except LlmcartoError as exc:
        log.info("%s", exc)
        raise type(exc)(redact(str(exc))) from None
    except Exception as exc:  # never let a library message carry a token to the terminal
        log.exception("collect hub failed")
        raise LlmcartoError(redact(f"collect hub failed: {type(exc).__name__}: {exc}")) \
            from None
    finally:
        if handler:
            handler.close()
    summary = _summary(outcome, options)
    if as_json:
        typer.echo(redact(json.dumps(summary, default=str)))
    else:
        _print_summary(summary)
    if summary["failures"] and not summary["run_totals"].get("items_gained"):
        raise typer.Exit(1)  # nothing could be collected (e.g. the root does not exist)


class _ProgressView:
    """A rich progress line: models collected, requests, items gained, rate-limit wait."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 BarColumn(), TextColumn("{task.fields[stats]}"),
                                 TimeElapsedColumn(), console=err_console, transient=False,
                                 disable=quiet)
        self.task = None
        self.waited = 0.0
        self.items = 0

    def __enter__(self) -> _ProgressView:
        self.progress.__enter__()
        self.task = self.progress.add_task("starting", total=None, stats="")
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def event(self, name: str, **data) -> None:
        from llmcarto.sources.hubapi_secret import redact

        log.debug("%s %s", name, data)
        if name == "start":
            word = "resuming" if data["resumed"] else "starting"
            self._print(f"{word} run {data['run_id']} ({data['target']}) on {data['endpoint']}")
        elif name == "item":
            self.items += 1
            self.progress.update(self.task, description=redact(
                f"{data['kind']} {data['key']}")[:70], completed=self.items)
        elif name == "progress":
            stats = data["stats"]
            self.progress.update(self.task, stats=(
                f"{stats['requests']:,} requests · {data['gained']:,} items gained · "
                f"{stats['rate_wait_s']:.1f} s waited on rate limits"))
        elif name == "failed":
            self._print(f"[yellow]failed[/] {data['kind']} {data['key']}: {data['reason']}")
        elif name in ("note", "requeued"):
            self._print(data.get("text") or f"retrying {data['n']} failed items")

    def _print(self, text: str) -> None:
        from llmcarto.sources.hubapi_secret import redact

        log.info("%s", text)
        if not self.quiet:
            self.progress.console.print(redact(text), highlight=False, soft_wrap=True)


def _summary(outcome, options) -> dict:
    stats = outcome.requests
    return {"run_id": outcome.run_id, "resumed": outcome.resumed,
            "target": options.target(), "requests": stats["requests"],
            "requests_by_kind": stats["by_kind"], "retries": stats["retries"],
            "rate_limited": stats["rate_limited"], "rate_wait_s": stats["rate_wait_s"],
            "backoff_wait_s": stats["backoff_wait_s"], "items_gained": outcome.items_gained,
            "items": outcome.items, "failures": [
                {"kind": k, "key": key, "reason": r} for k, key, r in outcome.failures],
            "listing": outcome.listing, "run_totals": outcome.totals}


def _print_summary(s: dict) -> None:
    from llmcarto.sources.hubapi_secret import redact

    kinds = ", ".join(f"{k} {n:,}" for k, n in s["requests_by_kind"].items())
    lines = [
        f"requests made: {s['requests']:,} ({kinds}); retries {s['retries']:,}",
        f"items gained: {s['items_gained']:,}",
        f"time waited on rate limits: {s['rate_wait_s']:.1f} s "
        f"({s['rate_limited']:,} HTTP 429); on backoff: {s['backoff_wait_s']:.1f} s",
    ]
    listing = s["listing"]
    if listing.get("expanded_models"):
        lines.append(f"listing: {listing['list_requests']:,} list requests for "
                     f"{listing['expanded_models']:,} models with children "
                     f"(Σ⌈children/{listing['page_size']}⌉ = {listing['pages_needed']:,})")
    items = ", ".join(f"{k} {n:,}" for k, n in sorted(s["items"].items()))
    lines.append(f"work items: {items}")
    for f in s["failures"][:20]:
        lines.append(f"  failed {f['kind']} {f['key']}: {f['reason']}")
    if len(s["failures"]) > 20:
        lines.append(f"  … and {len(s['failures']) - 20} more (llmcarto status lists all)")
    if s["failures"]:
        lines.append("retry them with the same command and --retry-failed")
    for line in lines:
        console.print(redact(line), highlight=False, soft_wrap=True, markup=False)


def _log_to(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("llmcarto", "huggingface_hub"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    return handler


# ---------------------------------------------------------------------------- export

_PEOPLE = {"author", "authors"}  # columns holding Hub handles: exported as hf-… pseudonyms
_EXPORTS = {
    "hub_model": "SELECT * EXCLUDE (info) FROM hub_model WHERE source = 'hub-api'",
    "hub_child": "SELECT * FROM hub_child WHERE source = 'hub-api'",
    "hub_discussion": "SELECT * FROM hub_discussion",
    "hub_discussion_event": "SELECT * EXCLUDE (data) FROM hub_discussion_event",
    "hub_repo_commit": "SELECT * EXCLUDE (message) FROM hub_repo_commit",
    "hub_dataset_use": "SELECT * FROM hub_dataset_use",
    "crawl_run": "SELECT * FROM crawl_run",
    "crawl_item": "SELECT * FROM crawl_item",
}


def export_hub_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder to write the CSV files into.")],
) -> None:
    """The live Hub crawl's rows as CSV: people as hf-… pseudonyms, no comment or commit
    message text (hub_model's author is the repo owner, an organisation or user id)."""
    from llmcarto.cli import settings
    from llmcarto.store import open_published
    from llmcarto.store.status import has_table

    con = open_published(settings(ctx).db_path)
    written = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for table, sql in _EXPORTS.items():
            if not has_table(con, table):
                continue
            cursor = con.execute(sql + " ORDER BY ALL")
            columns = [d[0] for d in cursor.description]
            with (out / f"{table}.csv").open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(columns)
                for row in cursor.fetchall():
                    writer.writerow([_cell(table, c, v) for c, v in zip(columns, row,
                                                                         strict=True)])
            written.append(f"{table}.csv")
    finally:
        con.close()
    console.print(f"wrote {len(written)} files to {out}: {', '.join(written) or 'none'}",
                  highlight=False, markup=False)


def _cell(table: str, column: str, value):
    from llmcarto.privacy import hub_handle_pseudonym

    if column in _PEOPLE and table != "hub_model" and value:
        value = [hub_handle_pseudonym(v) for v in value] if isinstance(value, list) \
            else hub_handle_pseudonym(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else value
