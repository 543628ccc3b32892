"""Structured JSON logs (structlog), one event per line.

Request-scoped fields (request id, user id, route) travel in context variables. Phone numbers and personal names are
masked, and keys that look like secrets are dropped, before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(
    r"pass(word)?|secret|token|authorization|cookie|sign|api_key|otp|totp|csrf|passport", re.IGNORECASE
)
NAME_KEYS = re.compile(r"(^|_)(full_name|client_name|name)$", re.IGNORECASE)
IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
PHONE = re.compile(r"(?<![\w.])\+?\d[\d\s().-]{8,}\d(?![\w.])")


def mask_phone(text: str) -> str:
    """``79161234567`` → ``7916*****67``: enough to tell numbers apart in a log, not enough to call."""

    def repl(match: re.Match[str]) -> str:
        if IPV4.fullmatch(match.group(0)):
            return match.group(0)
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) < 10:
            return match.group(0)
        return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]

    return PHONE.sub(repl, text)


def mask_name(name: str) -> str:
    parts = name.split()
    return " ".join(p[:1] + "***" for p in parts) if parts else name


def _scrub(value: Any, key: str = "") -> Any:
    if key and SECRET_KEYS.search(key):
        return "[redacted]"
    if isinstance(value, str):
        if key and NAME_KEYS.search(key):
            return mask_name(value)
        return mask_phone(value)
    if isinstance(value, dict):
        return {k: _scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, key) for v in value]
    return value


def scrub_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in {"timestamp", "level", "logger", "exception", "request_id", "route", "method", "client_ip", "ip"}:
            continue
        event_dict[key] = _scrub(event_dict[key], key)
    return event_dict


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the event (test capture, redirected streams)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _mask_exception(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Tracebacks are text formatted after the scrubber ran: mask phone numbers in them too."""
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = mask_phone(event_dict["exception"])
    return event_dict


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        scrub_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _mask_exception,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request log; its error log goes through our formatter.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
