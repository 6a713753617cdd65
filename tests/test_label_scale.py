"""Labelling at scale: workers sharing a batch through claims with leases, adaptive concurrency and the breaker
under injected 429/503 (the fault-injecting server: real HTTP on 127.0.0.1, faults a real server cannot be made
to produce on demand)."""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from miniastrolm.label import LabelConfig, label
from miniastrolm.store import Paper, Store

from fault_server import RandomFaults


def invented_papers(count: int) -> list[Paper]:
    """Papers written for the tests, each abstract different so the server can tell their prompts apart."""
    return [Paper(f"2501.{i:05d}", 1, f"Survey field {i}", f"A small survey of field {i} counts {i % 97} faint "
                  "galaxies and finds that their colours match older stars.", "astro-ph.GA", "astro-ph.GA", "",
                  "2025-01-02", None, "test") for i in range(count)]


@pytest.fixture
def make_store(tmp_path):
    def make(count: int) -> str:
        db = str(tmp_path / "scale.db")
        with Store(db) as store:
            store.upsert_papers(invented_papers(count))
        return db
    return make


def endpoint(server, db: str, **overrides) -> LabelConfig:
    values = dict(db=db, backend="endpoint", model="fixture", base_url=server.url + "/v1", token_env="NO_TOKEN",
                  timeout_seconds=5.0, max_retries=6, backoff_seconds=0.01, concurrency=8)
    return LabelConfig(**{**values, **overrides})


def stored(db: str) -> list[tuple[str, int, str]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT paper, sample, status FROM generations ORDER BY paper").fetchall()


def test_2000_calls_under_429_and_503_label_every_paper_once(make_store, local_server):
    db = make_store(1800)  # 1,800 papers, ~15 % of calls refused: about 2,100 calls
    faults = RandomFaults(rate_429=0.10, rate_503=0.05, retry_after="0.05", seed=7)
    server = local_server(faults)
    started = time.monotonic()
    report = label(endpoint(server, db, min_concurrency=2, max_concurrency=64), progress=False)
    elapsed = time.monotonic() - started
    rows = stored(db)
    assert (report.ok, report.failed, report.paused) == (1800, 0, None)
    assert len(rows) == len({(paper, sample) for paper, sample, _ in rows}) == 1800  # 0 duplicates, 0 lost
    assert sum(faults.answered.values()) == len(faults.answered) == 1800  # no paper's call answered twice
    assert faults.faults["429"] > 100 and faults.faults["503"] > 50
    assert sum(faults.faults.values()) + 1800 >= 2000
    assert faults.early == 0  # every retry after a 429 waited its Retry-After
    assert elapsed < 120, f"{elapsed:.0f} s"


def test_adaptive_limit_halves_on_overload_and_grows_back():
    import asyncio

    from miniastrolm.teacher.adaptive import AdaptiveLimit

    async def scenario():
        limit = AdaptiveLimit(start=8, minimum=2, maximum=10)
        tickets = [await limit.acquire() for _ in range(8)]
        for ticket in tickets[:4]:  # four overloads of one window: one cut
            await limit.release(ticket, "overload")
        assert limit.limit == 4
        await limit.release(tickets[4], "error")  # neither grows nor cuts
        ticket = await limit.acquire()
        await limit.release(ticket, "overload")  # started after the cut: cuts again
        assert limit.limit == 2
        for ticket in tickets[5:]:
            await limit.release(ticket, "ok")
        assert 2 < limit.limit < 4
        for _ in range(200):
            await limit.release(await limit.acquire(), "ok")
        assert limit.limit == 10

    asyncio.run(scenario())


def test_breaker_pauses_the_batch_and_it_resumes(make_store, local_server):
    db = make_store(40)
    down = RandomFaults(rate_503=1.0)
    config = endpoint(local_server(down), db, concurrency=2, max_retries=1, breaker_failures=6, breaker_seconds=0.2,
                      backoff_seconds=0.05)
    paused = label(config, progress=False)
    assert paused.paused and "HTTP 503" in paused.paused and paused.remaining > 20
    with Store(db) as store:
        assert store.db.execute("SELECT status FROM batches").fetchone()[0] == "paused"
        assert store.count("claims") == 0
    resumed = label(endpoint(local_server(RandomFaults()), db, concurrency=2), progress=False)
    assert resumed.paused is None
    rows = stored(db)
    assert len({(paper, sample) for paper, sample, status in rows if status == "ok"}) == 40  # all labelled once


def test_a_dead_workers_claims_are_taken_over(make_store, local_server):
    db = make_store(20)
    keys = [(paper.arxiv_id, 0) for paper in invented_papers(20)]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    local_dead = f"{socket.gethostname()}:{gone.stdout.strip()}:000000"
    server = local_server(RandomFaults())
    config = endpoint(server, db, lease_seconds=1.0)
    with Store(db) as store:  # the batch, then claims: 10 by a process gone from this host, 10 by another host
        batch = label(endpoint(server, db, lease_seconds=1.0, limit=0), progress=False).batch_id
        assert store.claim(batch, keys[:10], local_dead, 600, 10, 3)[0]
        assert store.claim(batch, keys[10:], "elsewhere:1:000000", 1.0, 10, 3)[0]
    started = time.monotonic()
    report = label(config, progress=False)
    assert report.ok == 20 and len(stored(db)) == 20
    assert time.monotonic() - started >= 0.5  # the other host's lease had to lapse first


@pytest.mark.slow
def test_three_label_processes_split_one_batch(make_store, local_server):
    db = make_store(300)
    server = local_server(RandomFaults(delay=0.01))
    command = [sys.executable, "-m", "miniastrolm.cli", "label", "--db", db, "--backend", "endpoint", "--model",
               "fixture", "--base_url", server.url + "/v1", "--token_env", "NO_TOKEN", "--concurrency", "4",
               "--lease_seconds", "10"]
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(3)]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0 and "Traceback" not in err + out, err
    rows = stored(db)
    assert len(rows) == len({(paper, sample) for paper, sample, _ in rows}) == 300  # once each, none lost
    assert all(status == "ok" for *_, status in rows)
    assert len(server.requests) == 300  # no call made twice
    shares = [int(re.search(r"(\d+) ok,", out + err)[1]) for out, err in outputs]
    assert sum(shares) == 300 and sum(share > 0 for share in shares) >= 2, shares


def test_the_cli_says_which_batch_paused_and_how_to_resume(make_store, local_server):
    db = make_store(12)
    server = local_server(RandomFaults(rate_503=1.0))
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    done = subprocess.run([sys.executable, "-m", "miniastrolm.cli", "label", "--db", db, "--backend", "endpoint",
                           "--model", "fixture", "--base_url", server.url + "/v1", "--token_env", "NO_TOKEN",
                           "--max_retries", "0", "--breaker_failures", "3", "--breaker_seconds", "0"],
                          capture_output=True, text=True, env=env, timeout=120)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 75 and "Traceback" not in said, said
    assert re.search(r"batch 1 paused: \d+ calls in a row failed", said) and "HTTP 503" in said
    assert "Run the same command again to resume" in said
