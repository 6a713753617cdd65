"""A FAULT-INJECTING chat-completion server for tests (not a model): it answers OpenAI-style
`POST /v1/chat/completions` with a fixed, well-formed explanation, except where a fault plan says to answer
503, 429 + Retry-After, nothing for a while (timeout), malformed JSON, or a TCP reset. Real servers cannot be
made to produce these faults on demand; the real-server path is tested with llama.cpp (slow tests)."""

from __future__ import annotations

import threading
import time

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
