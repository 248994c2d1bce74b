"""Billing's use cases (services/billing/usecases/, one module each) behind one facade, BillingService
(app.extensions["billing"], the routes, bench). The nightly AutoPay run is usecases/autopay.py's AutopayRunner
(the beat, the cli, the staff API); what billing keeps of other services' events is usecases/projections.py and
usecases/postings.py (with events.py); the rules (allocation, invoice lines and totals, credit, adjustments,
periods) are in domain/, and the statements that write money in ledger.py."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from services.billing.domain.errors import BillingError
from services.billing.domain.periods import Period
from services.billing.models import BillableSession, Invoice, ServiceCode, Statement, Superbill
from services.billing.usecases import base, practice
from services.billing.usecases.accounts import Accounts
from services.billing.usecases.autopay import Enrolment
from services.billing.usecases.documents import Documents
from services.billing.usecases.invoices import Invoices
from services.billing.usecases.practice import Profile
from services.billing.usecases.service_codes import ServiceCodes
from shared.auth import Principal
from shared.practice_settings import PracticeSettings, SettingsSource


class BillingService:
    def __init__(self, *, config, sessions: sessionmaker[Session], settings: SettingsSource | None = None):
        self.config = config
        self.sessions = sessions
        # identity's current settings: the switches a decision must find on at that moment
        self.settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                                     timeout=config.identity_timeout)
        self.ctx = base.Context(config=config, sessions=sessions, settings=self.settings)
        self.profile = Profile(self.ctx)
        self.service_codes = ServiceCodes(self.ctx)
        self.invoices = Invoices(self.ctx)
        self.accounts = Accounts(self.ctx)
        self.enrolment = Enrolment(self.ctx)
        self.billing_documents = Documents(self.ctx, self.invoices)

    def require_switch(self, switch: str, refusal: BillingError) -> None:
        base.require_switch(self.ctx, switch, refusal)

    def period(self, session: Session, start: date | None, end: date | None) -> Period:
        return base.period(session, start, end)

    # practice and profile
    def practice_view(self, session: Session) -> dict:
        return practice.practice_view(session)

    def get_profile(self) -> dict:
        return self.profile.get_profile()

    def update_profile(self, data: dict) -> dict:
        return self.profile.update_profile(data)

    # service codes
    def create_service_code(self, data: dict) -> ServiceCode:
        return self.service_codes.create_service_code(data)

    def list_service_codes(self, include_inactive: bool) -> list[ServiceCode]:
        return self.service_codes.list_service_codes(include_inactive)

    def update_service_code(self, code_id: str, data: dict) -> ServiceCode:
        return self.service_codes.update_service_code(code_id, data)

    # invoices
    def create_invoice(self, data: dict, staff: Principal) -> dict:
        return self.invoices.create_invoice(data, staff)

    def invoice_views(self, session: Session, invoices: list[Invoice]) -> list[dict]:
        return self.invoices.invoice_views(session, invoices)

    def list_invoices(self, *, client_id: str | None, status: str | None, limit: int, cursor: str | None):
        return self.invoices.list_invoices(client_id=client_id, status=status, limit=limit, cursor=cursor)

    def get_invoice(self, invoice_id: str, *, client_id: str | None) -> dict:
        return self.invoices.get_invoice(invoice_id, client_id=client_id)

    def billable_sessions(self, client_id: str | None) -> list[BillableSession]:
        return self.invoices.billable_sessions(client_id)

    # the account
    def account(self, client_id: str) -> dict:
        return self.accounts.account(client_id)

    def history(self, client_id: str, *, start: date | None, end: date | None, kind: str | None, limit: int,
                cursor: str | None, oldest_first: bool = False):
        return self.accounts.history(client_id, start=start, end=end, kind=kind, limit=limit, cursor=cursor,
                                     oldest_first=oldest_first)

    def adjust(self, client_id: str, data: dict, staff: Principal) -> dict:
        return self.accounts.adjust(client_id, data, staff)

    # AutoPay enrolment (the nightly run is usecases/autopay.py's AutopayRunner)
    def set_autopay(self, client_id: str, enabled: bool) -> dict:
        return self.enrolment.set_autopay(client_id, enabled)

    # statements, superbills and the documents
    def create_statement(self, client_id: str, start: date, end: date, staff: Principal) -> Statement:
        return self.billing_documents.create_statement(client_id, start, end, staff)

    def create_superbill(self, data: dict, staff: Principal) -> Superbill:
        return self.billing_documents.create_superbill(data, staff)

    def documents(self, client_id: str, *, for_client: bool) -> list[dict]:
        return self.billing_documents.documents(client_id, for_client=for_client)

    def document_pdf(self, document_id: str, *, client_id: str | None) -> tuple[str, bytes]:
        return self.billing_documents.document_pdf(document_id, client_id=client_id)
