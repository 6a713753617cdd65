"""The arXiv API (Atom): by categories + submission-date range, or by a list of ids; paged, polite, retried."""

from __future__ import annotations

import time
from collections.abc import Iterator

import feedparser
import requests

from ..http import session
from ..store import Paper
from .records import Skip, make_paper

API_URL = "https://export.arxiv.org/api/query"


def _search_query(categories: list[str], date_from: str | None, date_to: str | None) -> str:
    query = "(" + " OR ".join(f"cat:{category}" for category in categories) + ")"
    if date_from or date_to:
        start = (date_from or "1991-01-01").replace("-", "") + "0000"
        end = (date_to or "2999-12-31").replace("-", "") + "2359"
        query += f" AND submittedDate:[{start} TO {end}]"
    return query


def _entry_fields(entry) -> dict:
    primary = entry.get("arxiv_primary_category", {}).get("term")
    others = [tag["term"] for tag in entry.get("tags", []) if tag.get("term") and tag["term"] != primary]
    return {
        "arxiv_id": entry.get("id", "").rsplit("/abs/", 1)[-1],
        "title": entry.get("title"),
        "abstract": entry.get("summary"),
        "categories": [primary, *others] if primary else others,
        "authors": [author.get("name", "") for author in entry.get("authors", [])],
        "published": (entry.get("published") or "")[:10] or None,
        "updated": (entry.get("updated") or "")[:10] or None,
    }


def read_arxiv_api(
    *,
    categories: list[str],
    ids: list[str],
    date_from: str | None,
    date_to: str | None,
    base_url: str = API_URL,
    page_size: int = 100,
    delay_seconds: float = 3.0,
    timeout_seconds: float = 30.0,
    max_retries: int = 5,
) -> Iterator[tuple[str, Paper | Skip]]:
    """Yield (location, paper) page by page; a page that fails after retries ends the stream with a Skip."""
    http = session(max_retries)
    if ids:
        pages = ({"id_list": ",".join(ids[i:i + page_size]), "max_results": page_size}
                 for i in range(0, len(ids), page_size))
    else:
        query = _search_query(categories, date_from, date_to)
        pages = ({"search_query": query, "sortBy": "submittedDate", "sortOrder": "ascending",
                  "start": start, "max_results": page_size} for start in range(0, 10**9, page_size))
    for number, params in enumerate(pages):
        if number:
            time.sleep(delay_seconds)  # arXiv asks for a pause between calls
        location = f"{base_url}?start={params.get('start', number * page_size)}"
        try:
            response = http.get(base_url, params=params, timeout=timeout_seconds)
        except requests.RequestException as error:
            yield location, Skip(location, None, "fetch_failed", f"gave up after {max_retries} retries: {error}")
            return
        if response.status_code != 200:
            yield location, Skip(location, None, "fetch_failed", f"HTTP {response.status_code} after retries")
            return
        feed = feedparser.parse(response.content)
        entries = feed.entries
        if entries and entries[0].get("id", "").startswith("http://arxiv.org/api/errors"):
            yield location, Skip(location, None, "api_error", entries[0].get("summary", "arXiv API error"))
            return
        for index, entry in enumerate(entries):
            entry_location = f"{location}#{index}"
            yield entry_location, make_paper(_entry_fields(entry), source="arxiv_api", location=entry_location)
        total = int(feed.feed.get("opensearch_totalresults", 0) or 0)
        if not ids and (not entries or params["start"] + len(entries) >= total):
            return
