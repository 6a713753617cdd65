"""Two ASGI wrappers around the app: a request-body limit (413 before the body is read into memory) and
per-request accounting for /metrics (route template, status, time to the last byte)."""

from __future__ import annotations

import time

from fastapi import HTTPException

from .metrics import Metrics


class BodyLimit:
    """Refuse bodies over `limit` bytes: by Content-Length before reading, else as the chunks arrive."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = int(dict(scope["headers"]).get(b"content-length", b"0") or 0)
        seen = 0

        async def limited():
            nonlocal seen
            if declared > self.limit:
                raise HTTPException(413, f"request is {declared:,} bytes; the limit is {self.limit:,}")
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, f"request is over {self.limit:,} bytes; the limit is {self.limit:,}")
            return message

        await self.app(scope, limited, send)


class Accounting:
    """Count and time every HTTP request under the route it matched ('other' for none: bounded labels)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.count(route, status, time.perf_counter() - start)
