"""The `endpoint` teacher: `AsyncInferenceClient.chat_completion` against a Hub model id (Inference
Providers / Endpoints) or any OpenAI-compatible `base_url` (TGI, vLLM, llama.cpp server, Ollama, ...)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import AsyncInferenceClient, constants
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ..http import RETRY_STATUSES
from . import BackendSettings, DecodingParams, Job, Result, output_problem


def is_transient(error: BaseException) -> bool:
    """Worth another try: timeouts, dropped connections, 429 and 5xx."""
    if isinstance(error, HfHubHTTPError):
        return error.response is not None and error.response.status_code in RETRY_STATUSES
    return isinstance(error, (InferenceTimeoutError, httpx2.TransportError, ConnectionError, asyncio.TimeoutError))


class WaitRetryAfter:
    """Wait what the server's `Retry-After` asks (capped), else exponential backoff with jitter."""

    def __init__(self, backoff_seconds: float, cap_seconds: float = 120.0):
        self.fallback = wait_exponential_jitter(multiplier=backoff_seconds, max=cap_seconds, jitter=backoff_seconds)
        self.cap = cap_seconds

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        response = getattr(error, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        if header and header.strip().isdigit():
            return min(float(header), self.cap)
        return self.fallback(state)


def redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def describe(error: BaseException) -> str:
    """A one-line reason for the generations table."""
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}: {str(error).splitlines()[0][:300]}"
    return f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else 'no detail'}"


class EndpointTeacher:
    backend = "endpoint"

    def __init__(self, settings: BackendSettings):
        self.settings = settings
        self.model = settings.model
        self._token = os.environ.get(settings.token_env) if settings.token_env else None
        if settings.base_url and constants.HF_HUB_OFFLINE:
            raise RuntimeError(
                "HF_HUB_OFFLINE is set, and huggingface_hub then refuses every request, even to your own "
                f"server at {urlsplit(settings.base_url).netloc}; unset it for `miniastrolm label`")

    def _client(self) -> AsyncInferenceClient:
        settings = self.settings
        if settings.base_url:
            return AsyncInferenceClient(base_url=settings.base_url, token=self._token,
                                        timeout=settings.timeout_seconds)
        return AsyncInferenceClient(model=settings.model, provider=settings.provider, token=self._token,
                                    timeout=settings.timeout_seconds)

    async def _call(self, client: AsyncInferenceClient, job: Job, params: DecodingParams) -> Result:
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_transient),
                stop=stop_after_attempt(self.settings.max_retries + 1),
                wait=WaitRetryAfter(self.settings.backoff_seconds),
                reraise=True,
            ):
                with attempt:
                    response = await client.chat_completion(
                        job.messages, model=self.model if self.settings.base_url else None,
                        max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
                        seed=job.seed, stop=list(params.stop) or None,
                        extra_body={"repetition_penalty": params.repetition_penalty}
                        if params.repetition_penalty != 1.0 else None)
        except Exception as error:  # every failure becomes a stored, failed generation
            return Result(job, latency_ms=(time.perf_counter() - started) * 1000,
                          error=redact(describe(error), self._token))
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
        limit = asyncio.Semaphore(self.settings.concurrency)
        async with self._client() as client:

            async def bounded(job: Job) -> Result:
                async with limit:
                    return await self._call(client, job, params)

            tasks = [asyncio.ensure_future(bounded(job)) for job in jobs]
            try:
                for finished in asyncio.as_completed(tasks):
                    yield await finished
            finally:
                for task in tasks:
                    task.cancel()
