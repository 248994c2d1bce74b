"""What payments' fast paths must still guarantee: Pay Now and AutoPay decide on what they read after waiting
for the account lock (card, default card, balance), a request queued behind the same key decides for itself or
is a 409, prebuilt statements write exactly their columns, one payment posted under two event ids is on the
ledger once, a TLS error after the charge went out is an unknown outcome, and a failed COMMIT leaves the
sandbox thread's connection outside its write transaction."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import socket
import ssl
import threading
import uuid

import pytest
from sqlalchemy import event, text

from services.payments.processor import HttpProcessor, ProcessorTimeout, ProcessorUnavailable
from tests.integration.billing_fixtures import billing_outbox, invoice, paid
from tests.integration.conftest import Api, assert_problem
from tests.integration.payments_fixtures import pay, tokenize
from tests.support.locks import wait_for_lock_waiters

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"
AUTOPAY = "/internal/v1/autopay-charges"


# --- helpers ----------------------------------------------------------------------------------------------

class AccountLock:
    """Another transaction holding the client's payments account row (a Pay Now reserve, a consumer batch
    applying balance.changed, ...): what a request queues behind."""

    def __init__(self, engine, client_id: str):
        self.conn = engine.connect()
        self.tx = self.conn.begin()
        self.conn.execute(text("SELECT 1 FROM accounts WHERE client_id = :c FOR UPDATE"), {"c": client_id})

    def execute(self, sql: str, **params):
        return self.conn.execute(text(sql), params)

    def commit(self):
        self.tx.commit()
        self.conn.close()

    def rollback(self):
        self.tx.rollback()
        self.conn.close()


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            out["answer"] = fn()
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


# --- Pay Now: reads made in PAYER_SQL's snapshot, taken before the wait for the account lock ---------------

def test_a_card_removed_while_pay_now_waits_for_the_account_lock_is_not_charged(payer, sandbox, payments_app,
                                                                                       payments_engine):
    """PAYER_SQL reads the saved card (LEFT JOIN LATERAL payment_methods) in the
    statement that waits for the account lock, so with READ COMMITTED it sees the cards as they were *before* the wait
    (only the locked accounts row is re-read, by EvalPlanQual). Before the commit the card was read by a statement of
    its own after the lock. Here the client removes card X (204: removal takes no account lock) while a payment with X
    queues behind another transaction on the account; the payment then charges the removed card."""
    client_id, me, _ = payer(10000)
    x = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    lock = AccountLock(payments_engine, client_id)
    paying = Api(payments_app.test_client(), me.token)
    thread, out = _in_thread(lambda: pay(paying, {"amount_cents": 1000, "payment_method_id": x["id"]}))
    try:
        wait_for_lock_waiters(payments_engine, 1)
        removed = me.call("DELETE", f"{METHODS}/{x['id']}")
        assert removed.status_code == 204, removed.get_data(as_text=True)
    finally:
        lock.rollback()
    thread.join(30)
    response = out["answer"]
    with payments_engine.connect() as conn:
        charged = conn.execute(text("SELECT id, status FROM payments WHERE client_id = :c"), {"c": client_id}).all()
    assert response.status_code == 404, ("a card removed (204) before the payment read it was charged",
                                         response.status_code, response.get_json(), charged)
    assert charged == []


def test_autopay_charges_the_default_card_as_it_is_after_waiting_for_the_lock(payer, sandbox, payments_app,
                                                                                     payments_engine):
    """The same stale read with AutoPay's default card. A concurrent Pay Now that
    saves a new card as the default changes the default under the account lock (_reserve -> _new_method). An AutoPay
    charge queued on that lock reads the default card as of before its wait and charges the card that is no longer the
    default; before the commit it read the default after the lock and charged the new one."""
    client_id, me, _ = payer(10000)
    old = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    new = me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "mastercard")}).get_json()
    assert old["is_default"] and not new["is_default"]
    lock = AccountLock(payments_engine, client_id)
    internal = payments_app.test_client()
    thread, out = _in_thread(lambda: internal.post(
        AUTOPAY, json={"client_id": client_id, "amount_cents": 1000, "currency": "USD"},
        headers={"Idempotency-Key": f"autopay:{uuid.uuid4().hex}", "Authorization": "Bearer itest-internal"}))
    try:
        wait_for_lock_waiters(payments_engine, 1)
        # what _new_method does under the lock for "save this card and make it my default"
        lock.execute("UPDATE payment_methods SET is_default = false WHERE client_id = :c", c=client_id)
        lock.execute("UPDATE payment_methods SET is_default = true WHERE id = :m", m=new["id"])
    finally:
        lock.commit()
    thread.join(30)
    response = out["answer"]
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["payment_method_id"] == new["id"], (
        "AutoPay charged the card that stopped being the default while it waited for the account lock",
        response.get_json()["method"])


def test_a_balance_lowered_while_pay_now_waits_for_the_lock_is_the_balance_it_checks(payer, sandbox, payments_app,
                                                                                     payments_engine, psnapshot):
    """Pins: the balance and open invoices come from the locked accounts row itself, which PostgreSQL re-reads
    after the wait (EvalPlanQual), so a balance.changed applied while a payment waited is the one it checks:
    neither the amount nor an invoice paid meanwhile can be charged."""
    client_id, me, invoices = payer(10000, invoices=[6000, 4000])
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    before = psnapshot()
    lock = AccountLock(payments_engine, client_id)
    over = Api(payments_app.test_client(), me.token)
    chosen = Api(payments_app.test_client(), me.token)
    t1, out1 = _in_thread(lambda: pay(over, {"amount_cents": 5000, "payment_method_id": card["id"]}))
    wait_for_lock_waiters(payments_engine, 1)
    t2, out2 = _in_thread(lambda: pay(chosen, {"invoice_ids": [invoices[0]], "payment_method_id": card["id"]}))
    try:
        wait_for_lock_waiters(payments_engine, 2)
        # apply_balance as the consumer does it: invoice 1 was paid elsewhere, 40.00 left
        lock.execute("UPDATE accounts SET balance_cents = 4000, ledger_seq = 11, open_invoices = CAST(:o AS jsonb) "
                     "WHERE client_id = :c", c=client_id,
                     o=f'[{{"invoice_id": "{invoices[1]}", "balance_cents": 4000}}]')
    finally:
        lock.commit()
    t1.join(30)
    t2.join(30)
    assert_problem(out1["answer"], 422, field="amount_cents")
    assert_problem(out2["answer"], 404)
    before.assert_unchanged()
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM idempotency_keys WHERE scope = :s"),
                            {"s": f"client:{client_id}"}).scalar() == 0


# --- Idempotency-Key claimed after the account lock -------------------------------------------------------

def test_same_key_queued_behind_a_refused_first_request_decides_for_itself(payer, sandbox, payments_app,
                                                                          payments_engine):
    """Pins the new order (the claim made under the account lock): two requests with one key queue on the lock;
    the first is refused (over the balance) and rolls its claim back; the second then claims the free key and
    pays. The key then belongs to the second's body: the first body again is a 409."""
    client_id, me, _ = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    key = f"queued-{uuid.uuid4().hex}"
    refused_body = {"amount_cents": 99999, "payment_method_id": card["id"]}
    good_body = {"amount_cents": 1000, "payment_method_id": card["id"]}
    lock = AccountLock(payments_engine, client_id)
    a_api, b_api = Api(payments_app.test_client(), me.token), Api(payments_app.test_client(), me.token)
    ta, a = _in_thread(lambda: pay(a_api, refused_body, key))
    try:
        wait_for_lock_waiters(payments_engine, 1)
        tb, b = _in_thread(lambda: pay(b_api, good_body, key))
        wait_for_lock_waiters(payments_engine, 2)
    finally:
        lock.rollback()
    ta.join(30)
    tb.join(30)
    assert_problem(a["answer"], 422, field="amount_cents")
    assert b["answer"].status_code == 201 and b["answer"].get_json()["status"] == "succeeded", b["answer"].get_json()
    assert_problem(pay(me, refused_body, key), 409)
    again = pay(me, good_body, key)
    assert again.status_code == 201 and again.get_json()["id"] == b["answer"].get_json()["id"]
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 1


def test_same_key_other_body_queued_behind_the_first_is_a_409_and_charges_nothing(payer, sandbox, payments_app,
                                                                                 payments_engine):
    """Pins: a duplicate with another body that waited on the account lock finds the key taken (ON CONFLICT sees
    the committed claim, whatever its snapshot) and answers 409 once the first has its answer."""
    client_id, me, _ = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    key = f"other-{uuid.uuid4().hex}"
    lock = AccountLock(payments_engine, client_id)
    a_api, b_api = Api(payments_app.test_client(), me.token), Api(payments_app.test_client(), me.token)
    ta, a = _in_thread(lambda: pay(a_api, {"amount_cents": 1000, "payment_method_id": card["id"]}, key))
    try:
        wait_for_lock_waiters(payments_engine, 1)
        tb, b = _in_thread(lambda: pay(b_api, {"amount_cents": 2000, "payment_method_id": card["id"]}, key))
        wait_for_lock_waiters(payments_engine, 2)
    finally:
        lock.rollback()
    ta.join(30)
    tb.join(30)
    assert a["answer"].status_code == 201 and a["answer"].get_json()["status"] == "succeeded"
    assert_problem(b["answer"], 409)
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 1


# --- prebuilt statements executed with a params dict: no parameter may become a column ----------------------

_INSERT = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)")
_UPDATE = re.compile(r"UPDATE (\w+) SET (.*?)(?: WHERE | RETURNING |\)$|$)", re.S)


def _written_columns(statements: list[str]) -> dict[str, set[frozenset[str]]]:
    """{table: {the column set of each INSERT/UPDATE of it}} over the statements sent (CTEs included)."""
    seen: dict[str, set[frozenset[str]]] = {}
    for sql in statements:
        flat = " ".join(sql.split())
        for table, columns in _INSERT.findall(flat):
            seen.setdefault(table, set()).add(frozenset(c.strip() for c in columns.split(",")))
        for table, assignments in _UPDATE.findall(flat):
            names = frozenset(m.group(1) for m in re.finditer(r"(?:^|, )(\w+)=", assignments))
            seen.setdefault(table, set()).add(names)
    return seen


def _capture(engine):
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return sent, lambda: event.remove(engine, "before_cursor_execute", record)


def test_prebuilt_statements_write_exactly_their_columns_whatever_parameters_they_get(
        payer, sandbox, payments_engine, pdeliver, bstaff, bclient, codes, deliver, billing_engine):
    """Pins the SQLAlchemy pitfall the commits name: an INSERT/UPDATE built once and executed with a params dict
    takes any key equal to one of its table's columns as one more column to set (also inside a CTE). With the
    parameters the code really passes, each statement writes exactly the columns meant."""
    from services.payments.usecases.paying import WRITTEN_COLUMNS

    client_id, me, invoices = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    sent, stop = _capture(payments_engine)
    try:
        answer = pay(me, {"amount_cents": 1000, "payment_method_id": card["id"], "note": "n"}).get_json()
        pdeliver("payment.posted", {"payment_id": answer["id"], "client_id": client_id, "amount_cents": 1000,
                                    "allocations": [], "balance_cents": 9000, "currency": "USD", "ledger_seq": 12,
                                    "open_invoices": [{"invoice_id": invoices[0], "balance_cents": 9000}]})
    finally:
        stop()
    written = _written_columns([s for s in sent if "processed_events" not in s])
    outbox = frozenset({"id", "event_type", "envelope", "headers"})
    assert written["outbox"] == {outbox}, written["outbox"]
    assert frozenset(WRITTEN_COLUMNS) in written["payments"]
    assert frozenset({"status", "settled_at", "processor_charge_id"}) in written["payments"]
    assert frozenset({"posted_at"}) in written["payments"]
    assert len(written["payments"]) == 3, written["payments"]
    assert written["idempotency_keys"] == {frozenset({"scope", "key", "request_hash", "status", "payment_id",
                                                      "expires_at"}), frozenset({"status", "response_status"})}
    assert written["accounts"] == {frozenset({"balance_cents", "ledger_seq", "open_invoices"})}

    b_client, _ = bclient()
    a = invoice(bstaff, b_client)
    sent, stop = _capture(billing_engine)
    try:
        paid(deliver, b_client, 15000, a["id"])
    finally:
        stop()
    written = _written_columns([s for s in sent if "processed_events" not in s])
    assert written["ledger_entries"] == {frozenset({"id", "client_id", "kind", "amount_cents", "currency",
                                                    "balance_after_cents", "description", "payment_id", "method",
                                                    "occurred_at"})}, written["ledger_entries"]
    assert written["allocations"] == {frozenset({"id", "invoice_id", "entry_id", "amount_cents"})}
    assert written["invoices"] == {frozenset({"paid_at"})}
    assert written["outbox"] == {outbox}


# --- billing: once-only posting under concurrency -------------------------------------------------------------

def test_the_same_payment_under_two_event_ids_posted_concurrently_is_on_the_ledger_once(
        bstaff, bclient, codes, deliver, billing_config, billing_engine):
    """Pins: a duplicate payment.succeeded (another event id, another consumer replica) that waits for the account
    lock while the first posts finds the entry committed (the INSERT ... ON CONFLICT DO NOTHING in the statement
    that also reads the open invoices) and writes and announces nothing."""
    from services.billing.ledger import lock_for_posting
    from services.billing.usecases import postings
    from shared.db import session_factory

    client_id, _ = bclient()
    a = invoice(bstaff, client_id)  # 150.00
    payment_id = str(uuid.uuid4())
    holder = session_factory(billing_config.database_url)()
    try:
        lock_for_posting(holder, client_id)
        waiting = threading.Thread(target=paid, args=(deliver, client_id, 15000), kwargs={"payment_id": payment_id})
        waiting.start()
        wait_for_lock_waiters(billing_engine, 1)
        postings.post_payment(holder, {"payment_id": payment_id, "client_id": client_id, "amount_cents": 15000,
                                      "invoice_ids": [a["id"]], "method": {}})
        holder.commit()
    finally:
        holder.close()
    waiting.join(30)
    assert not waiting.is_alive()
    with billing_engine.connect() as conn:
        entries = conn.execute(text("SELECT balance_after_cents FROM ledger_entries WHERE client_id = :c "
                                    "ORDER BY seq"), {"c": client_id}).scalars().all()
        allocated = conn.execute(text("SELECT coalesce(sum(amount_cents), 0) FROM allocations "
                                      "WHERE invoice_id = :i"), {"i": a["id"]}).scalar()
    assert entries == [15000, 0]
    assert allocated == 15000
    assert len(billing_outbox(billing_engine, "payment.posted", payment_id=payment_id)) == 1
    assert len(billing_outbox(billing_engine, "invoice.paid", invoice_id=a["id"])) == 1


# --- processor transport: what "never sent" means ------------------------------------------------------------

def _self_signed(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


class BrokenTlsAfterRequest:
    """A TLS endpoint (a processor's terminator, a proxy) that reads the whole request, then sends a record
    that fails its MAC check (corrupted, or a faulty terminator): the client sees an SSLError *after* the POST
    went out, as it would if the charge had been made and the answer was lost."""

    def __init__(self, cert_file: str, key_file: str):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"https://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn = self.ctx.wrap_socket(raw, server_side=True)
                data = conn.recv(65536)
                if data:
                    self.requests.append(data.split(b" ", 1)[0].decode())
                plain = socket.socket(fileno=os.dup(conn.fileno()))
                plain.sendall(bytes([23, 3, 3, 0, 40]) + b"\x00" * 40)  # application data, bad MAC
                plain.settimeout(10)
                try:  # open until the client, its read failed, has closed its end
                    while plain.recv(65536):
                        pass
                except OSError:
                    pass
                plain.close()
                conn.close()
            except (OSError, ssl.SSLError):
                continue

    def close(self):
        self.sock.close()


def test_a_tls_error_after_the_charge_went_out_is_an_unknown_outcome_not_never_sent(tmp_path, monkeypatch):
    """_never_sent() answers True for
    every requests SSLError, but urllib3 also raises SSLError for a TLS failure while *reading the answer* (after the
    whole POST was sent). The charge is then settled `failed` / processor_unavailable ("nothing was charged") and never
    reconciled, although the processor may have charged the card. A certificate the client refuses (the handshake,
    before any byte of the request) is still 'never sent'."""
    cert_file, key_file = _self_signed(tmp_path)
    server = BrokenTlsAfterRequest(cert_file, key_file)
    try:
        # control: a certificate we do not trust fails the handshake: nothing was sent, ProcessorUnavailable
        untrusted = HttpProcessor(server.url, "k", timeout=(1.0, 2.0), retries=0)
        with pytest.raises(ProcessorUnavailable):
            untrusted.charge(token="tok_x", amount_cents=100, currency="USD", reference="r-untrusted",
                             description="")
        untrusted.close()
        assert server.requests == []
        # the deployment trusts the processor's CA (REQUESTS_CA_BUNDLE, read once when the adapter is made)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert_file)
        adapter = HttpProcessor(server.url, "k", timeout=(1.0, 2.0), retries=0)
        try:
            adapter.charge(token="tok_x", amount_cents=100, currency="USD", reference="r-sent", description="")
        except ProcessorTimeout:
            outcome = "unknown (reconciled)"
        except ProcessorUnavailable as exc:
            outcome = f"never sent: {exc}"
        finally:
            adapter.close()
        # the server recorded the request before it sent the record the client failed on
        assert server.requests == ["POST"], server.requests  # the processor got the whole charge request
        assert outcome == "unknown (reconciled)", outcome
    finally:
        server.close()


# --- sandbox processor: a connection kept per thread ----------------------------------------------------------

def test_a_failed_commit_does_not_leave_the_sandbox_threads_connection_inside_its_write_transaction(tmp_path,
                                                                                               monkeypatch):
    """_write() rolls back when its body raises, but not when COMMIT itself fails
    (SQLite leaves the transaction open after SQLITE_FULL / IOERR / NOMEM at COMMIT unless it chose to roll back). With
    a connection per operation, closing it ended the transaction; the kept per-thread connection now stays in it,
    holding the WAL write lock: this thread can no longer BEGIN, and every other thread's BEGIN IMMEDIATE waits out its
    busy timeout (30 s in the sandbox) and fails: the sandbox is down until restarted."""
    import sqlite3

    from services.payments.sandbox.cards import SUCCEED, CheckedCard
    from services.payments.sandbox.store import SandboxStore

    class CommitFailsOnce(sqlite3.Connection):
        armed = False

        def execute(self, sql, *args):
            if sql == "COMMIT" and CommitFailsOnce.armed:
                CommitFailsOnce.armed = False
                raise sqlite3.OperationalError("database or disk is full")  # as sqlite3 reports SQLITE_FULL
            return super().execute(sql, *args)

    connect = sqlite3.connect

    def faulty_connect(path, **kwargs):  # the store's connections, with the fault above and a 1 s busy timeout
        return connect(path, **{**kwargs, "timeout": 1, "factory": CommitFailsOnce})

    monkeypatch.setattr(sqlite3, "connect", faulty_connect)
    store = SandboxStore(str(tmp_path / "sandbox.sqlite3"))
    card = CheckedCard(brand="visa", last4="4242", exp_month=12, exp_year=2099, outcome=SUCCEED, fingerprint="fp")
    store.create_token(card, "Avery Stone")
    CommitFailsOnce.armed = True
    with pytest.raises(sqlite3.OperationalError):
        store.create_token(card, "Avery Stone")
    other_thread: dict = {}
    worker = threading.Thread(target=lambda: other_thread.update(
        result=_try(lambda: store.create_token(card, "Avery Stone"))))
    worker.start()
    worker.join(10)
    same_thread = _try(lambda: store.create_token(card, "Avery Stone"))
    assert other_thread["result"] == "ok", f"another thread's write after the failed COMMIT: {other_thread['result']}"
    assert same_thread == "ok", f"this thread's next write after the failed COMMIT: {same_thread}"


def _try(fn) -> str:
    try:
        fn()
        return "ok"
    except Exception as exc:  # noqa: BLE001 (the test reports it)
        return f"{type(exc).__name__}: {exc}"
