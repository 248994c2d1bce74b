"""What makes an invoice (services/billing/domain/invoices.py): the session it bills, its lines priced and
checked, its total and due date."""

from __future__ import annotations

from datetime import date

import pytest

from services.billing.domain.errors import AlreadyInvoiced, NotACompletedSession, UnknownServiceCodes
from services.billing.domain.invoices import (
    Line,
    Rate,
    check_lines,
    check_session,
    due_date,
    invoice_total,
    priced_lines,
)

RATES = {"90837": Rate("90837", "Psychotherapy, 60 minutes", 15_000, True),
         "90791": Rate("90791", "Diagnostic evaluation", 20_000, True),
         "H0004": Rate("H0004", "Behavioral health counseling, 15 minutes", 3_000, True),
         "OLD1": Rate("OLD1", "A code no longer used", 9_000, False)}
SESSION_DAY = date(2026, 11, 30)


def test_an_invoice_bills_a_completed_session_of_its_client_once():
    check_session("client-1", "client-1", None)
    with pytest.raises(AlreadyInvoiced, match="This session already has an invoice."):
        check_session("client-1", "client-1", "invoice-9")


@pytest.mark.parametrize("session_client_id", [None, "client-2"])
def test_a_session_unknown_or_of_another_client_is_a_field_to_fix(session_client_id):
    with pytest.raises(NotACompletedSession) as refused:
        check_session("client-1", session_client_id, None)
    assert str(refused.value) == "No completed session with this id for this client."
    assert refused.value.errors == {"appointment_id": ["Not a completed session of this client."]}


def test_lines_with_known_active_codes_pass_whatever_their_case():
    check_lines([{"service_code": "90837", "units": 1}, {"service_code": "h0004", "units": 2}], RATES)


def test_each_line_with_an_unknown_or_inactive_code_is_named_by_its_index_as_the_client_wrote_it():
    lines = [{"service_code": "90837", "units": 1}, {"service_code": "nope", "units": 1},
             {"service_code": "old1", "units": 1}]
    with pytest.raises(UnknownServiceCodes) as refused:
        check_lines(lines, RATES)
    assert str(refused.value) == "Some lines name unknown service codes."
    assert refused.value.errors == {"lines": {"1": {"service_code": ["Unknown service code nope."]},
                                              "2": {"service_code": ["Unknown service code old1."]}}}


def test_a_line_is_priced_at_its_codes_rate_times_its_units_with_the_codes_name_and_spelling():
    lines = priced_lines([{"service_code": "h0004", "units": 2}], RATES, SESSION_DAY)
    assert lines == [Line(position=1, service_code="H0004", description="Behavioral health counseling, 15 minutes",
                          units=2, rate_cents=3_000, amount_cents=6_000, date_of_service=SESSION_DAY)]


def test_a_lines_own_description_and_date_win_and_positions_follow_the_request():
    lines = priced_lines([{"service_code": "90791", "units": 1},
                          {"service_code": "90837", "units": 1, "description": "Family session",
                           "date_of_service": date(2026, 11, 2)}], RATES, None)
    assert [(ln.position, ln.service_code, ln.description, ln.date_of_service) for ln in lines] == [
        (1, "90791", "Diagnostic evaluation", None), (2, "90837", "Family session", date(2026, 11, 2))]


def test_the_total_is_the_sum_of_the_lines():
    lines = priced_lines([{"service_code": "90837", "units": 3}, {"service_code": "90791", "units": 1}], RATES, None)
    assert invoice_total(lines) == 65_000
    assert invoice_total([]) == 0


def test_an_invoice_is_due_the_day_asked_for_else_some_days_after_issue():
    assert due_date(date(2026, 12, 2), 30) == date(2027, 1, 1)
    assert due_date(date(2026, 12, 2), 30, date(2026, 12, 15)) == date(2026, 12, 15)
