-- Papers as ingested: TeX kept in the abstract, whitespace unwrapped.
CREATE TABLE papers (
    arxiv_id         TEXT PRIMARY KEY,           -- version-less: 2401.01234 or astro-ph/9605151
    version          INTEGER,                    -- latest arXiv version seen; NULL when the source does not say
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL,
    categories       TEXT NOT NULL,              -- space-separated, primary first
    primary_category TEXT NOT NULL,
    authors          TEXT NOT NULL DEFAULT '',
    published        TEXT,                       -- ISO date of v1, when known
    updated          TEXT,                       -- ISO date of the stored version, when known
    source           TEXT NOT NULL,              -- kaggle | arxiv_api | oai | local
    ingested_at      TEXT NOT NULL
);
CREATE INDEX papers_primary_category ON papers(primary_category);

-- A newer arXiv version replaced a stored one: the old text is kept here, nothing is lost.
CREATE TABLE paper_versions (
    id           INTEGER PRIMARY KEY,
    arxiv_id     TEXT NOT NULL REFERENCES papers(arxiv_id),
    old_version  INTEGER,
    new_version  INTEGER,
    old_title    TEXT NOT NULL,
    old_abstract TEXT NOT NULL,
    changed_at   TEXT NOT NULL
);
CREATE TRIGGER papers_record_version_change AFTER UPDATE OF version ON papers
WHEN old.version IS NOT new.version
BEGIN
    INSERT INTO paper_versions (arxiv_id, old_version, new_version, old_title, old_abstract, changed_at)
    VALUES (old.arxiv_id, old.version, new.version, old.title, old.abstract, new.ingested_at);
END;

-- One row per `miniastrolm ingest` run, and one per record it skipped (with where and why).
CREATE TABLE ingest_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    location    TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    read        INTEGER NOT NULL DEFAULT 0,
    kept        INTEGER NOT NULL DEFAULT 0,
    inserted    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE ingest_skips (
    id       INTEGER PRIMARY KEY,
    run_id   INTEGER NOT NULL REFERENCES ingest_runs(id),
    location TEXT NOT NULL,      -- file:line, or URL/page
    arxiv_id TEXT,
    reason   TEXT NOT NULL,      -- a short code: malformed_json, empty_abstract, wrong_type, ...
    detail   TEXT NOT NULL
);
