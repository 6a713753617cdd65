"""Faithful decoding (teacher/faithful.py) on both engines, and reader/editor revision (revision.py) through
`label` on the embedded SmolLM2 (real llama.cpp generation)."""

import re
import sqlite3

import orjson
import pytest

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label
from miniastrolm.revision import feedback
from miniastrolm.teacher import BackendSettings, DecodingParams, Job
from miniastrolm.teacher.faithful import Vocabulary

from conftest import PAPERS, kaggle_line

ABSTRACT = ("We observed the galaxy NGC 4258 with the Very Large Array and measured a black hole mass of 3.5 "
            "million suns.")  # written for this test
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
INVITING = [{"role": "user", "content": "Write one sentence with the year the Hubble Space Telescope was launched, "
                                        "its mirror size in metres and how many galaxies it has observed."}]


def invented(text: str) -> list[str]:
    """Numbers in `text` that the abstract does not have as written."""
    return [number for number in NUMBER.findall(text) if number.rstrip(".,") not in NUMBER.findall(ABSTRACT)]


def test_the_rule_bans_absent_digits_acronyms_and_names_and_follows_numbers_token_by_token():
    pieces = ["0", "1", "2", "3", "4", "5", "8", " the", " The", " Hubble", " NASA", " NGC", " galaxy", "."]
    vocabulary = Vocabulary.from_pieces(pieces)
    banned = {pieces[i] for i in vocabulary.banned(ABSTRACT)}
    assert banned == {"0", "1", " Hubble", " NASA"}  # "The" has a lower-case twin; NGC is in the abstract
    step = {}
    for text in ("mass of ", "mass of 4", "mass of 42", "mass of 4258", "mass of 3", "mass of 3."):
        banned_now, only = vocabulary.step(ABSTRACT, text)
        step[text] = ({pieces[i] for i in banned_now}, only and {pieces[i] for i in only})
    assert step["mass of "][0] == {"0", "1", "2", "5", "8"}  # a number starts as one of the abstract's: 4258, 3.5
    assert step["mass of 4"] == ({"0", "1", "3", "4", "5", "8"}, {"2"})  # "4" alone is no number of it: go on
    assert step["mass of 42"][1] == {"5"}
    assert step["mass of 4258"] == ({"0", "1", "2", "3", "4", "5", "8"}, None)  # complete: nothing may follow
    assert step["mass of 3"][1] == {"."}  # 3 alone is not the abstract's: on to 3.5
    assert step["mass of 3."][1] == {"5"}


def test_feedback_turns_failed_checks_into_instructions():
    assert feedback(["invented_number: 12", "repeated_sentence: 'They looked.' x2", "invented_number: 12",
                     "something_new: x"]) == ["the abstract does not mention 12; remove it",
                                              "this sentence repeats: 'They looked.' x2; say it once"]


def test_llama_cpp_generation_never_writes_a_number_the_abstract_lacks():
    from miniastrolm.models import gguf_file
    from miniastrolm.teacher.llama_batched import LlamaBatchedEngine

    engine = LlamaBatchedEngine(gguf_file("smollm2"), max_sequences=4)
    constraint = engine.faithful_vocabulary.constraint(ABSTRACT)
    prompt = engine.prompt_tokens(INVITING)
    free, *held = engine.generate([prompt] * 3, DecodingParams(max_new_tokens=48, temperature=0.9), [1, 1, 2],
                                  [[], constraint, constraint])
    assert invented(engine.text(free.tokens))  # the prompt does invite numbers (the model writes "2009"...)
    for out in held:
        text = engine.text(out.tokens)
        assert text.strip() and not invented(text) and "Hubble" not in text, text


def test_transformers_generation_never_writes_a_number_the_abstract_lacks(tiny_chat_model):
    import torch

    from miniastrolm.teacher.in_process import TransformersEngine

    engine = TransformersEngine(BackendSettings("in_process", tiny_chat_model))
    digits = [i for i, _ in engine.faithful_vocabulary.digits]
    with torch.no_grad():  # make the random model love digits, so that an unconstrained one writes numbers
        engine.lm.lm_head.weight[digits] *= 60
    jobs = [Job("p", 0, 1, INVITING, 3, faithful_to=to) for to in (None, ABSTRACT, ABSTRACT)]
    free, *held = engine.generate_batch(jobs, DecodingParams(max_new_tokens=40, temperature=1.0))
    assert invented(free.output)
    for result in held:
        assert NUMBER.search(result.output) and not invented(result.output), result.output


@pytest.mark.slow
def test_label_with_faithful_decoding_and_revision_stores_every_round(tmp_path):
    data = tmp_path / "papers.jsonl"
    data.write_bytes(kaggle_line(PAPERS[0]))
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(data), db=db), progress=False)
    config = LabelConfig(db=db, max_new_tokens=40, temperature=0.0, stop=["\n"], revision_max_new_tokens=60,
                         faithful_decoding=True, revision_rounds=1, max_attempts=1, trim_cut_off=True)
    report = label(config, progress=False)
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT id, attempt, round, parent, status, error, output FROM generations "
                                  "ORDER BY id").fetchall()
        recipe = orjson.loads(connection.execute("SELECT recipe FROM batches").fetchone()[0])
    assert recipe["faithful_decoding"] is True and recipe["revision_rounds"] == 1
    assert recipe["revision_prompt"].startswith("revise@")
    # 40 tokens are far below 100 words: the draft goes back with that feedback; its rewrite is the label
    (draft_id, _, _, _, draft_status, error, _), (_, attempt, round_, parent, status, _, output) = rows
    assert draft_status == "failed" and error.startswith("sent back for revision: it is too short")
    assert (attempt, round_, parent) == (2, 1, draft_id) and report.ok + report.failed == 1
    assert status == "ok" or output is None


def test_endpoint_and_import_skip_faithful_decoding_and_the_batch_record_says_so():
    identity = LabelConfig(backend="endpoint", model="m", faithful_decoding=True).identity("explain@x")
    assert identity["faithful_decoding"].startswith("skipped: the endpoint backend")
    assert "faithful_decoding" not in LabelConfig().identity("explain@x")  # off: old batch names hold
