"""A FAULT-INJECTING chat-completion server for tests (not a model): it answers OpenAI-style
`POST /v1/chat/completions` with a fixed, well-formed explanation, except where a fault plan says to answer
503, 429 + Retry-After, nothing for a while (timeout), malformed JSON, or a TCP reset (`FaultPlan`), or 429s and
503s at random rates (`RandomFaults`, for load). Real servers cannot be made to produce these faults on demand;
the real-server path is tested with llama.cpp (slow tests)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import orjson

from conftest import RESET

EXPLANATION = ("Astronomers looked closely at a small galaxy and found a thin stream of cold gas falling "
               "onto it. The gas is mostly hydrogen, the simplest element, and it may feed the birth of new "
               "stars. This helps explain how small galaxies keep making stars for billions of years.")


def completion(text: str = EXPLANATION, finish: str = "stop") -> bytes:
    return orjson.dumps({
        "id": "chatcmpl-fixture", "object": "chat.completion", "created": 0, "model": "fixture",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150},
        "system_fingerprint": "fixture"})


class FaultPlan:
    """`faults[title_word]` is a list of faults served, in order, to requests whose prompt holds that word."""

    def __init__(self, faults: dict[str, list[str]], timeout_sleep: float = 3.0):
        self.faults = {key: list(value) for key, value in faults.items()}
        self.timeout_sleep = timeout_sleep
        self.lock = threading.Lock()
        self.served: list[tuple[str, str]] = []  # (title word or '', fault or 'ok')

    def __call__(self, path, query, body=b""):
        prompt = orjson.loads(body)["messages"][-1]["content"]
        with self.lock:
            key = next((word for word in self.faults if word in prompt), "")
            fault = self.faults[key].pop(0) if key and self.faults[key] else "ok"
            self.served.append((key, fault))
        if fault == "503":
            return 503, {"Content-Type": "application/json"}, b'{"error": "overloaded"}'
        if fault == "429":
            return 429, {"Retry-After": "1", "Content-Type": "application/json"}, b'{"error": "slow down"}'
        if fault == "timeout":
            time.sleep(self.timeout_sleep)
        if fault == "malformed":
            return 200, {"Content-Type": "application/json"}, b'{"choices": [{"message": '
        if fault == "reset":
            return RESET
        if fault == "cutoff":
            return 200, {"Content-Type": "application/json"}, completion("Astronomers looked at a", "length")
        if fault == "empty":
            return 200, {"Content-Type": "application/json"}, completion("   ")
        return 200, {"Content-Type": "application/json"}, completion()


class RandomFaults:
    """Answers 429 (with `Retry-After`) or 503 at random (seeded) rates, else a completion after `delay` seconds.
    Keeps, per prompt, the completions it sent (`answered`: a prompt answered twice is a call made twice) and how
    many retries after a 429 came before its Retry-After had passed (`early`)."""

    def __init__(self, rate_429: float = 0.0, rate_503: float = 0.0, retry_after: str = "1", delay: float = 0.0,
                 seed: int = 0):
        self.rate_429, self.rate_503, self.retry_after, self.delay = rate_429, rate_503, retry_after, delay
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.answered: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.told_to_wait: dict[str, float] = {}  # prompt -> when its 429's Retry-After ends
        self.early = 0

    def __call__(self, path, query, body=b""):
        prompt = orjson.loads(body)["messages"][-1]["content"]
        now = time.monotonic()
        with self.lock:
            self.early += now < self.told_to_wait.pop(prompt, 0.0)
            draw = self.random.random()
            fault = "429" if draw < self.rate_429 else "503" if draw < self.rate_429 + self.rate_503 else None
            if fault:
                self.faults[fault] += 1
            if fault == "429":
                self.told_to_wait[prompt] = now + float(self.retry_after)
        if fault == "429":
            return 429, {"Retry-After": self.retry_after, "Content-Type": "application/json"}, b'{"error": "slow down"}'
        if fault == "503":
            return 503, {"Content-Type": "application/json"}, b'{"error": "overloaded"}'
        time.sleep(self.delay)
        with self.lock:
            self.answered[prompt] += 1
        return 200, {"Content-Type": "application/json"}, completion()
