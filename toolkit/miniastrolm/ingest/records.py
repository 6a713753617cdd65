"""Turning one raw record from any source into a `Paper`, or a `Skip` that says where and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..store import Paper
from ..text import unwrap


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that could not be used: `location` is file:line (or URL#entry), `reason` a short code."""

    location: str
    arxiv_id: str | None
    reason: str
    detail: str


class OutOfScope:
    """A record outside the requested categories: counted, not stored, not an error."""


OUT_OF_SCOPE = OutOfScope()

_VERSIONED_ID = re.compile(r"^(?P<id>.+?)v(?P<version>\d+)$")
ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*(\.[A-Z]{2})?/\d{7})$")
TEXT_FIELDS = ("abstract", "title", "categories", "authors")
REQUIRED_TEXT = frozenset({"abstract", "title", "categories"})


def split_version(raw_id: str) -> tuple[str, int | None]:
    """'2401.01234v3' -> ('2401.01234', 3); an id without a version keeps None."""
    match = _VERSIONED_ID.match(raw_id)
    return (match["id"], int(match["version"])) if match else (raw_id, None)


def in_scope(categories: str, prefix: str, cross_lists: bool) -> bool:
    """Primary category (listed first) starts with `prefix`; with `cross_lists`, any category does."""
    if not prefix:
        return True
    if cross_lists:
        return any(category.startswith(prefix) for category in categories.split())
    return categories.startswith(prefix)


def make_paper(fields: dict[str, Any], source: str, location: str) -> Paper | Skip:
    """Check types and emptiness, unwrap whitespace, split the version off the id.

    `fields` holds arxiv_id, title, abstract, categories and optionally version, authors, published,
    updated. Lists of categories or authors are accepted and joined.
    """
    raw_id = fields.get("arxiv_id")
    if isinstance(raw_id, (int, float)) and not isinstance(raw_id, bool):
        # JSON/CSV may have turned 0704.0001 into the number 704.0001: the id can no longer be trusted.
        return Skip(location, str(raw_id), "wrong_type", f"id is a number ({raw_id!r}), expected text")
    if not isinstance(raw_id, str) or not raw_id.strip():
        return Skip(location, None, "missing_id", "no arXiv id")
    arxiv_id, version = split_version(raw_id.strip())
    if not ARXIV_ID.match(arxiv_id):
        return Skip(location, arxiv_id, "bad_id", f"{arxiv_id!r} is not an arXiv id")
    if fields.get("version") is not None:
        version = fields["version"]
        if isinstance(version, str):
            version = int(version.lstrip("v")) if version.lstrip("v").isdigit() else version
        if not isinstance(version, int) or isinstance(version, bool):
            return Skip(location, arxiv_id, "wrong_type", f"version {version!r} is not a number")

    text: dict[str, str] = {}
    for name in TEXT_FIELDS:
        value = fields.get(name)
        if type(value) is not str:
            if value is None:
                value = ""
            elif isinstance(value, list) and all(isinstance(item, str) for item in value):
                value = (", " if name == "authors" else " ").join(value)
            else:
                return Skip(location, arxiv_id, "wrong_type", f"{name} is {type(value).__name__}, expected text")
        text[name] = unwrap(value)
        if not text[name] and name in REQUIRED_TEXT:
            return Skip(location, arxiv_id, f"empty_{name}", f"{name} is missing or empty")

    published, updated = fields.get("published"), fields.get("updated")
    for name, value in (("published", published), ("updated", updated)):
        if value is not None and type(value) is not str:
            return Skip(location, arxiv_id, "wrong_type", f"{name} is {type(value).__name__}, expected a date")

    return Paper(
        arxiv_id=arxiv_id,
        version=version,
        title=text["title"],
        abstract=text["abstract"],
        categories=text["categories"],
        primary_category=text["categories"].split(" ", 1)[0],
        authors=text["authors"],
        published=published or None,
        updated=updated or None,
        source=source,
    )
