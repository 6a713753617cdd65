"""The in_process backend on a real (tiny) transformers model, and crash safety under SIGKILL."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label

from conftest import PAPERS, kaggle_line


def stored(db):
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT id, paper, sample, attempt, status FROM generations ORDER BY id").fetchall()


def make_store(tmp_path):
    data = tmp_path / "papers.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS))
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(data), db=db), progress=False)
    return db


def test_in_process_backend_batches_and_records_every_call(tmp_path, tiny_chat_model):
    db = make_store(tmp_path)
    report = label(LabelConfig(db=db, backend="in_process", model=tiny_chat_model, samples=2, max_new_tokens=8,
                               batch_size=4, max_attempts=1), progress=False)
    rows = stored(db)
    assert report.planned == len(rows) == 10
    with sqlite3.connect(db) as connection:
        calls = connection.execute("SELECT latency_ms, count(*) FROM generations GROUP BY batch, latency_ms").fetchall()
    # one generate call per batch: its results share the call's latency; 10 jobs in batches of 4 -> 4, 4, 2
    assert sorted(count for _, count in calls) == [2, 4, 4]
    with sqlite3.connect(db) as connection:
        details = connection.execute(
            "SELECT backend, model, prompt_tokens, completion_tokens, finish_reason, latency_ms, error, prompt_version "
            "FROM generations").fetchall()
    for backend, model, prompt_tokens, completion_tokens, finish, latency, error, version in details:
        assert (backend, model) == ("local", tiny_chat_model)  # its name in the store, as before the rename
        assert prompt_tokens > 100 and 0 < completion_tokens <= 8 and latency > 0 and version.startswith("explain@")
        # a random model runs to max_new_tokens: stored as a failure with its reason, never as a label
        assert finish != "length" or error.startswith("cut off")


def test_sigkill_mid_run_loses_and_duplicates_nothing(tmp_path, tiny_chat_model):
    db = make_store(tmp_path)
    command = [sys.executable, "-m", "miniastrolm.cli", "label", "--db", db, "--backend", "in_process",
               "--model", tiny_chat_model, "--samples", "8", "--max_new_tokens", "48", "--batch_size", "1",
               "--max_attempts", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(stored(db) if os.path.exists(db) else []) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = stored(db)
    assert 3 <= len(before) < 40, "the run must be killed mid-way"

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = stored(db)
    assert set(before) <= set(after)  # 0 lost
    samples = [(paper, sample) for _, paper, sample, _, _ in after]
    assert len(samples) == len(set(samples)) == 40  # 0 duplicated, every sample done once (max_attempts=1)
