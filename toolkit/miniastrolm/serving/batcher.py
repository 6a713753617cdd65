"""One generation worker fed by a bounded queue: requests wait in the queue, and whatever greedy requests are
waiting when the worker is free are generated together in one batch (dynamic batching at request boundaries),
then checked together by the validators (their sentence encoder is far cheaper per text in a batch).

Every request keeps its own deadline, token limit and cancel flag; the engine asks about each row after
every step, so a request past its deadline, or whose client went away, stops there while the rest of its
batch goes on. A full queue is refused at once (`QueueFull`, with a retry estimate) instead of making every
waiting request slower. `best_of > 1` requests are sampled with the pipeline's fixed seed, so they run on their
own (a batch would change their random draws): the same request still gives the same answer.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..explain import ExplainPipeline
from ..validate import Verdict


class QueueFull(Exception):
    """The queue holds its limit of waiting requests; `retry_after` is a guess in whole seconds."""

    def __init__(self, waiting: int, retry_after: int):
        super().__init__(f"the server is busy ({waiting} requests waiting); retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Generated:
    """What the worker made for one request, and how it ended: stop (end of text), length (token limit),
    timeout (its deadline) or cancelled (its client went away); `verdicts` holds one list per text (empty where
    nobody will read them)."""

    texts: list[str]
    finish: str
    new_tokens: int
    prompt_tokens: int
    seconds: float
    batch_size: int
    verdicts: list[list[Verdict]]


@dataclass(eq=False)
class Job:
    """One request in the queue; the worker reports to it through `events` on the request's event loop:
    ("text", piece) while streaming, then ("done", Generated) or ("error", exception)."""

    abstract: str
    prompt: list[int]
    best_of: int
    deadline: float  # time.monotonic()
    max_new_tokens: int | None
    streaming: bool
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self.cancelled.set()

    def stop_reason(self, new_tokens: int) -> str | None:
        if self.cancelled.is_set():
            return "cancelled"
        if time.monotonic() > self.deadline:
            return "timeout"
        if self.max_new_tokens and new_tokens >= self.max_new_tokens:
            return "length"
        return None

    def emit(self, kind: str, value) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))
        except RuntimeError:  # the server's loop has closed (shutdown): nobody is waiting any more
            pass


class Batcher:
    """The queue and its worker thread; `on_done` sees every finished Generated (the metrics)."""

    def __init__(self, explainer: ExplainPipeline, *, max_queue: int = 32, max_batch: int = 8,
                 on_done: Callable[[Generated], None] = lambda _: None):
        self.explainer, self.max_queue, self.max_batch, self.on_done = explainer, max_queue, max_batch, on_done
        self._waiting: deque[Job] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._running: list[Job] = []  # the batch in hand
        self._batch_seconds = 1.0  # the last batch's duration: the basis of Retry-After
        self._thread = threading.Thread(target=self._work, name="generation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop: the batch in hand and the requests still waiting are cancelled, so the worker is idle at once
        (a thread left inside torch when the interpreter exits can abort the process)."""
        with self._changed:
            self._closed = True
            for job in [*self._running, *self._waiting]:
                job.cancel()
            self._changed.notify()
        self._thread.join(timeout=30)

    @property
    def depth(self) -> int:
        return len(self._waiting)

    def submit(self, abstract: str, prompt: list[int], *, best_of: int, deadline: float,
               max_new_tokens: int | None = None, streaming: bool = False) -> Job:
        """Queue a checked abstract; raises QueueFull at once when `max_queue` requests already wait."""
        job = Job(abstract, prompt, best_of, deadline, max_new_tokens, streaming, asyncio.get_running_loop())
        with self._changed:
            if len(self._waiting) >= self.max_queue:
                batches_ahead = math.ceil(len(self._waiting) / self.max_batch) + 1
                raise QueueFull(len(self._waiting), max(1, math.ceil(self._batch_seconds * batches_ahead)))
            self._waiting.append(job)
            self._changed.notify()
        return job

    def _take(self) -> list[Job]:
        """The oldest request, and with a greedy one every other waiting greedy request up to `max_batch`."""
        with self._changed:
            while not self._waiting and not self._closed:
                self._changed.wait()
            if self._closed:
                return []
            batch = [self._waiting.popleft()]
            if batch[0].best_of == 1:
                for job in [job for job in self._waiting if job.best_of == 1][:self.max_batch - 1]:
                    self._waiting.remove(job)
                    batch.append(job)
            self._running = batch
            return batch

    def _work(self) -> None:
        while jobs := self._take():
            live = []
            for job in jobs:  # a request that expired or was dropped while it waited is not generated
                reason = job.stop_reason(0)
                if reason in ("timeout", "cancelled"):
                    self._finish(job, Generated([""], reason, 0, len(job.prompt), 0.0, 0, [[]]))
                else:
                    live.append(job)
            if not live:
                continue
            start = time.perf_counter()
            try:
                if live[0].best_of > 1:
                    self._sample(live[0])
                else:
                    self._greedy(live)
            except Exception as error:  # the worker outlives any one batch; its requests get the error
                for job in live:
                    job.emit("error", error)
            self._batch_seconds = time.perf_counter() - start

    def _finish(self, job: Job, result: Generated) -> None:
        self.on_done(result)
        job.emit("done", result)

    def _sample(self, job: Job) -> None:
        texts, seconds = self.explainer.generate(job.abstract, job.best_of, job.deadline)
        tokens = sum(len(self.explainer.tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)
        finish = job.stop_reason(0) or "stop"
        verdicts = self.explainer.judge_texts([(job.abstract, text) for text in texts])
        self._finish(job, Generated(texts, finish, tokens, len(job.prompt), seconds, 1, verdicts))

    def _greedy(self, jobs: list[Job]) -> None:
        tokenizer = self.explainer.tokenizer
        ids: list[list[int]] = [[] for _ in jobs]
        shown = [""] * len(jobs)

        def on_token(row: int, token: int) -> None:
            ids[row].append(token)
            if jobs[row].streaming:  # the text so far, less what was sent; a split character waits a token
                text = tokenizer.decode(ids[row], skip_special_tokens=True).lstrip()
                if not text.endswith("\ufffd") and len(text) > len(shown[row]):
                    jobs[row].emit("text", text[len(shown[row]):])
                    shown[row] = text

        reasons: list[str | None] = [None] * len(jobs)  # why each row was stopped, when it was

        def stopped(row: int) -> bool:
            reasons[row] = reasons[row] or jobs[row].stop_reason(len(ids[row]))
            return reasons[row] is not None

        start = time.perf_counter()
        ended = self.explainer.generate_rows([job.prompt for job in jobs], stopped, on_token)
        seconds = time.perf_counter() - start
        texts = [tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]
        for row, job in enumerate(jobs):  # the rest of each stream before the checks
            if job.streaming and len(texts[row]) > len(shown[row]):
                job.emit("text", texts[row][len(shown[row]):])
        # Checked together: the validators' encoder embeds the whole batch at once. Skipped: rows nobody will read
        # (a client gone; a timed-out plain request, which gets a 504; a timed-out stream still shows its checks).
        wanted = [row for row, reason in enumerate(reasons)
                  if reason != "cancelled" and not (reason == "timeout" and not jobs[row].streaming)]
        judged = self.explainer.judge_texts([(jobs[row].abstract, texts[row]) for row in wanted])
        verdicts = dict(zip(wanted, judged, strict=True))
        for row, job in enumerate(jobs):
            finish = "stop" if ended[row] else reasons[row] or "length"
            self._finish(job, Generated([texts[row]], finish, len(ids[row]), len(job.prompt), seconds, len(jobs),
                                        [verdicts.get(row, [])]))
