-- A person's decision on a generation (`miniastrolm review`): accept it, reject it with a reason, or replace its
-- text with an edit. Rows are only added: the latest row of a generation is the decision in force, earlier ones
-- are its history, and the generation's own output (the teacher's text) is never changed.
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    generation  INTEGER NOT NULL REFERENCES generations(id),
    decision    TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'edit')),
    reason      TEXT,                   -- why, for a reject
    edited      TEXT,                   -- the reviewer's text, for an edit
    reviewer    TEXT NOT NULL CHECK (trim(reviewer) != ''),
    decided_at  TEXT NOT NULL,
    CHECK (decision != 'reject' OR trim(coalesce(reason, '')) != ''),
    CHECK (decision != 'edit' OR trim(coalesce(edited, '')) != '')
);
CREATE INDEX reviews_generation ON reviews(generation, id);
