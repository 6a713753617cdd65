"""Serving under load: `miniastrolm serve` started as users start it (its own process, 127.0.0.1), then in one run

  (a) one client, one request at a time, clients x requests of them   -- the baseline
  (b) `--clients` concurrent clients (8), `--requests` each (3)       -- what the batching queue is for

Every request is POST /explain on an illustrative abstract (samples/), so each reply carries its verdicts. Prints
requests/s, p50/p95 latency and the statuses of each phase, and the slowest /health answer during (b) (asked
every 0.1 s). Targets: (b) >= 2.5x (a) in requests/s, no status other than 200/503, /health < 1 s throughout.

The student is --model (default runs/quickstart/student; `smollm2` serves the embedded SmolLM2-135M-Instruct, the
quickstart student's untrained base: its cost, not its words); when that folder does not exist, the tiny student
the tests use is trained first (tests/student_data.py, recipes/student/tiny-sft.yaml, 80 steps), in seconds.

    python benchmarks/bench_serve.py [--requests 3] [--clients 8] [--model DIR|smollm2] [--engine transformers]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from results import record

from miniastrolm.http import free_port
from miniastrolm.models import resolve_model

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "illustrative_abstracts.jsonl"
TARGET = 2.5


def tiny_student(folder: Path) -> Path:
    """The tests' tiny GPT-2 student, trained on their fixture dataset (what CI can afford)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from miniastrolm.train import parse, train

    from student_data import write_student_dataset

    dataset = write_student_dataset(folder / "dataset")
    args = ["--config", str(ROOT / "recipes/student/tiny-sft.yaml"), "--dataset_name", str(dataset),
            "--output_dir", str(folder / "student"), "--max_steps", "80", "--eval_steps", "40", "--save_steps", "40",
            "--load_best_model_at_end", "false"]
    return Path(train(*parse(args)))


def server(model: Path, engine: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "miniastrolm.cli", "serve", "--model", str(model),
                                "--port", str(port), "--engine", engine], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(url + "/health", timeout=1)
            return process, url
        except requests.ConnectionError:
            if process.poll() is not None:
                raise SystemExit(f"the server exited with {process.returncode}") from None
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not answer /health within 2 minutes")


def explain(url: str, abstract: str) -> tuple[int, float]:
    start = time.perf_counter()
    reply = requests.post(url + "/explain", json={"abstract": abstract}, timeout=600)
    return reply.status_code, time.perf_counter() - start


def summary(name: str, results: list[tuple[int, float]], seconds: float) -> dict:
    latencies = sorted(latency for _, latency in results)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    figures = {"requests_per_second": len(results) / seconds, "p50": statistics.median(latencies), "p95": p95,
               "statuses": dict(Counter(status for status, _ in results))}
    print(f"{name}: {len(results)} requests in {seconds:.1f} s = {figures['requests_per_second']:.2f} req/s, "
          f"p50 {figures['p50']:.2f} s, p95 {p95:.2f} s, statuses {figures['statuses']}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3, help="requests per concurrent client")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--model", default=str(ROOT / "runs/quickstart/student"))
    parser.add_argument("--engine", default="transformers", choices=["transformers", "ctranslate2"])
    args = parser.parse_args()
    abstracts = [json.loads(line)["abstract"] for line in SAMPLES.read_text(encoding="utf-8").splitlines()]
    total = args.clients * args.requests

    with tempfile.TemporaryDirectory() as work:
        given = args.model == "smollm2" or Path(args.model, "config.json").is_file()
        model = Path(resolve_model(args.model)[0]) if given else tiny_student(Path(work))
        label = f"{args.model if given else 'tiny test student'} ({args.engine})"
        print(f"student: {label}, {model}")
        process, url = server(model, args.engine)
        try:
            explain(url, abstracts[0])  # warm-up
            start = time.perf_counter()
            serial = [explain(url, abstracts[i % len(abstracts)]) for i in range(total)]
            one = summary("(a) one at a time", serial, time.perf_counter() - start)

            health: list[float] = []
            done = threading.Event()

            def probe() -> None:
                while not done.is_set():
                    asked = time.perf_counter()
                    requests.get(url + "/health", timeout=30)
                    health.append(time.perf_counter() - asked)
                    time.sleep(0.1)

            def client(index: int) -> list[tuple[int, float]]:
                return [explain(url, abstracts[(index * args.requests + i) % len(abstracts)])
                        for i in range(args.requests)]

            prober = threading.Thread(target=probe)
            prober.start()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                concurrent = [result for results in pool.map(client, range(args.clients)) for result in results]
            many = summary(f"(b) {args.clients} clients x {args.requests}", concurrent, time.perf_counter() - start)
            done.set()
            prober.join()
        finally:
            process.terminate()
            process.wait(timeout=30)

    ratio = many["requests_per_second"] / one["requests_per_second"]
    other = sum(n for status, n in many["statuses"].items() if status not in (200, 503))
    print(f"ratio {ratio:.2f}x (target {TARGET}x {'met' if ratio >= TARGET else 'NOT met'}); statuses other than "
          f"200/503: {other}; /health slowest {max(health):.3f} s over {len(health)} asks")
    command = f"python benchmarks/bench_serve.py --requests {args.requests} --clients {args.clients}"
    record("serve", command + (f" --model {args.model}" if given else ""),
           f"{label}, POST /explain: "
           f"(a) one at a time {one['requests_per_second']:.2f} req/s, p50 {one['p50']:.2f} s, "
           f"p95 {one['p95']:.2f} s; (b) {args.clients} clients x {args.requests} "
           f"{many['requests_per_second']:.2f} req/s, p50 {many['p50']:.2f} s, p95 {many['p95']:.2f} s, "
           f"statuses {many['statuses']}; /health slowest {max(health):.3f} s", ratio, TARGET)


if __name__ == "__main__":
    main()
