"""How billing documents are numbered and named (services/billing/domain/numbers.py), and the period a history or a
statement covers (services/billing/domain/periods.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.billing.domain.numbers import document_file_name, document_number, document_title
from services.billing.domain.periods import EARLIEST, LATEST, calendar_period


@pytest.mark.parametrize(("kind", "number", "shown"), [
    ("invoice", 42, "000042"), ("statement", 7, "STM-000007"), ("superbill", 1_234_567, "SB-1234567")])
def test_a_documents_number_has_its_kinds_prefix_and_six_digits_at_least(kind, number, shown):
    assert document_number(kind, number) == shown


def test_an_invoice_is_titled_by_its_number_a_statement_or_superbill_by_its_period():
    assert document_title("invoice", 42) == "Invoice #000042"
    november = (date(2026, 11, 1), date(2026, 11, 30))
    assert document_title("statement", 7, november) == "Statement 2026-11-01 to 2026-11-30"
    assert document_title("superbill", 3, november) == "Superbill 2026-11-01 to 2026-11-30"


@pytest.mark.parametrize(("kind", "name"), [
    ("invoice", "invoice-000042.pdf"), ("statement", "statement-000042.pdf"), ("superbill", "superbill-000042.pdf")])
def test_a_pdfs_file_name_is_its_kind_and_bare_number(kind, name):
    assert document_file_name(kind, 42) == name


def test_a_period_runs_from_the_first_days_midnight_to_the_midnight_after_the_last_in_the_practices_zone():
    period = calendar_period(date(2026, 11, 1), date(2026, 11, 30), "America/New_York")
    assert period.start == datetime(2026, 11, 1, 4, tzinfo=UTC)  # still summer time (EDT) at the start
    assert period.end == datetime(2026, 12, 1, 5, tzinfo=UTC)  # EST at the end: the zone's own midnights
    assert period.end.astimezone(UTC) - period.start.astimezone(UTC) == timedelta(days=30, hours=1)


def test_a_day_in_the_practices_zone_is_not_a_utc_day():
    period = calendar_period(date(2026, 12, 2), date(2026, 12, 2), "Australia/Sydney")
    assert period.start.astimezone(ZoneInfo("Australia/Sydney")) == datetime(2026, 12, 2,
                                                                              tzinfo=ZoneInfo("Australia/Sydney"))
    assert period.start == datetime(2026, 12, 1, 13, tzinfo=UTC)


def test_an_open_end_reaches_every_entry():
    assert calendar_period(None, None, "UTC") == calendar_period(None, None, "Europe/Paris")
    period = calendar_period(None, date(2026, 12, 2), "UTC")
    assert (period.start, period.end) == (EARLIEST, datetime(2026, 12, 3, tzinfo=UTC))
    assert calendar_period(date(2026, 12, 2), None, "UTC").end == LATEST
