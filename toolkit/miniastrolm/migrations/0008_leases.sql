-- Work a `label` worker has claimed: one row per sample of a batch in its hands. Several workers on one store
-- claim disjoint samples (the primary key), renew their lease while calling, and delete the claim when the
-- sample's generation is committed. A crashed worker's claims expire (`expires`, unix seconds) and are taken over.
CREATE TABLE claims (
    batch    INTEGER NOT NULL REFERENCES batches(id),
    paper    TEXT NOT NULL,
    sample   INTEGER NOT NULL,
    worker   TEXT NOT NULL,                   -- host:pid:token of the claiming process
    expires  REAL NOT NULL,
    PRIMARY KEY (batch, paper, sample)
) WITHOUT ROWID;
CREATE INDEX claims_worker ON claims(worker);
