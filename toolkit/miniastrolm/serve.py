"""Serve the student: a JSON API and a web page for a person, on one FastAPI app (uvicorn).

POST /explain          {"abstract": ...} or {"arxiv_id": ...}, optional "best_of" -> the explanation + verdicts
POST /explain/stream   {"abstract": ...} -> NDJSON: {"text": piece}... then {"done": true, "timed_out": ..., verdicts}
GET  /health           answers while a generation runs (generation happens in a worker thread)
GET  /                 the web page

Bad input gets a 4xx with the reason; a request larger than `max_request_bytes` gets 413; a generation
longer than `timeout_seconds` gets 504 and stops at that deadline (a stream stops there too, with
"timed_out": true). No stack trace ever reaches the client.
"""

from __future__ import annotations

import asyncio
import json
import time
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from jinja2 import Template

from .explain import INTRO, ExplainPipeline, GenerationTimeout, InputError, UnknownPaper, verdict_dicts

MAX_BEST_OF = 8


def create_app(explainer: ExplainPipeline, *, max_request_bytes: int = 64_000, timeout_seconds: float = 120.0):
    app = FastAPI(title="MiniAstroLM", description="Plain-language explanations of astro-ph abstracts.")
    page = Template(files("miniastrolm").joinpath("templates/explain.html").read_text("utf-8")).render(intro=INTRO)

    def problem(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    def failure(error: Exception) -> JSONResponse:
        """Unknown paper 404, other bad input 422, past the deadline 504, arXiv unreachable 502."""
        status = (404 if isinstance(error, UnknownPaper) else 422 if isinstance(error, InputError)
                  else 504 if isinstance(error, GenerationTimeout) else 502)
        return problem(status, str(error))

    async def read_request(request: Request) -> dict:
        body = await request.body()
        if len(body) > max_request_bytes:
            raise _Rejected(413, f"request is {len(body):,} bytes; the limit is {max_request_bytes:,}")
        try:
            payload = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _Rejected(400, "the body must be JSON, e.g. {\"abstract\": \"...\"}") from None
        if not isinstance(payload, dict) or not ({"abstract", "arxiv_id"} & set(payload)):
            raise _Rejected(422, "send {\"abstract\": \"...\"} or {\"arxiv_id\": \"2401.01234\"}")
        return payload

    @app.exception_handler(_Rejected)
    async def rejected(_, error: _Rejected):
        return problem(error.status, error.detail)

    @app.exception_handler(Exception)
    async def unexpected(_, error: Exception):  # never a stack trace to the client
        return problem(500, f"internal error ({type(error).__name__}); see the server log")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": explainer.model}

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.post("/explain")
    async def explain(request: Request):
        payload = await read_request(request)
        best_of = payload.get("best_of", 1)
        if not isinstance(best_of, int) or not 1 <= best_of <= MAX_BEST_OF:
            return problem(422, f"best_of must be an integer from 1 to {MAX_BEST_OF}")
        try:
            if payload.get("arxiv_id") is not None:
                work = run_in_threadpool(explainer.explain_arxiv_id, payload["arxiv_id"], best_of,
                                         timeout_seconds=timeout_seconds)
            else:
                work = run_in_threadpool(explainer.explain, payload["abstract"], best_of,
                                         timeout_seconds=timeout_seconds)
            result = await asyncio.wait_for(work, timeout_seconds)  # the generation itself stops at its deadline
        except asyncio.TimeoutError:  # the same deadline, seen from the waiting side
            return failure(GenerationTimeout(f"generation took longer than {timeout_seconds:g} s"))
        except (InputError, RuntimeError) as error:
            return failure(error)
        return result.to_dict()

    @app.post("/explain/stream")
    async def explain_stream(request: Request):
        payload = await read_request(request)
        abstract = payload.get("abstract")
        try:
            if payload.get("arxiv_id") is not None:
                abstract = (await run_in_threadpool(explainer.paper, payload["arxiv_id"])).abstract
            started = time.monotonic()
            pieces = explainer.stream(abstract, timeout_seconds=timeout_seconds)
            first = await run_in_threadpool(next, pieces, "")  # validates the input before the 200 goes out
        except (InputError, RuntimeError) as error:
            return failure(error)

        async def lines():
            text = first
            yield json.dumps({"text": first}) + "\n"
            while (piece := await run_in_threadpool(next, pieces, None)) is not None:
                text += piece
                yield json.dumps({"text": piece}) + "\n"
            timed_out = time.monotonic() - started > timeout_seconds
            verdicts = await run_in_threadpool(explainer.verdicts, abstract, text.strip())
            yield json.dumps({"done": True, "passed": all(v.passed for v in verdicts), "timed_out": timed_out,
                              "verdicts": verdict_dicts(verdicts)}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    return app


class _Rejected(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail
