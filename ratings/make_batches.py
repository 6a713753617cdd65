"""Pool the generated explanations (runs/rated/outputs/*.jsonl), hide their source, shuffle them, and cut
them into rater batches (docs/rating.md), each with a few items of the next batch so agreement between
raters can be measured.

    python ratings/make_batches.py --raters 3 --overlap 8 --sources baseline retell --wave 1

Writes runs/rated/batches/wave<w>-rater-<k>.jsonl (item, title, abstract, explanation: for the rater; abstracts
are never committed) and appends to runs/rated/items.jsonl (item -> source, arxiv id, explanation: the key of
every wave, kept from raters).
Item ids are a hash of source + paper + text, so the same output always gets the same id.
"""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

import orjson

from miniastrolm.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/rated")
    parser.add_argument("--raters", type=int, default=5)
    parser.add_argument("--overlap", type=int, default=8, help="items each rater also gets from the next batch")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--sources", nargs="+", required=True, help="setups (outputs/<source>.jsonl) in this wave")
    parser.add_argument("--wave", type=int, default=1, help="rating round: its batches are named after it")
    args = parser.parse_args()
    work = Path(args.workdir)
    items = []
    for path in [work / "outputs" / f"{source}.jsonl" for source in args.sources]:
        for line in path.read_bytes().splitlines():
            row = orjson.loads(line)
            key = f"{row['source']}\0{row['arxiv_id']}\0{row['explanation']}".encode()
            items.append({"item": hashlib.sha256(key).hexdigest()[:10], "source": row["source"],
                          "arxiv_id": row["arxiv_id"], "explanation": row["explanation"],
                          "finish_reason": row.get("finish_reason"), "completion_tokens": row.get("completion_tokens")})
    random.Random(args.seed + args.wave).shuffle(items)
    with open(work / "items.jsonl", "ab") as key:
        key.write(b"".join(orjson.dumps(item) + b"\n" for item in items))
    batches = [items[k::args.raters] for k in range(args.raters)]
    (work / "batches").mkdir(exist_ok=True)
    with Store(work / "store.db") as store:
        for k, batch in enumerate(batches):
            extra = batches[(k + 1) % args.raters][:args.overlap]
            with open(work / "batches" / f"wave{args.wave}-rater-{k}.jsonl", "wb") as out:
                for item in [*batch, *extra]:
                    paper = store.paper(item["arxiv_id"])
                    out.write(orjson.dumps({"item": item["item"], "title": paper.title, "abstract": paper.abstract,
                                            "explanation": item["explanation"]}) + b"\n")
            print(f"wave{args.wave}-rater-{k}: {len(batch)} + {len(extra)} overlap items")


if __name__ == "__main__":
    main()
