"""Availability expansion (services/scheduling/domain/availability.py): wall-clock rules in each site's zone to
UTC windows and bookable slots, across both clock changes in New York and London, with time off, extra hours,
buffers, notice, horizon, the clinician's other site, and a month against a naive reference."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.scheduling.domain.availability import (
    Busy,
    InvalidAvailability,
    NonexistentLocalTime,
    Override,
    Rule,
    Slot,
    Window,
    is_offered,
    local_instant,
    slots,
    windows,
)

NY, LONDON = "America/New_York", "Europe/London"
MON, SUN = 0, 6
HOUR, MINUTES_30 = timedelta(hours=1), timedelta(minutes=30)
JUNE_7 = date(2027, 6, 7)  # a Monday in summer time in both zones: New York is UTC-4, London UTC+1
NEVER_BEFORE = datetime(2000, 1, 1, tzinfo=UTC)
NEVER_AFTER = datetime(2100, 1, 1, tzinfo=UTC)


def utc(y, mo, d, h, mi=0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def starts(found) -> list[datetime]:
    return [s.start for s in found]


def offer(found_windows, *, duration=HOUR, busy=(), earliest=NEVER_BEFORE, latest=NEVER_AFTER, **kwargs):
    return slots(found_windows, duration=duration, busy=busy, earliest=earliest, latest=latest, **kwargs)


def day_windows(rules, overrides, day):
    """The windows of one local day in the rules' zone (windows() expands the days either side too)."""
    zone = ZoneInfo(rules[0].zone)
    return [w for w in windows(rules, overrides, day, day) if w.start.astimezone(zone).date() == day]


# --- a plain week ---------------------------------------------------------------------------------------------

def test_a_monday_morning_gives_an_hour_slot_at_nine_ten_and_eleven_new_york_time():
    rules = [Rule(MON, time(9), time(12), "main", NY)]
    found = offer(windows(rules, [], JUNE_7, JUNE_7))
    assert found == [Slot(utc(2027, 6, 7, 13), utc(2027, 6, 7, 14), "main"),
                     Slot(utc(2027, 6, 7, 14), utc(2027, 6, 7, 15), "main"),
                     Slot(utc(2027, 6, 7, 15), utc(2027, 6, 7, 16), "main")]


def test_a_week_of_rules_gives_each_weekday_its_own_hours():
    rules = [Rule(MON, time(9), time(12), "main", NY), Rule(2, time(13), time(15), "main", NY)]
    found = windows(rules, [], JUNE_7, date(2027, 6, 13))
    # the expansion runs a day either side of 7-13 June: Monday 14 June is in it too
    assert found == [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 16), "main"),
                     Window(utc(2027, 6, 9, 17), utc(2027, 6, 9, 19), "main"),
                     Window(utc(2027, 6, 14, 13), utc(2027, 6, 14, 16), "main")]


def test_the_expansion_covers_the_day_before_and_after_so_no_zone_edge_is_missed():
    rules = [Rule(weekday, time(9), time(10), "main", NY) for weekday in range(7)]
    found = windows(rules, [], JUNE_7, JUNE_7)
    assert [w.start for w in found] == [utc(2027, 6, 6, 13), utc(2027, 6, 7, 13), utc(2027, 6, 8, 13)]


# --- the clock changes, in New York and London ----------------------------------------------------------------

def test_new_york_spring_forward_has_no_slot_in_the_missing_hour():
    # 14 March 2027: at 02:00 EST (07:00 UTC) the clocks go to 03:00 EDT
    rules = [Rule(SUN, time(1), time(4), "main", NY)]
    found_windows = day_windows(rules, [], date(2027, 3, 14))
    assert found_windows == [Window(utc(2027, 3, 14, 6), utc(2027, 3, 14, 8), "main")]  # two hours, not three
    assert starts(offer(found_windows)) == [utc(2027, 3, 14, 6), utc(2027, 3, 14, 7)]  # 01:00 EST, 03:00 EDT
    local = [s.astimezone(ZoneInfo(NY)).time() for s in starts(offer(found_windows))]
    assert time(2) not in local


def test_new_york_fall_back_offers_the_repeated_hour_twice():
    # 7 November 2027: at 02:00 EDT (06:00 UTC) the clocks go back to 01:00 EST
    rules = [Rule(SUN, time(1), time(4), "main", NY)]
    found_windows = day_windows(rules, [], date(2027, 11, 7))
    assert found_windows == [Window(utc(2027, 11, 7, 5), utc(2027, 11, 7, 9), "main")]  # four hours
    found = offer(found_windows)
    assert starts(found) == [utc(2027, 11, 7, 5), utc(2027, 11, 7, 6), utc(2027, 11, 7, 7), utc(2027, 11, 7, 8)]
    walls = [s.astimezone(ZoneInfo(NY)) for s in starts(found)]
    assert [(w.hour, w.utcoffset()) for w in walls[:2]] == [(1, timedelta(hours=-4)), (1, timedelta(hours=-5))]


def test_london_spring_forward_starts_a_rule_beginning_in_the_gap_when_the_clocks_jump():
    # 28 March 2027: at 01:00 GMT the clocks go to 02:00 BST, so the rule's 01:00 start does not exist
    rules = [Rule(SUN, time(1), time(4), "main", LONDON)]
    found_windows = day_windows(rules, [], date(2027, 3, 28))
    assert found_windows == [Window(utc(2027, 3, 28, 1), utc(2027, 3, 28, 3), "main")]  # 02:00-04:00 BST
    assert starts(offer(found_windows)) == [utc(2027, 3, 28, 1), utc(2027, 3, 28, 2)]


def test_london_fall_back_offers_the_repeated_hour_twice():
    # 31 October 2027: at 02:00 BST (01:00 UTC) the clocks go back to 01:00 GMT
    rules = [Rule(SUN, time(1), time(4), "main", LONDON)]
    found_windows = day_windows(rules, [], date(2027, 10, 31))
    assert found_windows == [Window(utc(2027, 10, 31, 0), utc(2027, 10, 31, 4), "main")]  # four hours
    assert starts(offer(found_windows)) == [utc(2027, 10, 31, 0), utc(2027, 10, 31, 1), utc(2027, 10, 31, 2),
                                            utc(2027, 10, 31, 3)]


def test_a_rule_ending_in_the_repeated_hour_ends_at_its_second_occurrence():
    # 00:00-01:30 on the fall-back night is open through the first 01:30 and the repeated hour, to the second
    rules = [Rule(SUN, time(0), time(1, 30), "main", NY)]
    assert day_windows(rules, [], date(2027, 11, 7)) == [Window(utc(2027, 11, 7, 4), utc(2027, 11, 7, 6, 30), "main")]
    rules = [Rule(SUN, time(0), time(1, 30), "main", LONDON)]
    assert day_windows(rules, [], date(2027, 10, 31)) == [Window(utc(2027, 10, 30, 23), utc(2027, 10, 31, 1, 30),
                                                                 "main")]


def test_a_rule_ending_in_the_gap_ends_when_the_clocks_jump():
    rules = [Rule(SUN, time(0), time(2, 30), "main", NY)]
    assert day_windows(rules, [], date(2027, 3, 14)) == [Window(utc(2027, 3, 14, 5), utc(2027, 3, 14, 7), "main")]


def test_a_rule_wholly_inside_the_gap_opens_nothing_that_day_only():
    rules = [Rule(SUN, time(2), time(2, 45), "main", NY)]
    assert day_windows(rules, [], date(2027, 3, 14)) == []
    assert day_windows(rules, [], date(2027, 3, 21)) == [Window(utc(2027, 3, 21, 6), utc(2027, 3, 21, 6, 45),
                                                                "main")]


def test_a_step_smaller_than_the_duration_across_the_spring_gap():
    rules = [Rule(SUN, time(1), time(4), "main", NY)]
    found = offer(day_windows(rules, [], date(2027, 3, 14)), step=MINUTES_30)
    # 01:00 EST, 01:30 EST (it ends at 03:30 EDT) and 03:00 EDT; 03:30 EDT would end after the window
    assert found == [Slot(utc(2027, 3, 14, 6), utc(2027, 3, 14, 7), "main"),
                     Slot(utc(2027, 3, 14, 6, 30), utc(2027, 3, 14, 7, 30), "main"),
                     Slot(utc(2027, 3, 14, 7), utc(2027, 3, 14, 8), "main")]


# --- local_instant --------------------------------------------------------------------------------------------

def test_local_instant_refuses_a_new_york_time_the_clocks_skip():
    with pytest.raises(NonexistentLocalTime) as refused:
        local_instant(date(2027, 3, 14), time(2, 30), NY)
    assert str(refused.value) == "2:30 AM on 14 March 2027 does not exist in America/New_York (the clocks go forward)"
    assert isinstance(refused.value, ValueError)


def test_local_instant_refuses_a_london_time_the_clocks_skip():
    with pytest.raises(NonexistentLocalTime, match=r"^1:30 AM on 28 March 2027 does not exist in Europe/London"):
        local_instant(date(2027, 3, 28), time(1, 30), LONDON)


def test_local_instant_reads_times_around_the_changes():
    assert local_instant(date(2027, 3, 14), time(3), NY) == utc(2027, 3, 14, 7)
    assert local_instant(date(2027, 3, 14), time(1, 59), NY) == utc(2027, 3, 14, 6, 59)
    assert local_instant(date(2027, 11, 7), time(1, 30), NY) == utc(2027, 11, 7, 5, 30)  # the first 01:30 (EDT)
    assert local_instant(date(2027, 10, 31), time(1, 30), LONDON) == utc(2027, 10, 31, 0, 30)  # the first (BST)
    assert local_instant(date(2027, 1, 4), time(12), LONDON) == utc(2027, 1, 4, 12)


def test_local_instant_says_pm_for_an_afternoon_time():
    assert str(NonexistentLocalTime(date(2027, 1, 2), time(14, 5), "Pacific/Apia")).startswith(
        "2:05 PM on 2 January 2027 does not exist in Pacific/Apia")


# --- a clinician at two sites in two zones --------------------------------------------------------------------

def test_each_site_expands_in_its_own_zone_and_their_windows_stay_apart():
    # the practice keeps New York time; the clinician also sees clients at a London site, 14:00-18:00 BST
    rules = [Rule(MON, time(9), time(12), "manhattan", NY), Rule(MON, time(14), time(18), "london", LONDON)]
    found = [w for w in windows(rules, [], JUNE_7, JUNE_7) if w.start.date() == JUNE_7]
    # both open at 13:00 UTC and overlap for three hours, yet each stays its own site's window
    assert found == [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 17), "london"),
                     Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 16), "manhattan")]


def test_an_appointment_at_one_site_blocks_the_other_sites_overlapping_slots():
    rules = [Rule(MON, time(9), time(12), "manhattan", NY), Rule(MON, time(14), time(18), "london", LONDON)]
    found_windows = [w for w in windows(rules, [], JUNE_7, JUNE_7) if w.start.date() == JUNE_7]
    booked_in_manhattan = Busy(utc(2027, 6, 7, 13), utc(2027, 6, 7, 14))
    found = offer(found_windows, busy=[booked_in_manhattan])
    assert [(s.start, s.site_id) for s in found] == [
        (utc(2027, 6, 7, 14), "london"), (utc(2027, 6, 7, 14), "manhattan"),
        (utc(2027, 6, 7, 15), "london"), (utc(2027, 6, 7, 15), "manhattan"),
        (utc(2027, 6, 7, 16), "london")]


def test_the_two_sites_each_cross_their_own_clock_change():
    # New York goes forward on 14 March, London only on 28 March: in between, the sites are 4 hours apart
    rules = [Rule(MON, time(9), time(10), "manhattan", NY), Rule(MON, time(9), time(10), "london", LONDON)]
    found = windows(rules, [], date(2027, 3, 8), date(2027, 3, 29))
    assert [(w.start, w.site_id) for w in found] == [
        (utc(2027, 3, 8, 9), "london"), (utc(2027, 3, 8, 14), "manhattan"),  # GMT, EST
        (utc(2027, 3, 15, 9), "london"), (utc(2027, 3, 15, 13), "manhattan"),  # GMT, EDT
        (utc(2027, 3, 22, 9), "london"), (utc(2027, 3, 22, 13), "manhattan"),
        (utc(2027, 3, 29, 8), "london"), (utc(2027, 3, 29, 13), "manhattan")]  # BST, EDT


# --- overrides ------------------------------------------------------------------------------------------------

TWO_SITES = [Rule(MON, time(9), time(13), "manhattan", NY), Rule(MON, time(9), time(13), "london", LONDON)]


def test_time_off_for_the_whole_day_at_every_site():
    found = windows(TWO_SITES, [Override(JUNE_7, available=False)], JUNE_7, date(2027, 6, 14))
    assert [(w.start, w.site_id) for w in found] == [(utc(2027, 6, 14, 8), "london"),
                                                     (utc(2027, 6, 14, 13), "manhattan")]


def test_time_off_for_the_whole_day_at_one_site():
    found = windows(TWO_SITES, [Override(JUNE_7, available=False, site_id="london", zone=LONDON)], JUNE_7, JUNE_7)
    assert found == [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 17), "manhattan")]


def test_time_off_for_some_hours_is_read_in_each_sites_own_zone():
    off = Override(JUNE_7, available=False, start=time(10), end=time(11))
    found = windows(TWO_SITES, [off], JUNE_7, JUNE_7)
    assert found == [Window(utc(2027, 6, 7, 8), utc(2027, 6, 7, 9), "london"),
                     Window(utc(2027, 6, 7, 10), utc(2027, 6, 7, 12), "london"),
                     Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 14), "manhattan"),
                     Window(utc(2027, 6, 7, 15), utc(2027, 6, 7, 17), "manhattan")]


def test_slots_after_time_off_start_where_the_open_time_starts_again():
    rules = [Rule(MON, time(9), time(12), "main", NY)]
    off = Override(JUNE_7, available=False, start=time(9), end=time(9, 30), site_id="main")
    assert starts(offer(windows(rules, [off], JUNE_7, JUNE_7))) == [utc(2027, 6, 7, 13, 30), utc(2027, 6, 7, 14, 30)]


def test_extra_hours_on_a_day_with_no_rule():
    saturday = date(2027, 6, 12)
    extra = Override(saturday, available=True, start=time(10), end=time(12), site_id="main", zone=NY)
    found_windows = windows([Rule(MON, time(9), time(12), "main", NY)], [extra], saturday, saturday)
    assert found_windows == [Window(utc(2027, 6, 12, 14), utc(2027, 6, 12, 16), "main")]
    assert starts(offer(found_windows)) == [utc(2027, 6, 12, 14), utc(2027, 6, 12, 15)]


def test_extra_hours_next_to_a_rule_make_one_window():
    extra = Override(JUNE_7, available=True, start=time(12), end=time(14), site_id="main", zone=NY)
    found = windows([Rule(MON, time(9), time(12), "main", NY)], [extra], JUNE_7, JUNE_7)
    assert found == [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 18), "main")]


def test_time_off_takes_away_extra_hours_too():
    saturday = date(2027, 6, 12)
    overrides = [Override(saturday, available=True, start=time(10), end=time(12), site_id="main", zone=NY),
                 Override(saturday, available=False, start=time(11), end=time(12))]
    assert windows([], overrides, saturday, saturday) == [Window(utc(2027, 6, 12, 14), utc(2027, 6, 12, 15), "main")]


def test_time_off_over_the_repeated_hour_takes_both_occurrences():
    rules = [Rule(SUN, time(0), time(4), "main", NY)]
    off = Override(date(2027, 11, 7), available=False, start=time(1), end=time(2))
    assert day_windows(rules, [off], date(2027, 11, 7)) == [Window(utc(2027, 11, 7, 4), utc(2027, 11, 7, 5), "main"),
                                                            Window(utc(2027, 11, 7, 7), utc(2027, 11, 7, 9), "main")]


@pytest.mark.parametrize("make", [
    lambda: Rule(MON, time(12), time(9), "main", NY),
    lambda: Rule(7, time(9), time(12), "main", NY),
    lambda: Rule(MON, time(9), time(12), "main", "Mars/Olympus_Mons"),
    lambda: Override(JUNE_7, available=True),
    lambda: Override(JUNE_7, available=True, start=time(9), end=time(10)),  # no site
    lambda: Override(JUNE_7, available=False, start=time(9)),
    lambda: Override(JUNE_7, available=False, start=time(10), end=time(9)),
    lambda: Override(JUNE_7, available=False, zone=NY),  # every site, but one zone
])
def test_rules_and_overrides_that_describe_no_open_time_are_refused(make):
    with pytest.raises(InvalidAvailability):
        make()


# --- buffers, notice and horizon ------------------------------------------------------------------------------

MORNING = [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 17), "main")]  # 09:00-13:00 New York time
AT_ELEVEN = (utc(2027, 6, 7, 15), utc(2027, 6, 7, 16))  # 11:00-12:00 New York time


def test_back_to_back_appointments_are_offered_with_zero_buffers():
    found = offer(MORNING, busy=[Busy(*AT_ELEVEN)])
    assert starts(found) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 14), utc(2027, 6, 7, 16)]


def test_the_types_buffer_after_keeps_a_slot_from_running_into_the_next_appointment():
    found = offer(MORNING, busy=[Busy(*AT_ELEVEN)], buffer_after=timedelta(minutes=15))
    assert starts(found) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 16)]


def test_the_types_buffer_before_keeps_a_slot_from_following_an_appointment_at_once():
    found = offer(MORNING, busy=[Busy(*AT_ELEVEN)], buffer_before=timedelta(minutes=15))
    assert starts(found) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 14)]


def test_the_busy_appointments_own_buffers_hold_time_around_it():
    after = offer(MORNING, busy=[Busy(*AT_ELEVEN, buffer_after=timedelta(minutes=15))])
    assert starts(after) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 14)]
    before = offer(MORNING, busy=[Busy(*AT_ELEVEN, buffer_before=timedelta(minutes=15))])
    assert starts(before) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 16)]


def test_buffers_that_only_touch_are_still_back_to_back():
    # the slot's 10-minute buffer after ends exactly where the busy one's 5-minute buffer before begins
    busy = [Busy(utc(2027, 6, 7, 14, 15), utc(2027, 6, 7, 15), buffer_before=timedelta(minutes=5))]
    found = offer(MORNING, busy=busy, buffer_after=timedelta(minutes=10))
    assert starts(found) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 15), utc(2027, 6, 7, 16)]


def test_minimum_notice_leaves_out_slots_starting_before_earliest():
    assert starts(offer(MORNING, earliest=utc(2027, 6, 7, 14, 30))) == [utc(2027, 6, 7, 15), utc(2027, 6, 7, 16)]
    assert starts(offer(MORNING, earliest=utc(2027, 6, 7, 14))) == [utc(2027, 6, 7, 14), utc(2027, 6, 7, 15),
                                                                     utc(2027, 6, 7, 16)]


def test_the_horizon_leaves_out_slots_starting_at_or_after_latest():
    assert starts(offer(MORNING, latest=utc(2027, 6, 7, 15))) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 14)]
    assert starts(offer(MORNING, latest=utc(2027, 6, 7, 15, 1))) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 14),
                                                                     utc(2027, 6, 7, 15)]


def test_a_30_minute_step_for_an_hour_appointment():
    found = offer(MORNING, step=MINUTES_30, busy=[Busy(*AT_ELEVEN)])
    assert starts(found) == [utc(2027, 6, 7, 13), utc(2027, 6, 7, 13, 30), utc(2027, 6, 7, 14),
                             utc(2027, 6, 7, 16)]


def test_notice_keeps_the_windows_step_grid():
    found = offer(MORNING, step=MINUTES_30, earliest=utc(2027, 6, 7, 15, 10))
    assert starts(found) == [utc(2027, 6, 7, 15, 30), utc(2027, 6, 7, 16)]


# --- is_offered -----------------------------------------------------------------------------------------------

def ask(start, found_windows=MORNING, **kwargs):
    kwargs = {"busy": [Busy(*AT_ELEVEN)], "earliest": NEVER_BEFORE, "latest": NEVER_AFTER} | kwargs
    return is_offered(start, found_windows, duration=HOUR, step=MINUTES_30, **kwargs)


def test_is_offered_answers_a_free_slot_on_the_grid():
    assert ask(utc(2027, 6, 7, 13, 30)) == Slot(utc(2027, 6, 7, 13, 30), utc(2027, 6, 7, 14, 30), "main")
    assert ask(datetime(2027, 6, 7, 12, tzinfo=ZoneInfo(NY))) == Slot(utc(2027, 6, 7, 16), utc(2027, 6, 7, 17),
                                                                       "main")


def test_is_offered_refuses_a_start_off_the_grid():
    assert ask(utc(2027, 6, 7, 13, 15)) is None


def test_is_offered_refuses_a_taken_slot():
    assert ask(utc(2027, 6, 7, 14, 30)) is None
    assert ask(utc(2027, 6, 7, 14, 30), busy=[]) is not None


def test_is_offered_refuses_a_slot_running_past_the_window_or_outside_notice_and_horizon():
    assert ask(utc(2027, 6, 7, 16, 30)) is None
    assert ask(utc(2027, 6, 7, 13), earliest=utc(2027, 6, 7, 13, 1)) is None
    assert ask(utc(2027, 6, 7, 16), latest=utc(2027, 6, 7, 16)) is None


def test_is_offered_refuses_a_wall_time_in_the_spring_gap():
    found_windows = day_windows([Rule(SUN, time(1), time(4), "main", NY)], [], date(2027, 3, 14))
    assert ask(datetime(2027, 3, 14, 2, tzinfo=ZoneInfo(NY)), found_windows, busy=[]) is None
    # the instant the clocks jump is a slot all the same: 03:00 EDT
    assert ask(utc(2027, 3, 14, 7), found_windows, busy=[]) == Slot(utc(2027, 3, 14, 7), utc(2027, 3, 14, 8),
                                                                     "main")


def test_is_offered_tells_the_sites_apart():
    found_windows = [Window(utc(2027, 6, 7, 13), utc(2027, 6, 7, 17), "manhattan"),
                     Window(utc(2027, 6, 7, 14), utc(2027, 6, 7, 17), "london")]
    assert ask(utc(2027, 6, 7, 13), found_windows, busy=[], site_id="london") is None
    assert ask(utc(2027, 6, 7, 14), found_windows, busy=[], site_id="london").site_id == "london"
    assert ask(utc(2027, 6, 7, 14), found_windows, busy=[]).site_id == "london"  # the first site in order


# --- a month with thousands of appointments, against a naive reference ----------------------------------------

MONTH_RULES = [Rule(weekday, time(9), time(17), "manhattan", NY) for weekday in range(5)] + [
    Rule(weekday, time(9), time(17), "london", LONDON) for weekday in range(5)] + [
    Rule(SUN, time(0), time(4), "manhattan", NY)]  # crosses the fall-back on 7 November
MONTH_FIRST, MONTH_LAST = date(2027, 10, 15), date(2027, 11, 15)  # London falls back on 31 October, New York 7 Nov
MONTH_OVERRIDES = [Override(date(2027, 10, 20), available=False),
                   Override(date(2027, 11, 2), available=False, start=time(12), end=time(14, 10), site_id="london"),
                   Override(date(2027, 10, 23), available=True, start=time(10), end=time(13), site_id="manhattan",
                            zone=NY)]
TERMS = dict(duration=timedelta(minutes=50), step=MINUTES_30, buffer_before=timedelta(minutes=10),
             buffer_after=timedelta(minutes=5), earliest=utc(2027, 10, 15, 15, 7), latest=utc(2027, 11, 14, 20))


def month_of_busy(count=5000) -> list[Busy]:
    """Appointments on a 5-minute grid around 300 busy stretches, many overlapping (rebooked, other calendars),
    with their types' buffers: exact touches and overlaps are common."""
    rng = random.Random(20271015)
    first = utc(2027, 10, 13, 0)
    stretches = [first + timedelta(minutes=5 * rng.randrange(34 * 24 * 12)) for _ in range(300)]
    busy = []
    for n in range(count):
        stretch = stretches[n % len(stretches)]
        start = stretch + timedelta(minutes=5 * rng.randrange(12))
        busy.append(Busy(start, start + timedelta(minutes=5 * rng.randrange(1, 10)),
                         buffer_before=timedelta(minutes=rng.choice((0, 0, 5, 10))),
                         buffer_after=timedelta(minutes=rng.choice((0, 0, 5, 15)))))
    return busy


def naive_slots(found_windows, busy, *, duration, step, buffer_before, buffer_after, earliest, latest):
    """Every step of every window checked against every busy time."""
    held = [(b.start - b.buffer_before, b.end + b.buffer_after) for b in busy]
    found = []
    for w in found_windows:
        start = w.start
        while start + duration <= w.end:
            needed = (start - buffer_before, start + duration + buffer_after)
            if earliest <= start < latest and not any(s < needed[1] and needed[0] < e for s, e in held if s < e):
                found.append(Slot(start, start + duration, w.site_id))
            start += step
    return sorted(found, key=lambda s: (s.start, s.site_id))


def test_a_month_with_5000_appointments_offers_exactly_what_the_naive_reference_does():
    busy = month_of_busy()
    found_windows = windows(MONTH_RULES, MONTH_OVERRIDES, MONTH_FIRST, MONTH_LAST)
    found = slots(found_windows, busy=busy, **TERMS)
    everything = slots(found_windows, busy=[], **TERMS)
    assert found == naive_slots(found_windows, busy, **TERMS)
    assert 0.2 * len(everything) < len(found) < 0.8 * len(everything)  # the busy times do decide things


def test_is_offered_on_the_days_own_windows_agrees_with_the_month():
    busy = month_of_busy()
    month = slots(windows(MONTH_RULES, MONTH_OVERRIDES, MONTH_FIRST, MONTH_LAST), busy=busy, **TERMS)
    offered = {(s.start, s.site_id): s for s in month}
    rng = random.Random(7)
    asked = rng.sample(sorted(offered), 60) + [(utc(2027, 10, 15, 8) + timedelta(minutes=15 * rng.randrange(3000)),
                                                rng.choice(("london", "manhattan"))) for _ in range(140)]
    for start, site_id in asked:
        day = start.date()
        own_windows = windows(MONTH_RULES, MONTH_OVERRIDES, day, day)
        assert is_offered(start, own_windows, busy=busy, site_id=site_id, **TERMS) == offered.get((start, site_id))
