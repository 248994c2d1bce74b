"""Scheduling's booking rules (domain/booking.py): when a start may be requested, the status changes, the client's
cancellation window, fees, and when reminders fall due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.scheduling.domain import booking
from services.scheduling.domain.errors import BadTime, InsideCancellationWindow, StatusChanged

NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
POLICY = booking.Policy()


@pytest.mark.parametrize("start, message", [
    (NOW, "already passed"),
    (NOW - timedelta(minutes=1), "already passed"),
    (NOW + timedelta(hours=23, minutes=59), "at least 24 hours ahead"),
    (NOW + timedelta(days=60), "up to 60 days ahead"),
])
def test_a_requested_start_outside_notice_and_horizon_is_refused(start, message):
    with pytest.raises(BadTime) as refused:
        booking.check_requested_start(start, NOW, POLICY)
    assert message in str(refused.value) and refused.value.errors == {"start": [str(refused.value)]}


@pytest.mark.parametrize("start", [NOW + timedelta(hours=24), NOW + timedelta(days=60) - timedelta(minutes=1)])
def test_a_requested_start_inside_notice_and_horizon_is_taken(start):
    booking.check_requested_start(start, NOW, POLICY)


@pytest.mark.parametrize("change, status, allowed", [
    ("approve", "requested", True), ("approve", "booked", False), ("deny", "requested", True),
    ("deny", "denied", False), ("confirm", "booked", True), ("confirm", "confirmed", False),
    ("confirm", "cancelled", False), ("cancel", "requested", True), ("cancel", "confirmed", True),
    ("cancel", "completed", False), ("complete", "confirmed", True), ("complete", "no_show", False),
    ("no_show", "booked", True), ("late_cancel", "requested", False), ("reschedule", "cancelled", False),
])
def test_each_change_applies_only_from_its_statuses(change, status, allowed):
    start = NOW - timedelta(hours=1)  # begun, so completion and no-show are possible
    if allowed:
        booking.check_change(booking.CHANGES[change], status, start, NOW)
    else:
        with pytest.raises(StatusChanged) as refused:
            booking.check_change(booking.CHANGES[change], status, start, NOW)
        assert refused.value.extra == {"current_status": status}


def test_a_session_is_completed_or_missed_only_once_it_has_begun():
    with pytest.raises(StatusChanged, match="not started"):
        booking.check_change(booking.CHANGES["complete"], "booked", NOW + timedelta(minutes=1), NOW)
    booking.check_change(booking.CHANGES["no_show"], "booked", NOW, NOW)


@pytest.mark.parametrize("hours, status, until_start, allowed", [
    (24, "booked", timedelta(hours=24), True), (24, "booked", timedelta(hours=23, minutes=59), False),
    (48, "confirmed", timedelta(hours=47), False), (72, "confirmed", timedelta(hours=73), True),
    (0, "booked", timedelta(minutes=1), True), (0, "booked", timedelta(0), False),
    (72, "requested", timedelta(hours=1), True),  # a request is withdrawn at any time before its start
])
def test_the_client_cancels_outside_the_window_only(hours, status, until_start, allowed):
    policy = booking.Policy(cancellation_window=timedelta(hours=hours))
    start = NOW + until_start
    if allowed:
        booking.check_client_cancel(status, start, NOW, policy)
    else:
        with pytest.raises((InsideCancellationWindow, StatusChanged)) as refused:
            booking.check_client_cancel(status, start, NOW, policy)
        if until_start > timedelta(0):
            assert "contact the practice" in str(refused.value)


def test_fees_follow_the_practices_choice():
    charging = booking.Policy(late_cancel_fee=True, no_show_fee=False)
    assert booking.charges_fee(booking.CHANGES["late_cancel"], charging) is True
    assert booking.charges_fee(booking.CHANGES["no_show"], charging) is False
    assert booking.charges_fee(booking.CHANGES["complete"], booking.Policy(no_show_fee=True)) is False


def test_reminders_fall_due_at_each_lead_ahead():
    start = NOW + timedelta(days=5)
    assert booking.reminders_due(start, NOW, (2880, 1440)) == [(2880, start - timedelta(days=2)),
                                                               (1440, start - timedelta(days=1))]


def test_booked_inside_both_leads_one_reminder_now():
    start = NOW + timedelta(hours=10)
    assert booking.reminders_due(start, NOW, (2880, 1440)) == [(1440, NOW)]


def test_booked_between_the_leads_the_passed_one_now_and_the_near_one_later():
    start = NOW + timedelta(hours=30)
    assert booking.reminders_due(start, NOW, (1440, 2880)) == [(1440, start - timedelta(hours=24)), (2880, NOW)]


def test_no_reminder_for_a_start_already_passed_and_none_without_leads():
    assert booking.reminders_due(NOW, NOW, (1440,)) == []
    assert booking.reminders_due(NOW + timedelta(days=3), NOW, ()) == []


@pytest.mark.parametrize("until_start, allowed", [(timedelta(hours=23), True), (timedelta(hours=-1), True),
                                                  (timedelta(hours=24), False), (timedelta(days=9), False)])
def test_a_late_cancel_only_inside_the_window_or_once_begun(until_start, allowed):
    change = booking.CHANGES["late_cancel"]
    if allowed:
        booking.check_staff_change(change, "booked", NOW + until_start, NOW, POLICY)
    else:
        with pytest.raises(StatusChanged, match="cancel this one instead"):
            booking.check_staff_change(change, "booked", NOW + until_start, NOW, POLICY)
