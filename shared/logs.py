"""Logging set-up: one event per line, JSON when not on a terminal, ids carried as fields.

Inside a Celery task every line, ours or a library's, carries the task name and the ids the task was called
with (``feed_id``, ``item_id``, ...): the worker binds them when the task starts (``bind_task_ids``), a
filter on our handler copies them onto each record, and the JSON formatter writes them as fields.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import psycopg
from pythonjsonlogger.json import JsonFormatter

from shared.settings import Settings

# Per task, per thread: the threads pool runs several tasks at once, each in its own thread and context.
_context: ContextVar[Mapping[str, Any]] = ContextVar("newsmill_log_context", default={})  # noqa: B039 - never mutated


class _ContextFilter(logging.Filter):
    """Copy the bound ids onto every record that passes our handler (an explicit ``extra`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _TextFormatter(logging.Formatter):
    """The terminal format: the message, then the bound ids as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={getattr(record, k)}" for k in _context.get() if hasattr(record, k))
        return f"{line} [{ids}]" if ids else line


class _RoutineTaskLines(logging.Filter):
    """Lets Celery's "Task … succeeded" line through only when the root logs DEBUG (retries, failures stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        routine = isinstance(record.msg, str) and "succeeded in" in record.msg
        return not routine or logging.getLogger().level <= logging.DEBUG


class PipelineAbortEcho(logging.Filter):
    """Drops psycopg's WARNING that a pipeline block which raised could not be closed because the pipeline is
    aborted: the echo of the error already raised, which the caller handles (publication's queueing
    transaction runs in a pipeline, workers/steps/publish.py), not a second problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        echo = record.msg == "error ignored terminating %r: %s" and any(
            isinstance(a, psycopg.errors.PipelineAborted) for a in args
        )
        return not echo


def configure_logging(s: Settings) -> None:
    """Configure the root logger once per process; later calls only adjust the level."""
    root = logging.getLogger()
    root.setLevel(s.log_level.upper())
    # Celery's line per task received and per task succeeded are for debugging: at INFO they cost a worker about
    # a fifth of its CPU per message, and the steps log what happened to each item themselves. Its other task
    # lines (a retry, a failure) stay.
    debug = root.level <= logging.DEBUG
    # The received line is all Celery's worker strategy logs at INFO; at WARNING it skips building it at all.
    logging.getLogger("celery.worker.strategy").setLevel(logging.DEBUG if debug else logging.WARNING)
    trace = logging.getLogger("celery.app.trace")
    if not any(isinstance(f, _RoutineTaskLines) for f in trace.filters):
        trace.addFilter(_RoutineTaskLines())
    psycopg_logger = logging.getLogger("psycopg")
    if not any(isinstance(f, PipelineAbortEcho) for f in psycopg_logger.filters):
        psycopg_logger.addFilter(PipelineAbortEcho())
    if any(getattr(h, "_newsmill", False) for h in root.handlers):
        return
    # The process's real stderr: Celery replaces sys.stderr with a proxy into logging, which would loop.
    stream = sys.__stderr__ or sys.stderr
    handler = logging.StreamHandler(stream)
    use_json = s.log_json if s.log_json is not None else not stream.isatty()
    if use_json:
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
        )
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_ContextFilter())
    handler._newsmill = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    logging.captureWarnings(True)  # warnings too become one event per line, not raw multi-line text


@lru_cache(maxsize=256)
def _signature(func: Callable[..., Any]) -> inspect.Signature:
    return inspect.signature(func)


def bind_task_ids(task_name: str, func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    """Bind the task name and its id arguments (parameters named ``*_id`` / ``*_ids``) to this context."""
    try:
        bound = _signature(func).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):  # a call that does not fit the signature fails in the task, not here
        bound = {}
    ids = {k: v for k, v in bound.items() if k.endswith(("_id", "_ids"))}
    _context.set({"task": task_name, **ids})


def unbind_task_ids() -> None:
    """Forget the ids bound for the task that just ended."""
    _context.set({})
