"""Identity's mail leaves through an outbox: the mail to send is a row written in the business transaction
(its context, the link included, encrypted with identity's key); the relay hands the mail worker only the
row's id, with publisher confirms; the worker reads, decrypts, renders and sends, once."""

from __future__ import annotations

import email
import email.policy
import json
import uuid

import kombu
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from services.identity.mail_outbox import MailRelay, deliver
from shared.smtp_sink import EmlWriter
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


def mail_rows(engine, recipient: str, template: str) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT * FROM mail_outbox WHERE recipient = :r AND template = :t ORDER BY created_at"),
            {"r": recipient, "t": template}).mappings()]


def reset_for(api, registered_client, mailbox) -> tuple[str, str]:
    client, _, _ = registered_client()
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    return client["email"], mailbox.last(client["email"], "password_reset")["reset_url"].split("token=")[1]


def test_a_reset_mail_is_a_row_of_the_transaction_with_the_link_encrypted(api, registered_client, mailbox,
                                                                           identity_engine):
    address, token = reset_for(api, registered_client, mailbox)
    rows = mail_rows(identity_engine, address, "password_reset")
    assert len(rows) == 1 and rows[0]["status"] == "pending" and rows[0]["queued_at"] is None
    assert token not in json.dumps(rows[0], default=str)


def test_an_invitation_mail_is_a_row_too(staff, new_client, identity_engine):
    client = new_client()
    invite = staff.post(f"/api/v1/staff/clients/{client['id']}/invitation")
    assert invite.status_code == 201
    token = invite.get_json()["invitation_url"].split("token=")[1]
    rows = mail_rows(identity_engine, client["email"], "invitation")
    assert len(rows) == 1 and token not in json.dumps(rows[0], default=str)


def test_the_mail_task_on_the_broker_holds_an_id_not_the_reset_token(api, registered_client, mailbox,
                                                                      identity_engine, migrated, broker):
    from services.identity.tasks import send_mail

    address, token = reset_for(api, registered_client, mailbox)
    mail_id = mail_rows(identity_engine, address, "password_reset")[0]["id"]
    queue = f"test.identity-mail.{uuid.uuid4().hex[:8]}"
    broker.queue_declare(queue, durable=True)
    try:
        with kombu.Connection(migrated.amqp_url, transport_options={"confirm_publish": True}) as connection:
            relay = MailRelay(engine=identity_engine, publish_batch=lambda ids: [send_mail.apply_async(
                (mid,), connection=connection, queue=queue, retry=False) for mid in ids])
            assert relay.drain_once() >= 1
            assert relay.drain_once() == 0  # queued rows are not handed out again
        messages = []
        while (got := broker.basic_get(queue, auto_ack=True))[0] is not None:
            messages.append(got)
        ours = [(props, body) for _, props, body in messages if mail_id.encode() in body]
        assert len(ours) == 1
        props, body = ours[0]
        assert props.headers["task"] == "identity.send_mail"
        for part in (body.decode(), json.dumps(props.headers, default=str)):
            assert token not in part and "reset-password" not in part and address not in part
        assert mail_rows(identity_engine, address, "password_reset")[0]["queued_at"] is not None
    finally:
        broker.queue_delete(queue)


def test_the_worker_sends_the_mail_once_from_the_row_and_forgets_the_link(api, registered_client, mailbox,
                                                                          identity_app, identity_engine, tmp_path):
    address, token = reset_for(api, registered_client, mailbox)
    mail_id = mail_rows(identity_engine, address, "password_reset")[0]["id"]
    service = identity_app.extensions["identity"]
    port = free_port()
    controller = Controller(EmlWriter(tmp_path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        kwargs = {"sessions": service.sessions, "fernet": service.fernet, "sender": "Portal <no-reply@t.test>",
                  "smtp_host": "127.0.0.1", "smtp_port": port}
        assert deliver(mail_id, **kwargs) == "sent"
        assert deliver(mail_id, **kwargs) == "gone"  # a second copy of the task sends nothing
    finally:
        controller.stop()
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in tmp_path.glob("*.eml")]
    assert len(mails) == 1 and mails[0]["To"] == address
    assert f"reset-password?token={token}" in mails[0].get_content()
    row = mail_rows(identity_engine, address, "password_reset")[0]
    assert row["status"] == "sent" and row["sent_at"] is not None and row["context_encrypted"] is None


def test_a_task_that_arrives_before_the_relay_committed_waits_and_sends(api, registered_client, mailbox,
                                                                        identity_app, identity_engine, tmp_path):
    """The broker confirms (and the worker may receive) the id before the relay's transaction commits: the worker
    waits for the relay's row lock instead of taking the mail for gone."""
    import threading

    from tests.support.locks import wait_for_lock_waiters

    address, _ = reset_for(api, registered_client, mailbox)
    mail_id = mail_rows(identity_engine, address, "password_reset")[0]["id"]
    service = identity_app.extensions["identity"]
    port = free_port()
    controller = Controller(EmlWriter(tmp_path), hostname="127.0.0.1", port=port)
    controller.start()
    outcome = []
    try:
        with identity_engine.connect() as relay:  # the relay's transaction, still open
            relay.execute(text("SELECT id FROM mail_outbox WHERE id = :id FOR UPDATE"), {"id": mail_id})
            worker = threading.Thread(target=lambda: outcome.append(deliver(
                mail_id, sessions=service.sessions, fernet=service.fernet, sender="Portal <no-reply@t.test>",
                smtp_host="127.0.0.1", smtp_port=port)))
            worker.start()
            wait_for_lock_waiters(identity_engine, what="mail worker")
            relay.execute(text("UPDATE mail_outbox SET queued_at = now() WHERE id = :id"), {"id": mail_id})
            relay.commit()
        worker.join(10)
    finally:
        controller.stop()
    assert outcome == ["sent"] and len(list(tmp_path.glob("*.eml"))) == 1


@pytest.mark.parametrize("command", ["events", "relay"])
def test_the_relay_process_stops_its_mail_thread_when_the_event_relay_stops(identity_config, monkeypatch, command):
    """`python -m services.identity.worker events`: the mail thread runs beside the event relay, and when the
    relay's loop returns (SIGTERM: it handles the signal and finishes its tick), the mail thread is told to stop
    and is waited for, not cut off mid-batch."""
    import threading

    import shared.worker
    from services.identity import worker

    handed: list[str] = []
    seen = {}

    def loops_until_sigterm(loops):  # stands in for the relay's loop: runs until SIGTERM, then returns
        seen["loops"] = [type(loop).__name__ for loop in loops]
        seen["mail"] = [t for t in threading.enumerate() if t.name == "mail-relay" and t.is_alive()]
        return 0

    monkeypatch.setattr(shared.worker, "run_loops", loops_until_sigterm)
    assert worker.run([command], identity_config, publish_batch=handed.extend) == 0
    assert seen["loops"] == ["OutboxRelay"], "identity consumes nothing: its events process is the relay"
    assert len(seen["mail"]) == 1, "the mail thread ran beside the event relay"
    assert not seen["mail"][0].is_alive(), "the mail thread stopped with the process"


def test_the_nothing_written_snapshot_sees_a_mail_and_a_changed_row(snapshot, identity_engine, registered_client):
    """The 'bad input writes nothing' tests compare this snapshot: a mail written, or a row changed in place
    (a moved sign-in e-mail), must show."""
    client, _, _ = registered_client()
    before = snapshot()
    with identity_engine.begin() as conn:
        conn.execute(text("INSERT INTO mail_outbox (id, template, recipient, context_encrypted, status, attempts,"
                          " expires_at) VALUES (:id, 'email_changed', 'x@example.test', 'x', 'sent', 1, now())"),
                     {"id": str(uuid.uuid4())})
    with pytest.raises(AssertionError):
        before.assert_unchanged()
    before = snapshot()
    with identity_engine.begin() as conn:
        conn.execute(text("UPDATE users SET email = 'changed.' || email WHERE client_id = :c"), {"c": client["id"]})
    with pytest.raises(AssertionError):
        before.assert_unchanged()
