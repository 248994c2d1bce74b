"""Idempotency-Keys' scopes and what makes two requests the same (services/payments/domain/idempotency.py)."""

from __future__ import annotations

from services.payments.domain.idempotency import payment_scope, refund_scope, request_hash


def test_a_clients_keys_are_apart_from_autopays_for_that_client():
    assert payment_scope("c1", "portal") == "client:c1"
    assert payment_scope("c1", "autopay") == "autopay:c1"
    assert refund_scope("p1") == "refund:p1"


def test_the_same_fields_in_another_order_are_the_same_request_and_any_other_value_is_not():
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert request_hash({"a": 1}) != request_hash({"a": 1, "_source": "autopay"})
