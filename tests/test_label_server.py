"""The endpoint backend against a real server: llama.cpp's OpenAI-compatible server with the SmolLM2 GGUF
on 127.0.0.1, spoken to through huggingface_hub's AsyncInferenceClient (slow: a real model)."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import PAPERS, kaggle_line
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label

pytest.importorskip("llama_cpp.server", reason="needs the local-teacher extra (llama-cpp-python[server])")


@pytest.fixture(scope="module")
def llama_server():
    from miniastrolm.teacher.local import smollm2_gguf

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--n_threads_batch", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("llama.cpp server did not start in 120 s")
        yield url
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_endpoint_backend_labels_through_a_real_llama_cpp_server(tmp_path, llama_server):
    data = tmp_path / "papers.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS[:3]))
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(data), db=db), progress=False)
    config = LabelConfig(db=db, backend="endpoint", model="smollm2", base_url=llama_server + "/v1",
                         max_new_tokens=320, concurrency=2, timeout_seconds=300)
    report = label(config, progress=False)
    assert report.ok + report.failed == 3
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT status, output, finish_reason, prompt_tokens, completion_tokens, latency_ms, "
                                  "error FROM generations").fetchall()
    assert len(rows) == 3
    for status, _output, finish, prompt_tokens, completion_tokens, latency, error in rows:
        assert prompt_tokens > 150 and completion_tokens > 0 and latency > 0 and finish in ("stop", "length")
        assert (status == "ok") == (error is None)
    assert any(status == "ok" and len(output.split()) > 30 for status, output, *_ in rows)
