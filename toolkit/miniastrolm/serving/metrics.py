"""/metrics in the Prometheus text format (prometheus_client): what an operator watches under load.

Each app has its own registry, so several servers in one process (the tests) do not collide. Requests are
counted and timed by an ASGI wrapper around the whole app, streams until their last byte; generation figures
come from the worker (`generated`), so a request whose client went away is still counted.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .batcher import Generated

SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    def __init__(self, queue_depth: Callable[[], int]):
        self.registry = CollectorRegistry()
        Gauge("miniastrolm_queue_depth", "requests waiting for the generation worker",
              registry=self.registry).set_function(queue_depth)
        self.requests = Counter("miniastrolm_requests", "HTTP requests by route and status", ["route", "status"],
                                registry=self.registry)
        self.latency = Histogram("miniastrolm_request_seconds", "time to the last byte of the response, by route",
                                 ["route"], buckets=SECONDS, registry=self.registry)
        self.tokens = Counter("miniastrolm_generated_tokens", "new tokens generated", registry=self.registry)
        self.finished = Counter("miniastrolm_generations", "generations by how they ended (stop, length, "
                                "timeout, cancelled)", ["finish"], registry=self.registry)
        self.batch = Histogram("miniastrolm_batch_size", "requests in the batch each generation ran in",
                               buckets=(1, 2, 4, 8, 16, 32), registry=self.registry)

    def generated(self, done: Generated) -> None:
        self.tokens.inc(done.new_tokens)
        self.finished.labels(done.finish).inc()
        if done.batch_size:
            self.batch.observe(done.batch_size)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def count(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
