"""Evaluation: every metric against hand-computed values, planted invented numbers, and the full report for a
tiny trained student (the conftest fixture)."""

import json
import sqlite3
from collections import Counter

import pytest

from miniastrolm import evaluation
from miniastrolm.evaluation import EvalConfig, evaluate, factuality, lead3, readability, rouge, teacher_outputs, verdict
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label

from conftest import PAPERS, kaggle_line


def test_rouge_matches_hand_counts():
    score = rouge("the cat sat on the mat", ["the cat lay on the mat"])[0]
    assert score["rouge1"] == pytest.approx(5 / 6)  # 5 of 6 unigrams shared, both ways
    assert score["rouge2"] == pytest.approx(3 / 5)  # "the cat", "on the", "the mat" of 5 bigrams
    assert score["rougeL"] == pytest.approx(5 / 6)  # LCS: the cat on the mat


def test_readability_matches_the_formulas():
    scores = readability("The cat sat on the mat.")  # 6 words, 1 sentence, 6 syllables, 17 letters
    assert scores["fkgl"] == pytest.approx(0.39 * 6 + 11.8 * 1 - 15.59, abs=0.01)
    # textstat uses 0.058 for the letters coefficient (the published index has 0.0588)
    assert scores["coleman_liau"] == pytest.approx(0.058 * (17 / 6 * 100) - 0.296 * (1 / 6 * 100) - 15.8, abs=0.01)


def test_lead3_takes_the_first_three_sentences():
    assert lead3("We find one. Then two things. Three $10^{5}$ K stars! A fourth? No.") == \
        "We find one. Then two things. Three 10^5 K stars!"


def test_factuality_counts_planted_invented_numbers():
    abstract = "Over six months we detected 47 bursts at a redshift of z = 0.19 with CHIME."
    clean = factuality(abstract, "In six months the team saw 47 bursts from a galaxy at redshift 0.19.")
    planted = factuality(abstract, "In eight months the team saw 52 bursts from a galaxy at redshift 0.19.")
    named = factuality(abstract, "The James Webb Space Telescope saw 47 bursts.")
    assert (clean["numbers"], clean["numbers_invented"], clean["any_invented_number"]) == (3, 0, 0.0)
    assert (planted["numbers"], planted["numbers_invented"], planted["any_invented_number"]) == (3, 2, 1.0)
    assert named["any_invented_name"] == 1.0 and clean["any_invented_name"] == 0.0
    assert factuality(abstract, "As an AI language model I cannot help.")["on_task"] == 0.0


def test_verdict_names_the_best_system_and_the_students_value():
    text = verdict("invented_number_rate", {"student": 0.5, "teacher": 0.25, "lead3": 0.0})
    assert text.startswith("explanations with an invented number: best is lead3 (0.000") and "student has 0.500" in text
    assert "inside: teacher" in verdict("fkgl", {"student": 14.0, "teacher": 8.0})


def test_headline_gives_each_system_its_n_and_each_mean_its_interval():
    result = {"systems": {"student": {"n": 40, "rougeL": 0.25, "rougeL_ci": [0.14, 0.38], "fkgl": 11.04,
                                      "fkgl_ci": [10.5, 11.62]},
                          "lead3": {"n": 40, "rougeL": None, "rougeL_ci": None}}}
    header, rows = evaluation.headline(result)
    assert header == ["metric", "student (n=40)", "lead3 (n=40)"]
    assert [row[0] for row in rows] == [evaluation.METRICS[name][0] for name in evaluation.HEADLINE_METRICS]
    assert rows[0] == ["ROUGE-L vs teacher", "0.250 [0.140, 0.380]", "n/a"]
    assert rows[2] == ["Flesch-Kincaid grade", "11.0 [10.5, 11.6]", "n/a"]


def test_report_metrics_and_plots_for_a_tiny_student(tiny_student, tiny_chat_model, tmp_path, monkeypatch):
    model_dir, dataset = tiny_student
    # base: an untrained model (random weights), so it is a different system from the student
    config = EvalConfig(dataset=str(dataset), split="train", db=str(tmp_path / "none.db"),
                        systems="student,teacher,base,lead3", student=str(model_dir), base=tiny_chat_model,
                        max_new_tokens=32, output_dir=str(tmp_path / "eval"))
    result = evaluate(config)
    systems = result["systems"]
    assert result["n"] == 8 and list(systems) == ["student", "teacher", "base", "lead3"]
    assert systems["student"]["rougeL"] == pytest.approx(1.0)  # it learnt the training pairs exactly
    assert systems["base"]["rougeL"] < 0.2 and systems["base"]["truncated_rate"] == 1.0  # noise, to the limit
    assert systems["lead3"]["rougeL"] < 0.5 and "rougeL" not in systems["teacher"]  # the reference itself
    assert systems["student"]["seconds_per_explanation"] > 0 and systems["teacher"]["seconds_per_explanation"] is None
    # the student writes the taught explanations, each of them on task and finished
    assert systems["student"]["on_task_rate"] == 1.0 and systems["student"]["truncated_rate"] == 0.0
    assert systems["student"]["n"] == 8 and systems["student"]["rougeL_ci"] == [pytest.approx(1.0)] * 2
    low, high = systems["lead3"]["rougeL_ci"]
    assert low < systems["lead3"]["rougeL"] < high  # lead-3's overlap varies from paper to paper
    folder = tmp_path / "eval"
    assert json.loads((folder / "metrics.json").read_text())["systems"] == systems
    assert "Too few to conclude" in (folder / "report.md").read_text()  # 8 papers: no comparison table
    monkeypatch.setattr(evaluation, "MIN_PAPERS", 8)
    table = evaluation.report(json.loads((folder / "metrics.json").read_text()), [])
    assert "| ROUGE-L vs teacher | 1.000 [1.000, 1.000] |" in table and "## Factuality and form" in table
    assert "student (n=8)" in table
    for plot in ("metrics.png", "readability.png", "length.png"):
        assert (folder / plot).read_bytes()[:4] == b"\x89PNG"
    assert (folder / "examples.md").read_text().count("**student**") == 8
    generated = (folder / "outputs.jsonl").read_text().splitlines()
    assert len(generated) == 16  # student and base, one line per paper
    evaluate(config)  # the same run again: every explanation is reused, none generated twice
    assert (folder / "outputs.jsonl").read_text().splitlines() == generated
    again = evaluate(EvalConfig(**{**config.__dict__, "output_dir": str(tmp_path / "again"),
                                   "systems": "student,lead3"}))
    for name in ("student", "lead3"):  # seeded / greedy: the same numbers again (timings aside)
        same = {k: v for k, v in again["systems"][name].items() if "seconds" not in k}
        assert same == {k: v for k, v in systems[name].items() if "seconds" not in k}


def test_unknown_system_is_named(tiny_student, tmp_path):
    _, dataset = tiny_student
    with pytest.raises(ValueError, match="unknown system.*gpt5"):
        evaluate(EvalConfig(dataset=str(dataset), split="train", systems="student,gpt5",
                            output_dir=str(tmp_path / "e")))


def test_teacher_cost_is_each_explanations_share_of_its_batched_call(tmp_path, tiny_chat_model):
    """The local teacher records one latency for a whole batched call: each explanation is charged its share,
    so the student (one abstract at a time) is compared on the same basis."""
    data = tmp_path / "papers.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS))
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(data), db=db), progress=False)
    label(LabelConfig(db=db, backend="in_process", model=tiny_chat_model, samples=2, max_new_tokens=8, batch_size=4,
                      max_attempts=1), progress=False)
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT id, batch, latency_ms, completion_tokens FROM generations").fetchall()
    calls = Counter((batch, latency) for _, batch, latency, _ in stored)
    assert sorted(calls.values()) == [2, 4, 4]  # 10 explanations from calls of 4, 4 and 2
    outputs = teacher_outputs([{"reference": "text", "generation_id": row[0]} for row in stored], db)
    for output, (_, batch, latency, tokens) in zip(outputs, stored, strict=True):
        assert output.seconds == pytest.approx(latency / 1000 / calls[(batch, latency)]) and output.tokens == tokens
    # the shares add up to the wall time of the calls, not to 4x it
    assert sum(output.seconds for output in outputs) == pytest.approx(sum(latency for _, latency in calls) / 1000)
