"""The /explain request and error bodies as pydantic models: FastAPI validates against them and shows them at
/docs. Unknown fields, and an abstract together with an arXiv id, are refused with the reason, never guessed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BEST_OF = 8


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"abstract": "We report the discovery of a faint dwarf galaxy ..."}, {"arxiv_id": "2401.01234"}]})
    abstract: str | None = Field(None, description="the abstract to explain (plain text, English)")
    arxiv_id: str | None = Field(None, description="or an arXiv id: the local store first, else the arXiv API")
    best_of: int | None = Field(None, ge=1, le=MAX_BEST_OF, description="sampled candidates; the best one that "
                                "passes the checks is returned (default: the server's --best-of)")

    @model_validator(mode="before")
    @classmethod
    def _one_source(cls, data):
        if isinstance(data, dict):
            given = [key for key in ("abstract", "arxiv_id") if data.get(key) is not None]
            if len(given) != 1:
                raise ValueError('send {"abstract": "..."} or {"arxiv_id": "2401.01234"}'
                                 + (", not both" if given else ""))
        return data


class Problem(BaseModel):
    """Every 4xx/5xx of the /explain routes: one sentence saying what is wrong."""

    detail: str
