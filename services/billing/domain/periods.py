"""A period asked for in days (a history, a statement) as the instants it covers: the practice's calendar days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive


def calendar_period(start: date | None, end: date | None, timezone: str) -> Period:
    """From the start of day `start` to the end of day `end` (both included) in the practice's `timezone`; an open
    end reaches back (or on) past every entry."""
    tz = ZoneInfo(timezone)
    begin = datetime.combine(start, time.min, tz) if start else EARLIEST
    stop = datetime.combine(end + timedelta(days=1), time.min, tz) if end else LATEST
    return Period(begin, stop)
