"""How many calls per second the label loop itself drives through the `endpoint` backend: a real HTTP server on
127.0.0.1 (the tests' fault server with no faults, in its own process) answers every chat completion at once, so
what is measured is the orchestration: planning, claims, AsyncInferenceClient, the AIMD limit, and one committed
SQLite row per call. Each concurrency (held fixed: min = max) labels the same papers into a fresh store in the
same run; concurrency 1 is the baseline. Target: >= 300 calls/s at the best setting.

    python benchmarks/bench_label_endpoint.py [--calls 2000] [--concurrency 1 16 64 256]
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

from results import record

from miniastrolm.label import LabelConfig, label
from miniastrolm.store import Paper, Store
from miniastrolm.teacher import endpoint  # noqa: F401 - imported before any timing (huggingface_hub takes ~1 s)

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import LocalServer  # noqa: E402 - the test helpers, found once tests/ is on the path
from fault_server import RandomFaults  # noqa: E402

TARGET_CALLS_PER_SECOND = 300


def serve(ready: multiprocessing.Queue) -> None:
    server = LocalServer(RandomFaults())
    server.server.socket.listen(1024)  # http.server's backlog of 5 refuses connections at concurrency 16 and up
    handler = server.server.RequestHandlerClass
    handler.protocol_version = "HTTP/1.1"  # keep-alive, as TGI and vLLM serve
    handler.disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    ready.put(server.url)
    server.thread.join()


def papers(count: int) -> list[Paper]:
    return [Paper(f"2502.{i:05d}", 1, f"Field {i}", f"Deep imaging of field {i} finds {i % 89} faint dwarf "
                  "galaxies around a nearby spiral.", "astro-ph.GA", "astro-ph.GA", "", "2025-02-01", None, "bench")
            for i in range(count)]


def calls_per_second(template: Path, url: str, concurrency: int, calls: int) -> float:
    db = template.with_name(f"c{concurrency}.db")
    shutil.copy(template, db)
    config = LabelConfig(db=str(db), backend="endpoint", model="bench", base_url=url + "/v1", token_env="NO_TOKEN",
                         concurrency=concurrency, min_concurrency=concurrency, max_concurrency=concurrency,
                         max_retries=0, timeout_seconds=30)
    started = time.perf_counter()
    report = label(config, progress=False)
    elapsed = time.perf_counter() - started
    if report.ok != calls:
        raise SystemExit(f"concurrency {concurrency}: {report.ok} of {calls} calls succeeded ({report.failed} failed)")
    return calls / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="papers labelled (one call each) per setting")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    args = parser.parse_args()
    ready: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(ready,), daemon=True)
    server.start()
    url = ready.get(timeout=60)
    with tempfile.TemporaryDirectory() as folder:
        template = Path(folder) / "template.db"
        with Store(template) as store:
            store.upsert_papers(papers(args.calls))
        rates = {concurrency: calls_per_second(template, url, concurrency, args.calls)
                 for concurrency in args.concurrency}
    server.terminate()
    baseline = rates[args.concurrency[0]]
    best = max(rates, key=rates.get)
    for concurrency, rate in rates.items():
        print(f"concurrency {concurrency:>4}: {rate:7.1f} calls/s  ({rate / baseline:.2f}x concurrency "
              f"{args.concurrency[0]})")
    met = rates[best] >= TARGET_CALLS_PER_SECOND
    print(f"best: concurrency {best}, {rates[best]:.1f} calls/s; target >= {TARGET_CALLS_PER_SECOND} calls/s "
          f"{'met' if met else 'NOT met'}")
    figures = (f"{args.calls} calls per setting against a loopback server answering at once; calls/s "
               + ", ".join(f"c{concurrency} {rate:.1f}" for concurrency, rate in rates.items())
               + f"; best c{best} {rates[best]:.1f} calls/s = {rates[best] / baseline:.2f}x c{args.concurrency[0]} "
               f"(target >= {TARGET_CALLS_PER_SECOND} calls/s {'met' if met else 'not met'})")
    record("label_endpoint", "python benchmarks/bench_label_endpoint.py " + " ".join(sys.argv[1:]), figures,
           rates[best] / baseline, None)


if __name__ == "__main__":
    main()
