"""The quickstart end to end, as a user runs it: `miniastrolm run` in a subprocess, offline, then every artefact
is opened with the library a user would use (sqlite3, datasets, transformers). Slow: ~7 minutes."""

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_quickstart_builds_every_artefact_and_reuses_them(tmp_path):
    from datasets import load_dataset
    from transformers import pipeline

    work = tmp_path / "qs"
    command = ["miniastrolm", "run", "--config", "recipes/quickstart.yaml", "--workdir", str(work)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "160"}
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]

    with sqlite3.connect(work / "miniastrolm.db") as db:
        assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 12
        assert db.execute("SELECT count(*) FROM generations WHERE status = 'ok'").fetchone()[0] >= 12
        assert db.execute("SELECT count(DISTINCT generation) FROM verdicts").fetchone()[0] >= 12
    dataset = load_dataset(str(work / "dataset"))
    uploaded = json.loads((work / "dataset" / "provenance.json").read_text())["recipes"]  # beside the data
    assert set(uploaded) == {"provenance/ingest/kaggle.yaml", "provenance/label/quickstart.yaml",
                             "provenance/label/quickstart-reference.yaml", "provenance/filter/default.yaml",
                             "provenance/export/quickstart.yaml", "provenance/qs/pipeline.yaml"}
    assert all((work / "dataset" / name).is_file() for name in uploaded)
    assert dataset["train"].num_rows >= 1 and dataset["train"][0]["completion"][0]["role"] == "assistant"
    explain = pipeline("text-generation", model=str(work / "student"))
    reply = explain([{"role": "user", "content": dataset["train"][0]["prompt"][0]["content"]}], max_new_tokens=20)
    assert reply[0]["generated_text"][-1]["role"] == "assistant"
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert set(metrics["systems"]) == {"student", "teacher", "base", "lead3"}
    assert 0 < metrics["systems"]["student"]["similarity"] <= 1
    assert "Too few to conclude" in (work / "eval" / "report.md").read_text()  # one test paper
    assert "Too few to conclude" in (work / "student" / "README.md").read_text()  # the card says so too
    out = first.stdout
    assert "teacher vs student" in out and "PASS" in out and "Artefacts" in out and "Next" in out

    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1200)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "0 new explanations" in again.stdout and "reused from an earlier run" in again.stdout
    assert "reused: already trained on this dataset" in again.stdout
