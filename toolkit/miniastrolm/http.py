"""Network helpers: one HTTP session policy for every call (timeout, retries honouring Retry-After), and a
free local port for the servers we start."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)


def session(max_retries: int, backoff_seconds: float = 1.0) -> requests.Session:
    """A `requests.Session` that retries connection errors and 429/5xx with exponential backoff.

    A `Retry-After` header wins over the backoff, as arXiv asks of its clients.
    """
    retry = Retry(
        total=max_retries,
        backoff_factor=backoff_seconds,
        backoff_jitter=backoff_seconds / 4,
        status_forcelist=RETRY_STATUSES,
        respect_retry_after_header=True,
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
    )
    http = requests.Session()
    http.headers["User-Agent"] = "miniastrolm/0.1 (arXiv metadata harvester)"
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for local servers we start)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
