"""Export: best-of-N selection, paper-level splits, the Hub-layout folder read back by `load_dataset`, the card,
and the push at the huggingface_hub boundary (no Hub is reachable here; see README "Testing the push")."""

import hashlib
import json
from pathlib import Path

import pytest
from datasets import load_dataset

from miniastrolm.export import ExportConfig, export, split_of
from miniastrolm.filter import FilterConfig, run_filter
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.selection import best_per_paper, selection_score
from miniastrolm.store import Store

from conftest import COMMIT_URL
from validation_set import GOOD_FRB, GOOD_SATELLITE, GOOD_SPOTS

SAMPLES = Path(__file__).parents[1] / "samples" / "illustrative_abstracts.jsonl"
FRB_VARIANT = GOOD_FRB.replace("nobody is sure what makes them", "their cause is still a puzzle")
# (paper, sample, explanation): two passing samples for one paper, a failing one (invented number), and a
# paper whose only sample fails, so it must not be exported.
GENERATIONS = [
    ("2611.90004", 0, FRB_VARIANT), ("2611.90004", 1, GOOD_FRB), ("2611.90004", 2, GOOD_FRB.replace("47", "52")),
    ("2611.90001", 0, GOOD_SATELLITE), ("2611.90002", 0, GOOD_SPOTS),
    ("2611.90003", 0, "I'm sorry, but I cannot help with that request."),
]


@pytest.fixture(scope="module")
def filtered_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    db = str(folder / "s.db")
    ingest(IngestConfig(path=str(SAMPLES), db=db), progress=False)
    with Store(db) as store:
        batch = store.open_batch(recipe_hash="t", recipe={"backend": "endpoint", "model": "teacher-x",
                                                          "prompt_version": "explain@abc"},
                                 price_input=None, price_output=None)
        for paper, sample, text in GENERATIONS:
            store.add_generation({"paper": paper, "batch": batch, "sample": sample, "attempt": 1, "status": "ok",
                                  "prompt_version": "explain@abc", "backend": "endpoint", "model": "teacher-x",
                                  "params": "{}", "output": text})
    report = run_filter(FilterConfig(db=db, report=str(folder / "report.md")), progress=False)
    return db, report


def test_best_of_n_keeps_the_highest_scoring_passing_sample(filtered_store):
    db, report = filtered_store
    assert report.papers_selected == 3
    with Store(db) as store:
        chosen = {selected.arxiv_id: selected for selected in best_per_paper(store, report.filter)}
        assert sorted(chosen) == ["2611.90001", "2611.90002", "2611.90004"]  # the refusal's paper has none
        frb = chosen["2611.90004"]
        assert frb.candidates == 2  # the invented-number sample is not a candidate
        rows = store.db.execute("SELECT g.id, v.validator, v.score FROM generations g JOIN verdicts v ON "
                                "v.generation = g.id WHERE g.paper = '2611.90004' AND g.sample < 2").fetchall()
    scores = {}
    for generation, validator, score in rows:
        scores.setdefault(generation, {})[validator] = score
    best = max(scores, key=lambda generation: selection_score(scores[generation]))
    assert frb.generation == best and frb.selection_score == round(selection_score(scores[best]), 4)


def test_split_is_stable_deterministic_and_near_the_shares():
    ids = [f"2501.{n:05d}" for n in range(20_000)]
    splits = [split_of(arxiv_id, 0.1, 0.1) for arxiv_id in ids]
    assert splits == [split_of(arxiv_id, 0.1, 0.1) for arxiv_id in ids]  # no state, no randomness
    assert 0.09 < splits.count("test") / len(ids) < 0.11 and 0.09 < splits.count("validation") / len(ids) < 0.11


def test_the_first_papers_the_labeller_picks_spread_over_the_splits():
    """The labeller takes papers in order of the sha256 of their id; labelling the first 500 of 20,000 must still
    put about the test share of them in the test split (an unsalted split hash put all 500 there)."""
    ids = sorted((f"2501.{n:05d}" for n in range(20_000)), key=lambda i: hashlib.sha256(i.encode()).digest())[:500]
    splits = [split_of(arxiv_id, 0.1, 0.14) for arxiv_id in ids]
    assert 0.09 < splits.count("test") / len(ids) < 0.19 and 0.05 < splits.count("validation") / len(ids) < 0.15


def test_export_folder_round_trips_through_load_dataset(filtered_store, tmp_path):
    db, report = filtered_store
    config = ExportConfig(db=db, output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "curated.jsonl"),
                          validation_share=0.34, test_share=0.33)
    result = export(config)
    assert result.filter == report.filter and sum(result.split_rows.values()) == 3
    dataset = load_dataset(str(tmp_path / "ds"))
    assert {split: len(rows) for split, rows in dataset.items()} == result.split_rows
    ids = {split: set(rows["arxiv_id"]) for split, rows in dataset.items()}
    assert sum(map(len, ids.values())) == len(set().union(*ids.values()))  # no paper in two splits
    for split, rows in dataset.items():
        assert all(split_of(arxiv_id, 0.34, 0.33) == split for arxiv_id in rows["arxiv_id"])
    row = next(row for rows in dataset.values() for row in rows if row["arxiv_id"] == "2611.90001")
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].startswith("We report")
    assert row["completion"] == [{"role": "assistant", "content": GOOD_SATELLITE}]
    assert row["teacher_model"] == "teacher-x" and row["prompt_version"] == "explain@abc"
    assert row["categories"][0].startswith("astro-ph") and 0 < row["scores"]["similarity"] <= 1

    again = export(ExportConfig(**{**config.__dict__, "validation_share": 0.0, "test_share": 0.0}))
    assert again.split_rows == {"train": 3}  # re-exported into the same folder: load_dataset sees the new files
    assert {split: len(rows) for split, rows in load_dataset(str(tmp_path / "ds")).items()} == {"train": 3}
    export(config)

    lines = [json.loads(line) for line in (tmp_path / "curated.jsonl").read_text().splitlines()]
    assert sorted(line["arxiv_id"] for line in lines) == ["2611.90001", "2611.90002", "2611.90004"]

    card = (tmp_path / "ds" / "README.md").read_text()
    assert card.startswith("---\n") and "size_categories:" in card and "configs:" not in card  # layout found by itself
    assert "teacher-x" in card and report.filter in card and "min_words=100" in card
    assert f"4 of {len(GENERATIONS)} generations pass every validator" in card  # the real filter report
    for split, rows in dataset.items():  # the card's split table gives each split's real size
        assert f"| {split} | {len(rows)} |" in card
    assert "| refusal | 1 |" in card and "### 2611.9000" in card  # a sample record


def test_re_export_with_more_papers_moves_no_existing_paper(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(SAMPLES), db=db), progress=False)

    def label_filter_export(generations, name):
        with Store(db) as store:
            batch = store.open_batch(recipe_hash="t", recipe={"backend": "endpoint", "model": "teacher-x",
                                                              "prompt_version": "explain@abc"},
                                     price_input=None, price_output=None)
            for paper, sample, text in generations:
                store.add_generation({"paper": paper, "batch": batch, "sample": sample, "attempt": 1,
                                      "status": "ok", "prompt_version": "explain@abc", "backend": "endpoint",
                                      "model": "teacher-x", "params": "{}", "output": text})
        run_filter(FilterConfig(db=db, report=str(tmp_path / f"{name}.md")), progress=False)
        done = export(ExportConfig(db=db, output_dir=str(tmp_path / name), jsonl=str(tmp_path / f"{name}.jsonl"),
                                   validation_share=0.34, test_share=0.33))
        return {line["arxiv_id"]: line["split"] for line in map(json.loads, open(done.jsonl))}

    before = label_filter_export(GENERATIONS[3:5], "first")  # two papers labelled
    after = label_filter_export(GENERATIONS[:3], "second")  # then the FRB paper's three samples join them
    assert before and set(before) < set(after) <= {"2611.90001", "2611.90002", "2611.90004"}  # papers were added
    assert {arxiv_id: after[arxiv_id] for arxiv_id in before} == before  # no existing paper moved


def test_export_without_a_filter_run_says_what_to_do(tmp_path):
    ingest(IngestConfig(path=str(SAMPLES), db=str(tmp_path / "s.db")), progress=False)
    with pytest.raises(ValueError, match="run `miniastrolm filter` first"):
        export(ExportConfig(db=str(tmp_path / "s.db"), output_dir=str(tmp_path / "ds")))


def test_push_calls_the_hub_api_with_the_folder_branch_and_token_from_the_environment(filtered_store, tmp_path,
                                                                                      monkeypatch, hub_calls):
    """No Hub is reachable here, so this checks the calls at the huggingface_hub boundary (HfApi)."""
    calls = hub_calls
    monkeypatch.setenv("MY_TOKEN", "hf_secret_value")
    db, _ = filtered_store
    result = export(ExportConfig(db=db, output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"),
                                 push_to_hub="me/astro-explanations", private=True, revision="v1",
                                 token_env="MY_TOKEN"))
    assert result.pushed == COMMIT_URL
    assert calls[0] == ("init", "hf_secret_value")
    assert calls[1] == ("create_repo", "me/astro-explanations", {"repo_type": "dataset", "private": True,
                                                                 "exist_ok": True, "space_sdk": None})
    assert calls[2] == ("create_branch", "me/astro-explanations", {"branch": "v1", "repo_type": "dataset",
                                                                   "exist_ok": True})
    upload = calls[3][1]
    assert upload["folder_path"] == tmp_path / "ds" and upload["revision"] == "v1"
    assert upload["repo_type"] == "dataset" and upload["repo_id"] == "me/astro-explanations"
    # exactly these calls: a dataset export updates an existing revision without checking for it first
    assert [call[0] for call in calls] == ["init", "create_repo", "create_branch", "upload_folder"]
    assert "hf_secret_value" not in (tmp_path / "ds" / "README.md").read_text()
    assert "me/astro-explanations" in (tmp_path / "ds" / "README.md").read_text()  # the card's load snippet


def test_failed_push_keeps_the_local_export_and_hides_the_token(filtered_store, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    db, _ = filtered_store
    with pytest.raises(RuntimeError, match="exported to .*but the push to me/ds failed") as raised:
        export(ExportConfig(db=db, output_dir=str(tmp_path / "ds"), jsonl=str(tmp_path / "c.jsonl"),
                            push_to_hub="me/ds"))
    assert "hf_secret_value" not in str(raised.value)
    assert load_dataset(str(tmp_path / "ds"))["train"].num_rows >= 1
