"""arXiv API and OAI-PMH ingestion against a real HTTP server on 127.0.0.1 serving fixture XML."""

import time

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.store import Store

from conftest import PAPERS, atom_feed, oai_page


def arxiv_api(busy_first: bool = False):
    """Serves PAPERS page by page like export.arxiv.org/api/query; optionally a 503 first."""
    state = {"busy": busy_first}

    def handle(path, query):
        if state["busy"]:
            state["busy"] = False
            return 503, {"Retry-After": "1"}, b"busy"
        if "id_list" in query:
            wanted = query["id_list"].split(",")
            found = [p for p in PAPERS if p["id"] in wanted]
            return 200, {"Content-Type": "application/atom+xml"}, atom_feed(found, len(found), 0)
        start, size = int(query["start"]), int(query["max_results"])
        return 200, {"Content-Type": "application/atom+xml"}, atom_feed(PAPERS[start:start + size], len(PAPERS), start)

    return handle


def api_config(server, tmp_path, **overrides):
    return IngestConfig(source="arxiv_api", api_url=server.url + "/api/query", db=str(tmp_path / "s.db"),
                        page_size=2, delay_seconds=0.0, **overrides)


def test_arxiv_api_pages_through_a_category_query(local_server, tmp_path):
    server = local_server(arxiv_api())
    report = ingest(api_config(server, tmp_path, date_from="2024-01-01", date_to="2024-01-31"), progress=False)
    assert report.inserted == len(PAPERS) and not report.skips
    starts = [query["start"] for _, query in server.requests]
    assert starts == ["0", "2", "4"]
    query = server.requests[0][1]["search_query"]
    assert "cat:astro-ph.GA" in query and "submittedDate:[202401010000 TO 202401312359]" in query
    with Store(tmp_path / "s.db") as store:
        paper = store.paper("2401.00001")
        assert paper.version == 1 and paper.categories == "astro-ph.GA astro-ph.CO"
        assert paper.authors == "A. Lovelace, B. Noether" and paper.title == "A cold stream feeding a dwarf galaxy"
        assert store.paper("2401.00005").version == 3


def test_arxiv_api_by_id_list(local_server, tmp_path):
    server = local_server(arxiv_api())
    report = ingest(api_config(server, tmp_path, ids=["2401.00002", "2401.00004"]), progress=False)
    assert report.inserted == 2
    assert server.requests[0][1]["id_list"] == "2401.00002,2401.00004"


def test_arxiv_api_waits_for_retry_after_on_503(local_server, tmp_path):
    server = local_server(arxiv_api(busy_first=True))
    start = time.monotonic()
    report = ingest(api_config(server, tmp_path), progress=False)
    assert time.monotonic() - start >= 1.0  # Retry-After: 1 was honoured
    assert report.inserted == len(PAPERS)


def test_arxiv_api_gives_up_cleanly_and_keeps_earlier_pages(local_server, tmp_path):
    handle = arxiv_api()

    def down_after_first_page(path, query):
        if query.get("start", "0") != "0":
            return 503, {"Retry-After": "0"}, b"down"
        return handle(path, query)

    server = local_server(down_after_first_page)
    report = ingest(api_config(server, tmp_path, max_retries=2), progress=False)
    assert report.inserted == 2
    assert [s.reason for s in report.skips] == ["fetch_failed"]
    assert len(server.requests) == 1 + 3  # first page, then one try and two retries of the second


def oai_server(busy_first: bool = False):
    """Serves PAPERS in pages of 2 with resumption tokens, like an OAI-PMH repository."""
    state = {"busy": busy_first}

    def handle(path, query):
        if state["busy"]:
            state["busy"] = False
            return 503, {"Retry-After": "1"}, b"busy"
        assert query["verb"] == "ListRecords"
        start = int(query["resumptionToken"]) if "resumptionToken" in query else 0
        if "resumptionToken" not in query:
            assert (query["metadataPrefix"], query["set"]) == ("arXivRaw", "physics:astro-ph")
        token = str(start + 2) if start + 2 < len(PAPERS) else ""
        return 200, {"Content-Type": "text/xml"}, oai_page(PAPERS[start:start + 2], token, start, len(PAPERS))

    return handle


def test_oai_follows_resumption_tokens_and_retry_after(local_server, tmp_path):
    server = local_server(oai_server(busy_first=True))
    start = time.monotonic()
    report = ingest(IngestConfig(source="oai", oai_url=server.url + "/oai", db=str(tmp_path / "s.db"),
                                 date_from="2024-01-01"), progress=False)
    assert time.monotonic() - start >= 1.0
    assert report.inserted == len(PAPERS) and not report.skips
    tokens = [query.get("resumptionToken") for _, query in server.requests[1:]]
    assert tokens == [None, "2", "4"]
    assert server.requests[1][1]["from"] == "2024-01-01"
    with Store(tmp_path / "s.db") as store:
        paper = store.paper("2401.00005")
        assert (paper.version, paper.published, paper.updated) == (3, "2024-01-01", "2024-01-03")
        assert store.paper("2401.00001").primary_category == "astro-ph.GA"
