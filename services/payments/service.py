"""Payments' use cases (services/payments/usecases/, one module each) behind one facade, PaymentsService
(app.extensions["payments"], the celery tasks, the cli). What payments keeps of other services' events is
projections.py (with events.py); the decisions (what is payable, which card, what may be refunded, how a payment
settles) are in domain/.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from services.payments.processor import CardProcessor
from services.payments.usecases.base import Context
from services.payments.usecases.cards import Cards
from services.payments.usecases.history import History
from services.payments.usecases.idempotency import PaymentKeys
from services.payments.usecases.online import OnlinePayments
from services.payments.usecases.paying import Paying
from services.payments.usecases.reconciliation import Reconciliation
from services.payments.usecases.refunds import Refunds
from shared.practice_settings import PracticeSettings, SettingsSource


class PaymentsService:
    def __init__(self, *, config, sessions: sessionmaker[Session], processor: CardProcessor,
                 settings: SettingsSource | None = None):
        self.config = config
        self.sessions = sessions
        # identity's current settings: whether online payments are on, asked at the moment of each decision
        self.settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                                     timeout=config.identity_timeout)
        # For a step that is one statement, atomic by itself (the settle): no BEGIN and COMMIT round trips.
        self.statement_sessions = sessionmaker(bind=sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT"),
                                               expire_on_commit=False)
        self.processor = processor
        # The longest a charge or refund call can be on its way: until then "not at the processor" proves
        # nothing. Connect + read timeouts and a margin for the processor's own retries.
        self.in_flight_seconds = config.processor_connect_timeout + config.processor_read_timeout + 30
        ctx = Context(config=config, sessions=sessions, statement_sessions=self.statement_sessions,
                      processor=processor, settings=self.settings, in_flight_seconds=self.in_flight_seconds)
        online = OnlinePayments(ctx)
        self.cards = Cards(ctx, online)
        self.paying = Paying(ctx, keys=PaymentKeys(ctx), online=online, cards=self.cards)
        self.refunds = Refunds(ctx)
        self.reconciliation = Reconciliation(ctx, self.refunds)
        self.history = History(sessions)

    # paying
    def pay(self, client_id: str, body: dict, key: str, *, source: str = "portal") -> tuple[int, dict]:
        return self.paying.pay(client_id, body, key, source=source)

    def reconcile(self, *, older_than_seconds: int | None = None) -> dict:
        return self.reconciliation.reconcile(older_than_seconds=older_than_seconds)

    # cards
    def list_methods(self, client_id: str):
        return self.cards.list_methods(client_id)

    def add_method(self, client_id: str, token: str, make_default: bool):
        return self.cards.add_method(client_id, token, make_default)

    def set_default(self, client_id: str, method_id: str):
        return self.cards.set_default(client_id, method_id)

    def remove_method(self, client_id: str, method_id: str) -> None:
        self.cards.remove_method(client_id, method_id)

    def convert_legacy_cards(self) -> dict:
        return self.cards.convert_legacy_cards()

    def convert_card(self, method_id: str, *, wait: bool = True) -> str:
        return self.cards.convert_card(method_id, wait=wait)

    # refunds
    def refund(self, payment_id: str, amount_cents: int, reason: str, staff_id: str, key: str | None = None) -> dict:
        return self.refunds.refund(payment_id, amount_cents, reason, staff_id, key)

    # history
    def list_payments(self, *, client_id: str | None, start, end, status: str | None, limit: int,
                      cursor: str | None):
        return self.history.list_payments(client_id=client_id, start=start, end=end, status=status, limit=limit,
                                          cursor=cursor)

    def get_payment(self, payment_id: str, *, client_id: str | None) -> dict:
        return self.history.get_payment(payment_id, client_id=client_id)

    def receipt(self, payment_id: str, *, client_id: str | None) -> tuple[str, bytes]:
        return self.history.receipt(payment_id, client_id=client_id)
