"""The SQLite store: one file, WAL, foreign keys, schema versioned by numbered migrations.

Migrations are `migrations/NNNN_name.sql`, applied in order; `PRAGMA user_version` records the last one.
Later stages add their tables the same way, so an old store upgrades itself on open.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import orjson

DEFAULT_DB = "miniastrolm.db"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Paper(NamedTuple):
    """A row of `papers` (less ingested_at); a tuple so bulk inserts need no conversion."""

    arxiv_id: str
    version: int | None
    title: str
    abstract: str
    categories: str
    primary_category: str
    authors: str
    published: str | None
    updated: str | None
    source: str


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int


# A stored paper is replaced only by a strictly newer version; the trigger in 0001 keeps the old text.
_UPSERT_PAPER = """
INSERT INTO papers (arxiv_id, version, title, abstract, categories, primary_category, authors,
                    published, updated, source, ingested_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(arxiv_id) DO UPDATE SET
    version = excluded.version, title = excluded.title, abstract = excluded.abstract,
    categories = excluded.categories, primary_category = excluded.primary_category,
    authors = excluded.authors, published = coalesce(excluded.published, papers.published),
    updated = excluded.updated, source = excluded.source, ingested_at = excluded.ingested_at
WHERE coalesce(excluded.version, 0) > coalesce(papers.version, 0)
"""


class Review(NamedTuple):
    """A person's decision on a generation (a row of `reviews`): accept, reject (with a reason) or edit."""

    decision: str
    reason: str | None
    edited: str | None
    reviewer: str
    decided_at: str


class ReviewItem(NamedTuple):
    """A generation as the review page lists it; `passed` is None when the verdict set has not judged it."""

    generation: int
    arxiv_id: str
    title: str
    abstract: str
    primary_category: str
    sample: int
    model: str
    explanation: str
    passed: bool | None
    review: Review | None


class Candidate(NamedTuple):
    """A successful generation with its standing for the export: `passed` (every verdict of the set passed; None
    when the set has not judged it), each validator's score, and a person's decision in force. The export's
    best-of-N choice (selection.py) fills in the last two fields."""

    generation: int
    arxiv_id: str
    title: str
    abstract: str
    categories: str
    primary_category: str
    explanation: str
    teacher_model: str
    prompt_version: str
    batch: int
    sample: int
    passed: bool | None
    scores: dict[str, float | None]
    review: Review | None
    selection_score: float = 0.0
    candidates: int = 0  # eligible samples of this paper the choice was made from


# Successful generations with, per generation, the verdict set's outcome (j) and the decision in force (r).
_REVIEWABLE = """
FROM generations g JOIN papers p ON p.arxiv_id = g.paper
LEFT JOIN (SELECT generation, min(passed) AS passed, json_group_object(validator, score) AS scores
           FROM verdicts WHERE filter = :filter GROUP BY generation) j ON j.generation = g.id
LEFT JOIN reviews r ON r.id = (SELECT max(id) FROM reviews WHERE generation = g.id)
WHERE g.status = 'ok' AND (:batch IS NULL OR g.batch = :batch)"""
_REVIEW_COLUMNS = "r.decision, r.reason, r.edited, r.reviewer, r.decided_at"


def _review(columns: Sequence) -> Review | None:
    return Review(*columns) if columns[0] is not None else None


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every bundled migration, in order."""
    found = []
    for entry in files("miniastrolm").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Store:
    """A connection to the project database with the small typed queries the stages need."""

    def __init__(self, path: str | Path = DEFAULT_DB):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30.0)
        # Abstracts make ~2 KB rows: 16 KiB pages write them ~25% faster than 4 KiB (bench_ingest).
        # Takes effect only while the file is still empty.
        self.db.execute("PRAGMA page_size=16384")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Apply every migration newer than the store, each in its own transaction."""
        for number, name, sql in migrations():
            if number <= self.schema_version:
                continue
            try:
                self.db.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
            except sqlite3.Error as error:
                self.db.rollback()
                raise RuntimeError(f"{self.path}: migration {name} failed: {error}") from error

    # -- papers ---------------------------------------------------------------------------------

    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Insert new papers, replace older versions, leave the rest untouched; one transaction."""
        now = (utc_now(),)
        with self.db:
            before = self.count("paper_versions")
            written = self.db.executemany(_UPSERT_PAPER, [paper + now for paper in papers]).rowcount
            updated = self.count("paper_versions") - before
        return UpsertCounts(written - updated, updated, len(papers) - written)

    def paper(self, arxiv_id: str) -> Paper | None:
        row = self.db.execute(
            f"SELECT {', '.join(Paper._fields)} FROM papers WHERE arxiv_id = ?", (arxiv_id,)
        ).fetchone()
        return Paper(*row) if row else None

    def papers_in_scope(self, category_prefix: str, date_from: str | None, date_to: str | None,
                        labelled_outside_batch: int | None = None) -> list[Paper]:
        """Papers whose primary category starts with `category_prefix`, published (else updated) within the
        dates; with `labelled_outside_batch`, less those with a successful generation in another batch."""
        where, args = ["primary_category LIKE ? || '%'"], [category_prefix]
        if date_from:
            where.append("coalesce(published, updated) >= ?")
            args.append(date_from)
        if date_to:
            where.append("coalesce(published, updated) <= ?")
            args.append(date_to)
        if labelled_outside_batch is not None:
            where.append("arxiv_id NOT IN (SELECT paper FROM generations WHERE status = 'ok' AND batch != ?)")
            args.append(labelled_outside_batch)
        rows = self.db.execute(
            f"SELECT {', '.join(Paper._fields)} FROM papers WHERE {' AND '.join(where)}", args).fetchall()
        return [Paper(*row) for row in rows]

    def count(self, table: str) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    # -- ingest runs ----------------------------------------------------------------------------

    def start_ingest_run(self, source: str, location: str) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO ingest_runs (source, location, started_at) VALUES (?, ?, ?)",
                (source, location, utc_now()),
            )
        return cursor.lastrowid

    def record_skips(self, run_id: int, skips: Iterable[tuple[str, str | None, str, str]]) -> None:
        """Store (location, arxiv_id, reason, detail) for records the run could not use."""
        with self.db:
            self.db.executemany(
                "INSERT INTO ingest_skips (run_id, location, arxiv_id, reason, detail) VALUES (?, ?, ?, ?, ?)",
                ((run_id, *skip) for skip in skips),
            )

    def finish_ingest_run(self, run_id: int, *, read: int, kept: int, inserted: int, updated: int,
                          skipped: int) -> None:
        with self.db:
            self.db.execute(
                "UPDATE ingest_runs SET finished_at = ?, read = ?, kept = ?, inserted = ?, updated = ?, "
                "skipped = ? WHERE id = ?",
                (utc_now(), read, kept, inserted, updated, skipped, run_id),
            )

    # -- labelling ------------------------------------------------------------------------------

    def open_batch(self, *, recipe_hash: str, recipe: dict, price_input: float | None,
                   price_output: float | None) -> int:
        """The batch for this recipe: created on first use, found again on a resume."""
        with self.db:
            self.db.execute(
                "INSERT INTO batches (recipe_hash, recipe, backend, model, prompt_version, price_input_per_mtok, "
                "price_output_per_mtok, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(recipe_hash) DO UPDATE SET status = 'running', "
                "price_input_per_mtok = excluded.price_input_per_mtok, "
                "price_output_per_mtok = excluded.price_output_per_mtok",
                (recipe_hash, orjson.dumps(recipe).decode(), recipe["backend"], recipe["model"],
                 recipe["prompt_version"], price_input, price_output, utc_now()))
        return self.db.execute("SELECT id FROM batches WHERE recipe_hash = ?", (recipe_hash,)).fetchone()[0]

    def set_batch_status(self, batch_id: int, status: str) -> None:
        with self.db:
            self.db.execute("UPDATE batches SET status = ? WHERE id = ?", (status, batch_id))

    def sample_states(self, batch_id: int) -> dict[tuple[str, int], tuple[bool, int]]:
        """(paper, sample) -> (finished: a success or a recorded skip, calls made so far)."""
        rows = self.db.execute(
            "SELECT paper, sample, max(status IN ('ok', 'skipped')), count(*) FROM generations WHERE batch = ? "
            "GROUP BY paper, sample", (batch_id,))
        return {(paper, sample): (bool(finished), calls) for paper, sample, finished, calls in rows}

    def add_generation(self, row: dict) -> int | None:
        """Commit one call (or skip) on its own: a crash can lose only what is still in flight. A row the store
        already holds (the same attempt of a sample, or a second success of it) is left out, never an error:
        workers sharing a batch may record the same skip. Returns the new row's id (a revision's parent), or None
        when the row was left out."""
        row = {"output": None, "finish_reason": None, "prompt_tokens": None, "completion_tokens": None,
               "latency_ms": None, "error": None, **row, "created_at": utc_now()}
        with self.db:
            stored = self.db.execute(f"INSERT INTO generations ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                                     "ON CONFLICT DO NOTHING RETURNING id", tuple(row.values())).fetchone()
        return stored[0] if stored else None

    # -- claims: several `label` workers on one batch (migration 0008) ---------------------------------

    def claim(self, batch_id: int, keys: Iterable[tuple[str, int]], worker: str, lease_seconds: float,
              most: int, max_attempts: int) -> tuple[dict[tuple[str, int], int], set[tuple[str, int]]]:
        """Claim up to `most` of `keys` (paper, sample) for `worker`, in one write transaction, so no two workers
        hold a sample. A sample another worker holds under a live lease is passed over; an expired lease is taken
        over. Returns ({claimed key: calls made so far}, keys already finished or out of attempts)."""
        now = time.time()
        claimed: dict[tuple[str, int], int] = {}
        settled: set[tuple[str, int]] = set()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # one writer decides at a time: the check and the claim are atomic
            for paper, sample in keys:
                if len(claimed) >= most:
                    break
                finished, calls = self.db.execute(
                    "SELECT coalesce(max(status IN ('ok', 'skipped')), 0), count(*) FROM generations "
                    "WHERE paper = ? AND batch = ? AND sample = ?", (paper, batch_id, sample)).fetchone()
                if finished or calls >= max_attempts:
                    settled.add((paper, sample))
                    continue
                taken = self.db.execute(
                    "INSERT INTO claims (batch, paper, sample, worker, expires) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (batch, paper, sample) DO UPDATE SET worker = excluded.worker, "
                    "expires = excluded.expires WHERE claims.expires < ? OR claims.worker = excluded.worker",
                    (batch_id, paper, sample, worker, now + lease_seconds, now)).rowcount
                if taken:
                    claimed[(paper, sample)] = calls
        return claimed, settled

    def renew_claims(self, worker: str, lease_seconds: float) -> None:
        """Push back the expiry of every claim `worker` holds (it is alive and still calling)."""
        with self.db:
            self.db.execute("UPDATE claims SET expires = ? WHERE worker = ?", (time.time() + lease_seconds, worker))

    def release_claims(self, worker: str) -> None:
        """Hand back what `worker` still holds (it stops), so others or a re-run take it at once."""
        with self.db:
            self.db.execute("DELETE FROM claims WHERE worker = ?", (worker,))

    def claim_holders(self, batch_id: int) -> list[tuple[str, int, float]]:
        """(worker, samples held, seconds until its earliest lease expires) of every worker holding a claim."""
        return self.db.execute("SELECT worker, count(*), min(expires) - ? FROM claims WHERE batch = ? GROUP BY 1",
                               (time.time(), batch_id)).fetchall()

    def batch_outputs(self, batch_id: int) -> list[dict]:
        """Every generation of a batch (ok or failed) with its paper, in paper and sample order."""
        cursor = self.db.execute(
            "SELECT id AS generation, paper AS arxiv_id, sample, status, output, finish_reason, prompt_tokens, "
            "completion_tokens, latency_ms, error FROM generations WHERE batch = ? ORDER BY paper, sample, id",
            (batch_id,))
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor]

    def ok_generations(self, batch_id: int | None = None) -> list[tuple[int, str, str, str, str]]:
        """(generation, arxiv_id, abstract, explanation, title) of every successful generation (of one batch)."""
        query = ("SELECT g.id, g.paper, p.abstract, g.output, p.title FROM generations g "
                 "JOIN papers p ON p.arxiv_id = g.paper WHERE g.status = 'ok'")
        return self.db.execute(query + (" AND g.batch = ?" if batch_id else "") + " ORDER BY g.id",
                               (batch_id,) if batch_id else ()).fetchall()

    def labelled_papers(self) -> list[tuple[str, str, str, int]]:
        """(arxiv_id, abstract, explanation, generation) of every successful generation, by paper and sample."""
        return self.db.execute(
            "SELECT p.arxiv_id, p.abstract, g.output, g.id FROM papers p JOIN generations g ON g.paper = p.arxiv_id "
            "WHERE g.status = 'ok' ORDER BY p.arxiv_id, g.sample").fetchall()

    def generation_costs(self) -> list[tuple[int, int, int | None, float | None, str | None]]:
        """(generation, batch, completion_tokens, latency_ms, finish_reason) of every generation."""
        return self.db.execute("SELECT id, batch, completion_tokens, latency_ms, finish_reason "
                               "FROM generations").fetchall()

    def token_ledger(self) -> list[tuple]:
        """Per model: calls, ok, prompt and completion tokens, and the cost estimate where prices are set."""
        return self.db.execute(
            "SELECT g.model, count(*), sum(g.status = 'ok'), coalesce(sum(g.prompt_tokens), 0), "
            "coalesce(sum(g.completion_tokens), 0), "
            "sum(coalesce(g.prompt_tokens, 0) * b.price_input_per_mtok "
            "    + coalesce(g.completion_tokens, 0) * b.price_output_per_mtok) / 1e6 "
            "FROM generations g JOIN batches b ON b.id = g.batch GROUP BY g.model ORDER BY g.model").fetchall()

    def generation_failures(self) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT status || ': ' || substr(coalesce(error, ''), 1, 60), count(*) FROM generations "
            "WHERE status != 'ok' GROUP BY 1 ORDER BY 2 DESC LIMIT 15").fetchall()

    # -- verdicts -------------------------------------------------------------------------------

    def record_verdicts(self, name: str, thresholds: dict, judged: dict[int, list]) -> None:
        """Verdict set `name` (its thresholds) and every verdict in `judged` (generation -> verdicts), replacing
        an earlier verdict of the same generation, set and validator; one transaction."""
        now = utc_now()
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO filters (name, thresholds, created_at) VALUES (?, ?, ?)",
                            (name, orjson.dumps(thresholds).decode(), now))
            for generation, verdicts in judged.items():
                self.db.executemany(
                    "INSERT INTO verdicts (generation, filter, validator, passed, score, reasons, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(generation, filter, validator) DO UPDATE SET "
                    "passed = excluded.passed, score = excluded.score, reasons = excluded.reasons",
                    [(generation, name, v.validator, v.passed, v.score, orjson.dumps(list(v.reasons)).decode(), now)
                     for v in verdicts])

    def filter_thresholds(self, name: str | None = None) -> tuple[str, dict] | None:
        """(name, thresholds) of verdict set `name`, or of the latest one run; None when there is none."""
        row = self.db.execute("SELECT name, thresholds FROM filters WHERE ? IS NULL OR name = ? ORDER BY rowid DESC "
                              "LIMIT 1", (name, name)).fetchone()
        return (row[0], orjson.loads(row[1])) if row else None

    def verdicts(self, generation: int, filter_name: str) -> list[tuple[str, bool, float | None, tuple[str, ...]]]:
        """(validator, passed, score, reasons) of one generation under verdict set `filter_name`, in stored order."""
        rows = self.db.execute("SELECT validator, passed, score, reasons FROM verdicts WHERE generation = ? AND "
                               "filter = ? ORDER BY id", (generation, filter_name)).fetchall()
        return [(name, bool(passed), score, tuple(orjson.loads(reasons))) for name, passed, score, reasons in rows]

    def verdicts_by_generation(self, filter_name: str, batch_id: int | None = None) -> list[tuple[str, int, list]]:
        """Per judged generation: (primary category, 1 if every verdict passed else 0, each verdict's reasons)."""
        rows = self.db.execute(
            "SELECT p.primary_category, min(v.passed), json_group_array(v.reasons) FROM verdicts v "
            "JOIN generations g ON g.id = v.generation JOIN papers p ON p.arxiv_id = g.paper "
            "WHERE v.filter = ? AND (? IS NULL OR g.batch = ?) GROUP BY v.generation",
            (filter_name, batch_id, batch_id))
        return [(category, passed, [orjson.loads(group) for group in orjson.loads(reasons)])
                for category, passed, reasons in rows]

    # -- human review (`miniastrolm review`) -------------------------------------------------------

    def record_review(self, generation: int, decision: str, reviewer: str, *, reason: str | None = None,
                      edited: str | None = None) -> Review:
        """Add a decision on a generation; it replaces the one in force, which stays as history."""
        review = Review(decision, reason, edited, reviewer, utc_now())
        with self.db:
            self.db.execute("INSERT INTO reviews (generation, decision, reason, edited, reviewer, decided_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (generation, *review))
        return review

    def review_history(self, generation: int) -> list[Review]:
        """Every decision on a generation, oldest first; the last is the one in force."""
        rows = self.db.execute(f"SELECT {', '.join(Review._fields)} FROM reviews WHERE generation = ? ORDER BY id",
                               (generation,)).fetchall()
        return [Review(*row) for row in rows]

    def generation_text(self, generation: int) -> str | None:
        """The teacher's text of a successful generation (never changed by a review); None if there is none."""
        row = self.db.execute("SELECT output FROM generations WHERE id = ? AND status = 'ok'",
                              (generation,)).fetchone()
        return row[0] if row else None

    def review_items(self, filter_name: str | None, *, batch_id: int | None = None, verdict: str | None = None,
                     category: str | None = None, decision: str | None = None, limit: int = 50,
                     offset: int = 0) -> tuple[int, list[ReviewItem]]:
        """(how many match, one page of them) among successful generations, by paper and sample. `verdict`:
        passed / failed / unjudged (under `filter_name`), or a validator's name (that validator failed);
        `decision`: accept / reject / edit / unreviewed (the decision in force)."""
        args = {"filter": filter_name, "batch": batch_id, "category": category, "verdict": verdict,
                "decision": decision, "limit": limit, "offset": offset}
        where = [{"passed": "j.passed = 1", "failed": "j.passed = 0", "unjudged": "j.generation IS NULL",
                  None: "1"}.get(verdict, "EXISTS (SELECT 1 FROM verdicts WHERE generation = g.id AND "
                                          "filter = :filter AND validator = :verdict AND passed = 0)"),
                 "p.primary_category = :category" if category else "1",
                 {"unreviewed": "r.id IS NULL", None: "1"}.get(decision, "r.decision = :decision")]
        condition = _REVIEWABLE + " AND " + " AND ".join(where)
        total = self.db.execute("SELECT count(*) " + condition, args).fetchone()[0]
        rows = self.db.execute(
            "SELECT g.id, g.paper, p.title, p.abstract, p.primary_category, g.sample, g.model, g.output, j.passed, "
            f"{_REVIEW_COLUMNS} {condition} ORDER BY g.paper, g.sample, g.id LIMIT :limit OFFSET :offset", args)
        return total, [ReviewItem(*row[:8], None if row[8] is None else bool(row[8]), _review(row[9:]))
                       for row in rows]

    def review_categories(self, batch_id: int | None = None) -> list[tuple[str, int]]:
        """(primary category, successful generations) for the review page's category filter."""
        return self.db.execute(
            "SELECT p.primary_category, count(*) FROM generations g JOIN papers p ON p.arxiv_id = g.paper "
            "WHERE g.status = 'ok' AND (? IS NULL OR g.batch = ?) GROUP BY 1 ORDER BY 1",
            (batch_id, batch_id)).fetchall()

    def review_candidates(self, filter_name: str, batch_id: int | None = None) -> list[Candidate]:
        """Every successful generation (of a batch) with its verdicts under `filter_name` and the decision in
        force, ordered by arXiv id, sample and generation."""
        rows = self.db.execute(
            "SELECT g.id, p.arxiv_id, p.title, p.abstract, p.categories, p.primary_category, g.output, g.model, "
            f"g.prompt_version, g.batch, g.sample, j.passed, j.scores, {_REVIEW_COLUMNS} {_REVIEWABLE} "
            "ORDER BY p.arxiv_id, g.sample, g.id", {"filter": filter_name, "batch": batch_id})
        return [Candidate(*row[:11], None if row[11] is None else bool(row[11]), orjson.loads(row[12] or "{}"),
                          _review(row[13:])) for row in rows]

    # -- stats ----------------------------------------------------------------------------------

    def papers_by_category(self) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT primary_category, count(*) FROM papers GROUP BY primary_category ORDER BY 2 DESC, 1"
        ).fetchall()

    def papers_by_source(self) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT source, count(*) FROM papers GROUP BY source ORDER BY 2 DESC, 1"
        ).fetchall()

    def skip_reasons(self) -> list[tuple[str, int]]:
        return self.db.execute(
            "SELECT reason, count(*) FROM ingest_skips GROUP BY reason ORDER BY 2 DESC, 1"
        ).fetchall()

    # -- provenance (what an exported dataset records) ----------------------------------------------

    def batch_records(self, batch_id: int | None = None) -> list[tuple[int, str, str, str, dict, str]]:
        """(id, backend, model, prompt_version, recipe, created_at) of every labelling batch, or of one."""
        rows = self.db.execute("SELECT id, backend, model, prompt_version, recipe, created_at FROM batches "
                               "WHERE ? IS NULL OR id = ? ORDER BY id", (batch_id, batch_id)).fetchall()
        return [(*head, orjson.loads(recipe), created_at) for *head, recipe, created_at in rows]

    def generation_tally(self, batch_id: int | None = None) -> list[tuple[int, str, str, int]]:
        """(batch, procedure, status, generations) over every batch, or one."""
        return self.db.execute("SELECT batch, procedure, status, count(*) FROM generations WHERE ? IS NULL OR "
                               "batch = ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", (batch_id, batch_id)).fetchall()

    def papers_labelled(self, batch_id: int | None = None) -> int:
        """Papers with at least one successful generation (in one batch)."""
        return self.db.execute("SELECT count(DISTINCT paper) FROM generations WHERE status = 'ok' AND "
                               "(? IS NULL OR batch = ?)", (batch_id, batch_id)).fetchone()[0]
