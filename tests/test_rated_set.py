"""The rated set (ratings/rated.jsonl) and the figures quoted from it: every rated explanation joins a real dev
abstract, every rating follows the guideline, and the filter-vs-readers table in ratings/ (quoted in the README)
is what the current validators give (slow: MiniLM over the frozen split; skips without ../shared/data)."""

import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "astro-ph-dev.jsonl"
RATED = [orjson.loads(line) for line in (ROOT / "ratings" / "rated.jsonl").read_bytes().splitlines()]
needs_dev = pytest.mark.skipif(not DEV.is_file(), reason="needs the dev corpus in ../shared/data")


def test_ratings_follow_the_guideline_and_the_test_split_is_frozen_by_paper():
    sys.path.insert(0, str(ROOT / "ratings"))
    from merge import split

    assert len(RATED) >= 200 and len({row["source"] for row in RATED}) >= 3
    for row in RATED:
        assert row["acceptable"] == int(row["faithful"] == 1 and row["clarity"] >= 3 and row["degenerate"] == 0)
        assert row["split"] == split(row["arxiv_id"]) and (row["faithful"] == 1 or row["errors"])
    assert sum(row["split"] == "test" for row in RATED) >= 60


@needs_dev
def test_every_rated_explanation_joins_a_dev_abstract():
    ids = {orjson.loads(line)["id"] for line in DEV.read_bytes().splitlines()}
    assert {row["arxiv_id"] for row in RATED} <= ids


@pytest.mark.slow
@needs_dev
@pytest.mark.parametrize("split", ["test", "dev"])
def test_filter_agreement_table_is_current(split):
    sys.path.insert(0, str(ROOT / "ratings"))
    from measure_filter import measure

    assert measure(split, dev=DEV) == (ROOT / "ratings" / f"filter_agreement-{split}.md").read_text()
