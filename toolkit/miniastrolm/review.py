"""The review page (`miniastrolm review`): people read each explanation beside its abstract, verdicts and scores,
then accept it, reject it with a reason, or edit it; the export honours their decisions (`selection.curate`).

GET  /          the page: one page of generations, filtered by ?verdict= &category= &decision=, &page=
POST /reviews   {"generation", "decision": accept | reject | edit, "reviewer", "reason" (reject), "text" (edit)}
                -> the stored decision; 4xx with {"detail": reason} for a bad one
GET  /health

Decisions are added to the store, never overwritten: the latest is in force, the teacher's text is kept.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, StrictUndefined

from .store import Review, Store
from .text import plain_text
from .validate.registry import NAMES

PAGE_SIZE = 50
MAX_TEXT_CHARS = 10_000
MAX_NAME_CHARS = 100
MAX_REASON_CHARS = 500
VERDICT_OPTIONS = [("", "any verdict"), ("passed", "passed every check"), ("failed", "failed a check"),
                   ("unjudged", "not judged"), *((name, f"failed {name}") for name in NAMES)]
DECISION_OPTIONS = [("", "any decision"), ("unreviewed", "not reviewed"), ("accept", "accepted"),
                    ("reject", "rejected"), ("edit", "edited")]
PAST = {"accept": "accepted", "reject": "rejected", "edit": "edited"}


class BadDecision(ValueError):
    """A decision the store must not take; `status` is the HTTP status the page gets."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status


def describe(review: Review | None) -> str:
    """One line for a person: who decided what, when, and why (a reject)."""
    if review is None:
        return "not reviewed"
    reason = f": {review.reason}" if review.decision == "reject" else ""
    return f"{PAST[review.decision]} by {review.reviewer} at {review.decided_at}{reason}"


def _text(payload: dict, key: str, limit: int, missing: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadDecision(422, missing)
    if len(value) > limit:
        raise BadDecision(422, f"{key} is {len(value):,} characters; the limit is {limit:,}")
    return value.strip()


def record(store: Store, payload: object) -> tuple[int, Review]:
    """Check a decision sent by the page and store it: (generation, the stored decision)."""
    if not isinstance(payload, dict):
        raise BadDecision(400, 'send {"generation": ..., "decision": "accept", "reviewer": ...}')
    generation, decision = payload.get("generation"), payload.get("decision")
    if decision not in PAST:
        raise BadDecision(422, f"decision must be one of {', '.join(PAST)}, not {decision!r}")
    reviewer = _text(payload, "reviewer", MAX_NAME_CHARS, "give the reviewer's name: it is stored with the decision")
    teacher_text = store.generation_text(generation) if type(generation) is int else None
    if teacher_text is None:
        raise BadDecision(404, f"no successful generation {generation!r} in the store")
    reason = _text(payload, "reason", MAX_REASON_CHARS, "a reject needs a reason") if decision == "reject" else None
    edited = _text(payload, "text", MAX_TEXT_CHARS, "an edit needs the new text") if decision == "edit" else None
    if edited is not None and edited == teacher_text.strip():
        raise BadDecision(422, "the edit is the teacher's text unchanged; accept it instead")
    return generation, store.record_review(generation, decision, reviewer, reason=reason, edited=edited)


def create_review_app(db: str, *, filter_name: str | None = None, batch: int | None = None, reviewer: str = "",
                      page_size: int = PAGE_SIZE) -> FastAPI:
    """The review page over store `db`, showing verdict set `filter_name` (default: the latest one run)."""
    with Store(db) as store:
        found = store.filter_thresholds(filter_name)
    if filter_name and found is None:
        raise ValueError(f"{db}: no verdict set named {filter_name!r}")
    verdict_set = found[0] if found else None
    environment = Environment(autoescape=True, undefined=StrictUndefined)
    template = environment.from_string(files("miniastrolm").joinpath("templates/review.html").read_text("utf-8"))
    app = FastAPI(title="MiniAstroLM review", description="Accept, reject or edit the teacher's explanations.")

    def render(verdict: str, category: str, decision: str, number: int) -> str:
        with Store(db) as store:
            total, items = store.review_items(verdict_set, batch_id=batch, verdict=verdict or None,
                                              category=category or None, decision=decision or None,
                                              limit=page_size, offset=(number - 1) * page_size)
            shown = [(item, store.verdicts(item.generation, verdict_set) if verdict_set else [],
                      store.review_history(item.generation)[:-1]) for item in items]
            categories = store.review_categories(batch)
        pages = max(1, -(-total // page_size))
        filters = {"verdict": verdict, "category": category, "decision": decision}
        return template.render(
            shown=shown, total=total, number=number, pages=pages, verdict_set=verdict_set, reviewer=reviewer,
            filters=filters, verdict_options=VERDICT_OPTIONS, decision_options=DECISION_OPTIONS,
            categories=categories, describe=describe, plain_text=plain_text,
            page_url=lambda n: "?" + urlencode({**filters, "page": n}))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "db": db, "filter": verdict_set}

    @app.get("/", response_class=HTMLResponse)
    async def index(verdict: str = "", category: str = "", decision: str = "", page: int = 1):
        if verdict not in dict(VERDICT_OPTIONS) or decision not in dict(DECISION_OPTIONS) or page < 1:
            return JSONResponse({"detail": f"unknown filter: verdict={verdict!r}, decision={decision!r}, "
                                           f"page={page}"}, status_code=422)
        return await run_in_threadpool(render, verdict, category, decision, page)

    @app.post("/reviews")
    async def review(request: Request):
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"detail": "the body must be JSON"}, status_code=400)

        def store_it() -> tuple[int, Review]:
            with Store(db) as store:
                return record(store, payload)

        try:
            generation, stored = await run_in_threadpool(store_it)
        except BadDecision as error:
            return JSONResponse({"detail": str(error)}, status_code=error.status)
        return {"generation": generation, **stored._asdict(), "description": describe(stored)}

    return app
