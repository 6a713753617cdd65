-- A labelling run: one recipe (hashed over what shapes the outputs) = one batch, resumed by re-running it.
CREATE TABLE batches (
    id                    INTEGER PRIMARY KEY,
    recipe_hash           TEXT NOT NULL UNIQUE,
    recipe                TEXT NOT NULL,          -- JSON of the output-shaping settings; never a secret
    backend               TEXT NOT NULL,
    model                 TEXT NOT NULL,
    prompt_version        TEXT NOT NULL,
    price_input_per_mtok  REAL,                   -- optional, for the cost estimate in `db stats`
    price_output_per_mtok REAL,
    created_at            TEXT NOT NULL,
    status                TEXT NOT NULL DEFAULT 'running'   -- running | interrupted | done
);

-- Every teacher call (and every paper skipped before a call) is a row; failures are kept, never overwritten.
CREATE TABLE generations (
    id                INTEGER PRIMARY KEY,
    paper             TEXT NOT NULL REFERENCES papers(arxiv_id),
    batch             INTEGER NOT NULL REFERENCES batches(id),
    sample            INTEGER NOT NULL,           -- 0 .. n-1 samples per paper
    attempt           INTEGER NOT NULL,           -- 1, 2, ... for failed samples that were retried
    status            TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    prompt_version    TEXT NOT NULL,
    backend           TEXT NOT NULL,
    model             TEXT NOT NULL,
    params            TEXT NOT NULL,              -- decoding parameters as JSON
    output            TEXT,
    finish_reason     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    latency_ms        REAL,
    error             TEXT,                       -- why a row is failed or skipped
    created_at        TEXT NOT NULL,
    UNIQUE (paper, batch, sample, attempt)
);
-- A resume can never store a second success for the same sample.
CREATE UNIQUE INDEX generations_one_success ON generations(paper, batch, sample) WHERE status = 'ok';
CREATE INDEX generations_batch ON generations(batch, status);
