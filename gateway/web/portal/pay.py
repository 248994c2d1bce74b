"""Pay Now, step by step as the help article walks it: the amount (Total Balance, Custom Amount, or chosen
invoices with Check All), Continue; the payment method (a saved card, the default preselected, or Add a new card
in the processor's frame, with "Save this card for future payments" and "Set as default payment method") and an
optional note, Continue; Review; Submit Payment; the confirmation with its receipt. Back at every step; Cancel
returns to My Account.

What the steps chose lives in the session (`data["pay"]`), never in the page. The attempt's Idempotency-Key is
made with the first step and kept until the attempt ends, so a double click or a reload of Submit Payment pays
once; a declined card starts a new attempt (a new key) with another card.
"""

from __future__ import annotations

import uuid

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web.filters import cents_from_text
from gateway.web.portal import bp
from gateway.web.portal.account import processor_frame

# What a person should read when a card is refused, and what to do next (the FAQ's reasons).
FAILURES = {
    "card_declined": "Your card was declined by its issuer. Try another card, or contact your card issuer.",
    "insufficient_funds": "The card has insufficient funds for this payment. Try another card or a smaller amount.",
    "expired_card": "This card has expired. Check the expiration date, or use another card.",
    "incorrect_cvc": "The security code does not match the card. Check the 3 or 4 digits and try again.",
    "incorrect_number": "The card number is not valid. Check it and try again.",
    "processing_error": "The card could not be processed just now. Try again in a few minutes, or use another card.",
}
DEFAULT_FAILURE = "The payment did not go through. Check your card details and try again, or use another card."
WHY_NOT = {
    "off": "Online payments are not turned on by your practice. Please reach out to your practice to pay.",
    "nothing": "You have no balance due, so there is nothing to pay. Pay Now appears after an invoice has been "
               "generated.",
}


def _draft() -> dict | None:
    session = core.current_session()
    return session.data.get("pay") if session else None


def _save(draft: dict | None) -> None:
    session = core.current_session()
    if draft is None:
        session.data.pop("pay", None)
    else:
        session.data["pay"] = draft
    core.web().store.save_data(session)


def _account_and_invoices():
    answers = core.gather(account=("GET", "/api/v1/portal/account"),
                          invoices=("GET", "/api/v1/portal/invoices", {"query": {"status": "unpaid", "limit": 50}}))
    return core.must(answers["account"]), answers["invoices"].json().get("items", []) if answers["invoices"].ok else []


def _unavailable(account: dict):
    reason = "off" if not account.get("online_payments_enabled") else "nothing"
    return core.page("portal/pay_unavailable.html", 403 if reason == "off" else 409, reason=WHY_NOT[reason],
                     account=account)


def _cents(text: str) -> int | None:
    return cents_from_text(text)


# --- step 1: the amount -----------------------------------------------------------------------------
@bp.route("/account/pay", methods=["GET", "POST"])
@core.signed_in("client")
def pay_amount():
    account, invoices = _account_and_invoices()
    if not account.get("pay_now"):
        return _unavailable(account)
    draft = _draft() or {}
    if request.args.get("invoice") and request.method == "GET":
        draft = {"mode": "invoices", "invoice_ids": [request.args["invoice"]]}
    if request.method == "GET":
        return core.page("portal/pay_amount.html", account=account, invoices=invoices, draft=draft, errors={})
    mode = request.form.get("mode", "balance")
    balance = account["balance_cents"]
    errors: dict[str, list[str]] = {}
    chosen = {"mode": mode}
    if mode == "custom":
        cents = _cents(request.form.get("amount", ""))
        chosen["amount_text"] = request.form.get("amount", "")
        if cents is None or cents <= 0:
            errors["amount"] = ["Enter an amount in dollars and cents, such as 25.00."]
        elif cents > balance:
            errors["amount"] = [f"The amount cannot be more than your balance of {_money(balance, account)}."]
        chosen["amount_cents"] = cents
    elif mode == "invoices":
        ids = [i for i in request.form.getlist("invoice_ids") if i]
        known = {inv["id"]: inv for inv in invoices}
        if not ids:
            errors["invoice_ids"] = ["Choose at least one invoice, or Check All."]
        elif any(i not in known for i in ids):
            errors["invoice_ids"] = ["One of the chosen invoices is no longer due. Choose again."]
        chosen["invoice_ids"] = ids
        chosen["amount_cents"] = sum(known[i]["balance_due_cents"] for i in ids if i in known)
    else:
        chosen = {"mode": "balance", "amount_cents": balance}
    if errors:
        return core.page("portal/pay_amount.html", 422, account=account, invoices=invoices, draft=chosen,
                         errors=errors, error="Check the amount to pay.")
    kept = {k: draft[k] for k in ("method", "save_card", "make_default", "note", "card", "processor_token")
            if k in draft}
    attempt = draft.get("attempt") if not draft.get("submitted") else None  # changed after a submit: a new key
    _save({**kept, **chosen, "attempt": attempt or uuid.uuid4().hex, "currency": account.get("currency", "USD")})
    return redirect(url_for("portal.pay_method"))


def _money(cents: int, account: dict) -> str:
    from gateway.web.filters import money
    return money(cents, account.get("currency"))


# --- step 2: the payment method ---------------------------------------------------------------------------
@bp.route("/account/pay/method", methods=["GET", "POST"])
@core.signed_in("client")
def pay_method():
    draft = _draft()
    if not draft:
        return redirect(url_for("portal.pay_amount"))
    cards_answer = core.api("GET", "/api/v1/portal/payment-methods")
    cards = cards_answer.json().get("items", []) if cards_answer.ok else []
    if request.method == "GET":
        return core.page("portal/pay_method.html", draft=draft, cards=cards, cards_down=cards_answer.unavailable,
                         processor_frame=processor_frame(), errors={}, error=request.args.get("failed") and
                         draft.get("failure"))
    method = request.form.get("method", "")
    chosen = {"method": method, "note": request.form.get("note", "").strip()[:500],
              "save_card": request.form.get("save_card") == "on",
              "make_default": request.form.get("make_default") == "on"}
    errors: dict[str, list[str]] = {}
    if method == "new":
        token = request.form.get("processor_token", "")
        if not token:
            errors["card"] = ["Enter the card's details in the card fields."]
        chosen.update(processor_token=token, card={k: request.form.get(f"card_{k}", "")[:40]
                                                   for k in ("brand", "last4", "exp_month", "exp_year")})
    elif method.startswith("saved:") and any(c["id"] == method[6:] for c in cards):
        chosen.update(processor_token=None, card=next({"brand": c["brand"], "last4": c["last4"],
                                                       "exp_month": c["exp_month"], "exp_year": c["exp_year"]}
                                                      for c in cards if c["id"] == method[6:]))
    else:
        errors["method"] = ["Choose a saved card or Add a new card."]
    if errors:
        return core.page("portal/pay_method.html", 422, draft={**draft, **chosen}, cards=cards, cards_down=False,
                         processor_frame=processor_frame(), errors=errors, error="Choose how to pay.")
    if draft.get("submitted"):  # changed after a submit whose answer was lost: another attempt, another key
        draft.update(attempt=uuid.uuid4().hex, submitted=False)
    draft.update(chosen)
    draft.pop("failure", None)
    _save(draft)
    return redirect(url_for("portal.pay_review"))


# --- step 3: review and submit -------------------------------------------------------------------------
@bp.get("/account/pay/review")
@core.signed_in("client")
def pay_review():
    draft = _draft()
    if not draft or not draft.get("method"):
        return redirect(url_for("portal.pay_method" if draft else "portal.pay_amount"))
    return core.page("portal/pay_review.html", draft=draft)


@bp.post("/account/pay/submit")
@core.signed_in("client")
def pay_submit():
    session = core.current_session()
    draft = _draft()
    attempt = request.form.get("attempt", "")
    done = session.data.get("paid", {})
    if attempt and attempt in done:  # a reload or a second click after the payment was made
        return redirect(url_for("portal.payment", payment_id=done[attempt], done=1))
    if not draft or not draft.get("method") or attempt != draft.get("attempt"):
        return redirect(url_for("portal.pay_amount"))
    # The amount the client reviewed, never "whatever the balance is now": an invoice issued meanwhile must not
    # raise what is charged (the API refuses an amount over the balance: then the client chooses again).
    body: dict = {"amount_cents": draft["amount_cents"]}
    if draft["mode"] == "invoices":
        body = {"invoice_ids": draft["invoice_ids"]}
    if draft.get("note"):
        body["note"] = draft["note"]
    if draft["method"] == "new":
        body.update(processor_token=draft["processor_token"], save_card=bool(draft.get("save_card")),
                    make_default=bool(draft.get("save_card") and draft.get("make_default")))
    else:
        body["payment_method_id"] = draft["method"][6:]
    draft["submitted"] = True  # from now on, changing the amount or the card is a new attempt (a new key)
    _save(draft)
    answer = core.api("POST", "/api/v1/portal/payments", json_body=body,
                      headers={**core.forwarded_headers(), "Idempotency-Key": f"web-{draft['attempt']}"})
    result = answer.json()
    if answer.ok and result.get("status") in ("succeeded", "processing"):
        session.data["paid"] = {**{k: v for k, v in list(done.items())[-4:]}, draft["attempt"]: result["id"]}
        _save(None)
        return redirect(url_for("portal.payment", payment_id=result["id"], done=1))
    if answer.status == 409 and answer.problem_type == "request-in-progress":
        # the same attempt is still being charged (the first click): the same key again answers what it became
        return core.page("portal/pay_pending.html", 409, draft=draft)
    if not answer.ok and not answer.not_sent and (answer.status >= 500 or answer.status == 409):
        # Sent, and no answer we can read (a timeout, a broken connection, a service error): it may have been
        # charged. The same attempt again is safe (the key answers what the first one did); never a new one here.
        return core.page("portal/pay_review.html", 503, draft=draft, unknown=True)
    if answer.ok and result.get("status") == "failed":
        failure = FAILURES.get(result.get("failure_code") or "", DEFAULT_FAILURE)
    elif answer.not_sent:
        failure = "Payments are unavailable right now, and nothing was charged. Try again in a few minutes."
    elif answer.status == 422 and "amount_cents" in answer.field_errors:
        draft.update(attempt=uuid.uuid4().hex, submitted=False)
        _save(draft)
        return core.page("portal/pay_amount_changed.html", 409, detail=" ".join(answer.field_errors["amount_cents"]))
    else:
        failure = answer.detail or DEFAULT_FAILURE
    # Another card, another attempt: a new key, and the refused card's token is not kept.
    draft.update(attempt=uuid.uuid4().hex, failure=failure, method="", processor_token=None, card=None,
                 submitted=False)
    _save(draft)
    return redirect(url_for("portal.pay_method", failed=1))


@bp.post("/account/pay/cancel")
@core.signed_in("client")
def pay_cancel():
    """Cancel, from any step (a button of the step's own form, so it carries the CSRF token): back to My Account."""
    _save(None)
    return redirect(url_for("portal.my_account"))
