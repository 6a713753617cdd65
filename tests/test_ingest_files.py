import gzip
import sqlite3

import orjson

from miniastrolm.ingest import IngestConfig, ingest
from miniastrolm.store import Store

from conftest import OUTSIDER, PAPERS, kaggle_line


def write_kaggle(path, lines):
    path.write_bytes(b"".join(lines))
    return str(path)


def test_kaggle_file_with_bad_records(tmp_path):
    lines = [kaggle_line(p) for p in PAPERS] + [
        kaggle_line(OUTSIDER),                                            # line 6: other category
        b'{"id": "2401.00010", "categories": "astro-ph.GA", "title": "x", \n',  # 7: malformed JSON
        kaggle_line(PAPERS[0], id="2401.00011", abstract="   "),          # 8: empty abstract
        kaggle_line(PAPERS[0], id="2401.00012").replace(b"cold", b"c\xffld"),  # 9: not UTF-8
        kaggle_line(PAPERS[1]),                                           # 10: duplicate id
        kaggle_line(PAPERS[0], id="2401.00013", title=42),                # 11: wrong type
        b"\n",                                                            # blank: ignored
        b'["astro-ph.GA"]\n',                                             # 13: not an object
    ]
    db = tmp_path / "s.db"
    report = ingest(IngestConfig(path=write_kaggle(tmp_path / "k.jsonl", lines), db=str(db)), progress=False)

    assert (report.kept, report.inserted, report.out_of_scope) == (5, 5, 1)
    found = {(s.location, s.reason) for s in report.skips}
    assert found == {("k.jsonl:7", "malformed_json"), ("k.jsonl:8", "empty_abstract"), ("k.jsonl:9", "not_utf8"),
                     ("k.jsonl:10", "duplicate_id"), ("k.jsonl:11", "wrong_type"), ("k.jsonl:13", "wrong_type")}
    assert not report.nothing_read
    with Store(db) as store:
        stored = store.paper("2401.00001")
        assert stored.title == "A cold stream feeding a dwarf galaxy"  # hard break unwrapped
        assert "$10^{8}\\,M_\\odot$" in stored.abstract  # TeX kept
        assert (stored.version, stored.published, stored.primary_category) == (1, "2024-01-01", "astro-ph.GA")
        assert store.paper("2401.00005").version == 3
        rows = store.db.execute("SELECT location, reason FROM ingest_skips").fetchall()
        assert set(rows) == found


def test_reingest_of_bad_data_never_alters_what_is_stored(tmp_path):
    db = tmp_path / "s.db"
    ingest(IngestConfig(path=write_kaggle(tmp_path / "good.jsonl", [kaggle_line(p) for p in PAPERS]),
                        db=str(db)), progress=False)
    with Store(db) as store:
        before = store.db.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall()
    bad = [kaggle_line(PAPERS[0], abstract=""), kaggle_line(PAPERS[1], title=["not", 1]),
           b"{\"categories\": \"astro-ph.GA\", oops\n",
           kaggle_line(PAPERS[2], version=1, abstract="An older, different text.")]
    report = ingest(IngestConfig(path=write_kaggle(tmp_path / "bad.jsonl", bad), db=str(db)), progress=False)
    assert report.unchanged == 1 and report.skipped == 3
    with Store(db) as store:
        assert store.db.execute("SELECT * FROM papers ORDER BY arxiv_id").fetchall() == before


def test_gzip_input_and_newer_version(tmp_path):
    db = str(tmp_path / "s.db")
    ingest(IngestConfig(path=write_kaggle(tmp_path / "a.jsonl", [kaggle_line(PAPERS[0])]), db=db), progress=False)
    path = tmp_path / "b.jsonl.gz"
    with gzip.open(path, "wb") as out:
        out.write(kaggle_line(PAPERS[0], version=2, abstract="Revised text."))
    report = ingest(IngestConfig(path=str(path), db=db), progress=False)
    assert report.updated == 1
    with Store(db) as store:
        assert store.paper("2401.00001").abstract == "Revised text."
        assert store.db.execute("SELECT old_version, new_version FROM paper_versions").fetchall() == [(1, 2)]


def test_cross_lists_limit_and_all_categories(tmp_path):
    path = write_kaggle(tmp_path / "k.jsonl", [kaggle_line(p) for p in PAPERS + [OUTSIDER]])
    assert ingest(IngestConfig(path=path, db=str(tmp_path / "1.db"), category_prefix="astro-ph.SR"),
                  progress=False).kept == 1
    assert ingest(IngestConfig(path=path, db=str(tmp_path / "2.db"), category_prefix="astro-ph.SR",
                               cross_lists=True), progress=False).kept == 2
    assert ingest(IngestConfig(path=path, db=str(tmp_path / "3.db"), category_prefix=""), progress=False).kept == 6
    assert ingest(IngestConfig(path=path, db=str(tmp_path / "4.db"), limit=2), progress=False).kept == 2


def test_file_csv_with_column_mapping(tmp_path):
    path = tmp_path / "mine.csv"
    header = b"paper,heading,summary,cats,who\n"
    rows = [f'{p["id"]},"{p["title"]}","{p["abstract"]}",{p["categories"]},"{p["authors"]}"\n'.encode()
            for p in PAPERS[:3]]
    rows.append(b'2401.00020,Bad bytes,"An abstract with \xfe\xfe bytes.",astro-ph.GA,X\n')
    path.write_bytes(header + b"".join(rows))
    config = IngestConfig(source="file", path=str(path), db=str(tmp_path / "s.db"),
                          columns=["arxiv_id=paper", "title=heading", "abstract=summary", "categories=cats",
                                   "authors=who"])
    report = ingest(config, progress=False)
    assert report.inserted == 3
    assert [(s.location, s.reason) for s in report.skips] == [("mine.csv:5", "not_utf8")]
    with Store(config.db) as store:
        assert store.paper("2401.00003").authors == "D. Leavitt, E. Cannon"


def test_file_jsonl_default_columns_and_number_ids(tmp_path):
    path = tmp_path / "mine.jsonl"
    records = [{"arxiv_id": p["id"], "title": p["title"], "abstract": p["abstract"],
                "categories": p["categories"].split(), "authors": p["authors"].split(", ")} for p in PAPERS[:2]]
    records.append({"arxiv_id": 704.0001, "title": "t", "abstract": "a", "categories": "astro-ph.GA"})
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    report = ingest(IngestConfig(source="file", path=str(path), db=str(tmp_path / "s.db")), progress=False)
    assert report.inserted == 2 and [s.reason for s in report.skips] == ["wrong_type"]


def test_a_failed_batch_leaves_earlier_batches_stored(tmp_path, monkeypatch):
    from miniastrolm import store as store_module

    calls = {"n": 0}
    real = store_module.Store.upsert_papers

    def failing_from_second_batch(self, papers):
        calls["n"] += 1
        if calls["n"] >= 2:  # the disk stays broken
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return real(self, papers)

    monkeypatch.setattr(store_module.Store, "upsert_papers", failing_from_second_batch)
    path = write_kaggle(tmp_path / "k.jsonl", [kaggle_line(p) for p in PAPERS])
    try:
        ingest(IngestConfig(path=path, db=str(tmp_path / "s.db"), batch_size=2), progress=False)
        raise AssertionError("the injected error was swallowed")
    except sqlite3.OperationalError:
        pass
    with Store(tmp_path / "s.db") as store:
        assert store.count("papers") == 2
        assert store.db.execute("SELECT finished_at IS NOT NULL, kept FROM ingest_runs").fetchone() == (1, 4)
