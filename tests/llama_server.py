"""Serve a GGUF teacher with llama.cpp's OpenAI-compatible server on 127.0.0.1 (llama-cpp-python[server]):
the endpoint backend's real server in tests and benchmarks (benchmarks/bench_label.py imports it from here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from miniastrolm.http import free_port


@contextmanager
def llama_cpp_server(model_path: str | Path, threads: int = 2, n_ctx: int = 4096,
                     start_timeout: float = 120.0) -> Iterator[str]:
    """Yield the server's base URL (http://127.0.0.1:PORT); the server stops when the block ends.

    llama.cpp's server defaults to `--n_threads 1`: generation and prompt threads are both set.
    The server process does not inherit HF_HUB_OFFLINE, which has no meaning for it.
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1)
                break
            except OSError as error:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"llama.cpp server for {model_path} did not start") from error
                time.sleep(0.5)
        yield url
    finally:
        server.kill()
        server.wait()
