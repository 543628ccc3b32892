"""RFC 9457 problem details: one exception type, one set of handlers, one body shape.

Every error leaves the service as ``application/problem+json`` with a stable ``type`` URI, a ``title``, the ``status``,
a human ``detail`` and, for validation problems, an ``errors`` list of ``{field, message}``. Nothing internal (stack
traces, SQL, paths, exception texts) ever reaches a client.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_BASE = "https://leadflow.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

log = structlog.get_logger("leadflow.problems")

_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    423: "Locked",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    423: "locked",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class FieldErrorModel(BaseModel):
    field: str
    message: str


class ProblemDetail(BaseModel):
    """The body of every error (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldErrorModel] | None = None


def _problem_response_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": ProblemDetail, "content": {PROBLEM_CONTENT_TYPE: {}}}


# Documented on every API route; the bodies are always problem+json.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem_response_doc("Not signed in, or the token is invalid or expired"),
    403: _problem_response_doc("Your role may never do this (or the CSRF token is missing)"),
    404: _problem_response_doc("Unknown, or outside your scope"),
    409: _problem_response_doc("Conflicting state: duplicate, in use, stale version, last admin"),
    413: _problem_response_doc("Request body too large"),
    422: _problem_response_doc("Invalid input; see errors"),
    429: _problem_response_doc("Rate limited; see Retry-After"),
    503: _problem_response_doc("The database is unreachable (database-unavailable) or too slow (database-timeout)"),
}


class FieldError(dict[str, str]):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(field=field, message=message)


class Problem(Exception):
    """Base of every error a client may see. Subclasses pin ``status`` and ``type``."""

    status: int = 400
    type: str | None = None
    title: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type: str | None = None,
        title: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @property
    def slug(self) -> str:
        """The stable last part of the problem's ``type`` URI (``not-found``, ``login-locked``, ...)."""
        return self.type or _TYPES.get(self.status, "error")

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title or _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors is not None:
            body["errors"] = list(self.errors)
        body.update(self.extra)
        return body


class NotFound(Problem):
    status = 404
    type = "not-found"


class Forbidden(Problem):
    status = 403
    type = "forbidden"


class Unauthenticated(Problem):
    status = 401
    type = "unauthenticated"

    def __init__(self, detail: str = "Sign in to continue.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Conflict(Problem):
    status = 409
    type = "conflict"


class ValidationProblem(Problem):
    status = 422
    type = "validation-error"

    def __init__(self, detail: str, errors: list[FieldError] | None = None, **kwargs: Any) -> None:
        super().__init__(detail, errors=errors or [], **kwargs)

    @classmethod
    def field(cls, field: str, message: str) -> ValidationProblem:
        return cls(message, [FieldError(field, message)])


class DatabaseUnavailable(Problem):
    status = 503
    type = "database-unavailable"

    def __init__(self) -> None:
        super().__init__("The database is unreachable; try again shortly.", headers={"Retry-After": "5"})


class DatabaseTimeout(Problem):
    """PostgreSQL cancelled a statement that ran, or waited for a lock, longer than the service allows
    (``DB_STATEMENT_TIMEOUT_MS``, ``DB_LOCK_TIMEOUT_MS``); the transaction was rolled back."""

    status = 503
    type = "database-timeout"

    def __init__(self) -> None:
        super().__init__(
            "The database took too long to answer; nothing was changed, try again shortly.",
            headers={"Retry-After": "5"},
        )


# Errors that mean "the database cannot answer now", wherever they surface: 503, never 500. PostgreSQL's own errors
# of that kind reach here as OperationalError (platform.db's handle_error hook), as psycopg would raise them.
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, ConnectionError)
# SQLSTATEs (PostgreSQL, appendix A) of a session that is gone or cannot be had: connection exceptions (class 08),
# shutdowns and start-ups (57P01-57P03), an ended idle session (57P05, 25P03), too many connections (53300).
SESSION_GONE = ("08", "57P01", "57P02", "57P03", "57P05", "25P03", "53300")
# ...and of a statement cancelled for its time: statement_timeout (57014 query_canceled), lock_timeout (55P03).
TOO_SLOW = ("57014", "55P03")


def sqlstate(error: BaseException | None) -> str:
    """The SQLSTATE of a database error (SQLAlchemy's, the driver adapter's, or the driver's), or ``""``."""
    for candidate in (error, getattr(error, "orig", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return ""


def database_problem(error: BaseException) -> Problem:
    """The answer to one of :data:`DATABASE_DOWN`: 503 ``database-timeout`` for a statement PostgreSQL cancelled for
    its time, else 503 ``database-unavailable``."""
    return DatabaseTimeout() if sqlstate(error) in TOO_SLOW else DatabaseUnavailable()


class RateLimited(Problem):
    status = 429
    type = "rate-limited"

    def __init__(self, retry_after: int, detail: str = "Too many requests; slow down.") -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance=request.url.path if request is not None else None),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "Unknown field."
    if error.get("type") == "missing":
        return "This field is required."
    msg = str(error.get("msg", "Invalid value."))
    # Pydantic prefixes custom errors with "Value error, "; the rest of the text is ours.
    return msg.removeprefix("Value error, ")


def validation_errors(errors: list[dict[str, Any]] | Any) -> list[FieldError]:
    return [
        FieldError("body" if e.get("type") == "json_invalid" else _field_name(e.get("loc", ())), _message(e))
        for e in errors
    ]


async def _problem_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problem = ValidationProblem("The request is not valid; see errors.", validation_errors(exc.errors()))
    return problem_response(problem, request)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route offers at this path (Starlette's own Allow header names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404:
        detail = "Nothing is here."
    elif status == 405:
        allowed = _allowed_methods(request)
        detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
        exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
    elif isinstance(exc.detail, str) and status < 500:
        detail = exc.detail
    else:
        detail = _TITLES.get(status, "Error")
    problem = Problem(detail, status=status, headers=dict(exc.headers or {}))
    return problem_response(problem, request)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    problem = database_problem(exc)
    log.error(problem.slug.replace("-", "_"), error=type(exc).__name__, sqlstate=sqlstate(exc) or None)
    return problem_response(problem, request)


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", exc_info=exc, path=request.url.path, method=request.method)
    problem = Problem("Something went wrong on our side; the error was logged.", status=500)
    return problem_response(problem, request)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for error in DATABASE_DOWN:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unhandled_handler)
