"""The atlas application: routes, security headers, templates.

Server-rendered (FastAPI + Jinja2, autoescaping on) so untrusted text from model cards
and commit messages is escaped by default; a strict Content-Security-Policy forbids
inline scripts and any origin but our own, so even a missed escape cannot execute.
Read-only: only GET and HEAD are answered, and the store is the published copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmcarto import __version__
from llmcarto.atlas import queries
from llmcarto.atlas.links import (
    EXTERNAL_REL,
    case_url,
    day,
    evidence_url,
    external_link,
    http_url,
    linkify_text,
    number,
)
from llmcarto.atlas.pages import case as case_page
from llmcarto.atlas.pages import evidence as evidence_page
from llmcarto.atlas.pages import index as index_page
from llmcarto.atlas.published import PublishedStore
from llmcarto.errors import StoreError

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
READ_METHODS = ("GET", "HEAD")


def make_templates() -> Jinja2Templates:
    """Templates with autoescape forced on (also for non-.html names) and strict undefined."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=number, day=day, linkify=linkify_text, http_url=http_url)
    env.globals.update(external_link=external_link, evidence_url=evidence_url,
                       case_url=case_url, kind_words=queries.kind_words,
                       EXTERNAL_REL=EXTERNAL_REL, version=__version__,
                       grid_stages=queries.GRID_STAGES, outside_stages=queries.OUTSIDE_STAGES)
    return Jinja2Templates(env=env)


def create_app(db_path: Path | None = None) -> FastAPI:
    """The atlas over the published copy of `db_path` (default: the settings' store)."""
    if db_path is None:
        from llmcarto.settings import Settings

        db_path = Settings.resolve().db_path
    store = PublishedStore(Path(db_path))
    templates = make_templates()
    app = FastAPI(title="llmcarto atlas", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.store = store
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def render(request: Request, name: str, context: dict[str, Any],
             status_code: int = 200) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        if request.method not in READ_METHODS:
            response: Response = PlainTextResponse(
                "The atlas is read-only: only GET and HEAD are answered.\n", status_code=405,
                headers={"Allow": ", ".join(READ_METHODS)})
        else:
            response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        return response

    @app.exception_handler(StoreError)
    async def store_missing(request: Request, exc: StoreError) -> HTMLResponse:
        return render(request, "error.html", {"title": "No store to show",
                                            "message": str(exc), "cases": []}, 503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render(request, "error.html", {
                "title": "Not found",
                "message": f"The atlas has no page at {request.url.path}.", "cases": []}, 404)
        return PlainTextResponse(str(exc.detail), status_code=exc.status_code,
                                 headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
        return render(request, "error.html", {
            "title": "Bad request", "message": f"Cannot read the parameter(s): {fields}.",
            "cases": []}, 400)

    @app.api_route("/", methods=list(READ_METHODS), response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        with store.cursor() as db:
            return render(request, "index.html", index_page.context(db))

    @app.api_route("/case/{key}", methods=list(READ_METHODS), response_class=HTMLResponse)
    def case(request: Request, key: str, hub_page: int = 1) -> HTMLResponse:
        with store.cursor() as db:
            context = case_page.context(db, key, hub_page)
            if context is None:
                return render(request, "error.html", {
                    "title": "No such case",
                    "message": f"The store holds no case with the key “{key}”.",
                    "cases": queries.cases(db)}, 404)
            return render(request, "case.html", context)

    @app.api_route("/evidence", methods=list(READ_METHODS), response_class=HTMLResponse)
    def evidence(request: Request, case: str | None = None, stage: str | None = None,
                 kind: str | None = None, rule: str | None = None, repo: str | None = None,
                 month: str | None = None, page: int = 1) -> HTMLResponse:
        flt = evidence_page.parse_filter({"case": case, "repo": repo, "stage": stage,
                                          "kind": kind, "rule": rule, "month": month})
        if isinstance(flt, str):
            return render(request, "error.html", {"title": "Bad request", "message": flt,
                                                  "cases": []}, 400)
        with store.cursor() as db:
            return render(request, "evidence.html", evidence_page.context(db, flt, page))

    return app


def serve(db_path: Path | None, host: str = "127.0.0.1", port: int = 8000) -> None:
    import uvicorn

    uvicorn.run(create_app(db_path), host=host, port=port, log_level="info")
