-- Reader/editor revision (label's revision_rounds, revision.py): a draft that fails the checks goes back to the
-- teacher with the problems as feedback; each round is its own generation, pointing at the draft it rewrote.
ALTER TABLE generations ADD COLUMN round INTEGER NOT NULL DEFAULT 0;  -- 0 = first draft, k = k-th rewrite
ALTER TABLE generations ADD COLUMN parent INTEGER REFERENCES generations(id);  -- the draft this round rewrote
