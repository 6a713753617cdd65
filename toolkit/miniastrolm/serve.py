"""Serve the student: a JSON API, an OpenAI-compatible chat endpoint and a web page, on one FastAPI app.

POST /explain              {"abstract": ...} or {"arxiv_id": ...}, optional "best_of" -> explanation + verdicts
POST /explain/stream       the same (greedy) -> NDJSON: {"text": piece}... then {"done": true, "timed_out", verdicts}
POST /v1/chat/completions  OpenAI chat completions (stream: true as server-sent events), verdicts in "checks"
GET  /health, /metrics     liveness; Prometheus text (queue depth, requests by status, latency, tokens)
GET  /, /docs              the web page; the OpenAPI page with the request and response models

Requests go through one bounded queue to one generation worker that batches the greedy requests waiting
(serving/batcher.py). A full queue is a 503 with Retry-After at once; each request has its own deadline
(`timeout_seconds`, queueing included: 504 there, and its generation stops); a stream whose client goes away
stops its own generation. Bad input is a 4xx with the reason; no stack trace ever reaches the client.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from jinja2 import Template

from .explain import INTRO, ExplainPipeline, Explanation, GenerationTimeout, InputError, check_abstract
from .serving.batcher import Batcher, Generated, Job
from .serving.chat import (
    FINISH,
    ChatCompletion,
    ChatError,
    ChatRequest,
    checks,
    chunk,
    completion,
    completion_id,
    usage,
)
from .serving.errors import Upstream, install_error_handlers
from .serving.metrics import Metrics
from .serving.middleware import Accounting, BodyLimit
from .serving.schemas import ExplainRequest, Problem

GRACE_SECONDS = 0.5  # past its deadline a request is answered 504 even if the worker has not yet noticed
ERRORS = {status: {"model": Problem} for status in (404, 413, 422, 502, 503, 504)}
CHAT_ERRORS = {status: {"model": ChatError} for status in (413, 422, 503, 504)}


def create_app(explainer: ExplainPipeline, *, max_request_bytes: int = 64_000, timeout_seconds: float = 120.0,
               max_queue: int = 32, max_batch: int = 8) -> FastAPI:
    batcher = Batcher(explainer, max_queue=max_queue, max_batch=max_batch)
    metrics = Metrics(lambda: batcher.depth)
    batcher.on_done = metrics.generated

    @asynccontextmanager
    async def lifespan(_):
        batcher.start()
        yield
        await run_in_threadpool(batcher.close)

    app = FastAPI(title="MiniAstroLM", lifespan=lifespan,
                  description="Plain-language explanations of astro-ph abstracts, each checked by the validators.")
    app.add_middleware(BodyLimit, limit=max_request_bytes)
    app.add_middleware(Accounting, metrics=metrics)
    page = Template(files("miniastrolm").joinpath("templates/explain.html").read_text("utf-8")).render(intro=INTRO)

    install_error_handlers(app)

    def source(body: ExplainRequest) -> tuple[str, str | None]:
        """The checked abstract to explain and its arXiv id (None for pasted text); may call the arXiv API."""
        if body.arxiv_id is None:
            return check_abstract(body.abstract, explainer.max_chars), None
        try:
            paper = explainer.paper(body.arxiv_id)
        except RuntimeError as error:
            raise Upstream(str(error)) from None
        return check_abstract(paper.abstract, explainer.max_chars), paper.arxiv_id

    async def submit(abstract: str, deadline: float, *, best_of: int = 1, max_new_tokens: int | None = None,
                     streaming: bool = False) -> Job:
        prompt = await run_in_threadpool(explainer.prompt, abstract)
        return batcher.submit(abstract, prompt, best_of=best_of, deadline=deadline, max_new_tokens=max_new_tokens,
                              streaming=streaming)

    async def events(job: Job) -> AsyncIterator[tuple[str, object]]:
        """The job's text pieces, then ("done", Generated); past the deadline (and grace) it is cancelled and
        ends as a timeout. Leaving early (a client gone) cancels it too, so its generation stops."""
        text = ""
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(
                        job.events.get(), max(job.deadline - time.monotonic(), 0) + GRACE_SECONDS)
                except asyncio.TimeoutError:  # still queued, or its batch still running: answer at the deadline
                    job.cancel()
                    verdicts = await run_in_threadpool(explainer.judge_texts, [(job.abstract, text.strip())]) \
                        if job.streaming else [[]]  # a stream ends with the checks of the text it showed
                    shown = len(explainer.tokenizer(text, add_special_tokens=False)["input_ids"])
                    yield "done", Generated([text.strip()], "timeout", shown, len(job.prompt), 0.0, 0, verdicts)
                    return
                if kind == "error":
                    raise value
                if kind == "text":
                    text += value
                yield kind, value
                if kind == "done":
                    return
        finally:
            job.cancel()

    async def finished(job: Job) -> Generated:
        async for kind, value in events(job):
            if kind == "done":
                if value.finish == "timeout":
                    raise GenerationTimeout(f"generation took longer than {timeout_seconds:g} s")
                return value
        raise AssertionError("events always end with done")

    def judged(abstract: str, done: Generated, best_of: int, arxiv_id: str | None = None) -> Explanation:
        """The answer from the worker's candidates and their verdicts (checked there, a batch at a time)."""
        return explainer.choose(abstract, done.texts, explainer.params(best_of), done.seconds, arxiv_id,
                                done.verdicts)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model": explainer.model, "queue_depth": batcher.depth}

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.post("/explain", response_model=Explanation, responses=ERRORS)
    async def explain(body: ExplainRequest):
        deadline = time.monotonic() + timeout_seconds
        abstract, arxiv_id = await run_in_threadpool(source, body)
        best_of = body.best_of or explainer.best_of
        done = await finished(await submit(abstract, deadline, best_of=best_of))
        return judged(abstract, done, best_of, arxiv_id)

    @app.post("/explain/stream", responses=ERRORS | {200: {"content": {"application/x-ndjson": {}}}})
    async def explain_stream(body: ExplainRequest):
        if (body.best_of or 1) > 1:
            raise InputError("a stream is one greedy explanation; use POST /explain for best_of")
        deadline = time.monotonic() + timeout_seconds
        abstract, _ = await run_in_threadpool(source, body)
        job = await submit(abstract, deadline, streaming=True)

        async def lines():
            async for kind, value in events(job):
                if kind == "text":
                    yield json.dumps({"text": value}) + "\n"
                else:
                    result = judged(abstract, value, 1)
                    yield json.dumps({"done": True, "passed": result.passed, "timed_out": value.finish == "timeout",
                                      "verdicts": result.verdicts}) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses=CHAT_ERRORS)
    async def chat_completions(body: ChatRequest):
        deadline = time.monotonic() + timeout_seconds
        abstract = await run_in_threadpool(check_abstract, body.abstract(), explainer.max_chars)
        model = body.model or explainer.model
        job = await submit(abstract, deadline, max_new_tokens=body.token_limit(), streaming=body.stream)
        if not body.stream:
            done = await finished(job)
            return completion(model, judged(abstract, done, 1), done)
        chat_id = completion_id()

        async def sse():
            yield _event(chunk(chat_id, model, {"role": "assistant", "content": ""}))
            async for kind, value in events(job):
                if kind == "text":
                    yield _event(chunk(chat_id, model, {"content": value}))
                else:
                    result = judged(abstract, value, 1)
                    yield _event(chunk(chat_id, model, {}, FINISH[value.finish], usage=usage(value).model_dump(),
                                       checks=checks(result, value).model_dump()))
            yield "data: [DONE]\n\n"

        return StreamingResponse(sse(), media_type="text/event-stream")

    return app


def _event(data: dict) -> str:
    return f"data: {json.dumps(data)}\n\n"
