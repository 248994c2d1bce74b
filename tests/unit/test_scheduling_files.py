"""Appointment files (services/scheduling/files.py): what a client downloads, read back with csv, openpyxl and
icalendar the way a spreadsheet or a calendar app would read it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta, timezone

import icalendar
import openpyxl
import pytest

from services.scheduling import files

PRACTICE = "Riverside Counseling"
PRACTICE_ZONE = "America/Chicago"

# The US goes to summer time on 8 March 2026, the UK only on 29 March: in between New York is UTC-4, London UTC+0.
BEFORE_US_DST = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
AFTER_US_DST = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def a_site(zone="America/New_York", **address):
    return {"id": "site-1", "name": "Main Street Clinic", "timezone": zone, "address": address}


def an_appointment(**overrides):
    view = {
        "id": "6f1c2a9e-0000-4000-8000-000000000001",
        "status": "booked",
        "start": AFTER_US_DST,
        "end": AFTER_US_DST + timedelta(minutes=50),
        "appointment_type": {"id": "type-1", "name": "Individual therapy", "modality": "in_person"},
        "clinician": {"id": "clin-1", "name": "Dr Ana Ruiz, LCSW"},
        "site": a_site(line1="12 Main St", line2="Suite 3", city="Springfield", state="MA", postal_code="01101"),
        "updated_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "sequence": 0,
    }
    view.update(overrides)
    return view


def zone_of(view):
    site = view.get("site")
    return site["timezone"] if site else PRACTICE_ZONE


# --- Appointment History: CSV ------------------------------------------------------------------------------------
def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_csv_starts_with_a_bom_and_every_line_ends_in_crlf():
    data = files.history_csv([an_appointment(), an_appointment()], zone_of=zone_of)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data[3:].split(b"\r\n")
    assert len(lines) == 4 and lines[-1] == b""  # header, two rows, and the last CRLF
    assert all(b"\n" not in line and b"\r" not in line for line in lines)


def test_the_csv_header_and_a_row_in_words():
    rows = read_csv(files.history_csv([an_appointment()], zone_of=zone_of))
    assert rows[0] == ["Date", "Start", "End", "Time zone", "Appointment type", "Modality", "Clinician", "Site",
                       "Status"]
    assert rows[1] == ["2026-03-09", "10:00", "10:50", "America/New_York", "Individual therapy", "In person",
                       "Dr Ana Ruiz, LCSW", "Main Street Clinic", "Booked"]


def test_the_csv_keeps_the_rows_given_in_their_order():
    views = [an_appointment(id=str(n), start=AFTER_US_DST + timedelta(days=-n), end=AFTER_US_DST + timedelta(days=-n))
             for n in range(3)]
    rows = read_csv(files.history_csv(views, zone_of=zone_of))
    assert [row[0] for row in rows[1:]] == ["2026-03-09", "2026-03-08", "2026-03-07"]


def test_an_empty_history_is_the_header_alone():
    assert read_csv(files.history_csv([], zone_of=zone_of)) == [list(files.HISTORY_COLUMNS)]


@pytest.mark.parametrize(("moment", "zone", "expected"), [
    (BEFORE_US_DST, "America/New_York", ("2026-03-06", "09:00", "America/New_York")),  # EST, UTC-5
    (AFTER_US_DST, "America/New_York", ("2026-03-09", "10:00", "America/New_York")),   # EDT, UTC-4
    (BEFORE_US_DST, "Europe/London", ("2026-03-06", "14:00", "Europe/London")),        # GMT both days
    (AFTER_US_DST, "Europe/London", ("2026-03-09", "14:00", "Europe/London")),
    # late evening in New York is already the next day in London
    (datetime(2026, 3, 10, 2, 30, tzinfo=UTC), "America/New_York", ("2026-03-09", "22:30", "America/New_York")),
    (datetime(2026, 3, 10, 2, 30, tzinfo=UTC), "Europe/London", ("2026-03-10", "02:30", "Europe/London")),
])
def test_the_csv_shows_the_wall_clock_of_the_sites_zone_across_a_dst_change(moment, zone, expected):
    view = an_appointment(start=moment, end=moment + timedelta(hours=1), site=a_site(zone))
    row = read_csv(files.history_csv([view], zone_of=zone_of))[1]
    assert (row[0], row[1], row[3]) == expected


def test_an_appointment_without_a_site_is_on_the_practices_clock():
    view = an_appointment(site=None, appointment_type={"id": "t", "name": "Check-in", "modality": "video"})
    row = read_csv(files.history_csv([view], zone_of=zone_of))[1]
    assert row[1:4] == ["09:00", "09:50", PRACTICE_ZONE]  # 14:00 UTC is 09:00 CDT
    assert row[5] == "Video" and row[7] == ""


@pytest.mark.parametrize(("code", "words"), sorted(files.STATUS_WORDS.items()))
def test_the_csv_says_the_status_in_words(code, words):
    assert read_csv(files.history_csv([an_appointment(status=code)], zone_of=zone_of))[1][8] == words


@pytest.mark.parametrize(("code", "words"), [("in_person", "In person"), ("phone", "Phone"), ("video", "Video")])
def test_the_csv_says_the_modality_in_words(code, words):
    view = an_appointment(appointment_type={"id": "t", "name": "Session", "modality": code})
    assert read_csv(files.history_csv([view], zone_of=zone_of))[1][5] == words


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"])
def test_a_name_that_would_run_as_a_formula_is_quoted(name):
    view = an_appointment(clinician={"id": "c", "name": name}, appointment_type={
        "id": "t", "name": name, "modality": "in_person"}, site=dict(a_site(), name=name))
    row = read_csv(files.history_csv([view], zone_of=zone_of))[1]
    assert row[4] == row[6] == row[7] == "'" + name


def test_an_ordinary_name_with_accents_and_commas_comes_back_as_it_was():
    view = an_appointment(clinician={"id": "c", "name": "Dr José Peña-Núñez, PhD"})
    data = files.history_csv([view], zone_of=zone_of)
    assert read_csv(data)[1][6] == "Dr José Peña-Núñez, PhD"
    assert "José".encode() in data


def test_a_naive_time_is_refused_rather_than_guessed():
    with pytest.raises(ValueError, match="timezone-aware"):
        files.history_csv([an_appointment(start=datetime(2026, 3, 9, 14, 0))], zone_of=zone_of)


# --- Appointment History: XLSX -----------------------------------------------------------------------------------
def read_xlsx(data: bytes):
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Appointment history"]
    return book["Appointment history"]


def test_the_xlsx_header_is_bold_and_frozen_with_a_filter_over_the_table():
    sheet = read_xlsx(files.history_xlsx([an_appointment(), an_appointment()], zone_of=zone_of))
    assert [cell.value for cell in sheet[1]] == list(files.HISTORY_COLUMNS)
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I3"


def test_the_xlsx_has_real_dates_and_times_on_the_sites_clock():
    views = [an_appointment(), an_appointment(start=BEFORE_US_DST, end=BEFORE_US_DST + timedelta(minutes=45),
                                              site=a_site("Europe/London"))]
    sheet = read_xlsx(files.history_xlsx(views, zone_of=zone_of))
    new_york, london = sheet[2], sheet[3]
    for row in (new_york, london):
        assert row[0].is_date and row[0].number_format == "yyyy-mm-dd"
        assert isinstance(row[1].value, time) and row[1].number_format == "hh:mm"
        assert isinstance(row[2].value, time) and row[2].number_format == "hh:mm"
    # openpyxl reads a date cell back as midnight of that day
    assert new_york[0].value.date() == date(2026, 3, 9)
    assert (new_york[1].value, new_york[2].value) == (time(10, 0), time(10, 50))
    assert london[0].value.date() == date(2026, 3, 6)
    assert (london[1].value, london[2].value) == (time(14, 0), time(14, 45))
    assert [cell.value for cell in new_york[3:]] == ["America/New_York", "Individual therapy", "In person",
                                                      "Dr Ana Ruiz, LCSW", "Main Street Clinic", "Booked"]


def test_the_xlsx_never_holds_a_formula():
    name = "=HYPERLINK(\"http://evil.example\",\"click\")"
    view = an_appointment(clinician={"id": "c", "name": name}, site=dict(a_site(), name="+cmd|' /C calc'!A0"),
                          appointment_type={"id": "t", "name": "@SUM(1)", "modality": "phone"})
    sheet = read_xlsx(files.history_xlsx([view], zone_of=zone_of))
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [cell for cell in cells if cell.data_type == "f"] == []
    assert (sheet["G2"].value, sheet["G2"].data_type) == (name, "s")
    assert sheet["G2"].quotePrefix and sheet["H2"].quotePrefix and sheet["E2"].quotePrefix
    assert not sheet["F2"].quotePrefix


def test_the_xlsx_drops_control_characters_openpyxl_cannot_store():
    view = an_appointment(clinician={"id": "c", "name": "Dr Ana\x0b Ruiz\x01"})
    assert read_xlsx(files.history_xlsx([view], zone_of=zone_of))["G2"].value == "Dr Ana Ruiz"


def test_the_xlsx_columns_are_wide_enough_for_what_they_hold():
    long_name = "Dr Maximiliana Evangelista-Worthington, LICSW"
    sheet = read_xlsx(files.history_xlsx([an_appointment(clinician={"id": "c", "name": long_name})],
                                         zone_of=zone_of))
    assert sheet.column_dimensions["G"].width >= len(long_name)
    assert sheet.column_dimensions["A"].width >= len("2026-03-09")
    assert all(sheet.column_dimensions[letter].width for letter in "ABCDEFGHI")


def test_an_empty_xlsx_history_is_the_header_alone():
    sheet = read_xlsx(files.history_xlsx([], zone_of=zone_of))
    assert sheet.max_row == 1 and sheet.auto_filter.ref == "A1:I1"


# --- one appointment's .ics --------------------------------------------------------------------------------------
def read_event(data: bytes) -> icalendar.Event:
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def test_the_ics_is_a_published_calendar_of_one_event():
    data = files.appointment_ics(an_appointment(), practice_name=PRACTICE, zone_of=zone_of)
    calendar = icalendar.Calendar.from_ical(data)
    assert str(calendar["PRODID"]) == "-//Client Portal//Scheduling//EN"
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["METHOD"]) == "PUBLISH"
    assert data.startswith(b"BEGIN:VCALENDAR\r\n") and data.endswith(b"END:VCALENDAR\r\n")


def test_the_ics_event_has_its_uid_times_in_utc_stamp_and_sequence():
    view = an_appointment(sequence=3, updated_at=datetime(2026, 3, 1, 4, 30, tzinfo=timezone(timedelta(hours=-5))))
    data = files.appointment_ics(view, practice_name=PRACTICE, zone_of=zone_of)
    event = read_event(data)
    assert str(event["UID"]) == "6f1c2a9e-0000-4000-8000-000000000001@client-portal"
    assert event["DTSTART"].dt == AFTER_US_DST and event["DTSTART"].dt.utcoffset() == timedelta(0)
    assert event["DTEND"].dt == AFTER_US_DST + timedelta(minutes=50)
    assert b"DTSTART:20260309T140000Z\r\n" in data and b"DTEND:20260309T145000Z\r\n" in data
    assert b"DTSTAMP:20260301T093000Z\r\n" in data
    assert event["SEQUENCE"] == 3
    assert str(event["SUMMARY"]) == "Individual therapy with Dr Ana Ruiz, LCSW"


@pytest.mark.parametrize(("status", "expected"), [
    ("booked", "CONFIRMED"), ("confirmed", "CONFIRMED"), ("cancelled", "CANCELLED"),
    ("late_cancelled", "CANCELLED"), ("requested", "TENTATIVE"),
])
def test_the_ics_status_follows_the_appointments(status, expected):
    event = read_event(files.appointment_ics(an_appointment(status=status), practice_name=PRACTICE, zone_of=zone_of))
    assert str(event["STATUS"]) == expected


def test_a_cancelled_appointment_no_longer_blocks_the_time():
    cancelled = read_event(files.appointment_ics(an_appointment(status="cancelled"), practice_name=PRACTICE,
                                                 zone_of=zone_of))
    booked = read_event(files.appointment_ics(an_appointment(), practice_name=PRACTICE, zone_of=zone_of))
    assert (str(cancelled["TRANSP"]), str(booked["TRANSP"])) == ("TRANSPARENT", "OPAQUE")
    assert "cancelled" in str(cancelled["DESCRIPTION"])


def test_an_in_person_location_is_the_site_and_its_address():
    event = read_event(files.appointment_ics(an_appointment(), practice_name=PRACTICE, zone_of=zone_of))
    assert str(event["LOCATION"]) == "Main Street Clinic, 12 Main St, Suite 3, Springfield, MA 01101"


def test_an_in_person_site_without_an_address_is_its_name():
    view = an_appointment(site=a_site())
    event = read_event(files.appointment_ics(view, practice_name=PRACTICE, zone_of=zone_of))
    assert str(event["LOCATION"]) == "Main Street Clinic"


def test_an_in_person_appointment_without_a_site_has_no_location():
    event = read_event(files.appointment_ics(an_appointment(site=None), practice_name=PRACTICE, zone_of=zone_of))
    assert "LOCATION" not in event


@pytest.mark.parametrize(("modality", "location"), [("phone", "Phone call"), ("video", "Video session")])
def test_a_remote_appointment_says_how_it_happens_not_where_the_site_is(modality, location):
    view = an_appointment(appointment_type={"id": "t", "name": "Check-in", "modality": modality})
    data = files.appointment_ics(view, practice_name=PRACTICE, zone_of=zone_of)
    assert str(read_event(data)["LOCATION"]) == location
    assert b"12 Main St" not in data


def test_the_description_names_the_practice_and_the_local_time():
    event = read_event(files.appointment_ics(an_appointment(), practice_name=PRACTICE, zone_of=zone_of))
    description = str(event["DESCRIPTION"])
    assert PRACTICE in description
    assert "Monday 9 March 2026, 10:00-10:50 (America/New_York)" in description


def test_the_ics_carries_no_client_name_or_note():
    view = an_appointment(client={"id": "cl-1", "name": "Jordan Quill"}, client_name="Jordan Quill",
                          note="Discussed the divorce", notes="Discussed the divorce")
    for data in (files.appointment_ics(view, practice_name=PRACTICE, zone_of=zone_of),
                 files.feed_ics([view], practice_name=PRACTICE, zone_of=zone_of)):
        text = icalendar.Calendar.from_ical(data).to_ical().decode()
        assert "Jordan" not in text and "Quill" not in text and "divorce" not in text
        assert "Jordan" not in data.decode() and "divorce" not in data.decode()


# --- the private calendar feed -----------------------------------------------------------------------------------
def test_the_feed_has_one_event_per_appointment_and_its_name():
    views = [an_appointment(id=f"id-{n}", start=AFTER_US_DST + timedelta(days=n),
                            end=AFTER_US_DST + timedelta(days=n, hours=1), status=status)
             for n, status in enumerate(["booked", "cancelled", "requested"])]
    data = files.feed_ics(views, practice_name=PRACTICE, zone_of=zone_of)
    calendar = icalendar.Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert [str(event["UID"]) for event in events] == ["id-0@client-portal", "id-1@client-portal",
                                                        "id-2@client-portal"]
    assert [str(event["STATUS"]) for event in events] == ["CONFIRMED", "CANCELLED", "TENTATIVE"]
    assert str(calendar["X-WR-CALNAME"]) == "Riverside Counseling appointments"
    assert str(calendar["METHOD"]) == "PUBLISH"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in data
    assert b"X-PUBLISHED-TTL:PT1H\r\n" in data
    assert calendar["REFRESH-INTERVAL"].dt == timedelta(hours=1)


def test_a_feed_event_is_the_same_as_the_appointments_own_ics():
    view = an_appointment(sequence=2)
    alone = read_event(files.appointment_ics(view, practice_name=PRACTICE, zone_of=zone_of))
    in_feed = icalendar.Calendar.from_ical(files.feed_ics([view], practice_name=PRACTICE, zone_of=zone_of))
    assert in_feed.walk("VEVENT")[0].to_ical() == alone.to_ical()


def test_a_practice_name_with_a_comma_is_escaped_in_the_feed_name():
    data = files.feed_ics([], practice_name="Smith, Jones; Partners", zone_of=zone_of)
    assert b"X-WR-CALNAME:Smith\\, Jones\\; Partners appointments\r\n" in data
    assert b"NAME:Smith\\, Jones\\; Partners appointments\r\n" in data
    assert icalendar.Calendar.from_ical(data).walk("VEVENT") == []
