"""The event catalogue (shared.contracts): examples valid, the writer's check strict, the reader's tolerant, the
TypedDicts the handlers name in step with the schemas, and every service's declared events the catalogue's."""

from __future__ import annotations

import typing

import pytest

from services.billing import events as billing_events
from services.identity import events as identity_events
from services.messaging import events as messaging_events
from services.payments import events as payments_events
from services.scheduling import events as scheduling_events
from shared.contracts import CATALOGUE, EventContractError
from shared.events import make_event, outbox_row

SERVICES = {"identity": identity_events, "billing": billing_events, "payments": payments_events,
            "scheduling": scheduling_events, "messaging": messaging_events}
CONTRACTS = list(CATALOGUE)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: f"{c.type}-v{c.version}")
def test_every_example_passes_its_own_schema_both_ways(contract):
    contract.check(contract.example)
    assert contract.load(contract.example) == contract.example  # loaded unchanged: same keys, same JSON values


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: f"{c.type}-v{c.version}")
def test_each_payload_typeddict_names_the_schemas_fields_required_as_required(contract):
    hints = typing.get_type_hints(contract.payload)
    fields = contract.schema().fields
    assert set(hints) == set(fields)
    assert contract.payload.__required_keys__ == {name for name, f in fields.items() if f.required}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_services_declared_publications_are_the_catalogues_entries_with_that_producer(service):
    declared = SERVICES[service].PUBLISHES
    assert set(declared) == CATALOGUE.published_by(service)
    for event_type, payload in declared.items():
        assert CATALOGUE.get(event_type, 1).payload is payload


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_services_subscriptions_are_the_catalogues_entries_naming_it_a_consumer(service):
    assert set(SERVICES[service].SUBSCRIPTIONS) == CATALOGUE.consumed_by(service)


def test_events_of_services_not_built_yet_are_marked_so():
    upcoming = {c.producer for c in CATALOGUE if not c.published}
    assert upcoming == {"documents"}
    assert all(c.published for c in CATALOGUE if c.producer in SERVICES)


def good(event_type="payment.succeeded"):
    return dict(CATALOGUE.get(event_type, 1).example)


@pytest.mark.parametrize(("event_type", "payload", "version", "producer", "reason", "names"), [
    ("payment.succeeded", {**good(), "amount_cents": "100"}, 1, "payments", "invalid_payload", "amount_cents"),
    ("payment.succeeded", {**good(), "amount_cents": 12.5}, 1, "payments", "invalid_payload", "amount_cents"),
    ("payment.succeeded", {**good(), "client_id": 17}, 1, "payments", "invalid_payload", "client_id"),
    ("payment.succeeded", {**good(), "client_id": ""}, 1, "payments", "invalid_payload", "client_id"),
    ("payment.succeeded", {k: v for k, v in good().items() if k != "method"}, 1, "payments", "invalid_payload",
     "method"),
    ("payment.succeeded", {**good(), "method": {"brand": "visa"}}, 1, "payments", "invalid_payload", "method.last4"),
    ("payment.succeeded", {**good(), "card_number": "4242"}, 1, "payments", "invalid_payload", "card_number"),
    ("payment.succeeded", good(), 2, "payments", "unknown_version", "version 2"),
    ("payment.succeeded", good(), 1, "billing", "wrong_producer", "payments"),
    ("payment.teleported", {}, 1, "payments", "unknown_type", "catalogue"),
    ("autopay.changed", {"client_id": good()["client_id"], "enabled": 1}, 1, "billing", "invalid_payload",
     "enabled"),
])
def test_the_outbox_writer_refuses_what_the_catalogue_does_not_allow(event_type, payload, version, producer, reason,
                                                                     names):
    event = make_event(event_type, payload, producer=producer, version=version)
    with pytest.raises(EventContractError) as refused:
        outbox_row(event)
    assert refused.value.reason == reason
    assert names in str(refused.value)


def test_a_refusal_names_fields_never_values():
    secret = "4111111111111111"
    with pytest.raises(EventContractError) as refused:
        outbox_row(make_event("payment.succeeded", {**good(), "amount_cents": secret, "client_id": int(secret)},
                              producer="payments"))
    assert secret not in str(refused.value)
    assert "amount_cents" in str(refused.value) and "client_id" in str(refused.value)


def test_the_reader_keeps_a_field_a_newer_producer_added_and_the_writer_refuses_it():
    contract = CATALOGUE.get("balance.changed", 1)
    newer = {**contract.example, "credit_cents": 0}
    assert contract.load(newer) == newer
    with pytest.raises(EventContractError):
        contract.check(newer)


@pytest.mark.parametrize(("event_type", "nest"), [
    ("practice.settings_changed", lambda p: p["settings"]),  # a new setting
    ("payment.succeeded", lambda p: p["method"]),  # a new card detail
    ("balance.changed", lambda p: p["open_invoices"][0]),  # a new member of an open invoice
])
def test_a_member_a_newer_producer_added_inside_an_object_is_kept_too(event_type, nest):
    """Services deploy one at a time: an added member one level down must not dead-letter the event either."""
    import copy

    contract = CATALOGUE.get(event_type, 1)
    newer = copy.deepcopy(contract.example)
    nest(newer)["added_later"] = True
    assert contract.load(newer) == newer
    with pytest.raises(EventContractError):
        contract.check(newer)


def test_the_suites_own_test_types_are_not_checked():
    outbox_row(make_event("test.happened", {"anything": object.__name__}, producer="identity", version=7))
    assert CATALOGUE.load_incoming("bench.tick", 3, {"seq": 1}) == {"seq": 1}
