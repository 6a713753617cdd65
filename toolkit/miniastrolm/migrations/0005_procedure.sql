-- How a generation was made: the teacher procedure (procedure.py) and, for multi-call procedures, each call.
ALTER TABLE generations ADD COLUMN procedure TEXT NOT NULL DEFAULT 'direct';
ALTER TABLE generations ADD COLUMN steps TEXT;  -- JSON list of the procedure's calls; NULL for one call
