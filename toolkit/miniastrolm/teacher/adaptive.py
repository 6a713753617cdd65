"""Load control for the endpoint teacher: how many calls to keep in flight, and when to stop calling at all.

`AdaptiveLimit` is AIMD, as TCP does it: every success adds 1/limit (one more call in flight per window of
successes), an overload signal (429, 503, a timeout) halves the limit, once per window (calls started before
the last cut do not cut again), always between `minimum` and `maximum`. `Breaker` opens after sustained failure:
`failures` failed calls in a row spanning at least `seconds`, so one burst of 429s at high concurrency does not
stop a batch but an endpoint that is down does.
"""

from __future__ import annotations

import asyncio
import time


class BatchPaused(Exception):
    """The breaker opened: calls stopped, nothing in hand was stored as failed, the batch resumes on a re-run."""

    def __init__(self, failures: int, seconds: float, last_error: str):
        self.failures, self.seconds, self.last_error = failures, seconds, last_error
        super().__init__(f"{failures} calls in a row failed over {seconds:.0f} s (last: {last_error})")


class AdaptiveLimit:
    """Slots for calls in flight; the number of slots follows AIMD between `minimum` and `maximum`."""

    def __init__(self, start: int, minimum: int, maximum: int):
        if not 1 <= minimum <= maximum:
            raise ValueError(f"concurrency bounds must satisfy 1 <= min_concurrency ({minimum}) <= "
                             f"max_concurrency ({maximum})")
        self.minimum, self.maximum = minimum, maximum
        self.limit = float(min(max(start, minimum), maximum))
        self.in_flight = 0
        self.started = 0          # calls started so far: the ticket of each call
        self.cut_after = 0        # calls started up to here saw the last cut and do not cut again
        self.decreases = 0
        self._slots = asyncio.Condition()

    async def acquire(self) -> int:
        """Wait for a free slot; returns the call's ticket for `release`."""
        async with self._slots:
            await self._slots.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
            self.started += 1
            return self.started

    async def release(self, ticket: int, outcome: str) -> None:
        """`outcome`: 'ok' (grow), 'overload' (halve, once per window) or anything else (no change)."""
        async with self._slots:
            self.in_flight -= 1
            if outcome == "ok":
                self.limit = min(self.maximum, self.limit + 1 / self.limit)
            elif outcome == "overload" and ticket > self.cut_after:
                self.limit = max(self.minimum, self.limit / 2)
                self.cut_after = self.started
                self.decreases += 1
            self._slots.notify(max(1, int(self.limit) - self.in_flight))


class Breaker:
    """Counts failed calls in a row; `open` once there are `failures` of them spanning `seconds` (0 = never)."""

    def __init__(self, failures: int, seconds: float):
        self.failures, self.seconds = failures, seconds
        self.in_a_row = 0
        self.first_failed_at = 0.0
        self.last_error = ""
        self.open = False

    def record(self, error: str | None) -> None:
        if error is None:
            self.in_a_row = 0
            return
        now = time.monotonic()
        if self.in_a_row == 0:
            self.first_failed_at = now
        self.in_a_row += 1
        self.last_error = error
        if self.failures and self.in_a_row >= self.failures and now - self.first_failed_at >= self.seconds:
            self.open = True

    def paused(self) -> BatchPaused:
        return BatchPaused(self.in_a_row, time.monotonic() - self.first_failed_at, self.last_error)
