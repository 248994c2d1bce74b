"""Payments' migration 0003 on a database holding cards saved the old way (a reusable processor token per card):
they are kept (the conversion binds them to the processor's customer), up and down."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from shared.migrations import alembic_config, drop_database, ensure_database

pytestmark = pytest.mark.integration


@pytest.fixture
def old_database(infra):
    url = infra.database_url("payments") + f"_m{uuid.uuid4().hex[:6]}"
    ensure_database(url)
    command.upgrade(alembic_config("payments", url), "0002")
    engine = create_engine(url)
    yield url, engine
    engine.dispose()
    drop_database(url)


def test_cards_saved_by_token_are_kept_for_conversion_and_the_downgrade_keeps_them_too(old_database):
    url, engine = old_database
    client, other = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        for card_id, owner, token, default in (("m1", client, "tok_reusable1", True), ("m2", client, "tok_reusable2",
                                                                                     False),
                                               ("m3", other, "tok_reusable3", True)):
            conn.execute(text("INSERT INTO payment_methods (id, client_id, processor_token, brand, last4, exp_month,"
                              " exp_year, is_default) VALUES (:id, :c, :t, 'visa', '4242', 12, 2030, :d)"),
                         {"id": card_id, "c": owner, "t": token, "d": default})
        conn.execute(text("UPDATE payment_methods SET removed_at = now() - interval '1 day', is_default = false"
                          " WHERE id = 'm2'"))
        for payment_id, status in (("p1", "succeeded"), ("p2", "pending")):
            conn.execute(text("INSERT INTO payments (id, client_id, amount_cents, currency, status, processor_token,"
                              " invoice_ids, source, refunded_cents) VALUES (:id, :c, 100, 'USD', :s, :t, '[]',"
                              " 'portal', 0)"), {"id": payment_id, "c": client, "s": status, "t": f"tok_{payment_id}"})
    command.upgrade(alembic_config("payments", url), "0003")
    with engine.connect() as conn:
        cards = {r.id: r for r in conn.execute(text("SELECT * FROM payment_methods"))}
        # every card on file stays, the default still the default, its token kept for the conversion
        assert {i: (r.removed_at is None, r.is_default, r.processor_token, r.processor_payment_method_id)
                for i, r in cards.items()} == {"m1": (True, True, "tok_reusable1", None),
                                               "m2": (False, False, None, None),  # removed before: token cleared
                                               "m3": (True, True, "tok_reusable3", None)}
        tokens = dict(conn.execute(text("SELECT id, processor_token FROM payments")).all())
        assert tokens == {"p1": None, "p2": "tok_p2"}  # only a charge about to be sent keeps its own
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 0  # nobody is told of a change
    # after the conversion of m1 (as convert_legacy_cards leaves it), a card saved the new way
    with engine.begin() as conn:
        conn.execute(text("UPDATE payment_methods SET processor_token = NULL, processor_customer_id = 'cus_1',"
                          " processor_payment_method_id = 'pm_1' WHERE id = 'm1'"))
        conn.execute(text("UPDATE payment_methods SET is_default = false WHERE id = 'm3'"))
        conn.execute(text("INSERT INTO payment_methods (id, client_id, processor_customer_id,"
                          " processor_payment_method_id, brand, last4, exp_month, exp_year, is_default)"
                          " VALUES ('m4', :c, 'cus_2', 'pm_2', 'visa', '4444', 12, 2030, true)"), {"c": other})
    command.downgrade(alembic_config("payments", url), "0002")
    with engine.connect() as conn:
        cards = {r.id: r for r in conn.execute(text("SELECT * FROM payment_methods"))}
        assert "processor_payment_method_id" not in cards["m1"]._mapping
        # the code before charges only a token: a card with none is removed (and said so); m3 stays
        assert {i: r.removed_at is None for i, r in cards.items()} == {"m1": False, "m2": False, "m3": True,
                                                                       "m4": False}
        assert cards["m3"].processor_token == "tok_reusable3"
        events = [(r.event_type, r.envelope["payload"]) for r in conn.execute(
            text("SELECT event_type, envelope FROM outbox ORDER BY seq"))]
    assert sorted(p["payment_method_id"] for t, p in events if t == "payment_method.removed") == ["m1", "m4"]
    assert all(p["reason"] == "reentry_required" for t, p in events if t == "payment_method.removed")
    assert sorted((p["client_id"], p["payment_method_id"]) for t, p in events
                  if t == "payment_method.default_changed") == sorted([(client, None), (other, None)])
    command.upgrade(alembic_config("payments", url), "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT processor_token FROM payment_methods WHERE id = 'm3'")).scalar() == \
            "tok_reusable3"
