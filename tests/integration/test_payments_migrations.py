"""Payments' migration 0003 on a database holding cards saved the old way (a reusable processor token per card)."""

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


def test_cards_saved_by_token_are_removed_with_their_events_and_no_token_stays(old_database):
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
        assert all(r.removed_at is not None and not r.is_default for r in cards.values())
        assert "processor_token" not in cards["m1"]._mapping
        tokens = dict(conn.execute(text("SELECT id, processor_token FROM payments")).all())
        assert tokens == {"p1": None, "p2": "tok_p2"}  # only a charge about to be sent keeps its own
        events = [(r.event_type, r.envelope["payload"]) for r in conn.execute(
            text("SELECT event_type, envelope FROM outbox ORDER BY seq"))]
    removed = sorted(p["payment_method_id"] for t, p in events if t == "payment_method.removed")
    assert removed == ["m1", "m3"]  # the card removed before is not announced again
    assert all(p["reason"] == "reentry_required" for t, p in events if t == "payment_method.removed")
    defaults = sorted((p["client_id"], p["payment_method_id"]) for t, p in events
                      if t == "payment_method.default_changed")
    assert defaults == sorted([(client, None), (other, None)])
    command.downgrade(alembic_config("payments", url), "0002")
    command.upgrade(alembic_config("payments", url), "head")
