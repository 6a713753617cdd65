-- The thresholds behind each verdict set, so an exported dataset can say exactly how it was filtered.
CREATE TABLE filters (
    name        TEXT PRIMARY KEY,       -- hash of the thresholds, = verdicts.filter
    thresholds  TEXT NOT NULL,          -- JSON
    created_at  TEXT NOT NULL
);
INSERT INTO filters (name, thresholds, created_at)
    SELECT DISTINCT filter, '{}', min(created_at) FROM verdicts GROUP BY filter;
