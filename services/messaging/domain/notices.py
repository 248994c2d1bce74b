"""The notification table: which event becomes which notice for whom (the client, the practice or both), in the
practice's words, and which notices also go out as an e-mail, with which subject (EMAIL_SUBJECTS). Pure: the use
case hands in the facts a notice names (the client's name, the practice's clock, the card AutoPay charges)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

CLIENT, PRACTICE = "client", "practice"


@dataclass(frozen=True)
class Card:
    brand: str | None
    last4: str | None

    def __str__(self) -> str:
        brand = (self.brand or "card").replace("_", " ").title() if self.brand else "Card"
        return f"{brand} ending {self.last4}" if self.last4 else brand


@dataclass(frozen=True)
class Facts:
    """What a notice may name besides its event's payload."""

    practice_name: str = "Your practice"
    timezone: str = "America/New_York"
    client_name: str = "A client"
    card: Card | None = None  # the card the event is about (payment_method.removed: the removed one)
    autopay_card: Card | None = None  # the card AutoPay charges, when the client is on AutoPay
    autopay_payment_method_id: str | None = None  # that card's id
    autopay_card_removed: bool = False  # payment_method.removed took the card AutoPay charges


@dataclass(frozen=True)
class Notice:
    audience: str  # client | practice
    title: str
    body: str
    link: str | None = None


# --- words ---------------------------------------------------------------------------------------------------

SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "EUR": "€", "GBP": "£"}

# A failed payment in plain words, and what to do (the processor's own message is often a code in disguise).
FAILURE_WORDS: dict[str, tuple[str, str]] = {
    "incorrect_number": ("The card number was not accepted.", "Check the number, or use a different card."),
    "incorrect_cvc": ("The security code (CVC) did not match.", "Enter the code on the back of the card again."),
    "expired_card": ("The card has expired.", "Add a current card in Cards on File."),
    "insufficient_funds": ("The card has insufficient funds.", "Use a different card or contact your bank."),
    "card_declined": ("Your bank declined the card.", "Use a different card or contact your bank."),
    "processing_error": ("The card processor had a problem.", "Please try again in a few minutes."),
    "processor_unavailable": ("The card processor could not be reached.", "Please try again in a few minutes."),
}
UNKNOWN_FAILURE = ("The payment did not go through.", "Use a different card or contact the practice.")


def money(cents: int | None, currency: str | None = "USD") -> str:
    cents = int(cents or 0)
    currency = (currency or "USD").upper()
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def when(iso: str | None, timezone: str) -> str:
    """An instant on the practice's clock, as people read it: "Tue, Dec 8, 2026 at 10:00 AM"."""
    if not iso:
        return "a time to be confirmed"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(timezone))
    hour = at.strftime("%I:%M %p").lstrip("0")
    return f"{at:%a, %b} {at.day}, {at.year} at {hour}"


def day(iso_date: str | None) -> str:
    if not iso_date:
        return "its due date"
    d = date.fromisoformat(iso_date[:10])
    return f"{d:%b} {d.day}, {d.year}"


def failure(code: str | None, message: str | None = None) -> tuple[str, str]:
    return FAILURE_WORDS.get(code or "", UNKNOWN_FAILURE)


# --- the table -----------------------------------------------------------------------------------------------

Rule = Callable[[dict, Facts], list[Notice]]
RULES: dict[str, Rule] = {}


def rule(*event_types: str):
    def register(fn: Rule) -> Rule:
        for event_type in event_types:
            RULES[event_type] = fn
        return fn
    return register


def notices_for(event_type: str, payload: dict, facts: Facts) -> list[Notice]:
    """The notices an event gives ([] for one nobody needs to hear about)."""
    build = RULES.get(event_type)
    return build(payload, facts) if build else []


def _client_page(payload: dict) -> str:
    return f"/staff/clients/{payload['client_id']}"


@rule("client.registered")
def _registered(p: dict, f: Facts) -> list[Notice]:
    return [Notice(PRACTICE, "Client registered", f"{f.client_name} registered for the client portal.",
                   _client_page(p))]


@rule("profile.updated")
def _profile(p: dict, f: Facts) -> list[Notice]:
    if p.get("by") != "client" or not p.get("changed_fields"):
        return []  # staff's own edits need nobody's review
    changed = ", ".join(name.replace("_", " ") for name in p["changed_fields"])
    return [Notice(PRACTICE, "Profile changes to review", f"{f.client_name} updated My Information ({changed}).",
                   "/staff/review")]


@rule("appointment.requested")
def _requested(p: dict, f: Facts) -> list[Notice]:
    return [Notice(PRACTICE, "Appointment requested",
                   f"{f.client_name} asked for {p.get('type') or 'an appointment'} on {when(p['start'], f.timezone)}.",
                   "/staff/requests")]


@rule("appointment.approved")
def _approved(p: dict, f: Facts) -> list[Notice]:
    return [Notice(CLIENT, "Appointment request approved",
                   f"Your appointment on {when(p['start'], f.timezone)} is booked.",
                   f"/appointments/{p['appointment_id']}")]


@rule("appointment.denied")
def _denied(p: dict, f: Facts) -> list[Notice]:
    reason = f" The practice says: {p['reason']}" if p.get("reason") else ""
    return [Notice(CLIENT, "Appointment request not approved",
                   f"Your request for {when(p['start'], f.timezone)} was not approved.{reason} You can request "
                   "another time in Appointments.", "/appointments")]


@rule("appointment.booked")
def _booked(p: dict, f: Facts) -> list[Notice]:
    at = when(p["start"], f.timezone)
    if p.get("by") == "client":
        return [Notice(PRACTICE, "Appointment booked", f"{f.client_name} booked {at} online.",
                       f"/staff/calendar/appointments/{p['appointment_id']}")]
    moved = f" (moved from {when(p['previous_start'], f.timezone)})" if p.get("previous_start") else ""
    return [Notice(CLIENT, "Appointment booked", f"Your appointment is on {at}{moved}.",
                   f"/appointments/{p['appointment_id']}")]


@rule("appointment.confirmed")
def _confirmed(p: dict, f: Facts) -> list[Notice]:
    at = when(p["start"], f.timezone)
    if p.get("by") == "client":
        return [Notice(PRACTICE, "Appointment confirmed", f"{f.client_name} confirmed {at}.",
                       f"/staff/calendar/appointments/{p['appointment_id']}")]
    return [Notice(CLIENT, "Appointment confirmed", f"Your appointment on {at} is confirmed.",
                   f"/appointments/{p['appointment_id']}")]


@rule("appointment.cancelled")
def _cancelled(p: dict, f: Facts) -> list[Notice]:
    at = when(p["start"], f.timezone)
    if p.get("by") == "client":
        return [Notice(PRACTICE, "Appointment cancelled", f"{f.client_name} cancelled {at}.",
                       f"/staff/calendar/appointments/{p['appointment_id']}")]
    reason = f" The practice says: {p['reason']}" if p.get("reason") else ""
    return [Notice(CLIENT, "Appointment cancelled", f"Your appointment on {at} was cancelled.{reason}",
                   "/appointments")]


@rule("appointment.reminder_due")
def _reminder(p: dict, f: Facts) -> list[Notice]:
    return [Notice(CLIENT, "Appointment reminder",
                   f"Your appointment with {f.practice_name} is on {when(p['start'], f.timezone)}. To cancel or "
                   "confirm, open Upcoming Appointments.", f"/appointments/{p['appointment_id']}")]


@rule("document.shared")
def _shared(p: dict, f: Facts) -> list[Notice]:
    return [Notice(CLIENT, "New document", f"{f.practice_name} shared \u201c{p['title']}\u201d with you.",
                   "/documents")]


@rule("form.assigned")
def _assigned(p: dict, f: Facts) -> list[Notice]:
    return [Notice(CLIENT, "Form to complete", f"{f.practice_name} asks you to complete \u201c{p['title']}\u201d.",
                   "/documents")]


@rule("form.submitted")
def _submitted(p: dict, f: Facts) -> list[Notice]:
    signed = " and signed" if p.get("signed_at") else ""
    return [Notice(PRACTICE, "Form submitted", f"{f.client_name} completed{signed} \u201c{p['title']}\u201d.",
                   _client_page(p))]


@rule("invoice.generated")
def _invoice(p: dict, f: Facts) -> list[Notice]:
    body = (f"Invoice #{p['number']} for {money(p['total_cents'], p.get('currency'))} is due on "
            f"{day(p.get('due_date'))}.")
    autopay = p.get("autopay")
    if autopay and f.autopay_card:
        body += (f" AutoPay will charge {f.autopay_card} {money(autopay['amount_cents'], autopay.get('currency'))} "
                 f"(your balance) on {when(autopay['charge_at'], f.timezone)}. To change the card, open Cards on "
                 "File before then.")
    elif autopay:
        body += (" AutoPay is on, but there is no card on file to charge: add one in Cards on File before "
                 f"{when(autopay['charge_at'], f.timezone)}.")
    return [Notice(CLIENT, "New invoice", body, f"/account/invoices/{p['invoice_id']}")]


@rule("invoice.paid")
def _invoice_paid(p: dict, f: Facts) -> list[Notice]:
    number = f" #{p['number']}" if p.get("number") else ""
    return [Notice(CLIENT, "Invoice paid", f"Invoice{number} is paid in full. Thank you.",
                   f"/account/invoices/{p['invoice_id']}")]


@rule("payment.attempted")
def _attempted(p: dict, f: Facts) -> list[Notice]:
    amount = money(p["amount_cents"], p.get("currency"))
    card = f" with the card ending {p['method_last4']}" if p.get("method_last4") else ""
    how = "AutoPay is charging" if p.get("source") == "autopay" else "Your payment of"
    client_body = (f"{how} {amount}{card}." if p.get("source") == "autopay"
                   else f"{how} {amount}{card} is being processed.")
    return [Notice(CLIENT, "Payment submitted", client_body, "/account/payments"),
            Notice(PRACTICE, "Payment attempted", f"{f.client_name} is paying {amount}{card}.",
                   f"/staff/payments/{p['payment_id']}")]


@rule("payment.succeeded")
def _succeeded(p: dict, f: Facts) -> list[Notice]:
    amount = money(p["amount_cents"], p.get("currency"))
    method = p.get("method") or {}
    card = f" to {Card(method.get('brand'), method.get('last4'))}" if method.get("last4") else ""
    return [Notice(CLIENT, "Payment received", f"{amount} was charged{card}. Your receipt is ready.",
                   f"/account/payments/{p['payment_id']}"),
            Notice(PRACTICE, "Payment received", f"{f.client_name} paid {amount}"
                   f"{' (AutoPay)' if p.get('source') == 'autopay' else ''}.", f"/staff/payments/{p['payment_id']}")]


@rule("payment.failed")
def _failed(p: dict, f: Facts) -> list[Notice]:
    amount = money(p["amount_cents"], p.get("currency"))
    what, todo = failure(p.get("failure_code"), p.get("failure_message"))
    practice = Notice(PRACTICE, "Payment failed", f"{f.client_name}'s payment of {amount} failed: {what}",
                      f"/staff/payments/{p['payment_id']}")
    if p.get("source") == "autopay":
        return [practice]  # the client hears of it from AutoPay's own notice, which says when it tries again
    return [Notice(CLIENT, "Payment failed", f"Your payment of {amount} did not go through: {what} Nothing was "
                   f"charged. {todo} It will not be tried again automatically: choose Pay Now to try again.",
                   "/account/pay"), practice]


@rule("payment.refunded")
def _refunded(p: dict, f: Facts) -> list[Notice]:
    amount = money(p["amount_cents"], p.get("currency"))
    return [Notice(CLIENT, "Refund issued", f"{amount} was refunded to your card. It can take 5 to 10 days to "
                   "appear on your statement.", "/account/payments")]


@rule("payment_method.added")
def _card_added(p: dict, f: Facts) -> list[Notice]:
    card = Card(p.get("brand"), p.get("last4"))
    return [Notice(CLIENT, "Card added", f"{card} was saved to your account. If you did not do this, remove it in "
                   f"Cards on File and contact {f.practice_name}.", "/account/cards")]


@rule("payment_method.removed")
def _card_removed(p: dict, f: Facts) -> list[Notice]:
    card = Card(p.get("brand"), p.get("last4"))
    if p.get("reason") == "reentry_required":
        body = f"{card} must be entered again before it can be charged. Add it again in Cards on File."
    else:
        body = f"{card} was removed from your account. If you did not do this, contact {f.practice_name}."
    successor = p.get("new_default")
    then = Card(successor.get("brand"), successor.get("last4")) if successor else None
    if f.autopay_card_removed:
        body += (f" AutoPay will charge {then} from now on: choose another default in Cards on File if you wish."
                 if then else " AutoPay has no card to charge now: add one in Cards on File.")
    notices = [Notice(CLIENT, "Card removed", body, "/account/cards")]
    if f.autopay_card_removed:
        now = (f"AutoPay will charge {then}, their default now." if then
               else "AutoPay cannot charge them until they add a card.")
        notices.append(Notice(PRACTICE, "AutoPay card removed", f"{f.client_name} removed {card}, the card AutoPay "
                              f"charged. {now}", _client_page(p)))
    return notices


@rule("payment_method.expiring")
def _card_expiring(p: dict, f: Facts) -> list[Notice]:
    card = Card(p.get("brand"), p.get("last4"))
    autopay = (" AutoPay charges this card." if f.autopay_payment_method_id
               and f.autopay_payment_method_id == p.get("payment_method_id") else "")
    return [Notice(CLIENT, "Card expiring soon", f"{card} expires on {day(p.get('expires_on'))}.{autopay} Add a "
                   "current card in Cards on File so payments keep working.", "/account/cards")]


@rule("autopay.changed")
def _autopay_changed(p: dict, f: Facts) -> list[Notice]:
    if p.get("enabled"):
        card = f" to {f.autopay_card}" if f.autopay_card else " to your default card"
        return [Notice(CLIENT, "AutoPay is on", f"New invoices from {f.practice_name} will be charged{card} on the "
                       "night after they are issued. You will be told before each charge.", "/account")]
    return [Notice(CLIENT, "AutoPay is off", "Your card will no longer be charged automatically; pay invoices with "
                   "Pay Now.", "/account")]


@rule("autopay.charge_failed")
def _autopay_failed(p: dict, f: Facts) -> list[Notice]:
    if not p.get("next_attempt_at") and not p.get("autopay_enabled"):
        return []  # the last night: autopay.disabled, published with it, says so (and that it will not try again)
    what, todo = failure(p.get("failure_code"))
    if p.get("next_attempt_at"):
        again = f"AutoPay will try again on {when(p['next_attempt_at'], f.timezone)}."
    else:  # failed after the night's run: that payment is not tried again
        again = ("AutoPay will not try this payment again; it charges your balance again after your next invoice, "
                 "or you can pay it now with Pay Now.")
    return [Notice(CLIENT, "AutoPay payment failed", f"AutoPay could not charge your card: {what} {again} {todo} "
                   "You can update the card in Cards on File or pay now.", "/account/cards")]


@rule("autopay.disabled")
def _autopay_disabled(p: dict, f: Facts) -> list[Notice]:
    what, _ = failure(p.get("last_failure_code"))
    nights = p.get("failures") or 3
    return [Notice(CLIENT, "AutoPay turned off", f"AutoPay failed {nights} nights in a row ({what}) and is now off: "
                   "it will not try again. Update your card in Cards on File and pay with Pay Now, or ask the "
                   "practice to turn AutoPay back on.", "/account/cards"),
            Notice(PRACTICE, "AutoPay turned off", f"AutoPay for {f.client_name} failed {nights} nights in a row "
                   f"({what}) and was switched off.", _client_page(p))]


# --- e-mail --------------------------------------------------------------------------------------------------

# Which notices also go out as an e-mail, and the subject (the practice's name comes first, from the mail
# template). A subject names the kind of news only: never a diagnosis, an appointment type, an amount or a card.
EMAIL_SUBJECTS: dict[tuple[str, str], str] = {
    ("appointment.approved", CLIENT): "Your appointment request",
    ("appointment.denied", CLIENT): "Your appointment request",
    ("appointment.booked", CLIENT): "Your appointment",
    ("appointment.confirmed", CLIENT): "Your appointment",
    ("appointment.cancelled", CLIENT): "Your appointment",
    ("appointment.reminder_due", CLIENT): "Appointment reminder",
    ("appointment.requested", PRACTICE): "New appointment request",
    ("document.shared", CLIENT): "A new document in your portal",
    ("form.assigned", CLIENT): "A form to complete in your portal",
    ("form.submitted", PRACTICE): "A client submitted a form",
    ("invoice.generated", CLIENT): "A new invoice",
    ("payment.succeeded", CLIENT): "Payment received",
    ("payment.failed", CLIENT): "Your payment did not go through",
    ("payment.refunded", CLIENT): "A refund was issued",
    ("payment_method.added", CLIENT): "Security notice: a card was added",
    ("payment_method.removed", CLIENT): "Security notice: a card was removed",
    ("payment_method.removed", PRACTICE): "A client's AutoPay card was removed",
    ("payment_method.expiring", CLIENT): "Your card on file expires soon",
    ("autopay.changed", CLIENT): "Your AutoPay setting",
    ("autopay.charge_failed", CLIENT): "AutoPay could not charge your card",
    ("autopay.disabled", CLIENT): "AutoPay was turned off",
    ("autopay.disabled", PRACTICE): "AutoPay was turned off for a client",
}

# The e-mail that a new message gives the other side: it says only that there is one, never its subject, body
# or attachments' names.
NEW_MESSAGE_SUBJECT = "You have a new secure message"


def email_subject(event_type: str, audience: str) -> str | None:
    return EMAIL_SUBJECTS.get((event_type, audience))
