"""JSON log lines carrying request and correlation ids; secrets are redacted, never written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

SECRET_KEYS = re.compile(
    r"pass(word|wd)?|secret|token|authorization|cookie|card_?number|^pan$|cvc|cvv|^otp|totp|^code$", re.IGNORECASE
)
# Anything that looks like a bearer token, a JWT, or a run of 13-19 digits (a card number) is masked.
_PATTERNS = [
    (re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[REDACTED-NUMBER]"),
    (re.compile(r"(?i)(token|password|code)=([^&\s]+)"), r"\1=[REDACTED]"),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value):
    if isinstance(value, dict):
        return {k: ("[REDACTED]" if SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


# --- database errors: what failed, never the values ------------------------------------------------------------

def _database_error_types() -> tuple[type, ...]:
    found: list[type] = []
    try:
        from sqlalchemy.exc import StatementError

        found.append(StatementError)
    except ImportError:  # pragma: no cover - every service has SQLAlchemy; a bare tool may not
        pass
    try:
        import psycopg

        found.append(psycopg.Error)
    except ImportError:  # pragma: no cover
        pass
    return tuple(found)


_DATABASE_ERRORS = _database_error_types()
_QUOTED = re.compile(r'"[^"]*"')


def _describe_driver_error(error: BaseException) -> str:
    """A psycopg error by its SQLSTATE and the names it carries (constraint, table, column). Its message is kept
    with every quoted part masked ('invalid input syntax for type integer: "..."' quotes the input); DETAIL and
    CONTEXT are dropped: 'Key (email)=(...)', 'Failing row contains (...)', 'JSON data, line 1: ...' hold values."""
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    diag = getattr(error, "diag", None)
    parts = [f"SQLSTATE {getattr(error, 'sqlstate', None) or '?'}"]
    for label in ("constraint_name", "table_name", "column_name", "datatype_name"):
        value = getattr(diag, label, None) if diag is not None else None
        if value:
            parts.append(f"{label.removesuffix('_name')} {value}")
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if primary:
        parts.append("message: " + _QUOTED.sub('"..."', primary))
    return f"{name}: {'; '.join(parts)} [values withheld from the log]"


def describe_exception(error: BaseException) -> str:
    """The last line of a traceback for `error`: as Python writes it, but without the values a database error
    echoes (SQLAlchemy's [parameters: ...], PostgreSQL's DETAIL and CONTEXT)."""
    if not isinstance(error, _DATABASE_ERRORS):
        return "".join(traceback.format_exception_only(type(error), error))
    statement = getattr(error, "statement", None)
    original = getattr(error, "orig", None)
    if original is None or original is error:
        text = _describe_driver_error(error)
    else:
        driver = _describe_driver_error(original) if isinstance(original, _DATABASE_ERRORS) \
            else type(original).__qualname__
        text = f"{type(error).__module__}.{type(error).__qualname__}: ({driver})"
    if statement:  # the SQL with its placeholders: which statement, not what it carried
        text += f"\n[SQL: {statement[:2000]}]"
    return text + "\n"


def exception_line(error: BaseException, limit: int = 200) -> str:
    """`error` in one short line for a log field or a message header: "Type: message", but a database error by its
    SQLSTATE and names (describe_exception), never str(error), which carries PostgreSQL's DETAIL and its values."""
    if isinstance(error, _DATABASE_ERRORS):
        return describe_exception(error).split("\n", 1)[0][:limit]
    return f"{type(error).__name__}: {error}"[:limit]


def format_exception(exc_info) -> str:
    """traceback.format_exception, chain included, each exception's line by describe_exception. No recursion: a
    long chain cannot exhaust the stack of the thread that logs."""
    _, error, _ = exc_info
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    link, joint = error, ""
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        chain.append((link, joint))
        if link.__cause__ is not None:
            link, joint = link.__cause__, "\nThe above exception was the direct cause of the following exception:\n\n"
        elif link.__context__ is not None and not link.__suppress_context__:
            link, joint = link.__context__, "\nDuring handling of the above exception, another exception occurred:\n\n"
        else:
            link = None
    parts: list[str] = []
    for link, joint in reversed(chain):
        if link.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(link.__traceback__))
        parts.append(describe_exception(link))
        parts.append(joint)
    return "".join(parts).rstrip("\n")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
            "request_id": request_id_var.get(),
            "correlation_id": correlation_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(redact(fields))
        if record.exc_info:
            entry["exception"] = redact_text(format_exception(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_portal", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler._portal = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("pika", "urllib3", "amqp", "kombu"):
        logging.getLogger(noisy).setLevel("WARNING")
