"""Inference: the wrapper, the CLI and the HTTP API on the tiny trained student (conftest), bad inputs included,
and the arXiv-id path against a local HTTP server serving an Atom feed written for the tests."""

import json
import subprocess
import sys
import threading
import time

import pytest
import requests

from miniastrolm.explain import ExplainPipeline, GenerationTimeout, InputError, check_abstract
from miniastrolm.selection import selection_score
from miniastrolm.validate.registry import NAMES, Thresholds

from conftest import PAPERS, atom_feed, serving
from student_data import PAIRS

ABSTRACT, TAUGHT = PAIRS[0]


@pytest.fixture(scope="module")
def explainer(tiny_student):
    model_dir, _ = tiny_student
    return ExplainPipeline(str(model_dir), seed=3)


def test_explanation_comes_with_verdicts_and_metadata(explainer):
    result = explainer.explain(ABSTRACT)
    assert result.explanation == TAUGHT and result.candidates == 1
    assert [v["validator"] for v in result.verdicts] == list(NAMES)
    assert not result.passed and any(p.startswith("too_short") for p in result.problems)  # stated, not hidden
    assert result.latency_seconds > 0 and result.new_tokens > 0 and result.params["max_new_tokens"] == 64


def test_best_of_n_samples_candidates_and_picks_by_the_documented_rank(explainer, monkeypatch):
    result = explainer.explain(ABSTRACT, best_of=4)
    assert result.candidates == 4 and result.params["do_sample"] is True
    again = explainer.explain(ABSTRACT, best_of=4)
    assert again.explanation == result.explanation  # seeded
    # The rank on candidates whose verdicts are known (short texts, so the word-count bounds are relaxed):
    # passing every check first, then fewer failed checks, then the selection score (similarity - copying).
    monkeypatch.setattr(explainer, "filter_config", Thresholds(min_words=5, min_grade=0.0, max_grade=20.0,
                                                               max_dale_chall=20.0))
    good = TAUGHT
    number = "A dwarf galaxy is being fed by a stream of cold gas that is 300 light years long."
    hubble = "The Hubble telescope saw a dwarf galaxy being fed by a stream of cold gas."
    copied = ABSTRACT
    refusal = "As an AI, I think a dwarf galaxy is being fed by a stream of cold gas 300 light years long."

    def failed(text):
        return sum(not verdict.passed for verdict in explainer.verdicts(ABSTRACT, text))

    def score(text):
        return selection_score({v.validator: v.score for v in explainer.verdicts(ABSTRACT, text)})

    assert [failed(t) for t in (good, number, hubble, copied, refusal)] == [0, 1, 1, 1, 2]  # what the rank sees
    assert score(number) > score(hubble) > score(copied) and score(refusal) > score(copied)

    def choose(*texts):
        return explainer.choose(ABSTRACT, list(texts), {}, 0.0, None)

    best = choose(refusal, copied, number, good)
    assert best.explanation == good and best.passed and best.candidates == 4
    tie = choose(refusal, copied, hubble, number)  # one failed check each, but for the refusal
    assert tie.explanation == number and not tie.passed and tie.problems == ["invented_number: 300 lightyear"]
    assert choose(refusal, copied).explanation == copied  # fewer failed checks beat a higher selection score


@pytest.fixture(scope="module")
def long_run(tiny_chat_model):
    """An untrained model that runs on toward max_new_tokens; what a whole generation gives and takes here,
    by `explain` (the pipeline) and by `stream` (generate with a streamer: faster here, so timed on its own)."""
    long = ExplainPipeline(tiny_chat_model, max_new_tokens=1200, check=False)
    long.explain(ABSTRACT, timeout_seconds=None)  # warm-up, both paths
    "".join(long.stream(ABSTRACT))
    start = time.perf_counter()
    full = long.explain(ABSTRACT)
    explain_seconds = time.perf_counter() - start
    start = time.perf_counter()
    streamed = "".join(long.stream(ABSTRACT))
    stream_seconds = time.perf_counter() - start
    return long, full, explain_seconds, len(long.tokenizer(streamed)["input_ids"]), stream_seconds


def test_a_generation_stops_at_its_deadline(explainer, long_run):
    long, full, explain_seconds, streamed_tokens, stream_seconds = long_run
    assert full.new_tokens >= 900 and streamed_tokens >= 900  # without a deadline: on toward max_new_tokens (1200)
    start = time.perf_counter()
    with pytest.raises(GenerationTimeout, match="longer than"):
        long.explain(ABSTRACT, timeout_seconds=explain_seconds / 5)
    assert time.perf_counter() - start < explain_seconds / 2  # it stopped at the deadline, not at the end
    streamed = "".join(long.stream(ABSTRACT, timeout_seconds=stream_seconds / 5))
    assert 0 < len(long.tokenizer(streamed)["input_ids"]) < streamed_tokens / 2
    assert explainer.explain(ABSTRACT, timeout_seconds=60).explanation == TAUGHT  # a deadline it meets


def test_stream_yields_the_greedy_explanation(explainer):
    assert "".join(explainer.stream(ABSTRACT)).strip() == TAUGHT
    assert len("".join(explainer.stream(ABSTRACT, timeout_seconds=1e-6))) < len(TAUGHT)  # stopped at the deadline


@pytest.mark.parametrize("bad, message", [
    ("", "empty"), ("   \n ", "empty"), (12345, "must be text"), ("stars " * 8_333 + "ok", "50,000 characters"),
    ("Les sursauts radio rapides sont de brefs éclairs venus de très loin dans le ciel.", "English"),
])
def test_bad_abstracts_get_a_clear_reason(bad, message):
    with pytest.raises(InputError, match=message):
        check_abstract(bad)


def test_arxiv_id_from_the_store_then_the_api(explainer, local_server, tmp_path):
    paper = PAPERS[1]
    server = local_server(lambda path, query: (200, {"Content-Type": "application/atom+xml"},
                                               atom_feed([paper] if query.get("id_list") == paper["id"] else [],
                                                         total=1, start=0)))
    explainer.api_url = server.url
    result = explainer.explain_arxiv_id(paper["id"] + "v2")
    # the API's abstract was explained: the same greedy text as explaining that abstract directly
    assert result.arxiv_id == paper["id"] and result.explanation == explainer.explain(paper["abstract"]).explanation
    with pytest.raises(InputError, match="arXiv has no paper 2401.09999"):
        explainer.explain_arxiv_id("2401.09999")
    with pytest.raises(InputError, match="not an arXiv id"):
        explainer.explain_arxiv_id("hello/world")
    assert [path for path, _ in server.requests] == ["/", "/"]  # the malformed id never reached the API


def test_cli_explains_text_and_a_file_keeping_bad_lines_as_errors(tiny_student, tmp_path):
    model_dir, _ = tiny_student
    cli = [sys.executable, "-m", "miniastrolm.cli", "explain", "--model", str(model_dir)]
    one = subprocess.run([*cli, ABSTRACT, "--json"], capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["explanation"] == TAUGHT
    empty = subprocess.run([*cli, " "], capture_output=True, text=True, timeout=300)
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"abstract": PAIRS[1][0]}) + "\n{not json\n" + json.dumps({"abstract": ""}) + "\n")
    many = subprocess.run([*cli, "--input", str(source), "--output", str(tmp_path / "out.jsonl")],
                          capture_output=True, text=True, timeout=300)
    assert many.returncode == 0, many.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["explanation"] == PAIRS[1][1]
    assert f"1 explained ({int(rows[0]['passed'])} pass every check), 2 failed" in " ".join(many.stderr.split())
    assert rows[1]["error"].startswith(f"{source}:2:") and "empty" in rows[2]["error"]


@pytest.fixture(scope="module")
def api(explainer):
    with serving(explainer, max_request_bytes=20_000) as url:
        yield url


def test_api_explains_with_verdicts(api):
    reply = requests.post(api + "/explain", json={"abstract": ABSTRACT}, timeout=60)
    assert reply.status_code == 200, reply.text
    assert reply.json()["explanation"] == TAUGHT
    assert {v["validator"] for v in reply.json()["verdicts"]} >= {"faithfulness", "similarity"}
    assert requests.get(api + "/health", timeout=5).json()["status"] == "ok"
    page = requests.get(api + "/", timeout=5)
    assert page.status_code == 200 and "<textarea" in page.text


@pytest.mark.parametrize("body, status, reason", [
    ({"abstract": ""}, 422, "empty"), ({"abstract": 42}, 422, "valid string"), ({"text": "x"}, 422, "send"),
    ({"abstract": ABSTRACT, "best_of": 99}, 422, "best_of"), ({"arxiv_id": "nonsense"}, 422, "not an arXiv id"),
    ({"abstract": "word " * 10_000}, 413, "limit"),
])
def test_api_bad_input_is_a_4xx_with_a_reason(api, body, status, reason):
    reply = requests.post(api + "/explain", json=body, timeout=60)
    assert reply.status_code == status and reason in reply.json()["detail"]
    assert "Traceback" not in reply.text


def test_api_rejects_non_json_and_keeps_serving(api):
    reply = requests.post(api + "/explain", data=b"\xff\xfe not json", timeout=10)
    assert reply.status_code == 400 and "JSON" in reply.json()["detail"]
    assert requests.get(api + "/health", timeout=5).status_code == 200


def test_api_streams_text_then_the_checks(api):
    with requests.post(api + "/explain/stream", json={"abstract": ABSTRACT}, stream=True, timeout=60) as reply:
        assert reply.status_code == 200
        messages = [json.loads(line) for line in reply.iter_lines() if line]
    assert "".join(m.get("text", "") for m in messages).strip() == TAUGHT
    assert messages[-1]["done"] and not messages[-1]["timed_out"] and len(messages[-1]["verdicts"]) == len(NAMES)


def test_health_answers_during_a_long_generation_and_generations_stop_at_the_deadline(long_run):
    long, _, _, streamed_tokens, _ = long_run
    with serving(long, timeout_seconds=120) as url:  # a whole generation (~1,200 tokens), /health asked mid-way
        replies = []
        worker = threading.Thread(target=lambda: replies.append(
            requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=120)))
        worker.start()
        time.sleep(0.3)
        asked = time.perf_counter()
        health = requests.get(url + "/health", timeout=5)
        answered = time.perf_counter() - asked
        generating = worker.is_alive()  # /health answered while the generation was still running
        worker.join()
    assert health.status_code == 200 and generating and answered < 1.0 and replies[0].status_code == 200
    with serving(long, timeout_seconds=0.3) as url:
        start = time.perf_counter()
        late = requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=120)
        took = time.perf_counter() - start
        streamed = requests.post(url + "/explain/stream", json={"abstract": ABSTRACT}, timeout=120)
    assert late.status_code == 504 and took < 5
    messages = [json.loads(line) for line in streamed.text.splitlines()]
    text = "".join(m.get("text", "") for m in messages)  # the stream stopped at the deadline, far from the end
    assert messages[-1]["timed_out"] is True and len(long.tokenizer(text)["input_ids"]) < streamed_tokens / 2


def test_ctranslate2_engine_matches_the_reference_on_the_student(tiny_student):
    model_dir, _ = tiny_student
    fast = ExplainPipeline(str(model_dir), engine="ctranslate2")
    for abstract, taught in PAIRS[:3]:
        assert fast.explain(abstract).explanation == taught  # greedy, int8: same text as the fp32 pipeline
    assert "".join(fast.stream(ABSTRACT)).strip() == TAUGHT
    assert len("".join(fast.stream(ABSTRACT, timeout_seconds=1e-6))) < len(TAUGHT)
    with pytest.raises(GenerationTimeout):
        fast.explain(ABSTRACT, best_of=4, timeout_seconds=0.001)
    assert (model_dir / "ctranslate2-int8" / "model.bin").is_file()  # converted once, beside the model
    with pytest.raises(ValueError, match="choose transformers"):
        ExplainPipeline(str(model_dir), engine="onnx")


def test_ctranslate2_generation_stops_at_its_deadline(tiny_chat_model):
    """The CTranslate2 engine's deadline ends the decoding itself: an untrained model that runs on toward
    max_new_tokens yields far fewer tokens when given a fifth of the time a whole run takes."""
    long = ExplainPipeline(tiny_chat_model, engine="ctranslate2", max_new_tokens=1200, check=False)
    "".join(long.stream(ABSTRACT))  # warm-up (and the int8 conversion, once)
    start = time.perf_counter()
    whole = len(long.tokenizer("".join(long.stream(ABSTRACT)))["input_ids"])
    seconds = time.perf_counter() - start
    assert whole >= 900  # without a deadline: on toward max_new_tokens (1200)
    start = time.perf_counter()
    cut = len(long.tokenizer("".join(long.stream(ABSTRACT, timeout_seconds=seconds / 5)))["input_ids"])
    assert time.perf_counter() - start < seconds / 2 and 0 < cut < whole / 2  # stopped at the deadline
