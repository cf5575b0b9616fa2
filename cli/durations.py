"""Ages and moments as people type them on the command line: 30m, 24h, 7d, 2w, or an ISO 8601 date."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import typer

_AGE = re.compile(r"^\s*(\d{1,9})\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(value: str) -> timedelta:
    """ "30m", "24h", "7d", "2w" as a timedelta; typer's BadParameter (a one-line usage error) otherwise."""
    match = _AGE.match(value.lower())
    if match is None:
        raise typer.BadParameter(f"{value!r} is not an age like 30m, 24h, 7d or 2w")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def parse_since(value: str, now: datetime) -> datetime:
    """An age before ``now`` (``parse_age``), or an ISO 8601 date or time (UTC if it has no zone)."""
    if _AGE.match(value.lower()):
        return now - parse_age(value)
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: use 30m, 12h, 7d, 2w or an ISO date such as 2026-11-30") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)
