"""The filter stage over stored generations: verdict rows, idempotence, the report."""

import json
from pathlib import Path

from miniastrolm.filter import FilterConfig, run_filter
from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.store import Store
from miniastrolm.validate.registry import VALIDATORS

from validation_set import LABELLED

SAMPLES = Path(__file__).parents[1] / "samples" / "illustrative_abstracts.jsonl"


def test_filter_stores_verdicts_and_writes_a_report(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=str(SAMPLES), db=db), progress=False)
    usable = [(record, text, must_fail) for record, text, must_fail, _ in LABELLED if record["id"] != "2611.90004"
              or "Ignore all" not in record["abstract"]]  # the injected abstract is not a stored paper
    with Store(db) as store:
        batch = store.open_batch(recipe_hash="test", recipe={"backend": "endpoint", "model": "m",
                                                             "prompt_version": "p"}, price_input=None,
                                 price_output=None)
        for sample, (record, text, _) in enumerate(usable):
            store.add_generation({"paper": record["id"], "batch": batch, "sample": sample, "attempt": 1,
                                  "status": "ok", "prompt_version": "p", "backend": "endpoint", "model": "m",
                                  "params": "{}", "output": text})
    config = FilterConfig(db=db, report=str(tmp_path / "report.md"))
    report = run_filter(config, progress=False)
    assert report.generations == len(usable)
    assert report.passed == sum(not must_fail for _, _, must_fail in usable)
    assert report.reasons["invented_number"] >= 2 and report.reasons["swapped_unit"] == 2

    again = run_filter(config, progress=False)  # idempotent: same thresholds, same verdict set
    assert again.passed == report.passed
    with Store(db) as store:
        assert store.count("verdicts") == len(VALIDATORS) * len(usable)
        reasons = store.db.execute("SELECT reasons FROM verdicts WHERE validator = 'faithfulness' AND NOT passed")
        assert any("invented_object: NGC891" in json.loads(row[0]) for row in reasons)
    markdown = (tmp_path / "report.md").read_text()
    assert "| swapped_unit | 2 |" in markdown and "| astro-ph.HE |" in markdown

    stricter = run_filter(FilterConfig(db=db, report=str(tmp_path / "r2.md"), min_words=200), progress=False)
    assert stricter.filter != report.filter and stricter.passed < report.passed


def test_near_duplicates_across_papers_keep_the_first():
    from miniastrolm.validate.near_duplicates import near_duplicates

    from validation_set import GOOD_FRB, GOOD_SATELLITE

    items = [(1, "2611.90004", GOOD_FRB), (2, "2611.90001", GOOD_SATELLITE),
             (3, "2611.90002", GOOD_FRB.replace("47 bursts", "forty-seven bursts")),  # another paper, same text
             (4, "2611.90004", GOOD_FRB)]  # a second sample of the same paper is not a cross-paper duplicate
    assert near_duplicates(items) == {3: "near_duplicate: of generation 1 (paper 2611.90004)"}
