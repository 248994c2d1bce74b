"""Appointment files: the Appointment History export (CSV, XLSX), one appointment's .ics and the private calendar feed.

Pure functions from the appointment views the use cases build (plain dicts) to bytes: no database, no Flask, no
files read. Exports show each appointment on the wall clock of its site's time zone (`zone_of(view)`, an IANA name),
since that is when the client has to be there; calendar files carry UTC and let the calendar app convert.
Only the fields named here are read, so nothing else in a view (a client's name, a note) can leak into a file
that leaves the portal.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

__all__ = ["CSV_TYPE", "HISTORY_COLUMNS", "ICS_TYPE", "MODALITY_WORDS", "STATUS_WORDS", "XLSX_TYPE",
           "appointment_ics", "feed_ics", "history_csv", "history_xlsx"]

View = Mapping[str, Any]
ZoneOf = Callable[[View], str]

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS_TYPE = "text/calendar; charset=utf-8"

HISTORY_COLUMNS = ("Date", "Start", "End", "Time zone", "Appointment type", "Modality", "Clinician", "Site", "Status")
HISTORY_SHEET = "Appointment history"

MODALITY_WORDS = {"in_person": "In person", "phone": "Phone", "video": "Video"}
STATUS_WORDS = {
    "booked": "Booked",
    "confirmed": "Confirmed",
    "cancelled": "Cancelled",
    "late_cancelled": "Late cancelled",
    "completed": "Completed",
    "no_show": "No show",
    "requested": "Requested",
}

PRODID = "-//Client Portal//Scheduling//EN"
UID_DOMAIN = "client-portal"
FEED_REFRESH = timedelta(hours=1)

# A completed appointment or a no-show still held its slot, so the calendar keeps it as it was: confirmed.
_ICS_STATUS = {
    "booked": "CONFIRMED",
    "confirmed": "CONFIRMED",
    "completed": "CONFIRMED",
    "no_show": "CONFIRMED",
    "cancelled": "CANCELLED",
    "late_cancelled": "CANCELLED",
    "requested": "TENTATIVE",
}
_REMOTE_LOCATION = {"phone": "Phone call", "video": "Video session"}

# Excel and LibreOffice run a CSV cell beginning with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_DATE_FORMAT = "yyyy-mm-dd"
_TIME_FORMAT = "hh:mm"
_MIN_WIDTH, _MAX_WIDTH = 8, 50


# --- one appointment as a history row ---------------------------------------------------------------------------
def _words(table: Mapping[str, str], code: str) -> str:
    # A code added later must not break the client's export: say it in words of its own rather than fail.
    return table.get(code) or code.replace("_", " ").capitalize()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("appointment times must be timezone-aware")
    return moment.astimezone(UTC)


def _history_row(view: View, zone_of: ZoneOf) -> tuple[date, time, time, str, str, str, str, str, str]:
    """The row's values with real dates and times; CSV formats them, XLSX stores them as they are."""
    zone_name = zone_of(view)
    zone = ZoneInfo(zone_name)
    start = _utc(view["start"]).astimezone(zone)
    end = _utc(view["end"]).astimezone(zone)
    appointment_type = view["appointment_type"]
    site = view.get("site") or {}
    return (
        start.date(),
        start.time().replace(second=0, microsecond=0, tzinfo=None),
        end.time().replace(second=0, microsecond=0, tzinfo=None),
        zone_name,
        appointment_type["name"],
        _words(MODALITY_WORDS, appointment_type["modality"]),
        view["clinician"]["name"],
        site.get("name") or "",
        _words(STATUS_WORDS, view["status"]),
    )


# --- Appointment History: CSV ------------------------------------------------------------------------------------
def _csv_text(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_cell(value: date | time | str) -> str:
    # ISO date and 24 h HH:MM are what both Excel and LibreOffice read back as a date and a time.
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return _csv_text(value)


def history_csv(views: Iterable[View], *, zone_of: ZoneOf) -> bytes:
    """The Appointment History as CSV: UTF-8 with a BOM (so Excel reads accents), CRLF, one row per view in order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HISTORY_COLUMNS)
    for view in views:
        writer.writerow([_csv_cell(value) for value in _history_row(view, zone_of)])
    return out.getvalue().encode("utf-8-sig")


# --- Appointment History: XLSX -----------------------------------------------------------------------------------
def _put(sheet, row: int, column: int, value: date | time | str):
    if isinstance(value, str):
        # openpyxl refuses control characters a name pasted from elsewhere may carry.
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = sheet.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        # openpyxl makes any str starting with "=" a formula; a name is text, whatever it starts with. quotePrefix
        # keeps it text when someone edits the cell in Excel too.
        cell.data_type = "s"
        if value.startswith(_FORMULA_STARTS):
            cell.quotePrefix = True
    elif isinstance(value, date):
        cell.number_format = _DATE_FORMAT
    elif isinstance(value, time):
        cell.number_format = _TIME_FORMAT
    return cell


def _shown_width(value: date | time | str) -> int:
    if isinstance(value, date):
        return len("yyyy-mm-dd")
    if isinstance(value, time):
        return len("hh:mm")
    return max((len(line) for line in value.splitlines()), default=0)


def history_xlsx(views: Iterable[View], *, zone_of: ZoneOf) -> bytes:
    """The Appointment History as an XLSX workbook: one sheet, bold frozen header, real dates and times, a filter."""
    book = Workbook()
    sheet = book.active
    sheet.title = HISTORY_SHEET
    book.properties.creator = "Client Portal"
    widths = [len(label) for label in HISTORY_COLUMNS]
    bold = Font(bold=True)
    for column, label in enumerate(HISTORY_COLUMNS, start=1):
        _put(sheet, 1, column, label).font = bold
    row = 1
    for row, view in enumerate(views, start=2):
        for column, value in enumerate(_history_row(view, zone_of), start=1):
            _put(sheet, row, column, value)
            widths[column - 1] = max(widths[column - 1], _shown_width(value))
    for column, width in enumerate(widths, start=1):
        # +2 for the filter button drawn in the header cell
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(HISTORY_COLUMNS))}{row}"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- calendar files ----------------------------------------------------------------------------------------------
def _address_text(address: Mapping[str, Any]) -> str:
    region = " ".join(part for part in (address.get("state"), address.get("postal_code")) if part)
    locality = ", ".join(part for part in (address.get("city"), region) if part)
    return ", ".join(part for part in (address.get("line1"), address.get("line2"), locality) if part)


def _location(view: View) -> str | None:
    """Where the client goes: the site and its address in person, what to expect otherwise; None when unknown."""
    modality = view["appointment_type"]["modality"]
    if modality in _REMOTE_LOCATION:
        return _REMOTE_LOCATION[modality]
    site = view.get("site")
    if not site:
        return None
    parts = [site.get("name") or "", _address_text(site.get("address") or {})]
    return ", ".join(part for part in parts if part) or None


def _summary(view: View) -> str:
    return f"{view['appointment_type']['name']} with {view['clinician']['name']}"


def _description(view: View, practice_name: str, zone_of: ZoneOf) -> str:
    zone_name = zone_of(view)
    zone = ZoneInfo(zone_name)
    start = _utc(view["start"]).astimezone(zone)
    end = _utc(view["end"]).astimezone(zone)
    when = f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}-{end:%H:%M} ({zone_name})"
    lines = [f"{_summary(view)} at {practice_name}.", when]
    if view["status"] in ("cancelled", "late_cancelled"):
        lines.append("This appointment was cancelled.")
    elif view["status"] == "requested":
        lines.append(f"Requested: {practice_name} has not confirmed it yet.")
    lines.append("To change or cancel it, sign in to the client portal.")
    return "\n".join(lines)


def _event(view: View, practice_name: str, zone_of: ZoneOf) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{view['id']}@{UID_DOMAIN}")
    # The last change, not the moment of download: the same appointment gives the same file.
    event.add("dtstamp", _utc(view["updated_at"]))
    event.add("dtstart", _utc(view["start"]))
    event.add("dtend", _utc(view["end"]))
    # A calendar app only takes a new time or a cancellation over its copy when SEQUENCE goes up.
    event.add("sequence", int(view["sequence"]))
    event.add("summary", _summary(view))
    location = _location(view)
    if location:
        event.add("location", location)
    event.add("description", _description(view, practice_name, zone_of))
    status = _ICS_STATUS.get(view["status"])
    if status:
        event.add("status", status)
    # A cancelled appointment stays visible in the calendar but no longer blocks the time.
    event.add("transp", "TRANSPARENT" if status == "CANCELLED" else "OPAQUE")
    return event


def _calendar() -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    return calendar


def appointment_ics(view: View, *, practice_name: str, zone_of: ZoneOf) -> bytes:
    """One appointment as an .ics file (METHOD:PUBLISH, one VEVENT) for "Add to calendar"."""
    calendar = _calendar()
    calendar.add_component(_event(view, practice_name, zone_of))
    return calendar.to_ical()


def feed_ics(views: Iterable[View], *, practice_name: str, zone_of: ZoneOf) -> bytes:
    """The client's private calendar feed: the same events as appointment_ics, and a name and refresh hint."""
    calendar = _calendar()
    name = f"{practice_name} appointments"
    # NAME is RFC 7986's; X-WR-CALNAME is what Apple, Google and Outlook read. Both are TEXT, escaped as such.
    calendar.add("name", icalendar.vText(name))
    calendar.add("x-wr-calname", icalendar.vText(name))
    calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(FEED_REFRESH))
    for view in views:
        calendar.add_component(_event(view, practice_name, zone_of))
    return calendar.to_ical()
