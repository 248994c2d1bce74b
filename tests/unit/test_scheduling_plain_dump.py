"""The free times' answer (GET /portal/availability, /staff/availability) is dumped by shared.schemas.plain_dumper:
it is what SlotList's marshmallow dump answers, to the byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from services.scheduling.api.schemas import SlotList, slot_page

SLOTS = [{"start": datetime(2027, 1, 4, 14, tzinfo=UTC) + timedelta(minutes=30 * i),
          "end": datetime(2027, 1, 4, 14, 30, tzinfo=UTC) + timedelta(minutes=30 * i), "clinician_id": "c-1",
          "site_id": "s-1", "site_name": "Main office “North” ✓", "timezone": "America/New_York"} for i in range(3)]


def test_a_page_of_free_times_is_what_slotlist_dumps():
    for items in (SLOTS, [], [{**SLOTS[0], "site_name": None, "timezone": None}]):
        assert json.dumps(slot_page(items)) == json.dumps(SlotList().dump({"items": items, "next_cursor": None}))
