"""Keyset cursors (opaque, round-tripping, refusing garbage) and the event envelope."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from shared.events import Event, make_event
from shared.logs import correlation_id_var, request_id_var
from shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageQuery, decode_cursor, encode_cursor

# --- pagination ----------------------------------------------------------------------------------

def test_a_cursor_round_trips_datetimes_and_ids():
    created = datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
    cursor = encode_cursor([created, "c-42", 7])
    assert decode_cursor(cursor, [datetime, str, int]) == [created, "c-42", 7]


def test_a_cursor_is_url_safe_and_unpadded():
    cursor = encode_cursor([datetime(2025, 1, 1, tzinfo=UTC), "a/b+c?"])
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)


@pytest.mark.parametrize("garbage", [
    "!!!not-base64!!!",
    "bm90IGpzb24",                                                # "not json"
    base64.urlsafe_b64encode(b'{"a": 1}').decode(),              # not a list
    base64.urlsafe_b64encode(b'["2025-01-01T00:00:00"]').decode(),  # one value for two kinds
    base64.urlsafe_b64encode(b'["yesterday", "c-1"]').decode(),  # not a datetime
    base64.urlsafe_b64encode(b'[12, "c-1"]').decode(),           # a number for a datetime
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),              # not UTF-8
    "",
])
def test_a_garbage_cursor_is_a_validation_error_on_cursor(garbage):
    with pytest.raises(ValidationError) as caught:
        decode_cursor(garbage, [datetime, str])
    assert caught.value.messages == {"cursor": ["Not a cursor this list gave out."]}


def _forged(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("forged, kinds", [
    (_forged(b'["2025-01-01T00:00:00+00:00", "a\\u0000b"]'), [datetime, str]),  # NUL: PostgreSQL refuses it
    (_forged(b'["2025-01-01T00:00:00+00:00", "\\ud800x"]'), [datetime, str]),   # no UTF-8 encoder takes it
    (_forged(b'["x\\u0000", "y", "z"]'), [str, str, str]),
    (_forged(b'["2025-01-01T00:00:00+00:00", 100000000000000000000000000000]'), [datetime, int]),  # > bigint
    (_forged(b'["2025-01-01T00:00:00+00:00", -9223372036854775809]'), [datetime, int]),
    (_forged(b'["2025-01-01T00:00:00+00:00", Infinity]'), [datetime, int]),  # int(inf): OverflowError
    (_forged(b'["2025-01-01T00:00:00+00:00", NaN]'), [datetime, int]),
    (_forged(b'["2025-01-01T00:00:00+00:00", 1e400]'), [datetime, int]),
], ids=["nul", "lone-surrogate", "nul-first", "huge-int", "below-bigint", "infinity", "nan", "1e400"])
def test_a_forged_cursor_the_database_would_choke_on_is_refused(forged, kinds):
    with pytest.raises(ValidationError) as caught:
        decode_cursor(forged, kinds)
    assert caught.value.messages == {"cursor": ["Not a cursor this list gave out."]}


def test_a_cursor_keeps_the_largest_bigint():
    assert decode_cursor(encode_cursor(["a", 2**63 - 1]), [str, int]) == ["a", 2**63 - 1]


def test_a_cursor_with_a_wrong_kind_is_refused():
    with pytest.raises(ValidationError):
        decode_cursor(encode_cursor(["abc"]), [int])


def test_page_query_defaults_and_bounds():
    assert PageQuery().load({}) == {"limit": DEFAULT_LIMIT, "cursor": None}
    assert PageQuery().load({"limit": str(MAX_LIMIT)})["limit"] == MAX_LIMIT
    for bad in ({"limit": "0"}, {"limit": str(MAX_LIMIT + 1)}, {"cursor": "x" * 513}):
        with pytest.raises(ValidationError):
            PageQuery().load(bad)


# --- events ----------------------------------------------------------------------------------------

@pytest.fixture
def no_context_ids():
    tokens = request_id_var.set(None), correlation_id_var.set(None)
    yield
    request_id_var.reset(tokens[0])
    correlation_id_var.reset(tokens[1])


def test_make_event_fills_the_envelope(no_context_ids):
    event = make_event("invoice.issued", {"invoice_id": "i-1"}, producer="billing", version=2)
    assert event.type == "invoice.issued" and event.version == 2 and event.producer == "billing"
    assert event.payload == {"invoice_id": "i-1"}
    assert re.fullmatch(r"[0-9a-f-]{36}", event.id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event.occurred_at)
    assert event.correlation_id is None
    assert make_event("invoice.issued", {}, producer="billing").id != event.id


def test_make_event_takes_the_correlation_id_from_the_request(no_context_ids):
    request_id_var.set("req-1")
    assert make_event("x.y", {}, producer="p").correlation_id == "req-1"
    correlation_id_var.set("corr-1")
    assert make_event("x.y", {}, producer="p").correlation_id == "corr-1"
    assert make_event("x.y", {}, producer="p", correlation_id="explicit").correlation_id == "explicit"


def test_an_event_round_trips_through_json(no_context_ids):
    event = make_event("payment.succeeded", {"amount_cents": 1250, "lines": [1, 2]}, producer="payments",
                       correlation_id="corr-3")
    again = Event.from_json(json.dumps(event.to_dict()).encode())
    assert again == event
    assert Event.from_json(json.dumps(event.to_dict())) == event  # str as well as bytes


@pytest.mark.parametrize("field", ["id", "type", "version", "occurred_at", "producer", "payload"])
def test_from_json_refuses_a_missing_field(field):
    data = make_event("a.b", {"k": 1}, producer="p").to_dict()
    del data[field]
    with pytest.raises(ValueError, match=field):
        Event.from_json(json.dumps(data))


def test_from_json_allows_a_missing_correlation_id():
    data = make_event("a.b", {}, producer="p").to_dict()
    del data["correlation_id"]
    assert Event.from_json(json.dumps(data)).correlation_id is None


@pytest.mark.parametrize("body", [b"[]", b'"event"', b"not json", b"null"])
def test_from_json_refuses_what_is_not_an_event_object(body):
    with pytest.raises(ValueError):
        Event.from_json(body)
