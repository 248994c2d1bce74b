"""Messaging's copies of the other services' facts, kept inside the consumer's transaction: the clients (names,
e-mail), the staff (senders' names, the assignee's e-mail), the practice's settings (name, e-mail, clock), and
each client's saved cards and AutoPay (the notices that name the card AutoPay charges)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.messaging.models import Card, Client, Practice, StaffMember
from shared.directory import DIRECTORY_FIELDS, SETTINGS_FIELDS, ClientDirectory, PracticeProjection

CLIENTS = ClientDirectory(Client, fields=DIRECTORY_FIELDS, new={"autopay_enabled": False})
PRACTICE = PracticeProjection(Practice, fields=SETTINGS_FIELDS)


def upsert_client(session: Session, payload: dict) -> None:
    CLIENTS.upsert(session, payload)


def apply_settings(session: Session, settings: dict) -> None:
    PRACTICE.apply(session, settings)


def upsert_staff(session: Session, payload: dict) -> None:
    member = session.get(StaffMember, payload["user_id"], with_for_update=True)
    if member is None:
        member = StaffMember(user_id=payload["user_id"])
        session.add(member)
    member.first_name, member.last_name = payload.get("first_name"), payload.get("last_name")
    member.email, member.role = payload.get("email"), payload.get("role") or "staff"
    member.active = bool(payload.get("active", True))


def client_row(session: Session, client_id: str) -> Client:
    """The client's row, locked; a placeholder when a payments or billing event came before client.created (the
    directory event fills the names in when it arrives)."""
    client = session.get(Client, client_id, with_for_update=True)
    if client is None:
        client = Client(client_id=client_id, first_name="", last_name="", autopay_enabled=False)
        session.add(client)
        session.flush()
    return client


def card_added(session: Session, payload: dict) -> None:
    card = session.get(Card, payload["payment_method_id"])
    if card is None:
        card = Card(payment_method_id=payload["payment_method_id"], client_id=payload["client_id"])
        session.add(card)
    card.brand, card.last4, card.removed = payload.get("brand"), payload.get("last4"), False
    if payload.get("is_default"):
        client_row(session, payload["client_id"]).default_payment_method_id = card.payment_method_id


def card_removed(session: Session, payload: dict) -> None:
    card = session.get(Card, payload["payment_method_id"])
    if card is not None:
        card.removed = True
    client = client_row(session, payload["client_id"])
    if client.default_payment_method_id == payload["payment_method_id"]:
        client.default_payment_method_id = None


def default_changed(session: Session, payload: dict) -> None:
    client_row(session, payload["client_id"]).default_payment_method_id = payload.get("payment_method_id")


def autopay(session: Session, client_id: str, enabled: bool) -> None:
    client_row(session, client_id).autopay_enabled = enabled


def default_card(session: Session, client: Client | None) -> Card | None:
    if client is None or not client.default_payment_method_id:
        return None
    card = session.get(Card, client.default_payment_method_id)
    return card if card is not None and not card.removed else None
