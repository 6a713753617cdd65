"""Inference: the wrapper, the CLI and the HTTP API on the tiny trained student (conftest), bad inputs included,
and the arXiv-id path against a local HTTP server serving an Atom feed written for the tests."""

import json
import subprocess
import sys
import threading

import pytest
import requests

from miniastrolm.explain import ExplainPipeline, GenerationTimeout, InputError, check_abstract

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
    assert [v["validator"] for v in result.verdicts] == ["format", "on_task", "copying", "readability",
                                                         "faithfulness", "similarity"]
    assert not result.passed and any(p.startswith("too_short") for p in result.problems)  # stated, not hidden
    assert result.latency_seconds > 0 and result.new_tokens > 0 and result.params["max_new_tokens"] == 64


def test_best_of_n_samples_candidates_and_picks_by_the_documented_rank(explainer):
    result = explainer.explain(ABSTRACT, best_of=4)
    assert result.candidates == 4 and result.params["do_sample"] is True
    again = explainer.explain(ABSTRACT, best_of=4)
    assert again.explanation == result.explanation  # seeded


def test_a_generation_stops_at_its_deadline(explainer):
    with pytest.raises(GenerationTimeout, match="longer than 0.001 s"):
        explainer.explain(ABSTRACT, best_of=8, timeout_seconds=0.001)
    assert explainer.explain(ABSTRACT, timeout_seconds=60).explanation == TAUGHT


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
    assert result.arxiv_id == paper["id"] and result.explanation
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
    ({"abstract": ""}, 422, "empty"), ({"abstract": 42}, 422, "must be text"), ({"text": "x"}, 422, "send"),
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
    assert messages[-1]["done"] and not messages[-1]["timed_out"] and len(messages[-1]["verdicts"]) == 6


def test_health_answers_while_generations_run_and_slow_ones_time_out(explainer):
    with serving(explainer, timeout_seconds=0.001) as url:
        results = []
        workers = [threading.Thread(target=lambda: results.append(
            requests.post(url + "/explain", json={"abstract": ABSTRACT, "best_of": 8}, timeout=60).status_code))
            for _ in range(3)]
        for worker in workers:
            worker.start()
        health = requests.get(url + "/health", timeout=5)
        for worker in workers:
            worker.join()
        streamed = requests.post(url + "/explain/stream", json={"abstract": ABSTRACT}, timeout=60)
    assert health.status_code == 200 and results == [504, 504, 504]
    done = json.loads(streamed.text.splitlines()[-1])
    assert streamed.status_code == 200 and done["timed_out"] is True


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
