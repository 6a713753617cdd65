"""`miniastrolm label --backend import` on a provider's batch output (OpenAI Batch API shape) and on plain
explanation lines: the format is told by the file, failed requests are reported by file:line and left out, and
the model and usage each response names are stored with its generation. The files are written here."""

import os
import subprocess
import sys

import orjson
import pytest

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.store import Store
from miniastrolm.teacher.imported import read_explanations

from conftest import PAPERS, kaggle_line

MODEL = "gpt-4o-mini-2024-07-18"


def batch_line(custom_id: str, content: str | None = None, *, status: int = 200, error: dict | None = None,
               finish_reason: str = "stop", body_error: str | None = None) -> dict:
    """One line of an OpenAI batch output file."""
    body = ({"error": {"message": body_error}} if body_error else
            {"id": f"chatcmpl-{custom_id}", "object": "chat.completion", "model": MODEL,
             "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                          "finish_reason": finish_reason}],
             "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}})
    return {"id": f"batch_req_{custom_id}", "custom_id": custom_id,
            "response": None if error else {"status_code": status, "request_id": "req_1", "body": body},
            "error": error}


def write_lines(path, records, extra: bytes = b"") -> str:
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records) + extra)
    return str(path)


def test_batch_output_is_imported_with_model_and_usage_and_failed_lines_reported(tmp_path):
    data = tmp_path / "papers.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS))
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(data), db=db), progress=False)
    first, second, third, fifth = (PAPERS[i]["id"] for i in (0, 1, 2, 4))
    source = write_lines(tmp_path / "batch_output.jsonl", [
        batch_line(first, "Astronomers watched cold gas fall into a small galaxy."),
        batch_line(f"{first}#1", "A small galaxy is being fed by a thin stream of cold gas."),
        batch_line(second, error={"code": "batch_expired", "message": "not run before the window closed"}),
        batch_line(third, status=429, body_error="Rate limit reached"),
        batch_line("request-7", "Some text."),
        batch_line(fifth, "Flares are sudden", finish_reason="length"),
    ], extra=b"{not json\n")
    done = subprocess.run([sys.executable, "-m", "miniastrolm.cli", "label", "--backend", "import", "--model",
                           "provider-batch", "--input", source, "--db", db, "--samples", "2",
                           "--skip_labelled_elsewhere", "false"], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "500"})  # long tmp paths on one line
    assert done.returncode == 0, done.stderr
    said = " ".join((done.stdout + done.stderr).split())
    assert "2 ok, 2 failed" in said
    for line, why in ((3, "the request failed (batch_expired: not run before the window closed)"),
                      (4, "status 429: Rate limit reached"),
                      (5, "custom_id 'request-7' is not '<arxiv_id>' or '<arxiv_id>#<sample>'"), (7, "")):
        assert f"{source}:{line}: {why}" in said
    with Store(db) as store:
        batch = store.batch_records()[-1]
        rows = store.batch_outputs(batch[0])
        ledger = {row[0]: tuple(row[1:5]) for row in store.token_ledger()}  # model: calls, ok, prompt, completion
    assert batch[1:3] == ("import", "provider-batch")  # the batch keeps the name given; rows keep the body's model
    assert ledger == {MODEL: (3, 2, 360, 90), "provider-batch": (1, 0, 0, 0)}  # a row the file lacks: the name given
    assert [(row["arxiv_id"], row["sample"], row["status"], row["prompt_tokens"], row["completion_tokens"])
            for row in rows] == [(first, 0, "ok", 120, 30), (first, 1, "ok", 120, 30),
                                 (fifth, 0, "failed", 120, 30), (fifth, 1, "failed", None, None)]
    assert rows[2]["error"].startswith("cut off") and rows[2]["finish_reason"] == "length"
    assert rows[3]["error"] == f"no explanation for {fifth} sample 1 in {source}"


def test_the_format_is_told_by_the_first_record_and_samples_are_kept_apart(tmp_path):
    plain = write_lines(tmp_path / "written.jsonl", [
        {"arxiv_id": "2401.00001", "explanation": "First."},
        {"arxiv_id": "2401.00001", "explanation": "Second.", "sample": 1},
        {"arxiv_id": "2401.00001", "explanation": "Again.", "sample": 1},
        {"arxiv_id": "2401.00002", "explanation": "Third.", "sample": -1},
        batch_line("2401.00003", "A batch line in a plain file."),
    ])
    found, problems = read_explanations(plain)
    assert {paper: {sample: item.text for sample, item in samples.items()} for paper, samples in found.items()} \
        == {"2401.00001": {0: "First.", 1: "Second."}}
    assert problems == [f"{plain}:3: 2401.00001 sample 1 appears twice",
                        f"{plain}:4: 'sample' must be a whole number >= 0, not -1",
                        f"{plain}:5: a line must be an object with a string 'arxiv_id'"]
    batch = write_lines(tmp_path / "out.jsonl", [batch_line("astro-ph/0601001#2", "An old-style id.")])
    found, problems = read_explanations(batch)
    item = found["astro-ph/0601001"][2]
    assert (item.text, item.model, item.prompt_tokens, item.completion_tokens, problems) == (
        "An old-style id.", MODEL, 120, 30, [])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_explanations(str(tmp_path / "missing.jsonl"))
