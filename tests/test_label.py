"""Labelling: prompts, selection, resume, fault handling (fault-injecting server), secrets, ledger."""

import time

import pytest

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.label import LabelConfig, label, select_papers
from miniastrolm.prompts import Prompt
from miniastrolm.store import Store

from conftest import PAPERS, kaggle_line
from fault_server import FaultPlan

SECRET = "hf_FixtureSecretToken123"


@pytest.fixture
def store_path(tmp_path):
    data = tmp_path / "papers.jsonl"
    data.write_bytes(b"".join(kaggle_line(p) for p in PAPERS))
    ingest(IngestConfig(path=str(data), db=str(tmp_path / "s.db")), progress=False)
    return str(tmp_path / "s.db")


def endpoint_config(server, db, **overrides):
    values = dict(db=db, backend="endpoint", model="fixture", base_url=server.url + "/v1", token_env="FIXTURE_TOKEN",
                  timeout_seconds=1.0, max_retries=2, backoff_seconds=0.05, concurrency=3)
    return LabelConfig(**{**values, **overrides})


def test_prompt_renders_plain_text_and_versions_by_content(tmp_path):
    prompt = Prompt.load("explain")
    chat = prompt.messages(Store(tmp_path / "p.db").paper("none") or _paper())
    assert [turn["role"] for turn in chat] == ["system", "user"]
    assert "10^8 M_⊙" in chat[1]["content"] and "$" not in chat[1]["content"]
    assert prompt.version.startswith("explain@") and len(prompt.version) == len("explain@") + 12

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "user.jinja").write_text("Explain: {{ abstract }}")
    (folder / "fewshot.jsonl").write_text('{"title": "T", "abstract": "A star.", "explanation": "A sun."}\n')
    first = Prompt.load(str(folder))
    assert [t["role"] for t in first.messages(_paper())] == ["user", "assistant", "user"]
    (folder / "user.jinja").write_text("Explain simply: {{ abstract }}")
    assert Prompt.load(str(folder)).version != first.version


def _paper():
    from miniastrolm.store import Paper

    p = PAPERS[0]
    return Paper(p["id"], 1, p["title"], " ".join(p["abstract"].split()), p["categories"], "astro-ph.GA", "", None,
                 None, "test")


def test_balanced_selection_and_limit(store_path):
    with Store(store_path) as store:
        papers = select_papers(store, LabelConfig(db=store_path, limit=3), batch_id=0)
    assert len({p.primary_category for p in papers}) == 3


def test_faults_are_retried_recorded_and_resumed(store_path, local_server, monkeypatch):
    monkeypatch.setenv("FIXTURE_TOKEN", SECRET)
    plan = FaultPlan({"cold stream": ["503"], "Pulsar": ["429"], "Dust lanes": ["timeout"],
                      "drones": ["malformed"], "red dwarf": ["reset"]}, timeout_sleep=2.0)
    server = local_server(plan)
    started = time.monotonic()
    first = label(endpoint_config(server, store_path), progress=False)
    assert time.monotonic() - started >= 1.0  # the 429's Retry-After: 1 was waited out
    assert (first.ok, first.failed) == (4, 1)
    with Store(store_path) as store:
        failed = store.db.execute("SELECT paper, error FROM generations WHERE status = 'failed'").fetchall()
        assert failed[0][0] == "2401.00004" and "JSONDecodeError" in failed[0][1]
        ok_rows = store.db.execute("SELECT id FROM generations WHERE status = 'ok'").fetchall()

    served_before = len(plan.served)
    second = label(endpoint_config(server, store_path), progress=False)  # resume: only the failed sample
    assert (second.ok, second.failed, second.already_done) == (1, 0, 4)
    assert len(plan.served) == served_before + 1
    with Store(store_path) as store:
        rows = store.db.execute("SELECT paper, sample, attempt, status FROM generations ORDER BY id").fetchall()
        assert set(ok_rows) <= set(store.db.execute("SELECT id FROM generations WHERE status = 'ok'").fetchall())
        assert sorted(r[0] for r in rows if r[3] == "ok") == sorted(p["id"] for p in PAPERS)
        assert ("2401.00004", 0, 2, "ok") in rows
        dump = "\n".join(store.db.iterdump())
    assert SECRET not in dump

    third = label(endpoint_config(server, store_path), progress=False)
    assert (third.planned, third.already_done) == (0, 5)


def test_bad_outputs_are_failures_never_labels(store_path, local_server):
    plan = FaultPlan({"cold stream": ["cutoff"], "Pulsar": ["empty"]})
    report = label(endpoint_config(local_server(plan), store_path, limit=5), progress=False)
    assert (report.ok, report.failed) == (3, 2)
    with Store(store_path) as store:
        errors = dict(store.db.execute("SELECT paper, error FROM generations WHERE status = 'failed'").fetchall())
    assert errors["2401.00001"].startswith("cut off") and errors["2401.00002"] == "empty output"


def test_give_up_after_max_attempts_and_skip_long_abstracts(store_path, local_server):
    plan = FaultPlan({"Pulsar": ["malformed"] * 10})
    server = local_server(plan)
    config = endpoint_config(server, store_path, max_attempts=2, max_abstract_chars=95)
    label(config, progress=False)
    label(config, progress=False)
    final = label(config, progress=False)
    assert final.planned == 0
    with Store(store_path) as store:
        calls = store.db.execute("SELECT count(*) FROM generations WHERE paper = '2401.00002'").fetchone()[0]
        skipped = store.db.execute("SELECT paper, error FROM generations WHERE status = 'skipped'").fetchall()
    assert calls == 2  # max_attempts, then given up
    assert len(skipped) == 1 and skipped[0][0] == "2401.00001" and "max_abstract_chars=95" in skipped[0][1]


def test_cost_ledger_in_db_stats(store_path, local_server):
    import subprocess
    import sys

    label(endpoint_config(local_server(FaultPlan({})), store_path, price_input_per_mtok=1.0,
                          price_output_per_mtok=2.0), progress=False)
    out = subprocess.run([sys.executable, "-m", "miniastrolm.cli", "db", "stats", "--db", store_path],
                         capture_output=True, text=True).stdout
    # 5 calls x (100 prompt tokens x $1 + 50 completion tokens x $2) per million = $0.001
    assert "fixture" in out and "$0.0010" in out


def test_offline_mode_refuses_a_base_url_with_a_clear_message(store_path, local_server, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError, match="unset it"):
        label(endpoint_config(local_server(FaultPlan({})), store_path), progress=False)


def test_trim_cut_off_keeps_complete_sentences_and_says_so():
    from miniastrolm.label import trimmed
    from miniastrolm.teacher import Job, Result

    job = Job("2611.90001", 0, 1, [], seed=0)
    cut = Result(job, "Stars form in clouds. They shine for \"billions of years.\" Then the", "length",
                 error="cut off: reached max_new_tokens before finishing")
    kept = trimmed(cut)
    assert kept.ok and kept.finish_reason == "length_trimmed"
    assert kept.output == "Stars form in clouds. They shine for \"billions of years.\""
    assert not trimmed(Result(job, "no sentence ends here", "length", error="cut off")).ok
    finished = Result(job, "Done.", "stop")
    assert trimmed(finished) is finished


def test_import_backend_stores_explanations_written_elsewhere(store_path, tmp_path):
    first, second = PAPERS[0]["id"], PAPERS[1]["id"]
    source = tmp_path / "written.jsonl"
    source.write_text(f'{{"arxiv_id": "{first}", "explanation": "A plain explanation."}}\n'
                      "not json\n"
                      f'{{"arxiv_id": "{second}", "explanation": ""}}\n', encoding="utf-8")
    config = LabelConfig(db=store_path, backend="import", model="people", input=str(source),
                         skip_labelled_elsewhere=False)
    report = label(config, progress=False)
    assert (report.ok, report.failed, report.planned) == (1, 0, 1)  # only papers the file explains are selected
    assert [problem.split(": ", 1)[0] for problem in report.input_problems] == [f"{source}:2", f"{source}:3"]
    assert report.input_problems[1].endswith("'explanation' is missing or empty")
    with Store(store_path) as store:
        rows = store.batch_outputs(report.batch_id)
    assert [(row["arxiv_id"], row["output"], row["finish_reason"]) for row in rows] == [
        (first, "A plain explanation.", "stop")]
    assert label(config, progress=False).already_done == 1  # re-running is a no-op
