"""Build the small dataset that benchmarks/gpu_check.sh trains on (run here, before the device call; the GPU
machine has no Hub and no dev corpus): the export's layout (data/{train,validation}-00000-of-00001.parquet,
TRL prompt-completion records) from the dev abstracts, with explanation-shaped completions (the abstract's
sentences reworded with connectives, as in bench_filter.py; the point is realistic lengths, not quality).

    python benchmarks/gpu_data.py [--out .gpu/dataset] [--train 1600] [--validation 64]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import orjson
from bench_filter import explanation_from  # the same explanation-shaped text the filter benchmark uses
from datasets import Dataset

from miniastrolm.student_format import example

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astro-ph-dev.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--out", type=Path, default=Path(".gpu/dataset"))
    parser.add_argument("--train", type=int, default=1600)
    parser.add_argument("--validation", type=int, default=64)
    args = parser.parse_args()
    rng = random.Random(0)
    lines = args.corpus.read_bytes().splitlines()[: args.train + args.validation]
    rows = []
    for line in lines:
        record = orjson.loads(line)
        abstract = " ".join(record["abstract"].split())
        rows.append({**example(abstract, explanation_from(record["abstract"], rng)),
                     "arxiv_id": record["id"], "teacher_model": "gpu-check-synthetic",
                     "prompt_version": "explain@gpu-check"})
    (args.out / "data").mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows[: args.train]).to_parquet(args.out / "data" / "train-00000-of-00001.parquet")
    Dataset.from_list(rows[args.train:]).to_parquet(args.out / "data" / "validation-00000-of-00001.parquet")
    print(f"{min(len(rows), args.train)} train + {max(len(rows) - args.train, 0)} validation rows -> {args.out}")


if __name__ == "__main__":
    main()
