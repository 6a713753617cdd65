"""Every failure as one sentence with the right status, never a stack trace: `{"detail": reason}` on the
/explain routes, the OpenAI error object on /v1/ (what its clients read)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..explain import GenerationTimeout, InputError, UnknownPaper
from .batcher import QueueFull


class Upstream(RuntimeError):
    """The arXiv API could not be reached (502)."""


def problem(request: Request, status: int, detail: str, headers: dict | None = None) -> JSONResponse:
    body = ({"error": {"message": detail, "type": "invalid_request_error" if status < 500 else "server_error",
                       "code": status}} if request.url.path.startswith("/v1/") else {"detail": detail})
    return JSONResponse(body, status_code=status, headers=headers)


def reason(error: dict) -> str:
    """One pydantic error as a sentence that names the field."""
    where = ".".join(str(part) for part in error["loc"] if part != "body")
    if error["type"] == "extra_forbidden":
        return f"unknown field {where!r} (see /docs for the fields this endpoint takes)"
    if not where and error["type"] in ("missing", "model_attributes_type"):
        return "the body must be a JSON object (see /docs)"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        if any(e["type"] == "json_invalid" or isinstance(e.get("input"), bytes) for e in error.errors()):
            return problem(request, 400, "the body must be JSON, e.g. {\"abstract\": \"...\"}")
        return problem(request, 422, "; ".join(reason(e) for e in error.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return problem(request, error.status_code, str(error.detail))

    @app.exception_handler(QueueFull)
    async def busy(request: Request, error: QueueFull):
        return problem(request, 503, str(error), {"Retry-After": str(error.retry_after)})

    @app.exception_handler(InputError)
    async def bad_input(request: Request, error: InputError):
        return problem(request, 404 if isinstance(error, UnknownPaper) else 422, str(error))

    @app.exception_handler(GenerationTimeout)
    async def late(request: Request, error: GenerationTimeout):
        return problem(request, 504, str(error))

    @app.exception_handler(Upstream)
    async def upstream(request: Request, error: Upstream):
        return problem(request, 502, str(error))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):  # never a stack trace to the client
        return problem(request, 500, f"internal error ({type(error).__name__}); see the server log")
