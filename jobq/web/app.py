"""``create_app``: the FastAPI application behind ``jobq serve``: the JSON API, the
dashboard and ``/metrics``. Nothing is built at import time; all state is on
``app.state.jobq``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

import jobq
from jobq.errors import (
    ArgumentError,
    BackendError,
    ConfigError,
    IllegalTransition,
    JobNotFound,
    JobqError,
    KeyConflict,
    SerializationError,
    UnknownTask,
    one_line,
)
from jobq.jobjson import stats_overview
from jobq.web import api, metrics, overview, pages
from jobq.web.guard import Guard, allowed_hosts, check_token
from jobq.web.state import StatsCache, WebState

log = logging.getLogger("jobq.web")
STATIC = Path(__file__).parent / "static"


def create_app(app: jobq.App, *, token: str, allow_hosts: Iterable[str] = (),
               stats_ttl: float = 2.0) -> FastAPI:
    """The HTTP API, dashboard and metrics of ``app``, as a FastAPI application.

    ``token``: the bearer token every changing call must send (``jobq.web.new_token()``
    makes one). ``allow_hosts``: Host names accepted besides the loopback ones (the name a
    reverse proxy forwards, the address the server is bound to). ``stats_ttl``: seconds
    the counts are reused before the store is asked again.
    """
    if not isinstance(app, jobq.App):
        raise ConfigError(f"create_app needs a jobq.App, got {type(app).__name__}")
    check_token(token)
    if isinstance(stats_ttl, bool) or not isinstance(stats_ttl, int | float) or stats_ttl < 0:
        raise ConfigError(f"stats_ttl must be zero or more seconds, got {stats_ttl!r}")
    hosts = allowed_hosts(allow_hosts if not isinstance(allow_hosts, str) else [allow_hosts])
    web = FastAPI(
        title="jobq",
        version=jobq.__version__,
        summary="The jobs of one jobq store: list, inspect, enqueue, retry, cancel.",
        # Swagger UI and ReDoc load their scripts from a CDN, which the page's
        # Content-Security-Policy (rightly) forbids; /openapi.json stays.
        docs_url=None,
        redoc_url=None,
        middleware=[Middleware(Guard, token=token, hosts=hosts)],
    )
    stats = StatsCache(lambda: stats_overview(app), float(stats_ttl))
    history = StatsCache(lambda: app.backend.throughput(0), float(stats_ttl))
    web.state.jobq = WebState(app=app, stats=stats, history=history,
                              metrics=metrics.registry_for(stats.get, history.get))
    web.include_router(api.router)
    web.include_router(overview.router)
    web.include_router(api.changing)
    web.include_router(metrics.router)
    web.include_router(pages.router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_handlers(web)
    return web


# Errors a route may raise, and the status each one answers with.
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (JobNotFound, 404),
    (UnknownTask, 404),
    (KeyConflict, 409),
    (IllegalTransition, 409),
    (ArgumentError, 422),
    (ConfigError, 422),
    (SerializationError, 422),
    (BackendError, 503),
    (JobqError, 500),
)


def _install_error_handlers(web: FastAPI) -> None:
    def answer(status: int) -> Callable[[Request, Exception], Response]:
        def handle(request: Request, exc: Exception) -> Response:
            if status >= 500:
                log.warning("%s %s: %s", request.method, request.url.path, one_line(str(exc)))
            return pages.error_response(request, status, one_line(str(exc)))
        return handle

    for kind, status in ERROR_STATUS:
        web.add_exception_handler(kind, answer(status))
    web.add_exception_handler(RequestValidationError, _invalid)
    web.add_exception_handler(Exception, _internal)


def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


def _internal(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's log, never to the client.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return pages.error_response(
        request, 500, f"internal error ({type(exc).__name__}); the server log has the details"
    )
