"""Billing: service codes and their rates, a new invoice from service codes, an invoice, statements and
superbills for a date range, write-offs and discounts with a reason, and the billing documents' PDFs.

Money is typed in dollars ("12.50") and sent in integer cents (`common.cents`, never a float). A write-off or a
discount is checked here first (an amount, a reason), then shown back to be confirmed, then sent.
"""

from __future__ import annotations

import re

from flask import Response, abort, redirect, request, url_for

from gateway.web import core
from gateway.web.console import bp
from gateway.web.console.clients import _client_path
from gateway.web.console.common import body, cents, refusal, status_of
from gateway.web.filters import invoice_no, money

LINE_ROWS = 4
MAX_ROWS = 20


# --- service codes ---------------------------------------------------------------------------------------
def _codes(include_all: bool = True):
    answer = core.api("GET", "/api/v1/staff/service-codes", query={"all": "true" if include_all else None})
    return answer, (answer.json().get("items", []) if answer.ok else None)


@bp.route("/service-codes", methods=["GET", "POST"])
@core.signed_in("staff")
def service_codes():
    form, errors, error, status = {}, {}, None, 200
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in ("code", "description", "rate")}
        rate = cents(form["rate"])
        if rate is None or rate <= 0:
            errors["rate"] = ["Enter the rate in dollars and cents, such as 150.00."]
        if not form["code"]:
            errors["code"] = ["Enter the code, such as 90837."]
        if not form["description"]:
            errors["description"] = ["Enter what the service is."]
        if not errors:
            answer = core.api("POST", "/api/v1/staff/service-codes",
                              json_body={"code": form["code"], "description": form["description"], "rate_cents": rate})
            if answer.ok:
                core.flash(f"Service code {answer.json()['code']} added.")
                return redirect(url_for("console.service_codes"))
            errors = {("rate" if k == "rate_cents" else k): v for k, v in answer.field_errors.items()}
            error, status = refusal(answer, "The service code was not added."), status_of(answer)
        else:
            error, status = "The service code was not added. Check the fields marked below.", 422
    answer, codes = _codes()
    return core.page("console/service_codes.html", status, codes=codes, down=answer.unavailable, form=form,
                     errors=errors, error=error)


@bp.route("/service-codes/<code_id>", methods=["GET", "POST"])
@core.signed_in("staff")
def service_codes_edit(code_id: str):
    answer, codes = _codes()
    if codes is None:
        core.must(answer)
    code = next((c for c in codes if c["id"] == code_id), None)
    if code is None:
        abort(404)
    if request.method == "GET":
        return core.page("console/service_code.html", code=code, form={"description": code["description"],
                         "rate": f"{code['rate_cents'] // 100}.{code['rate_cents'] % 100:02d}",
                         "active": code["active"]}, errors={}, error=None)
    form = {"description": request.form.get("description", "").strip(), "rate": request.form.get("rate", "").strip(),
            "active": request.form.get("active") == "on"}
    rate = cents(form["rate"])
    errors = {} if rate and rate > 0 else {"rate": ["Enter the rate in dollars and cents, such as 150.00."]}
    if not form["description"]:
        errors["description"] = ["Enter what the service is."]
    if not errors:
        changes = {k: v for k, v in (("description", form["description"]), ("rate_cents", rate),
                                     ("active", form["active"])) if v != code[k]}
        if not changes:
            core.flash("Nothing changed.", "info")
            return redirect(url_for("console.service_codes"))
        saved = core.api("PATCH", f"/api/v1/staff/service-codes/{core.quote_path(code_id)}", json_body=changes)
        if saved.ok:
            core.flash(f"Service code {code['code']} saved. New invoices use the new rate; issued ones keep theirs.")
            return redirect(url_for("console.service_codes"))
        errors = {("rate" if k == "rate_cents" else k): v for k, v in saved.field_errors.items()}
        return core.page("console/service_code.html", status_of(saved), code=code, form=form, errors=errors,
                         error=refusal(saved, "The service code was not saved."))
    return core.page("console/service_code.html", 422, code=code, form=form, errors=errors,
                     error="The service code was not saved. Check the fields marked below.")


# --- a new invoice ------------------------------------------------------------------------------------------
@bp.route("/clients/<client_id>/invoices/new", methods=["GET", "POST"])
@core.signed_in("staff")
def clients_invoice_new(client_id: str):
    answers = core.gather(client=("GET", _client_path(client_id)),
                          codes=("GET", "/api/v1/staff/service-codes"))
    client = core.must(answers["client"])
    codes = body(answers["codes"])
    codes = codes.get("items", []) if codes else None
    rows = LINE_ROWS
    if request.method == "GET":
        try:
            rows = max(1, min(MAX_ROWS, int(request.args.get("rows", LINE_ROWS))))
        except ValueError:
            pass
        return core.page("console/invoice_form.html", client=client, codes=codes, rows=rows,
                         values={"lines.0.units": "1"}, errors={}, error=None)
    values = {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}
    rows = max(LINE_ROWS, min(MAX_ROWS, sum(1 for k in values if k.endswith(".service_code"))))
    lines, origin, errors = [], [], {}
    for i in range(MAX_ROWS):
        code, units = values.get(f"lines.{i}.service_code", ""), values.get(f"lines.{i}.units", "")
        if not code and not units:
            continue
        if not code:
            errors[f"lines.{i}.service_code"] = ["Choose a service code, or clear the units."]
        if not re.fullmatch(r"[0-9]{1,4}", units or "") or int(units) < 1:
            errors[f"lines.{i}.units"] = ["Enter a whole number of units, 1 or more."]
        lines.append({"service_code": code, "units": int(units) if units.isascii() and units.isdigit() else 0})
        origin.append(i)
    if not lines:
        errors["lines.0.service_code"] = ["Choose at least one service code."]
    answer = None
    if not errors:
        payload = {"client_id": client_id, "lines": lines}
        if values.get("date_of_service"):
            payload["date_of_service"] = values["date_of_service"]
        if values.get("due_date"):
            payload["due_date"] = values["due_date"]
        if values.get("note"):
            payload["note"] = values["note"]
        answer = core.api("POST", "/api/v1/staff/invoices", json_body=payload)
        if answer.ok:
            invoice = answer.json()
            core.flash(f"Invoice #{invoice_no(invoice['number'])} issued for "
                       f"{money(invoice['total_cents'], invoice['currency'])}.")
            return redirect(url_for("console.clients_invoice", client_id=client_id, invoice_id=invoice["id"]))
        errors = {}
        for name, messages in answer.field_errors.items():
            match = re.fullmatch(r"lines\.(\d+)\.(\w+)", name)
            if match and int(match[1]) < len(origin):  # the API's line n is the form's row origin[n]
                name = f"lines.{origin[int(match[1])]}.{match[2]}"
            elif name == "lines":
                name = "lines.0.service_code"
            errors[name] = messages
    return core.page("console/invoice_form.html", status_of(answer) if answer is not None else 422, client=client,
                     codes=codes, rows=rows, values=values, errors=errors,
                     error=refusal(answer, "The invoice was not issued.") if answer is not None
                     else "The invoice was not issued. Check the lines marked below.")


@bp.get("/clients/<client_id>/invoices/<invoice_id>")
@core.signed_in("staff")
def clients_invoice(client_id: str, invoice_id: str):
    answers = core.gather(client=("GET", _client_path(client_id)),
                          invoice=("GET", f"/api/v1/staff/invoices/{core.quote_path(invoice_id)}"))
    client, invoice = core.must(answers["client"]), core.must(answers["invoice"])
    if invoice.get("client_id") != client["id"]:
        abort(404)
    return core.page("console/invoice.html", client=client, invoice=invoice)


# --- statements and superbills -----------------------------------------------------------------------------
DIAGNOSIS = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


@bp.route("/clients/<client_id>/documents/new", methods=["GET", "POST"])
@core.signed_in("staff")
def clients_documents_new(client_id: str):
    client = core.must(core.api("GET", _client_path(client_id)))
    if request.method == "GET":
        return core.page("console/document_form.html", client=client,
                         values={"kind": request.args.get("kind", "statement")}, errors={}, error=None)
    values = {k: request.form.get(k, "").strip() for k in ("kind", "from", "to", "diagnosis_codes")}
    kind = values["kind"] if values["kind"] in ("statement", "superbill") else "statement"
    errors = {name: ["Enter a date."] for name in ("from", "to") if not values[name]}
    payload = {"client_id": client_id, "from": values["from"], "to": values["to"]}
    if kind == "superbill" and values["diagnosis_codes"]:
        found = [c.strip().upper() for c in values["diagnosis_codes"].replace(";", ",").split(",") if c.strip()]
        if any(not DIAGNOSIS.match(c) for c in found) or len(found) > 12:
            errors["diagnosis_codes"] = ["Up to 12 ICD-10 codes such as F41.1, separated by commas."]
        payload["diagnosis_codes"] = [{"code": c} for c in found]
    answer = None
    if not errors:
        answer = core.api("POST", f"/api/v1/staff/{kind}s", json_body=payload)
        if answer.ok:
            document = answer.json()
            core.flash(f"{document.get('title') or kind.title()} made. It is in the billing documents below.")
            return redirect(url_for("console.clients_chart", client_id=client_id) + "#documents")
        errors = {("diagnosis_codes" if k.startswith("diagnosis_codes") else k): v
                  for k, v in answer.field_errors.items()}
    return core.page("console/document_form.html", status_of(answer) if answer is not None else 422, client=client,
                     values=values, errors=errors,
                     error=refusal(answer, f"The {kind} was not made.") if answer is not None
                     else f"The {kind} was not made. Check the fields marked below.")


@bp.get("/documents/<document_id>.pdf")
@core.signed_in("staff")
def documents_pdf(document_id: str):
    answer = core.api("GET", f"/api/v1/staff/billing-documents/{core.quote_path(document_id)}/pdf",
                      headers={**core.forwarded_headers(), "Accept": "application/pdf"})
    if not answer.ok or not answer.headers.get("content-type", "").startswith("application/pdf"):
        core.must(answer)
        abort(404)
    disposition = "inline" if request.args.get("view") == "1" else "attachment"
    filename = re.sub(r"[^A-Za-z0-9_.-]", "", document_id)[:60] or "document"
    return Response(answer.body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}.pdf"'})


# --- write-offs and discounts ---------------------------------------------------------------------------------
ADJUSTMENT_KINDS = [("write_off", "Write-off"), ("discount", "Discount")]


@bp.route("/clients/<client_id>/adjustments", methods=["GET", "POST"])
@core.signed_in("staff")
def clients_adjust(client_id: str):
    answers = core.gather(client=("GET", _client_path(client_id)),
                          account=("GET", _client_path(client_id, "/account")),
                          invoices=("GET", "/api/v1/staff/invoices",
                                    {"query": {"client_id": client_id, "status": "unpaid", "limit": 50}}))
    client = core.must(answers["client"])
    account = body(answers["account"])
    invoices = (body(answers["invoices"]) or {}).get("items", [])
    context = {"client": client, "account": account, "invoices": invoices, "kinds": ADJUSTMENT_KINDS}
    if request.method == "GET":
        return core.page("console/adjustment_form.html", values={"kind": request.args.get("kind", "write_off")},
                         errors={}, error=None, **context)
    values = {k: request.form.get(k, "").strip() for k in ("kind", "amount", "reason", "invoice_id")}
    errors: dict[str, list[str]] = {}
    amount = cents(values["amount"])
    if values["kind"] not in dict(ADJUSTMENT_KINDS):
        errors["kind"] = ["Choose write-off or discount."]
    if amount is None or amount <= 0:
        errors["amount"] = ["Enter an amount in dollars and cents, such as 25.00."]
    if len(values["reason"]) < 3:
        errors["reason"] = ["Say why (at least 3 characters): it is kept with the adjustment."]
    if values["invoice_id"] and not any(inv["id"] == values["invoice_id"] for inv in invoices):
        errors["invoice_id"] = ["That invoice has nothing left to adjust. Choose again."]
    if errors:
        return core.page("console/adjustment_form.html", 422, values=values, errors=errors,
                         error="Nothing was written. Check the fields marked below.", **context)
    invoice = next((inv for inv in invoices if inv["id"] == values["invoice_id"]), None)
    if request.form.get("confirm") != "1":
        return core.page("console/adjustment_confirm.html", values=values, amount_cents=amount, invoice=invoice,
                         **context)
    payload = {"amount_cents": amount, "kind": values["kind"], "reason": values["reason"]}
    if invoice:
        payload["invoice_id"] = invoice["id"]
    answer = core.api("POST", _client_path(client_id, "/adjustments"), json_body=payload)
    if answer.ok:
        done = answer.json()
        currency = account.get("currency") if account else None
        core.flash(f"{dict(ADJUSTMENT_KINDS)[values['kind']]} of {money(amount, currency)} written. The balance is "
                   f"now {money(done.get('balance_after_cents'), currency)}.")
        return redirect(url_for("console.clients_chart", client_id=client_id) + "#ledger")
    errors = {("amount" if k == "amount_cents" else k): v for k, v in answer.field_errors.items()}
    return core.page("console/adjustment_form.html", status_of(answer), values=values, errors=errors,
                     error=refusal(answer, "Nothing was written."), **context)
