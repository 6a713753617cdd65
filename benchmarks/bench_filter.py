"""Filter throughput over >= 2,000 explanations made from the dev abstracts, per validator and in total.

Explanation-shaped texts are built from each dev abstract (its plain-text sentences in a new order, joined by
plain-language connectives, cut to ~180 words), so every validator does the work it does on real teacher
output of that length; the verdicts themselves are not the point here. Measured in one run:

  per validator: explanations/s of each per-item validator of the registry (format, on_task, copying,
                 readability, faithfulness, degeneration, grounding; one at a time), similarity (MiniLM,
                 batched; model load timed separately) and near_duplicate (MinHash LSH);
  total:         `run_filter` end to end over a SQLite store holding the generations (store reads, every
                 validator and the verdict writes included; the MiniLM model is already loaded in this process
                 by then, so its load is not in the total: it is timed and printed on its own line).

No ratio and no target: the old 50/s filter target is retired (the filter is ~50x faster than the teacher it
checks), so the figures are reported as they are, with no same-run baseline to divide by.

    python benchmarks/bench_filter.py [--count 2000] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import orjson
from results import record

from miniastrolm.filter import FilterConfig, run_filter
from miniastrolm.store import Paper, Store
from miniastrolm.text import plain_text
from miniastrolm.validate.near_duplicates import near_duplicates
from miniastrolm.validate.registry import VALIDATORS, Kind

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astro-ph-dev.jsonl"
CONNECTIVES = ["In simple terms,", "Put another way,", "The team found that", "This matters because",
               "What is new here is that", "To see why,"]


def explanation_from(abstract: str, rng: random.Random) -> str:
    sentences = [s.strip() for s in plain_text(abstract).replace("\n", " ").split(". ") if s.strip()]
    rng.shuffle(sentences)
    words = " ".join(f"{rng.choice(CONNECTIVES)} {s[0].lower()}{s[1:].rstrip('.')}." for s in sentences).split()
    return " ".join(words[:180]).rstrip(",;") + ("" if words[:180][-1].endswith(".") else ".")


def load(corpus: Path, count: int) -> list[tuple[Paper, str]]:
    rng = random.Random(0)
    records = [orjson.loads(line) for line in corpus.read_bytes().splitlines()]
    pairs = []
    for i in range(count):  # more than the corpus holds: a second round gives new shuffles of the same papers
        record = records[i % len(records)]
        arxiv_id = record["id"] if i < len(records) else f"{record['id']}-r{i // len(records)}"
        paper = Paper(arxiv_id, 1, " ".join(record["title"].split()), record["abstract"], record["categories"],
                      record["categories"].split()[0], "", "2024-01-01", None, "bench")
        pairs.append((paper, explanation_from(record["abstract"], rng)))
    return pairs


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10,.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    pairs = load(args.corpus, args.count)
    config = FilterConfig()
    n = len(pairs)
    print(f"{n:,} explanations from {args.corpus.name}, mean {sum(len(e.split()) for _, e in pairs) / n:.0f} words")

    seconds = {}
    for validator in [v for v in VALIDATORS if v.kind is Kind.PER_ITEM]:
        settings = validator.settings(config)
        plain_text.cache_clear()  # each validator pays for its own TeX rendering, as it would alone
        start = time.perf_counter()
        for paper, explanation in pairs:
            validator.function(paper.abstract, explanation, **settings)
        seconds[validator.name] = time.perf_counter() - start

    start = time.perf_counter()
    from miniastrolm.validate.similarity import similarities

    similarities(["warm-up"], ["warm-up"])
    load_seconds = time.perf_counter() - start
    plain_text.cache_clear()
    start = time.perf_counter()
    similarities([p.abstract for p, _ in pairs], [e for _, e in pairs])
    seconds["similarity"] = time.perf_counter() - start
    start = time.perf_counter()
    near_duplicates([(i, p.arxiv_id, e) for i, (p, e) in enumerate(pairs)], threshold=config.near_duplicate_jaccard)
    seconds["near_duplicate"] = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as folder:
        db = str(Path(folder) / "bench.db")
        with Store(db) as store:
            store.upsert_papers([paper for paper, _ in pairs])
            batch = store.open_batch(recipe_hash="bench", recipe={"backend": "bench", "model": "synthetic",
                                                                  "prompt_version": "bench"},
                                     price_input=None, price_output=None)
            for paper, explanation in pairs:
                store.add_generation({"paper": paper.arxiv_id, "batch": batch, "sample": 0, "attempt": 1,
                                      "status": "ok", "prompt_version": "bench", "backend": "bench",
                                      "model": "synthetic", "params": "{}", "output": explanation})
        plain_text.cache_clear()
        start = time.perf_counter()
        report = run_filter(FilterConfig(db=db, report=str(Path(folder) / "report.md")), progress=False)
        total = time.perf_counter() - start

    print(f"\n{'validator':<16}{'explanations/s':>16}{'seconds':>10}")
    for name, spent in seconds.items():
        print(f"{name:<16}{rate(n, spent):>16}{spent:10.2f}")
    print(f"{'(MiniLM load)':<16}{'':>16}{load_seconds:10.2f}")
    summed = sum(seconds.values()) + load_seconds
    print(f"{'sum of the above':<16}{rate(n, summed):>16}{summed:10.2f}")
    without_minilm = sum(spent for name, spent in seconds.items() if name != "similarity")
    print(f"{'all but MiniLM':<16}{rate(n, without_minilm):>16}{without_minilm:10.2f}")
    print(f"{'run_filter total':<16}{rate(n, total):>16}{total:10.2f}   (store reads + verdict writes included, "
          f"MiniLM already loaded; {report.passed} passed)")
    record("filter", "python benchmarks/bench_filter.py", f"{n:,} explanations: " + ", ".join(
        f"{name} {n / spent:,.1f}/s" for name, spent in seconds.items()) + f" (+{load_seconds:.1f} s MiniLM load); "
        f"all validators but MiniLM together {n / without_minilm:,.1f}/s; run_filter total {n / total:.1f}/s "
        "(MiniLM already loaded); no baseline and no target (retired)", None, None)


if __name__ == "__main__":
    main()
