"""The sandbox processor's books: tokens, charges by reference, refunds, in one SQLite file.

Why SQLite rather than a dict: the payments database keeps processor tokens of saved
cards, so the sandbox must still know them after `make run` is restarted; and a write
transaction (`BEGIN IMMEDIATE`) makes "look up the reference, else record the charge"
atomic across threads and even across gunicorn workers, so one reference can never be
charged twice. A connection per thread keeps threads from sharing one.

A token row keeps brand, last four, expiry, holder name, a keyed fingerprint and the
test card's outcome class; never the card number or the CVC.

A token is single-use, as at real processors: the first attach (to a customer, making a
payment method) or charge uses it up, and any second use is refused (`token_already_used`),
so a token seen by anyone else is worth nothing once our service has used it. A saved card is
a payment method of a customer: it charges again, but only named together with its customer.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.payments.sandbox.cards import SLOW, CheckedCard, charge_outcome
from services.payments.sandbox.errors import (
    AmountTooLarge,
    ChargeNotRefundable,
    CustomerMismatch,
    IdempotencyConflict,
    ResourceMissing,
    TokenAlreadyUsed,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    cardholder_name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_methods (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    token TEXT NOT NULL UNIQUE REFERENCES tokens(id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    -- the card charged: a token (used up by this charge), or a customer's payment method
    token TEXT REFERENCES tokens(id),
    payment_method TEXT REFERENCES payment_methods(id),
    customer TEXT REFERENCES customers(id),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_code TEXT,
    failure_message TEXT,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    charge_id TEXT NOT NULL REFERENCES charges(id),
    amount_cents INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_charge ON refunds (charge_id);
"""

# A sandbox file from before single-use tokens (make run keeps it under var/): the columns added since.
UPGRADES = {
    "tokens": {"used_at": "ALTER TABLE tokens ADD COLUMN used_at TEXT"},
    "charges": {"payment_method": "ALTER TABLE charges ADD COLUMN payment_method TEXT",
                "customer": "ALTER TABLE charges ADD COLUMN customer TEXT"},
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Recorded:
    """A charge or refund as answered, whether this call created it, and whether to answer slowly."""

    body: dict
    created: bool
    slow: bool = False


class SandboxStore:
    def __init__(self, path: str):
        if path == ":memory:" or not path:
            # Each connection would open a different, empty database.
            raise ValueError("The sandbox needs a database file (SANDBOX_DATABASE_PATH), not :memory:.")
        self.path = path
        self._local = threading.local()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with closing(self._open()) as conn:  # not kept: a server may fork after this
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            for table, columns in UPGRADES.items():
                have = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
                for name, ddl in columns.items():
                    if name not in have:
                        conn.execute(ddl)
            conn.execute("INSERT OR IGNORE INTO settings (key, value) VALUES ('fingerprint_key', ?)",
                         (secrets.token_hex(32),))
            self.fingerprint_key = bytes.fromhex(conn.execute(
                "SELECT value FROM settings WHERE key = 'fingerprint_key'").fetchone()["value"])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened once: opening one per operation cost more than the operation.
        synchronous=NORMAL: with WAL, a crash of the sandbox loses nothing; only a power cut could lose the
        last commits, which a sandbox can afford (a fsync per charge it cannot, on a shared test machine)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        yield conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before the first read so check-then-insert is atomic."""
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                self._abandon(conn)
                raise

    def _abandon(self, conn: sqlite3.Connection) -> None:
        """Ends a failed write transaction, also one whose COMMIT failed: left open on this thread's kept
        connection, it would hold the database's write lock and stop every other thread."""
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            self._local.conn = None
            conn.close()

    def check(self) -> None:
        with self._connect() as conn:
            conn.execute("SELECT 1 FROM charges LIMIT 1")

    # --- tokens ----------------------------------------------------------------------------------

    def create_token(self, card: CheckedCard, cardholder_name: str) -> dict:
        token = _id("tok")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO tokens (id, brand, last4, exp_month, exp_year, cardholder_name, fingerprint, outcome,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (token, card.brand, card.last4, card.exp_month, card.exp_year, cardholder_name, card.fingerprint,
                 card.outcome, _now()))
        return self.token(token)

    def token(self, token: str) -> dict:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM tokens WHERE id = ?", (token,)).fetchone()
        if row is None:
            raise ResourceMissing("No such token.")
        return {"token": row["id"], "brand": row["brand"], "last4": row["last4"], "exp_month": row["exp_month"],
                "exp_year": row["exp_year"], "cardholder_name": row["cardholder_name"],
                "fingerprint": row["fingerprint"], "created": row["created_at"], "used": row["used_at"] is not None}

    @staticmethod
    def _use_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row:
        """The token's card, the token marked used in the caller's write transaction; refused if used before."""
        card = conn.execute("SELECT * FROM tokens WHERE id = ?", (token,)).fetchone()
        if card is None:
            raise ResourceMissing("No such token.")
        if card["used_at"] is not None:
            raise TokenAlreadyUsed("This token was already used; a token can be used only once.")
        conn.execute("UPDATE tokens SET used_at = ? WHERE id = ?", (_now(), token))
        return card

    # --- customers and their payment methods ----------------------------------------------------------

    def create_customer(self, reference: str) -> Recorded:
        """One customer per reference (the merchant's id for its customer): a repeat answers the first."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM customers WHERE reference = ?", (reference,)).fetchone()
            if row is not None:
                return Recorded(self._customer_body(row), created=False)
            customer_id = _id("cus")
            conn.execute("INSERT INTO customers (id, reference, created_at) VALUES (?, ?, ?)",
                         (customer_id, reference, _now()))
            row = conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
            return Recorded(self._customer_body(row), created=True)

    @staticmethod
    def _customer_body(row: sqlite3.Row) -> dict:
        return {"id": row["id"], "reference": row["reference"], "created": row["created_at"]}

    def attach(self, customer_id: str, token: str) -> dict:
        """The token's card saved as a payment method of the customer; the token is used up."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM customers WHERE id = ?", (customer_id,)).fetchone() is None:
                raise ResourceMissing("No such customer.")
            self._use_token(conn, token)
            method_id = _id("pm")
            conn.execute("INSERT INTO payment_methods (id, customer_id, token, created_at) VALUES (?, ?, ?, ?)",
                         (method_id, customer_id, token, _now()))
            return self._method_body(self._method_row(conn, method_id))

    @staticmethod
    def _method_row(conn: sqlite3.Connection, method_id: str) -> sqlite3.Row | None:
        return conn.execute("SELECT m.id, m.customer_id, m.created_at AS attached_at, t.brand, t.last4, t.exp_month,"
                            " t.exp_year, t.cardholder_name, t.fingerprint, t.outcome FROM payment_methods m"
                            " JOIN tokens t ON t.id = m.token WHERE m.id = ?", (method_id,)).fetchone()

    @staticmethod
    def _method_body(row: sqlite3.Row) -> dict:
        return {"id": row["id"], "customer": row["customer_id"], "brand": row["brand"], "last4": row["last4"],
                "exp_month": row["exp_month"], "exp_year": row["exp_year"],
                "cardholder_name": row["cardholder_name"], "fingerprint": row["fingerprint"],
                "created": row["attached_at"]}

    # --- charges ---------------------------------------------------------------------------------

    def create_charge(self, *, token: str | None = None, payment_method: str | None = None,
                      customer: str | None = None, amount_cents: int, currency: str, reference: str,
                      description: str) -> Recorded:
        """Charge once per reference: a repeat answers the first charge, a changed repeat is a conflict. The
        card is a token (used up by the charge) or a payment method, which charges only for its customer."""
        with self._write() as conn:
            existing = conn.execute("SELECT * FROM charges WHERE reference = ?", (reference,)).fetchone()
            if existing is not None:
                if (existing["token"], existing["payment_method"], existing["amount_cents"], existing["currency"]) \
                        != (token, payment_method, amount_cents, currency):
                    raise IdempotencyConflict(
                        "This reference was already used for a charge with other parameters "
                        f"(amount {existing['amount_cents']} {existing['currency']}); the first charge stands.")
                return Recorded(self._charge_body(conn, existing), created=False)
            if token is not None:
                card = self._use_token(conn, token)
            else:
                card = self._method_row(conn, payment_method)
                if card is None:
                    raise ResourceMissing("No such payment method.")
                if card["customer_id"] != customer:
                    raise CustomerMismatch("This payment method belongs to another customer.")
            status, failure_code, failure_message = charge_outcome(card["outcome"])
            charge_id = _id("ch")
            conn.execute(
                "INSERT INTO charges (id, reference, token, payment_method, customer, amount_cents, currency,"
                " description, status, failure_code, failure_message, brand, last4, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (charge_id, reference, token, payment_method, customer if payment_method else None, amount_cents,
                 currency, description, status, failure_code, failure_message, card["brand"], card["last4"],
                 _now()))
            row = conn.execute("SELECT * FROM charges WHERE id = ?", (charge_id,)).fetchone()
            return Recorded(self._charge_body(conn, row), created=True, slow=card["outcome"] == SLOW)

    def charge(self, charge_id: str) -> dict:
        return self._find_charge("id", charge_id)

    def charge_by_reference(self, reference: str) -> dict:
        return self._find_charge("reference", reference)

    def _find_charge(self, column: str, value: str) -> dict:
        with self._connect() as conn:
            row = conn.execute(f"SELECT * FROM charges WHERE {column} = ?", (value,)).fetchone()  # noqa: S608
            if row is None:
                raise ResourceMissing("No such charge.")
            return self._charge_body(conn, row)

    @staticmethod
    def _refunded(conn: sqlite3.Connection, charge_id: str) -> int:
        return conn.execute("SELECT COALESCE(SUM(amount_cents), 0) AS total FROM refunds"
                            " WHERE charge_id = ? AND status = 'succeeded'", (charge_id,)).fetchone()["total"]

    def _charge_body(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict:
        refunded = self._refunded(conn, row["id"])
        return {"id": row["id"], "status": row["status"], "amount_cents": row["amount_cents"],
                "currency": row["currency"], "reference": row["reference"], "description": row["description"],
                "failure_code": row["failure_code"], "failure_message": row["failure_message"],
                "amount_refunded_cents": refunded, "refunded": refunded > 0 and refunded >= row["amount_cents"],
                "card": {"brand": row["brand"], "last4": row["last4"]}, "created": row["created_at"]}

    # --- refunds ---------------------------------------------------------------------------------

    def create_refund(self, *, charge_id: str, amount_cents: int, reference: str) -> Recorded:
        """Refund once per reference; all refunds of a charge together never exceed what it charged."""
        with self._write() as conn:
            existing = conn.execute("SELECT * FROM refunds WHERE reference = ?", (reference,)).fetchone()
            if existing is not None:
                if (existing["charge_id"], existing["amount_cents"]) != (charge_id, amount_cents):
                    raise IdempotencyConflict(
                        "This reference was already used for a refund with other parameters; the first one stands.")
                return Recorded(self._refund_body(existing), created=False)
            charge = conn.execute("SELECT * FROM charges WHERE id = ?", (charge_id,)).fetchone()
            if charge is None:
                raise ResourceMissing("No such charge.")
            if charge["status"] != "succeeded":
                raise ChargeNotRefundable("Only a successful charge can be refunded.")
            remaining = charge["amount_cents"] - self._refunded(conn, charge_id)
            if amount_cents > remaining:
                raise AmountTooLarge(f"The refund ({amount_cents}) exceeds what is left to refund on the charge "
                                     f"({remaining} of {charge['amount_cents']}).")
            refund_id = _id("re")
            conn.execute("INSERT INTO refunds (id, reference, charge_id, amount_cents, currency, status, created_at)"
                         " VALUES (?, ?, ?, ?, ?, 'succeeded', ?)",
                         (refund_id, reference, charge_id, amount_cents, charge["currency"], _now()))
            row = conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
            return Recorded(self._refund_body(row), created=True)

    def refund_by_reference(self, reference: str) -> dict:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM refunds WHERE reference = ?", (reference,)).fetchone()
        if row is None:
            raise ResourceMissing("No such refund.")
        return self._refund_body(row)

    @staticmethod
    def _refund_body(row: sqlite3.Row) -> dict:
        return {"id": row["id"], "status": row["status"], "charge_id": row["charge_id"],
                "amount_cents": row["amount_cents"], "currency": row["currency"], "reference": row["reference"],
                "created": row["created_at"]}

    # --- for tests: everything the sandbox keeps ----------------------------------------------------

    def dump(self) -> list[str]:
        """Every statement that would rebuild the database: what a leak check reads."""
        with self._connect() as conn:
            return list(conn.iterdump())
