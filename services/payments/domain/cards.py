"""Which card a payment charges, and when a card may not be used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.payments.domain.errors import (
    CardExpired,
    CardReentryRequired,
    NoCardOnFile,
    PaymentMethodNotFound,
    PaymentsError,
    ProcessorDown,
)


class LegacyCard(Exception):
    """The card to charge was saved before migration 0003 and is not converted yet: convert it, then reserve."""

    def __init__(self, card_id: str):
        super().__init__(card_id)
        self.card_id = card_id


@dataclass(frozen=True)
class ChargeMethod:
    """What the processor charges: a new card's single-use token, or a saved card's payment method with the
    customer it belongs to; and what the payment shows of it."""

    id: str | None  # the saved card (payment_methods.id); None for a new card
    token: str | None
    payment_method: str | None
    customer: str | None
    brand: str | None
    last4: str | None


def card_expired(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


def check_not_expired(exp_month: int, exp_year: int, today: date, *, field: str) -> None:
    """CardExpired, naming the request's field that chose the card, when its expiry month is over."""
    if card_expired(exp_month, exp_year, today):
        raise CardExpired("This card has expired; use another card.", errors={field: ["The card has expired."]},
                          extra={"failure_code": "expired_card"})


def card_to_charge(*, token: str | None, details, chosen_id: str | None, saved, today: date) -> ChargeMethod:
    """The card a payment charges: a new card (its token and the processor's `details` of it), or the saved card
    the reserve read under the client's lock (`saved`: by `chosen_id`, or the default card for AutoPay; its
    card_id is None when there is no such card). A legacy card (no payment method yet) raises LegacyCard."""
    if details is not None:
        check_not_expired(details.exp_month, details.exp_year, today, field="processor_token")
        return ChargeMethod(id=None, token=token, payment_method=None, customer=None, brand=details.brand,
                            last4=details.last4)
    if saved.card_id is None:
        if chosen_id:  # unknown, another client's, or removed
            raise PaymentMethodNotFound("No saved card with this id.")
        raise NoCardOnFile("There is no card on file to charge.",
                           errors={"payment_method_id": ["Choose a card or enter a new one."]},
                           extra={"failure_code": "no_payment_method"})
    if saved.processor_payment_method_id is None:
        raise LegacyCard(saved.card_id)
    check_not_expired(saved.exp_month, saved.exp_year, today, field="payment_method_id")
    return ChargeMethod(id=saved.card_id, token=None, payment_method=saved.processor_payment_method_id,
                        customer=saved.processor_customer_id, brand=saved.brand, last4=saved.last4)


def conversion_refusal(outcome: str, *, chosen: bool) -> PaymentsError | None:
    """What a legacy card's conversion just before its charge means for the payment (None: reserve again).
    The processor not answering: nothing charged, try again. The card refused: a card the client chose is
    theirs to enter again; AutoPay's default has moved on (another card, or none) and the reserve decides."""
    if outcome == "unknown":
        return ProcessorDown("The card processor is not answering; nothing was charged. Try again shortly.")
    if outcome == "reentry_required" and chosen:
        return CardReentryRequired("This saved card must be entered again; nothing was charged.",
                                   errors={"payment_method_id": ["Enter this card again."]},
                                   extra={"failure_code": "reentry_required"})
    return None
