"""Serving under load, on real uvicorn servers on 127.0.0.1: the batching queue (full -> 503 at once, deadlines,
a client that goes away), the request models, the OpenAI-compatible endpoint driven by the real
`huggingface_hub.InferenceClient` and `openai` SDK, and /metrics. The tiny trained student (conftest) gives
known texts; an untrained tiny model that runs on for thousands of tokens gives generations long enough to
interrupt."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from huggingface_hub import InferenceClient
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from miniastrolm.explain import ExplainPipeline
from miniastrolm.validate.registry import NAMES

from conftest import serving
from student_data import PAIRS

ABSTRACT, TAUGHT = PAIRS[0]


@pytest.fixture(scope="module")
def explainer(tiny_student):
    return ExplainPipeline(str(tiny_student[0]))


@pytest.fixture(scope="module")
def api(explainer):
    with serving(explainer, max_request_bytes=20_000) as url:
        yield url


@pytest.fixture(scope="module")
def endless(tiny_chat_model):
    """Noise until max_new_tokens: a generation that is still running when the test interrupts it."""
    return ExplainPipeline(tiny_chat_model, max_new_tokens=4000, check=False)


def metric(url: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(requests.get(url + "/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def wait_for(condition, seconds: float = 20.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("engine", ["transformers", "ctranslate2"])
def test_rows_of_a_batch_match_one_at_a_time_and_stop_on_their_own(tiny_student, engine):
    student = ExplainPipeline(str(tiny_student[0]), engine=engine)
    prompts = [student.prompt(abstract) for abstract, _ in PAIRS]  # different lengths: left padding is exercised
    ids = [[] for _ in prompts]
    ended = student.generate_rows(prompts, lambda row: row == 1 and len(ids[1]) >= 3,
                                  lambda row, token: ids[row].append(token))
    texts = [student.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]
    assert [t for i, t in enumerate(texts) if i != 1] == [taught for i, (_, taught) in enumerate(PAIRS) if i != 1]
    assert len(ids[1]) == 3 and not ended[1] and all(ended[:1] + ended[2:])  # row 1 alone stopped early


def test_concurrent_requests_are_batched_and_each_gets_its_own_explanation(explainer):
    with serving(explainer) as url, ThreadPoolExecutor(len(PAIRS)) as pool:
        replies = list(pool.map(lambda pair: requests.post(url + "/explain", json={"abstract": pair[0]}, timeout=120),
                                PAIRS))
        assert [r.json()["explanation"] for r in replies] == [taught for _, taught in PAIRS]
        assert all(len(r.json()["verdicts"]) == len(NAMES) for r in replies)
        # more than one request per batch on average: they were generated together
        assert metric(url, "miniastrolm_batch_size_sum") > metric(url, "miniastrolm_batch_size_count")


@pytest.mark.parametrize("body, reason", [
    ({"abstract": ABSTRACT, "arxiv_id": "2401.00001"}, "not both"),
    ({"abstract": ABSTRACT, "temperature": 99}, "unknown field 'temperature'"),
    ({"text": "x"}, "send"), ({"abstract": 42}, "abstract: Input should be a valid string"),
    ([ABSTRACT], "JSON object"), ({"abstract": ABSTRACT, "best_of": 0}, "best_of"),
])
def test_request_model_refuses_with_the_reason(api, body, reason):
    reply = requests.post(api + "/explain", json=body, timeout=30)
    assert reply.status_code == 422 and reason in reply.json()["detail"], reply.text


def test_openapi_shows_the_request_and_response_models(api):
    spec = requests.get(api + "/openapi.json", timeout=10).json()
    assert {"ExplainRequest", "Explanation", "ChatRequest", "ChatCompletion", "Problem"} <= set(spec["components"]
                                                                                                    ["schemas"])
    assert spec["components"]["schemas"]["ExplainRequest"]["additionalProperties"] is False
    assert requests.get(api + "/docs", timeout=10).status_code == 200


def test_huggingface_inference_client_talks_to_the_server_unchanged(api):
    client = InferenceClient(base_url=api + "/v1")
    reply = client.chat_completion([{"role": "user", "content": ABSTRACT}])
    assert reply.choices[0].message.content == TAUGHT and reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens > 0 and reply.usage.total_tokens == (reply.usage.prompt_tokens
                                                                              + reply.usage.completion_tokens)
    assert len(reply.checks["verdicts"]) == len(NAMES)  # the extra field survives the client's parsing
    chunks = list(client.chat_completion([{"role": "user", "content": ABSTRACT}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TAUGHT
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage.completion_tokens > 0
    assert len(chunks[-1].checks["verdicts"]) == len(NAMES)


def test_openai_sdk_talks_to_the_server_unchanged(api):
    client = OpenAI(base_url=api + "/v1", api_key="unused")
    chat = [{"role": "system", "content": "Explain simply."}, {"role": "user", "content": ABSTRACT}]
    reply = client.chat.completions.create(model="miniastrolm", messages=chat)
    assert reply.choices[0].message.content == TAUGHT and reply.model == "miniastrolm"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert {v["validator"] for v in reply.model_extra["checks"]["verdicts"]} == set(NAMES)
    stream = client.chat.completions.create(model="miniastrolm", messages=chat, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == TAUGHT
    assert chunks[-1].usage.completion_tokens > 0 and "checks" in chunks[-1].model_extra
    cut = client.chat.completions.create(model="miniastrolm", messages=chat, max_tokens=3)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 3
    with pytest.raises(Exception, match="unknown field 'temperature'"):  # refused with the reason, not ignored
        client.chat.completions.create(model="miniastrolm", messages=chat, temperature=0.2)


def test_metrics_are_prometheus_text(api):
    requests.post(api + "/explain", json={"abstract": ABSTRACT}, timeout=60)
    requests.post(api + "/explain", json={"abstract": ""}, timeout=60)
    assert metric(api, "miniastrolm_requests_total", route="/explain", status="200") >= 1
    assert metric(api, "miniastrolm_requests_total", route="/explain", status="422") >= 1
    assert metric(api, "miniastrolm_request_seconds_count", route="/explain") >= 2
    assert metric(api, "miniastrolm_generated_tokens_total") > 0
    assert metric(api, "miniastrolm_queue_depth") == 0


def test_a_full_queue_is_refused_at_once_and_a_client_that_leaves_stops_its_generation(endless):
    with serving(endless, max_queue=1, max_batch=1, timeout_seconds=300) as url:
        running = requests.post(url + "/explain/stream", json={"abstract": ABSTRACT}, stream=True, timeout=60)
        pieces = running.iter_lines()  # (dropping this iterator would close the connection)
        assert next(pieces)  # generating
        waiting = requests.post(url + "/explain/stream", json={"abstract": ABSTRACT}, stream=True, timeout=60)
        assert wait_for(lambda: requests.get(url + "/health", timeout=5).json()["queue_depth"] == 1)
        start = time.perf_counter()
        refused = requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=60)
        assert refused.status_code == 503 and time.perf_counter() - start < 1.0
        assert int(refused.headers["Retry-After"]) >= 1 and "busy" in refused.json()["detail"]
        running.close()  # the client goes away mid-stream: its generation stops, and the waiting one starts
        assert wait_for(lambda: metric(url, "miniastrolm_generations_total", finish="cancelled") == 1)
        assert metric(url, "miniastrolm_generated_tokens_total") < 3000
        queued = waiting.iter_lines()
        assert next(queued)  # the queued request is now generating
        waiting.close()
        assert wait_for(lambda: metric(url, "miniastrolm_generations_total", finish="cancelled") == 2)


def test_each_request_keeps_its_own_deadline_and_its_generation_stops(endless):
    with serving(endless, timeout_seconds=1.0) as url:
        start = time.perf_counter()
        late = requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=60)
        assert late.status_code == 504 and time.perf_counter() - start < 3.0
        assert wait_for(lambda: metric(url, "miniastrolm_generations_total", finish="timeout") == 1)
        assert metric(url, "miniastrolm_generated_tokens_total") < 3000  # stopped at the deadline, not at the end
        with requests.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": ABSTRACT}],
                                                               "stream": True}, timeout=60) as stream:
            assert stream.status_code == 200 and '"finish_reason": "length"' in stream.text
            assert '"timed_out": true' in stream.text and stream.text.endswith("data: [DONE]\n\n")


def test_a_request_is_answered_at_its_deadline_while_the_worker_is_still_busy(endless, monkeypatch):
    def slow_checks(pairs):  # the worker's batch checks run long; the checks of a stream's shown text do not
        if threading.current_thread().name == "generation":
            time.sleep(4)
        return [[] for _ in pairs]

    monkeypatch.setattr(endless, "judge_texts", slow_checks)
    with serving(endless, timeout_seconds=1.0) as url:
        start = time.perf_counter()
        late = requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=60)
        assert late.status_code == 504 and time.perf_counter() - start < 3.0
        time.sleep(3)  # the worker is free again
        start = time.perf_counter()
        stream = requests.post(url + "/explain/stream", json={"abstract": ABSTRACT}, timeout=60)
        lines = [json.loads(line) for line in stream.text.splitlines()]
        assert time.perf_counter() - start < 3.0 and lines[-1]["timed_out"] is True
        assert "".join(line.get("text", "") for line in lines)  # the text shown before the deadline


def test_health_answers_under_load(explainer):
    with serving(explainer) as url:
        load = threading.Thread(target=lambda: list(ThreadPoolExecutor(8).map(
            lambda _: requests.post(url + "/explain", json={"abstract": ABSTRACT}, timeout=120), range(16))))
        load.start()
        times = []
        while load.is_alive():
            start = time.perf_counter()
            assert requests.get(url + "/health", timeout=5).status_code == 200
            times.append(time.perf_counter() - start)
            time.sleep(0.05)
        load.join()
    assert times and max(times) < 1.0


@pytest.mark.slow
def test_eight_clients_three_requests_each_get_complete_explanations_or_503(explainer):
    """The load of benchmarks/bench_serve.py: no 5xx but 503, and every 200 a whole explanation with verdicts."""
    with serving(explainer) as url:  # the defaults of `miniastrolm serve`

        def client(index: int) -> list[requests.Response]:
            abstract = PAIRS[index % len(PAIRS)][0]
            return [requests.post(url + "/explain", json={"abstract": abstract}, timeout=120) for _ in range(3)]

        with ThreadPoolExecutor(8) as pool:
            replies = [(i, r) for i, rs in enumerate(pool.map(client, range(8))) for r in rs]
    statuses = [r.status_code for _, r in replies]
    assert set(statuses) <= {200, 503} and statuses.count(200) > 0
    for index, reply in replies:
        if reply.status_code == 200:
            body = reply.json()
            assert body["explanation"] == PAIRS[index % len(PAIRS)][1]  # complete: the taught text, to its end
            assert [v["validator"] for v in body["verdicts"]] == list(NAMES)
        else:
            assert int(reply.headers["Retry-After"]) >= 1
