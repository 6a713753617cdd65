"""Ingest throughput vs a bare orjson parse loop over the same file, measured in one run.

The dev corpus (../shared/data/astro-ph-dev.jsonl) is replicated to >= 200,000 records with unique ids
into a temporary file; the baseline parses every line with orjson and does nothing else.
No target (retired): ingest is bound by SQLite writes and is not a bottleneck (the teacher is ~1,000x
slower per paper); the figures stay so a regression shows.

    python benchmarks/bench_ingest.py [--records 200000] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson
from results import record

from miniastrolm.ingest import IngestConfig, ingest

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astro-ph-dev.jsonl"


def replicate(corpus: Path, target: Path, records: int) -> int:
    base = [orjson.loads(line) for line in corpus.read_bytes().splitlines() if line.strip()]
    written = 0
    with open(target, "wb") as out:
        while written < records:
            for record in base:
                copy = dict(record, id=f"{9000 + written // 100000:04d}.{written % 100000:05d}")
                out.write(orjson.dumps(copy) + b"\n")
                written += 1
                if written == records:
                    break
    return written


def bare_parse(path: Path) -> float:
    start = time.perf_counter()
    with open(path, "rb") as lines:
        for line in lines:
            orjson.loads(line)
    return time.perf_counter() - start


def sqlite_only(path: Path, db_path: str) -> float:
    """The store's upsert alone on already-parsed papers: the ceiling the disk and SQLite put on ingest."""
    from miniastrolm.ingest.kaggle import read_kaggle
    from miniastrolm.ingest.record_file import RecordFile
    from miniastrolm.store import Store

    papers = [paper for _, paper in read_kaggle(RecordFile(path), "astro-ph")]
    with Store(db_path) as store:
        start = time.perf_counter()
        for i in range(0, len(papers), 2000):
            store.upsert_papers(papers[i:i + 2000])
        return time.perf_counter() - start


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "replicated.jsonl"
        count = replicate(args.corpus, data, args.records)
        size_mb = data.stat().st_size / 1e6
        bare_parse(data)  # warm the page cache so both runs read from memory
        parse_seconds = bare_parse(data)
        start = time.perf_counter()
        report = ingest(IngestConfig(source="kaggle", path=str(data), db=f"{tmp}/bench.db"), progress=False)
        ingest_seconds = time.perf_counter() - start
        assert report.inserted == count, report
        store_seconds = sqlite_only(data, f"{tmp}/ceiling.db")
    parse_rate, ingest_rate, store_rate = count / parse_seconds, count / ingest_seconds, count / store_seconds
    ratio = ingest_rate / parse_rate
    print(f"records: {count:,} ({size_mb:,.0f} MB)")
    print(f"bare orjson parse (baseline): {parse_rate:>10,.0f} records/s  ({parse_seconds:.2f} s)")
    print(f"miniastrolm ingest:           {ingest_rate:>10,.0f} records/s  ({ingest_seconds:.2f} s)")
    print(f"store upsert alone (ceiling): {store_rate:>10,.0f} records/s  ({store_seconds:.2f} s, pre-parsed rows)")
    print(f"ratio ingest/parse: {ratio:.2f}  (no target: ingest is bound by SQLite writes, not a bottleneck)")
    record("ingest", "python benchmarks/bench_ingest.py", f"{count:,} records: bare orjson parse {parse_rate:,.0f} "
           f"rec/s (baseline); ingest {ingest_rate:,.0f} rec/s; store upsert alone {store_rate:,.0f} rec/s",
           ratio, None)
    return {"bench": "ingest", "records": count, "parse_rate": parse_rate, "ingest_rate": ingest_rate,
            "store_rate": store_rate, "ratio": ratio}


if __name__ == "__main__":
    main()
