"""The endpoint backend against a real server: llama.cpp's OpenAI-compatible server with the SmolLM2 GGUF
on 127.0.0.1, spoken to through huggingface_hub's AsyncInferenceClient (slow: a real model)."""

import sqlite3

import pytest

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label

from conftest import PAPERS, kaggle_line

pytest.importorskip("llama_cpp.server", reason="needs the local-teacher extra (llama-cpp-python[server])")


@pytest.fixture(scope="module")
def llama_server():
    from miniastrolm.models import smollm2_gguf

    from llama_server import llama_cpp_server

    with llama_cpp_server(smollm2_gguf()) as url:
        yield url


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
