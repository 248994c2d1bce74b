"""Practice settings: the feature switches (Online Payments, Billing Documents, AutoPay, Self-scheduling), the
practice's details, (admins) the billing profile printed on superbills, and messaging's setting: how long a message
to a client may stay unread before the client is e-mailed about it."""

from __future__ import annotations

import re

from flask import redirect, request, url_for

from gateway.web import core, fields
from gateway.web.console import bp
from gateway.web.console.common import body, refusal, status_of

SWITCHES = [("online_payments_enabled", "Online payments", "Clients can pay with a card in the portal (Pay Now)."),
            ("billing_documents_enabled", "Billing documents", "Clients can see and download invoices, statements "
                                                               "and superbills in the portal."),
            ("autopay_enabled", "AutoPay", "Enrolled clients' default cards are charged their balance overnight "
                                           "after a new invoice."),
            ("self_scheduling_enabled", "Self-scheduling", "Clients can book appointments in the portal.")]
DETAILS = [("practice_name", "Practice name", "text", "organization"), ("email", "E-mail", "email", "email"),
           ("phone", "Phone", "tel", "tel"), ("timezone", "Time zone", "text", "off"),
           ("address.line1", "Street address", "text", "address-line1"),
           ("address.line2", "Apartment, suite, etc.", "text", "address-line2"),
           ("address.city", "City", "text", "address-level2"), ("address.state", "State", "text", "address-level1"),
           ("address.postal_code", "ZIP / postal code", "text", "postal-code")]
CURRENCIES = [(c, c) for c in ("USD", "CAD", "EUR", "GBP", "AUD")]
PROFILE = [("provider_name", "Provider name"), ("provider_credentials", "Credentials"), ("npi", "NPI"),
           ("tax_id", "Tax ID"), ("license", "License"), ("place_of_service", "Place of service")]


def _flat(settings: dict) -> dict:
    values = {name: settings.get(name) for name, *_ in SWITCHES}
    values["currency"] = settings.get("currency")
    values.update(fields.flat(settings, [name for name, *_ in DETAILS]))
    return values


def _changes(form, current: dict) -> dict:
    """The PATCH body: what differs (a switch not ticked is off; a detail not in the form is left as it is)."""
    out: dict = {}
    for name, *_ in SWITCHES:
        if (form.get(name) == "on") != bool(current[name]):
            out[name] = form.get(name) == "on"
    if form.get("currency") and form["currency"] != current["currency"]:
        out["currency"] = form["currency"]
    for name, *_ in DETAILS:
        if name not in form:
            continue
        value = form.get(name, "").strip()
        if value != (current.get(name) or ""):
            head, _, member = name.partition(".")
            if member:
                out.setdefault("address", {})[member] = value or None
            else:
                out[head] = value or (None if head in ("phone", "email") else value)
    return out


MESSAGING = "/api/v1/staff/messaging-settings"
DELAY = "client_email_delay_minutes"


def _page(status: int = 200, **context):
    answers = core.gather(settings=("GET", "/api/v1/staff/settings"),
                          profile=("GET", "/api/v1/staff/billing-profile"), messaging=("GET", MESSAGING))
    settings, profile, messaging = body(answers["settings"]), body(answers["profile"]), body(answers["messaging"])
    context.setdefault("values", _flat(settings) if settings else {})
    context.setdefault("profile_values", {k: (profile or {}).get(k) or "" for k, _ in PROFILE})
    context.setdefault("errors", {})
    context.setdefault("profile_errors", {})
    context.setdefault("messaging_values", {DELAY: (messaging or {}).get(DELAY, "")})
    context.setdefault("messaging_errors", {})
    return core.page("console/settings.html", status if settings or status != 200 else 503, settings=settings,
                     profile=profile, messaging=messaging, switches=SWITCHES, details=DETAILS, currencies=CURRENCIES,
                     profile_fields=PROFILE, **context)


@bp.route("/settings", methods=["GET", "POST"])
@core.signed_in("staff")
def settings():
    if request.method == "GET":
        return _page()
    current = core.must(core.api("GET", "/api/v1/staff/settings"))
    values = _flat(current)
    changes = _changes(request.form, values)
    if not changes:
        core.flash("Nothing changed.", "info")
        return redirect(url_for("console.settings"))
    answer = core.api("PATCH", "/api/v1/staff/settings", json_body=changes)
    if answer.ok:
        core.flash("Settings saved.")
        return redirect(url_for("console.settings"))
    typed = {**{name: request.form.get(name, "") for name, *_ in DETAILS},
             **{name: request.form.get(name) == "on" for name, *_ in SWITCHES},
             "currency": request.form.get("currency", values["currency"])}
    return _page(status_of(answer), values=typed, errors=answer.field_errors,
                 error=refusal(answer, "The settings were not saved."))


@bp.post("/settings/billing-profile")
@core.signed_in("staff")
def settings_profile():
    typed = {k: request.form.get(k, "").strip() for k, _ in PROFILE}
    answer = core.api("PUT", "/api/v1/staff/billing-profile", json_body={k: v or None for k, v in typed.items()})
    if answer.ok:
        core.flash("Billing profile saved: new superbills print it.")
        return redirect(url_for("console.settings") + "#billing-profile")
    if answer.status == 403:
        core.must(answer)
    return _page(status_of(answer), profile_values=typed, profile_errors=answer.field_errors,
                 profile_error=refusal(answer, "The billing profile was not saved."))


@bp.post("/settings/messaging")
@core.signed_in("staff")
def settings_messaging():
    typed = request.form.get(DELAY, "").strip()
    # A whole number goes as a number; anything else as typed, for the API to say what it takes (0 to 1440).
    answer = core.api("PATCH", MESSAGING, json_body={DELAY: int(typed) if re.fullmatch(r"-?[0-9]{1,9}", typed)
                                                     else typed})
    if answer.ok:
        minutes = answer.json().get(DELAY)
        core.flash("Saved: a client is e-mailed at once about a new message from the practice." if minutes == 0 else
                   f"Saved: a client is e-mailed about a message from the practice still unread after {minutes} "
                   f"minute{'' if minutes == 1 else 's'}.")
        return redirect(url_for("console.settings") + "#messaging")
    if answer.status == 403:
        core.must(answer)
    return _page(status_of(answer), messaging_values={DELAY: typed}, messaging_errors=answer.field_errors,
                 messaging_error=refusal(answer, "The messaging setting was not saved."))
