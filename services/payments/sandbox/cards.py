"""Card rules of the sandbox: number clean-up, Luhn, brand, expiry, CVC, and what each test card does.

Pure functions. The full number and the CVC live only in the arguments of these
functions during one tokenization request: nothing here stores or logs them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from services.payments.sandbox.errors import CardError

# The processor's own words for a refused card (our payments service shows its own).
MESSAGES = {
    "incorrect_number": "Your card number is incorrect.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "expired_card": "Your card has expired.",
    "insufficient_funds": "Your card has insufficient funds.",
    "card_declined": "Your card was declined.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
}

SUCCEED = "succeed"
SLOW = "slow"  # succeeds, but the charge call answers only after SANDBOX_SLOW_SECONDS
# API.md's test cards; any other valid number succeeds.
TEST_CARD_OUTCOMES = {
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000119": "processing_error",
    "4000000000003220": SLOW,
}

_SEPARATORS = re.compile(r"[ \-]")
_BRAND_LENGTHS = {"visa": {13, 16, 19}, "mastercard": {16}, "amex": {15}, "discover": set(range(16, 20)),
                  "unknown": set(range(12, 20))}


@dataclass(frozen=True)
class CheckedCard:
    """What survives tokenization: no number, no CVC."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    outcome: str
    fingerprint: str


def clean_number(raw: str) -> str:
    """Digits only; spaces and dashes (as people type them) are dropped, anything else is refused."""
    number = _SEPARATORS.sub("", raw or "")
    if not number.isdigit() or not number.isascii():
        raise CardError("incorrect_number", MESSAGES["incorrect_number"])
    return number


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2] or 0) <= 55 or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3] or 0) <= 649:
        return "discover"
    return "unknown"


def full_year(year: int) -> int:
    return 2000 + year if year < 100 else year


def is_expired(exp_month: int, exp_year: int, now: datetime | None = None) -> bool:
    """A card is good through the last day of its expiry month."""
    now = now or datetime.now(UTC)
    return (full_year(exp_year), exp_month) < (now.year, now.month)


def fingerprint(number: str, key: bytes) -> str:
    # Keyed, so the fingerprint cannot be reversed by hashing every number of a BIN range.
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:32]


def check_card(*, card_number: str, exp_month: int, exp_year: int, cvc: str, fingerprint_key: bytes,
               now: datetime | None = None) -> CheckedCard:
    """Validate a card for tokenization: number (format, brand length, Luhn), then expiry, then CVC."""
    number = clean_number(card_number)
    brand = brand_of(number)
    if len(number) not in _BRAND_LENGTHS[brand] or not luhn_valid(number):
        raise CardError("incorrect_number", MESSAGES["incorrect_number"])
    if is_expired(exp_month, exp_year, now):
        raise CardError("expired_card", MESSAGES["expired_card"])
    if not (cvc or "").isdigit() or len(cvc) != (4 if brand == "amex" else 3):
        raise CardError("incorrect_cvc", MESSAGES["incorrect_cvc"])
    return CheckedCard(brand=brand, last4=number[-4:], exp_month=exp_month, exp_year=full_year(exp_year),
                       outcome=TEST_CARD_OUTCOMES.get(number, SUCCEED),
                       fingerprint=fingerprint(number, fingerprint_key))


def charge_outcome(outcome: str) -> tuple[str, str | None, str | None]:
    """(status, failure_code, failure_message) of a charge on a card of this outcome class."""
    if outcome in (SUCCEED, SLOW):
        return "succeeded", None, None
    return "failed", outcome, MESSAGES.get(outcome, MESSAGES["card_declined"])
