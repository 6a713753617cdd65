"""The `endpoint` teacher: `AsyncInferenceClient.chat_completion` against a Hub model id (Inference
Providers / Endpoints) or any OpenAI-compatible `base_url` (TGI, vLLM, llama.cpp server, Ollama, ...)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import AsyncInferenceClient, constants
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError

from ..http import RETRY_STATUSES
from . import BackendSettings, DecodingParams, Job, Result, output_problem
from .adaptive import AdaptiveLimit, Breaker


def is_transient(error: BaseException) -> bool:
    """Worth another try: timeouts, dropped connections, 429 and 5xx."""
    if isinstance(error, HfHubHTTPError):
        return error.response is not None and error.response.status_code in RETRY_STATUSES
    return isinstance(error, (InferenceTimeoutError, httpx2.TransportError, ConnectionError, asyncio.TimeoutError))


def is_overload(error: BaseException) -> bool:
    """The server says it has too much to do (429, 503) or did not answer in time: fewer calls in flight."""
    if isinstance(error, HfHubHTTPError):
        return error.response is not None and error.response.status_code in (429, 503)
    return isinstance(error, (InferenceTimeoutError, httpx2.TimeoutException, asyncio.TimeoutError))


def retry_wait(error: BaseException, retry: int, backoff_seconds: float, cap_seconds: float = 120.0) -> float:
    """What the server's `Retry-After` asks (seconds, capped), else exponential backoff with jitter."""
    response = getattr(error, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return min(max(float(header), 0.0), cap_seconds)
    except (TypeError, ValueError):  # absent, or an HTTP date: back off as usual
        return min(backoff_seconds * 2 ** (retry - 1), cap_seconds) + random.uniform(0, backoff_seconds)


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def describe(error: BaseException) -> str:
    """A one-line reason for the generations table."""
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}: {str(error).splitlines()[0][:300]}"
    return f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else 'no detail'}"


class EndpointTeacher:
    """Calls kept in flight by an AIMD limit (adaptive.py) that persists across `results` calls, each retried on
    transient errors outside its slot; a breaker stops the batch (BatchPaused) when the endpoint keeps failing."""

    backend = "endpoint"

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.model = settings.model
        self._token = os.environ.get(settings.token_env) if settings.token_env else None
        if settings.base_url and constants.HF_HUB_OFFLINE:
            raise RuntimeError(
                "HF_HUB_OFFLINE is set, and huggingface_hub then refuses every request, even to your own "
                f"server at {urlsplit(settings.base_url).netloc}; unset it for `miniastrolm label`")
        self.limit: AdaptiveLimit | None = None  # made inside the event loop, on first use
        self.client: AsyncInferenceClient | None = None
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_seconds)

    def _client(self) -> AsyncInferenceClient:
        """One client for the whole run (`aclose` ends it): its connections and TLS context are reused across
        the chunks a worker claims."""
        settings = self.settings
        if self.client is None:
            self.client = (
                AsyncInferenceClient(base_url=settings.base_url, token=self._token,
                                     timeout=settings.timeout_seconds) if settings.base_url else
                AsyncInferenceClient(model=settings.model, provider=settings.provider, token=self._token,
                                     timeout=settings.timeout_seconds))
        return self.client

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    def _limit(self) -> AdaptiveLimit:
        settings = self.settings
        if self.limit is None:
            self.limit = AdaptiveLimit(settings.concurrency, settings.min_concurrency,
                                       settings.max_concurrency or max(settings.concurrency, settings.min_concurrency))
        return self.limit

    async def _call(self, client: AsyncInferenceClient, job: Job, params: DecodingParams) -> Result | None:
        """One job to its Result; None when the breaker opened before it got an answer (the job stays undone)."""
        started = time.perf_counter()
        limit = self._limit()
        for retry in range(self.settings.max_retries + 1):
            if self.breaker.open:
                return None
            ticket = await limit.acquire()
            try:
                response = await client.chat_completion(
                    job.messages, model=self.model if self.settings.base_url else None,
                    max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
                    seed=job.seed, stop=list(params.stop) or None,
                    extra_body={"repetition_penalty": params.repetition_penalty}
                    if params.repetition_penalty != 1.0 else None)
            except Exception as error:  # every failure becomes a stored, failed generation
                await limit.release(ticket, "overload" if is_overload(error) else "error")
                reason = redact(describe(error), self._token)
                self.breaker.record(reason)
                if not is_transient(error) or retry == self.settings.max_retries:
                    return None if self.breaker.open else Result(
                        job, latency_ms=(time.perf_counter() - started) * 1000, error=reason)
                await asyncio.sleep(retry_wait(error, retry + 1, self.settings.backoff_seconds))
                continue
            await limit.release(ticket, "ok")
            self.breaker.record(None)
            break
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            choice = response.choices[0]
            text, finish = choice.message.content, choice.finish_reason
            usage = response.usage
        except (AttributeError, IndexError, TypeError) as error:
            return Result(job, latency_ms=latency_ms, error=f"malformed response: {error}")
        return Result(job, output=text, finish_reason=finish, latency_ms=latency_ms,
                      prompt_tokens=getattr(usage, "prompt_tokens", None),
                      completion_tokens=getattr(usage, "completion_tokens", None),
                      error=output_problem(text, finish))

    async def results(self, jobs: list[Job], params: DecodingParams) -> AsyncIterator[Result]:
        """Yield each job's Result as it finishes; raise BatchPaused (after yielding what was answered) if the
        breaker opened."""
        queue, finished = deque(jobs), asyncio.Queue()
        client = self._client()

        async def caller() -> None:  # twice the most slots: a caller waiting out a retry holds none
            while queue and not self.breaker.open:
                result = await self._call(client, queue.popleft(), params)
                if result is not None:
                    finished.put_nowait(result)
            finished.put_nowait(None)

        callers = [asyncio.ensure_future(caller()) for _ in range(min(2 * self._limit().maximum, len(jobs)))]
        try:
            running = len(callers)
            while running:
                result = await finished.get()
                if result is None:
                    running -= 1
                else:
                    yield result
        finally:
            for task in callers:
                task.cancel()
        if self.breaker.open:
            raise self.breaker.paused()
