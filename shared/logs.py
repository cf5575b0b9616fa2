"""Logging set-up: one event per line, JSON when not on a terminal, ids carried as fields."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from shared.settings import Settings


def configure_logging(s: Settings) -> None:
    """Configure the root logger once per process; later calls only adjust the level."""
    root = logging.getLogger()
    root.setLevel(s.log_level.upper())
    if any(getattr(h, "_newsmill", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    use_json = s.log_json if s.log_json is not None else not sys.stderr.isatty()
    if use_json:
        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler._newsmill = True  # type: ignore[attr-defined]
    root.addHandler(handler)
