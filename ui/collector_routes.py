"""The collector inside the app's process: its endpoints as routes of the app's own server.

With `CDP_COLLECT_IN_APP=1`, server.py serves the Segment HTTP Tracking API (`/v1/batch`,
`/v1/track`, ..., `/v1/projects/{key}/settings`, `/health`) beside the screens, under
server.baseUrlPath when one is set, with the same paths, write keys and answers as `cdp collect`
(engine.collect.intake judges and spools every request; this module only moves bytes). A 200
still means the events are fsynced to the spool; the loader lands them through this process's
own DuckDB connections, so landings and screens share one database instance (readers read
while a landing writes) instead of taking the file from each other.
"""
from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from engine.collect.http_body import DRAIN_MOST, body_framing
from engine.collect.intake import (NO_ENDPOINT, Intake, body_limit, cors_headers, error_body, not_found,
                                   post_kind)
from engine.collect.protocol import ApiError, too_large

log = logging.getLogger("cdp.collect")
ENV = "CDP_COLLECT_IN_APP"


def enabled() -> bool:
    """Whether server.py collects events in process ($CDP_COLLECT_IN_APP=1)."""
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


class _Headers:
    """Starlette's headers where the collector's HTTP code expects http.server's (get, get_all)."""

    def __init__(self, headers):
        self._headers = headers

    def get(self, name, default=None):
        return self._headers.get(name, default)

    def get_all(self, name):
        return self._headers.getlist(name) or None


async def _body(request, limit: int) -> bytes:
    """The request body, refused (413) once it passes `limit` bytes; the rest is read and dropped
    (up to DRAIN_MOST, as the standalone collector does) so the sender, still writing, reads the
    refusal instead of a broken connection."""
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit + DRAIN_MOST:
            break
        if total <= limit:
            chunks.append(chunk)
    if total > limit:
        raise too_large(limit)
    return b"".join(chunks)


async def _refuse_unread(request, exc: ApiError) -> ApiError:
    """A refusal from the headers alone: the body, not read yet, is read and dropped first."""
    try:
        await _body(request, -1)
    except ApiError:
        pass
    return exc


class InAppCollector:
    """The intake for one workspace, started and stopped with the server (its lifespan)."""

    def __init__(self, workspace_path, base: str = "", interval: float = 1.0):
        self.workspace_path = workspace_path      # a callable: the path as the server starts
        self.base = base
        self.interval = interval                  # seconds between landings
        self.intake: Intake | None = None

    @asynccontextmanager
    async def lifespan(self, app):
        from starlette.concurrency import run_in_threadpool

        from engine.workspace import Workspace

        intake = Intake(Workspace(self.workspace_path()), api_base=self.base, interval=self.interval,
                        status={"in_app": True, "base_path": self.base})
        intake.start_landing()
        self.intake = intake
        try:
            yield
        finally:
            self.intake = None
            await run_in_threadpool(intake.stop_landing)   # lands what was acknowledged

    async def handle(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, Response

        cors = cors_headers(request.headers)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        intake = self.intake
        if intake is None:
            return JSONResponse(error_body(ApiError(503, "The collector is starting or stopping; retry.")),
                                status_code=503, headers=cors)
        path = request.url.path[len(self.base):]
        if request.method in ("GET", "HEAD"):
            status, payload = await run_in_threadpool(intake.get, path, _Headers(request.headers))
            return JSONResponse(payload, status_code=status, headers=cors)
        kind = post_kind(path)
        if kind is None:
            status, payload = not_found(NO_ENDPOINT)
            return JSONResponse(payload, status_code=status, headers=cors)
        headers = _Headers(request.headers)
        try:
            try:
                source = await run_in_threadpool(intake.judge, kind, body_framing(headers), headers)
            except ApiError as exc:
                raise await _refuse_unread(request, exc) from None
            raw = await _body(request, body_limit(kind))
            await run_in_threadpool(intake.accept, kind, raw, headers, source)
        except ApiError as exc:
            intake.count("rejected_requests")
            return JSONResponse(error_body(exc), status_code=exc.status, headers=cors)
        except Exception:  # noqa: BLE001 - a bug must cost one request, answered
            log.exception("collector: unexpected error answering %s", path[:200])
            intake.count("rejected_requests")
            return JSONResponse(error_body(ApiError(500, "The collector failed on this request; retry.")),
                                status_code=500, headers=cors)
        intake.count("requests")
        return JSONResponse({"success": True}, headers=cors)

    def routes(self) -> list:
        from starlette.routing import Route

        methods = ["GET", "HEAD", "POST", "OPTIONS"]
        return [Route(self.base + "/v1/{rest:path}", self.handle, methods=methods),
                Route(self.base + "/health", self.handle, methods=["GET", "HEAD", "OPTIONS"])]
