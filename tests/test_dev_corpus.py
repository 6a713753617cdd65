"""Ingest the real development corpus (../shared/data, never committed) when it is present."""

from pathlib import Path

import pytest

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.store import Store

DEV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "astro-ph-dev.jsonl"


@pytest.mark.slow
@pytest.mark.skipif(not DEV.is_file(), reason="../shared/data/astro-ph-dev.jsonl is not here")
def test_dev_corpus_counts_by_primary_category(tmp_path):
    report = ingest(IngestConfig(path=str(DEV), db=str(tmp_path / "dev.db")), progress=False)
    assert (report.read, report.inserted, report.skipped) == (2706, 2706, 0)
    with Store(tmp_path / "dev.db") as store:
        counts = dict(store.papers_by_category())
        assert counts == {f"astro-ph.{sub}": 450 for sub in ("CO", "GA", "SR", "HE", "EP", "IM")} | {"astro-ph": 6}
        with_breaks = store.db.execute("SELECT count(*) FROM papers WHERE abstract LIKE '%' || char(10) || '%'")
        assert with_breaks.fetchone()[0] == 0  # hard line breaks unwrapped
        assert store.db.execute("SELECT count(*) FROM papers WHERE abstract LIKE '%$%'").fetchone()[0] == 1469
