import sqlite3

from miniastrolm.store import Paper, Store, migrations


def paper(version, abstract="An abstract.", arxiv_id="2401.00001"):
    return Paper(arxiv_id, version, "A title", abstract, "astro-ph.GA", "astro-ph.GA", "A. Author", None, None, "test")


def test_new_store_is_migrated_with_wal_and_foreign_keys(tmp_path):
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == migrations()[-1][0]
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        try:
            store.db.execute("INSERT INTO paper_versions (arxiv_id, old_title, old_abstract, changed_at) "
                             "VALUES ('nope', '', '', '')")
            raise AssertionError("a version row for an unknown paper was accepted")
        except sqlite3.IntegrityError:
            pass


def test_reopening_applies_no_migration_twice(tmp_path):
    Store(tmp_path / "s.db").close()
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == migrations()[-1][0]


def test_upsert_is_idempotent(tmp_path):
    with Store(tmp_path / "s.db") as store:
        first = store.upsert_papers([paper(1)])
        again = store.upsert_papers([paper(1)])
        assert (first.inserted, first.updated, first.unchanged) == (1, 0, 0)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
        assert store.count("papers") == 1


def test_newer_version_replaces_and_the_old_text_is_kept(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.upsert_papers([paper(1, "Old text.")])
        counts = store.upsert_papers([paper(2, "New text.")])
        assert (counts.inserted, counts.updated) == (0, 1)
        assert store.paper("2401.00001").abstract == "New text."
        old = store.db.execute("SELECT old_version, new_version, old_abstract FROM paper_versions").fetchall()
        assert old == [(1, 2, "Old text.")]


def test_older_or_unversioned_record_never_replaces(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.upsert_papers([paper(3, "Version three.")])
        counts = store.upsert_papers([paper(2, "Version two."), paper(None, "No version.")])
        assert counts.unchanged == 2
        assert store.paper("2401.00001").abstract == "Version three."
        assert store.count("paper_versions") == 0
