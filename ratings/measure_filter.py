"""How well the filter agrees with careful readers: precision and recall of "passes every validator" against
the rated `acceptable`, with each validator's confusion table, on one split of the rated set.

    python ratings/measure_filter.py --split test       # the frozen split: report, never tune on it
    python ratings/measure_filter.py --split dev        # the split validators may be tuned on

The rated set holds arXiv ids, not abstracts: they are joined from the dev corpus (../shared/data) through a
store built in a temporary folder. It is `miniastrolm check` underneath; the table is written to
ratings/filter_agreement-<split>.md (what the README quotes).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from miniastrolm.check import CheckConfig, check_file
from miniastrolm.ingest import IngestConfig, ingest

HERE = Path(__file__).resolve().parent
DEV = HERE.parents[1] / "shared" / "data" / "astro-ph-dev.jsonl"


def measure(split: str, rated: Path = HERE / "rated.jsonl", dev: Path = DEV, filter_recipe: str | None = None) -> str:
    """The agreement table (markdown) of the filter's thresholds on one split of the rated set."""
    with tempfile.TemporaryDirectory() as work:
        db = str(Path(work) / "dev.db")
        ingest(IngestConfig(path=str(dev), db=db), progress=False)
        summary = check_file(CheckConfig(input=str(rated), output=str(Path(work) / "out.jsonl"), db=db, split=split,
                                         filter_recipe=filter_recipe), progress=False)
    if summary.errors:
        raise ValueError(f"{summary.errors} rated lines could not be checked (is {dev} the dev corpus?)")
    return f"## Split `{split}`\n\n" + summary.agreement.markdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["test", "dev"])
    parser.add_argument("--filter_recipe", help="thresholds to measure (default: the built-in ones)")
    args = parser.parse_args()
    table = measure(args.split, filter_recipe=args.filter_recipe)
    print(table)
    if args.filter_recipe is None:
        (HERE / f"filter_agreement-{args.split}.md").write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
