"""Availability: a clinician's weekly wall-clock rules and their overrides, expanded into open windows and
bookable slots as UTC instants.

Staff write availability the way a clinic thinks of it, "Mondays 09:00-12:00 at the Leeds site", in the site's own
time zone; appointments and "now" are instants. The expansion goes local date by local date through zoneinfo, so
a site keeps its hours when its clocks change: on the spring-forward day the missing hour simply is not open, and
on the autumn day the repeated hour is open twice. What is offered is what can be requested: minimum notice
(`earliest`), the horizon (`latest`), the appointment type's buffers and those of what is already booked,
time off and extra hours, and the clinician's appointments at every site.

Pure functions over frozen dataclasses, standard library only, so every rule is reached by a unit test.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ZERO = timedelta(0)
MIDNIGHT = time(0)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # not strftime's %B, which follows the process's locale


# --- errors ---------------------------------------------------------------------------------------------------

class InvalidAvailability(ValueError):
    """A rule or an override that cannot describe open time (an end before its start, an unknown time zone...)."""


class NonexistentLocalTime(ValueError):
    """A wall-clock time the site's clocks skip on that day (the spring-forward gap)."""

    def __init__(self, day: date, wall: time, zone: str):
        super().__init__(f"{_spoken_time(wall)} on {_spoken_date(day)} does not exist in {zone} "
                         "(the clocks go forward)")
        self.day = day
        self.wall = wall
        self.zone = zone


# --- what staff enter and what is booked ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A weekly availability rule: every `weekday` (0 = Monday) from `start` to `end` on the site's wall clock."""

    weekday: int
    start: time
    end: time  # > start: no rule crosses midnight
    site_id: str
    zone: str  # the site's IANA time zone name

    def __post_init__(self):
        if not 0 <= self.weekday <= 6:
            raise InvalidAvailability("The weekday of an availability rule is 0 (Monday) to 6 (Sunday).")
        if self.end <= self.start:
            raise InvalidAvailability("An availability rule ends after it starts, on the same day.")
        _zone(self.zone)


@dataclass(frozen=True)
class Override:
    """An exception to the weekly rules on one of the site's local dates.

    available=False is time off: the whole day when `start` and `end` are None, else those hours; with no
    `site_id` it is time off at every site that day, each in its own time zone. available=True is extra hours,
    at one site (`site_id` and `zone` required), from `start` to `end`. Time off is taken out of extra hours too:
    open time is (rules + extra hours) - time off."""

    day: date
    available: bool
    start: time | None = None
    end: time | None = None
    site_id: str | None = None
    zone: str | None = None  # the zone of site_id

    def __post_init__(self):
        if (self.start is None) != (self.end is None):
            raise InvalidAvailability("Give both the start and the end of the hours, or neither (the whole day).")
        if self.start is not None and self.end <= self.start:
            raise InvalidAvailability("The hours end after they start, on the same day.")
        if self.available:
            if self.start is None:
                raise InvalidAvailability("Extra hours need a start and an end.")
            if self.site_id is None or self.zone is None:
                raise InvalidAvailability("Extra hours are at one site, with its time zone.")
        elif self.site_id is None and self.zone is not None:
            raise InvalidAvailability("Time off at every site is in each site's own time zone; give a time zone "
                                      "only with a site.")
        if self.zone is not None:
            _zone(self.zone)


@dataclass(frozen=True)
class Busy:
    """Something that holds the clinician's time at any site (an appointment), with its own type's buffers."""

    start: datetime  # aware
    end: datetime
    buffer_before: timedelta = ZERO
    buffer_after: timedelta = ZERO

    def __post_init__(self):
        _ensure_aware(self.start, "A busy time's start")
        _ensure_aware(self.end, "A busy time's end")
        if self.end < self.start:
            raise ValueError("A busy time ends after it starts.")
        if self.buffer_before < ZERO or self.buffer_after < ZERO:
            raise ValueError("Buffers are never negative.")


@dataclass(frozen=True)
class Window:
    """A stretch of open time at one site, as UTC instants (half-open: [start, end))."""

    start: datetime
    end: datetime
    site_id: str


@dataclass(frozen=True)
class Slot:
    """A bookable appointment time at one site, as UTC instants."""

    start: datetime
    end: datetime
    site_id: str


# --- local wall clock to instants -----------------------------------------------------------------------------

def local_instant(day: date, wall: time, zone: str) -> datetime:
    """`wall` on the site-local date `day` in `zone`, as a UTC instant. A time the clocks skip raises
    NonexistentLocalTime; a time they repeat (the autumn hour) is its first occurrence."""
    tz = _zone(zone)
    local = datetime.combine(day, wall.replace(fold=0, tzinfo=None), tzinfo=tz)
    instant = local.astimezone(UTC)
    if not _round_trips(local, instant):
        raise NonexistentLocalTime(day, wall, zone)
    return instant


def _boundary(day: date, wall: time, tz: ZoneInfo, *, fold: int) -> datetime:
    """The instant a window starts (fold=0: the first of a repeated time) or ends (fold=1: the second). A time in
    the spring-forward gap is the instant the clocks jump, the first instant after the gap, for a start and an end
    alike: open time from 02:00 to 04:00 on that night is open from the jump (03:00 new time) to 04:00."""
    local = datetime.combine(day, wall.replace(fold=fold, tzinfo=None), tzinfo=tz)
    instant = local.astimezone(UTC)
    if _round_trips(local, instant):
        return instant
    return _clocks_jump(local)


def _round_trips(local: datetime, instant: datetime) -> bool:
    """Does `instant` read as `local` on the zone's clock? Not for a wall time the clocks skip (zoneinfo maps those
    with one of the two offsets around the gap, to an instant that reads as another time)."""
    back = instant.astimezone(local.tzinfo)
    return back.replace(tzinfo=None, fold=0) == local.replace(tzinfo=None, fold=0)


def _clocks_jump(local: datetime) -> datetime:
    """The instant the clocks go forward over the gap `local` (a nonexistent wall time) falls in. Read with the
    offset after the change (fold=1) the wall time is an instant before the jump, with the offset before (fold=0)
    one at or after it; transitions are on whole seconds, so a search over seconds between the two finds it."""
    tz = local.tzinfo
    before = local.replace(fold=1).astimezone(UTC)
    after = local.replace(fold=0).astimezone(UTC)
    offset_before = before.astimezone(tz).utcoffset()
    lo, hi = math.floor(before.timestamp()), math.floor(after.timestamp())  # lo: old offset; hi: new offset
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


# --- open windows ---------------------------------------------------------------------------------------------

def windows(rules: Iterable[Rule], overrides: Iterable[Override], first_day: date, last_day: date) -> list[Window]:
    """The clinician's open time from the rules and the extra hours, minus time off, for every local date from
    the day before `first_day` to the day after `last_day` in each site's zone: a caller that then filters by
    instants (a UTC day, a week in the practice's zone) never misses a day at a zone's edge.

    Sorted by start, then site. Open time at the same site that overlaps or touches is one window (a rule and
    extra hours after it); windows at different sites stay apart even when they overlap in time, since each is
    where the appointment would be."""
    if last_day < first_day:
        raise ValueError("last_day is before first_day.")
    span_first, span_last = first_day - timedelta(days=1), last_day + timedelta(days=1)
    days = [span_first + timedelta(days=n) for n in range((span_last - span_first).days + 1)]
    overrides = list(overrides)

    # open time grouped by site and zone: time off without a zone of its own is read in the zone of the
    # open time it takes away from
    opened: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for rule in rules:
        tz = _zone(rule.zone)
        for day in days:
            if day.weekday() == rule.weekday:
                opened.setdefault((rule.site_id, rule.zone), []).append(_span(day, rule.start, rule.end, tz))
    for extra in overrides:
        if extra.available and span_first <= extra.day <= span_last:
            opened.setdefault((extra.site_id, extra.zone), []).append(
                _span(extra.day, extra.start, extra.end, _zone(extra.zone)))

    time_off = [o for o in overrides if not o.available]
    by_site: dict[str, list[tuple[datetime, datetime]]] = {}
    for (site_id, zone), spans in opened.items():
        for off in time_off:
            if off.site_id is None or off.site_id == site_id:
                spans = _subtract(spans, _off_span(off, _zone(off.zone or zone)))
        by_site.setdefault(site_id, []).extend(spans)

    found = [Window(start, end, site_id) for site_id, spans in by_site.items() for start, end in _merge(spans)]
    return sorted(found, key=lambda w: (w.start, w.site_id))


def _span(day: date, start: time, end: time, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return _boundary(day, start, tz, fold=0), _boundary(day, end, tz, fold=1)


def _off_span(off: Override, tz: ZoneInfo) -> tuple[datetime, datetime]:
    if off.start is None:  # the whole local day, from its midnight to the next (a midnight may be in a gap too)
        return _boundary(off.day, MIDNIGHT, tz, fold=0), _boundary(off.day + timedelta(days=1), MIDNIGHT, tz, fold=0)
    return _span(off.day, off.start, off.end, tz)


def _subtract(spans: list[tuple[datetime, datetime]], cut: tuple[datetime, datetime]) -> list[
        tuple[datetime, datetime]]:
    cut_start, cut_end = cut
    left = []
    for start, end in spans:
        if cut_end <= start or end <= cut_start:
            left.append((start, end))
            continue
        if start < cut_start:
            left.append((start, cut_start))
        if cut_end < end:
            left.append((cut_end, end))
    return left


def _merge(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching half-open spans as one, dropping empty ones (a rule wholly inside a gap)."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# --- bookable slots -------------------------------------------------------------------------------------------

def slots(windows: Iterable[Window], *, duration: timedelta, step: timedelta | None = None, busy: Iterable[Busy],
          buffer_before: timedelta = ZERO, buffer_after: timedelta = ZERO, earliest: datetime,
          latest: datetime) -> list[Slot]:
    """The slots that can be requested: in each window, one every `step` (the duration when not given) from the
    window's start, counted in absolute time, so a window across a clock change has no slot in the skipped hour
    and two in the repeated one. A slot fits when it ends by the window's end; it is free when, with this type's
    buffers around it, it meets no busy time with that one's buffers around it (half-open, so back-to-back is
    allowed when the buffers are zero); it starts at or after `earliest` (now + minimum notice) and before
    `latest` (the horizon). Sorted by start, then site.

    Busy times are sorted and merged once, and each slot is looked up by bisection: a month of slots against
    thousands of appointments stays cheap."""
    step = _check_times(duration, step, buffer_before, buffer_after, earliest, latest)
    earliest, latest = earliest.astimezone(UTC), latest.astimezone(UTC)
    is_free = _free_check(busy, buffer_before, buffer_after)
    found = []
    for window in windows:
        start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
        if earliest > start:  # skip to the first step at or after earliest, on the window's own grid
            start += step * -((start - earliest) // step)  # whole steps, rounded up
        while start + duration <= end and start < latest:
            if is_free(start, start + duration):
                found.append(Slot(start, start + duration, window.site_id))
            start += step
    return sorted(found, key=lambda s: (s.start, s.site_id))


def is_offered(slot_start: datetime, windows: Iterable[Window], *, duration: timedelta,
               step: timedelta | None = None, busy: Iterable[Busy], buffer_before: timedelta = ZERO,
               buffer_after: timedelta = ZERO, earliest: datetime, latest: datetime,
               site_id: str | None = None) -> Slot | None:
    """The slot `slots()` would offer beginning exactly at `slot_start` (at `site_id`, or at the first site in
    site order), else None: a start off the windows' step grid, one no longer free, one outside notice and
    horizon, and a wall-clock time the zone skips (an aware `slot_start` that does not exist on its own clock)
    are all None.

    Windows from `windows(rules, overrides, d, d)` for the UTC date d of `slot_start` are enough: that expansion
    covers the local dates on either side in every zone, and a window never spans a local midnight."""
    step = _check_times(duration, step, buffer_before, buffer_after, earliest, latest)
    _ensure_aware(slot_start, "A slot's start")
    start = slot_start.astimezone(UTC)
    if not _round_trips(slot_start, start):
        return None
    if not earliest <= start < latest:
        return None
    fitting = sorted((w for w in windows if site_id is None or w.site_id == site_id),
                     key=lambda w: (w.site_id, w.start))
    end = start + duration
    for window in fitting:
        window_start, window_end = window.start.astimezone(UTC), window.end.astimezone(UTC)
        if window_start <= start and end <= window_end and (start - window_start) % step == ZERO:
            # one slot: a single pass over the busy times beats sorting them
            needed_start, needed_end = start - buffer_before, end + buffer_after
            if any(b.start - b.buffer_before < needed_end and needed_start < b.end + b.buffer_after
                   and b.start - b.buffer_before < b.end + b.buffer_after for b in busy):
                return None  # busy at every site: no other window offers it either
            return Slot(start, end, window.site_id)
    return None


def _check_times(duration, step, buffer_before, buffer_after, earliest, latest) -> timedelta:
    if duration <= ZERO:
        raise ValueError("An appointment's duration is more than zero.")
    step = duration if step is None else step
    if step <= ZERO:
        raise ValueError("The step between slots is more than zero.")
    if buffer_before < ZERO or buffer_after < ZERO:
        raise ValueError("Buffers are never negative.")
    _ensure_aware(earliest, "earliest")
    _ensure_aware(latest, "latest")
    return step


def _free_check(busy: Iterable[Busy], buffer_before: timedelta, buffer_after: timedelta):
    """A function (start, end) -> is that slot, with this type's buffers, clear of every busy time? The busy
    times, each widened by its own buffers, are merged into disjoint sorted spans: the only one a slot can meet
    is the last that starts before the slot's widened end."""
    held = _merge((b.start.astimezone(UTC) - b.buffer_before, b.end.astimezone(UTC) + b.buffer_after) for b in busy)
    starts = [s for s, _ in held]
    ends = [e for _, e in held]

    def is_free(start: datetime, end: datetime) -> bool:
        needed_start, needed_end = start - buffer_before, end + buffer_after
        i = bisect_left(starts, needed_end)  # held[:i] start before the needed span ends
        return i == 0 or ends[i - 1] <= needed_start

    return is_free


# --- small helpers --------------------------------------------------------------------------------------------

def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidAvailability(f"{name!r} is not a time zone (an IANA name like Europe/London).") from None


def _ensure_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} is an aware datetime (with its time zone).")


def _spoken_time(wall: time) -> str:
    hour = wall.hour % 12 or 12
    return f"{hour}:{wall.minute:02d} {'AM' if wall.hour < 12 else 'PM'}"


def _spoken_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
