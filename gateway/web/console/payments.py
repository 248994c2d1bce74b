"""Payments: the list with filters (status, dates, client), one payment with its refunds form, and (admins)
reconciling now with the processor.

A refund is checked here (an amount no more than what is left, a reason), shown back to be confirmed, then sent
with an Idempotency-Key made when the form was shown: a double click or a reload of the confirmation refunds once.
"""

from __future__ import annotations

import uuid

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web.console import bp
from gateway.web.console.common import admin_only, body, cents, refusal, status_of
from gateway.web.filters import money

STATUSES = [("", "Any status"), ("succeeded", "Succeeded"), ("processing", "Processing"), ("pending", "Pending"),
            ("failed", "Failed")]
PAGE = 25


def _names(client_ids) -> dict[str, str]:
    """The clients' names for a page of payments (one call each, side by side; a missing one shows no name)."""
    ids = sorted({i for i in client_ids if i})[:PAGE]
    if not ids:
        return {}
    answers = core.gather(**{f"c{n}": ("GET", f"/api/v1/staff/clients/{core.quote_path(i)}")
                             for n, i in enumerate(ids)})
    names = {}
    for n, client_id in enumerate(ids):
        found = answers[f"c{n}"]
        if found.ok:
            names[client_id] = f"{found.json()['last_name']}, {found.json()['first_name']}"
    return names


@bp.get("/payments")
@core.signed_in("staff")
def payments():
    query = {name: request.args[name] for name in ("status", "from", "to", "client_id", "cursor")
             if request.args.get(name)}
    answer = core.api("GET", "/api/v1/staff/payments", query={**query, "limit": PAGE})
    errors = answer.field_errors if answer.status == 422 else {}
    listing = body(answer)
    names = _names(p["client_id"] for p in listing["items"]) if listing else {}
    if query.get("client_id") and query["client_id"] not in names:
        names.update(_names([query["client_id"]]))
    return core.page("console/payments.html", 422 if errors else (200 if answer.ok else status_of(answer)),
                     listing=listing, down=answer.unavailable, query=query, statuses=STATUSES, errors=errors,
                     names=names)


def _payment(payment_id: str) -> tuple[dict, dict | None]:
    payment = core.must(core.api("GET", f"/api/v1/staff/payments/{core.quote_path(payment_id)}"))
    client = body(core.api("GET", f"/api/v1/staff/clients/{core.quote_path(payment['client_id'])}"))
    return payment, client


def _refundable(payment: dict) -> int:
    if payment.get("status") != "succeeded":
        return 0
    return max(0, payment["amount_cents"] - (payment.get("refunded_cents") or 0))


@bp.get("/payments/<payment_id>")
@core.signed_in("staff")
def payments_detail(payment_id: str):
    payment, client = _payment(payment_id)
    left = _refundable(payment)
    return core.page("console/payment.html", payment=payment, client=client, refundable=left,
                     values={"amount": f"{left // 100}.{left % 100:02d}" if left else "", "attempt": uuid.uuid4().hex},
                     errors={}, error=None)


@bp.post("/payments/<payment_id>/refund")
@core.signed_in("staff")
def payments_refund(payment_id: str):
    payment, client = _payment(payment_id)
    left = _refundable(payment)
    values = {k: request.form.get(k, "").strip() for k in ("amount", "reason", "attempt")}
    if not values["attempt"] or len(values["attempt"]) > 64 or not values["attempt"].isalnum():
        values["attempt"] = uuid.uuid4().hex
    amount = cents(values["amount"])
    errors: dict[str, list[str]] = {}
    if not left:
        errors["amount"] = ["Nothing is left to refund on this payment."]
    elif amount is None or amount <= 0:
        errors["amount"] = ["Enter an amount in dollars and cents, such as 25.00."]
    elif amount > left:
        errors["amount"] = [f"At most {money(left, payment['currency'])}: what is left of this payment."]
    if len(values["reason"]) < 3:
        errors["reason"] = ["Say why (at least 3 characters): it is kept with the refund."]
    context = {"payment": payment, "client": client, "refundable": left}
    if errors:
        return core.page("console/payment.html", 422, values=values, errors=errors,
                         error="Nothing was refunded. Check the fields marked below.", **context)
    if request.form.get("confirm") != "1":
        return core.page("console/refund_confirm.html", values=values, amount_cents=amount, **context)
    answer = core.api("POST", f"/api/v1/staff/payments/{core.quote_path(payment_id)}/refunds",
                      json_body={"amount_cents": amount, "reason": values["reason"]},
                      headers={**core.forwarded_headers(), "Idempotency-Key": f"web-refund-{values['attempt']}"})
    refund = answer.json() if answer.ok else {}
    if answer.ok and refund.get("status") != "failed":
        core.flash(f"Refund of {money(amount, payment['currency'])} "
                   + ("made." if refund.get("status") == "succeeded" else "sent to the processor; it settles shortly."))
        return redirect(url_for("console.payments_detail", payment_id=payment_id))
    if answer.ok:
        error = f"The processor refused the refund ({refund.get('failure_code') or 'no reason given'}). Nothing " \
                "was refunded."
    else:
        error = refusal(answer, "Nothing was refunded.")
    errors = {("amount" if k == "amount_cents" else k): v for k, v in answer.field_errors.items()}
    values["attempt"] = uuid.uuid4().hex  # another try is another refund request
    return core.page("console/payment.html", status_of(answer) if not answer.ok else 409, values=values,
                     errors=errors, error=error, **context)


@bp.post("/payments/reconcile")
@core.signed_in("staff")
@admin_only
def payments_reconcile():
    answer = core.api("POST", "/api/v1/staff/payments/reconcile")
    if answer.ok:
        found = answer.json() if isinstance(answer.json(), dict) else {}
        core.flash(f"Reconciled: {found.get('payments', 0)} unsettled payment(s) asked about: "
                   f"{found.get('succeeded', 0)} succeeded, {found.get('failed', 0)} failed, "
                   f"{found.get('unknown', 0)} still unknown; {found.get('refunds', 0)} pending refund(s).")
    else:
        core.flash(refusal(answer, "Reconciliation did not run."), "error")
    return redirect(url_for("console.payments"))
