-- One verdict per validator per generation per filter recipe (its thresholds hashed): re-filtering with new
-- thresholds adds verdicts beside the old ones instead of overwriting them.
CREATE TABLE verdicts (
    id          INTEGER PRIMARY KEY,
    generation  INTEGER NOT NULL REFERENCES generations(id),
    filter      TEXT NOT NULL,          -- hash of the filter recipe's thresholds
    validator   TEXT NOT NULL,
    passed      INTEGER NOT NULL,
    score       REAL,
    reasons     TEXT NOT NULL,          -- JSON list of "code: detail"
    created_at  TEXT NOT NULL,
    UNIQUE (generation, filter, validator)
);
CREATE INDEX verdicts_filter ON verdicts(filter, passed);
