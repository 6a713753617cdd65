"""Join the raters' answers with the hidden key into the committed rated set.

    python ratings/merge.py

Reads runs/rated/items.jsonl (the key) and runs/rated/batches/*.ratings.jsonl (one line per item:
item, faithful, clarity, degenerate, acceptable, errors). Writes ratings/rated.jsonl (first rating of each
item, with its source, arXiv id, explanation and split) and ratings/second_ratings.jsonl (the overlap items'
second rating, for agreement). The split is by paper: ~35 % of papers (by sha256 of the arXiv id) are the
frozen `test` split, never used to tune a validator. Prints agreement between raters on the overlap.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import orjson

FIELDS = ("faithful", "clarity", "degenerate", "acceptable", "errors")
TEST_SHARE = 35  # per cent of papers


def split(arxiv_id: str) -> str:
    return "test" if int(hashlib.sha256(arxiv_id.encode()).hexdigest()[:8], 16) % 100 < TEST_SHARE else "dev"


def clean(rating: dict, item: str) -> dict:
    """The five guideline fields, checked; `acceptable` must follow from the other three."""
    row = {name: rating[name] for name in FIELDS}
    for name in ("faithful", "degenerate", "acceptable"):
        if row[name] not in (0, 1):
            raise ValueError(f"item {item}: {name} must be 0 or 1, not {row[name]!r}")
    if row["clarity"] not in (1, 2, 3, 4, 5):
        raise ValueError(f"item {item}: clarity must be 1-5, not {row['clarity']!r}")
    implied = int(row["faithful"] == 1 and row["clarity"] >= 3 and row["degenerate"] == 0)
    if row["acceptable"] != implied:
        raise ValueError(f"item {item}: acceptable={row['acceptable']} contradicts the guideline ({implied})")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="runs/rated")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    args = parser.parse_args()
    work, out = Path(args.workdir), Path(args.out)
    key = {row["item"]: row for row in map(orjson.loads, (work / "items.jsonl").read_bytes().splitlines())}
    first, second = {}, []
    for path in sorted((work / "batches").glob("*.ratings.jsonl")):
        rater = path.name.split(".")[0]
        for line in path.read_bytes().splitlines():
            if not line.strip():
                continue
            rating = orjson.loads(line)
            row = {"item": rating["item"], **clean(rating, rating["item"]), "rater": rater}
            (second.append(row) if row["item"] in first else first.__setitem__(row["item"], row))
    rated = [{"item": item, "arxiv_id": key[item]["arxiv_id"], "source": key[item]["source"],
              "split": split(key[item]["arxiv_id"]), "explanation": key[item]["explanation"],
              "finish_reason": key[item]["finish_reason"], "completion_tokens": key[item]["completion_tokens"],
              **{name: row[name] for name in (*FIELDS, "rater")}}
             for item, row in sorted(first.items(), key=lambda pair: (key[pair[0]]["arxiv_id"], pair[0]))]
    (out / "rated.jsonl").write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rated))
    (out / "second_ratings.jsonl").write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in second))
    same = sum(first[row["item"]]["acceptable"] == row["acceptable"] for row in second)
    same_degenerate = sum(first[row["item"]]["degenerate"] == row["degenerate"] for row in second)
    print(f"{len(rated)} rated ({sum(r['split'] == 'test' for r in rated)} test), missing {len(key) - len(rated)}; "
          f"overlap {len(second)}: acceptable agree {same}/{len(second)}, degenerate agree "
          f"{same_degenerate}/{len(second)}")


if __name__ == "__main__":
    main()
