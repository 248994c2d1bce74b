"""Clients: the list with search, a new client, and the client's chart (details, edit, the portal invitation,
balance and AutoPay, invoices, ledger, payments, billing documents, cards on file read-only)."""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core, fields
from gateway.web.console import bp
from gateway.web.console.common import body, refusal, status_of

PAGE = 25
# The record's fields by section, as the forms name them (dotted: a nested object's member):
# (name, label, type, autocomplete, required on create).
SECTIONS = [
    ("person", "Name and date of birth", [("first_name", "First name", "text", "off", True),
                                          ("last_name", "Last name", "text", "off", True),
                                          ("preferred_name", "Preferred name", "text", "off", False),
                                          ("date_of_birth", "Date of birth", "date", "off", True)]),
    ("contact", "Contact", [("email", "E-mail", "email", "off", False),
                            ("phone", "Phone", "tel", "off", False)]),
    ("address", "Address", [("address.line1", "Street address", "text", "off", False),
                            ("address.line2", "Apartment, suite, etc.", "text", "off", False),
                            ("address.city", "City", "text", "off", False),
                            ("address.state", "State", "text", "off", False),
                            ("address.postal_code", "ZIP / postal code", "text", "off", False)]),
    ("emergency", "Emergency contact", [("emergency_contact.name", "Name", "text", "off", False),
                                        ("emergency_contact.phone", "Phone", "tel", "off", False),
                                        ("emergency_contact.relationship", "Relationship", "text", "off", False)]),
    ("insurance", "Insurance", [("insurance.carrier", "Insurance carrier", "text", "off", False),
                                ("insurance.member_id", "Member ID", "text", "off", False),
                                ("insurance.group_number", "Group number", "text", "off", False)]),
]
FIELDS = [name for _, _, fields in SECTIONS for name, *_ in fields]
REQUIRED = {name for _, _, fields in SECTIONS for name, *rest in fields if rest[-1]}


def flat(record: dict) -> dict[str, str]:
    return fields.flat(record, FIELDS)


def new_body(form) -> dict:
    """POST /staff/clients: what was filled in (an empty field is not sent; the API says what is required)."""
    return fields.filled(form, FIELDS)


def changed_body(form, current: dict[str, str]) -> dict:
    """PATCH /staff/clients/{id}: only what differs from the record (an emptied field is sent as null)."""
    return fields.changed(form, current, FIELDS)


def _open_sections(errors: dict) -> set[str]:
    return {key for key, _, fields in SECTIONS for name, *_ in fields if name in errors}


# --- the list ------------------------------------------------------------------------------------------
@bp.get("/clients")
@core.signed_in("staff")
def clients():
    q = request.args.get("q", "").strip()[:100]
    answer = core.api("GET", "/api/v1/staff/clients",
                      query={"q": q, "limit": PAGE, "cursor": request.args.get("cursor")})
    template = "console/_client_results.html" if core.is_htmx() else "console/clients.html"
    return core.page(template, 200 if answer.ok else status_of(answer), q=q, listing=body(answer),
                     down=answer.unavailable, cursor=request.args.get("cursor"))


# --- a new client ----------------------------------------------------------------------------------------
@bp.route("/clients/new", methods=["GET", "POST"])
@core.signed_in("staff")
def clients_new():
    if request.method == "GET":
        return core.page("console/client_form.html", client=None, values={}, sections=SECTIONS, required=REQUIRED,
                         errors={}, error=None)
    typed = {name: request.form.get(name, "") for name in FIELDS}
    # The API checks every field (and writes nothing if one is wrong); a required one left empty says so plainly.
    answer = core.api("POST", "/api/v1/staff/clients", json_body=new_body(request.form))
    if answer.ok:
        created = answer.json()
        core.flash(f"{created['first_name']} {created['last_name']} added. Send the portal invitation when you are "
                   "ready.")
        return redirect(url_for("console.clients_chart", client_id=created["id"]))
    errors = {**answer.field_errors, **{name: ["Enter this."] for name in REQUIRED if not typed[name].strip()}}
    return core.page("console/client_form.html", status_of(answer), client=None, values=typed, sections=SECTIONS,
                     required=REQUIRED, errors=errors, open_sections=_open_sections(errors),
                     error=refusal(answer, "The client was not added.") if answer.unavailable or not errors
                     else "The client was not added. Check the fields marked below.")


# --- the chart -----------------------------------------------------------------------------------------
def _client_path(client_id: str, tail: str = "") -> str:
    return f"/api/v1/staff/clients/{core.quote_path(client_id)}{tail}"


@bp.get("/clients/<client_id>")
@core.signed_in("staff")
def clients_chart(client_id: str):
    answers = core.gather(
        client=("GET", _client_path(client_id)),
        account=("GET", _client_path(client_id, "/account")),
        invoices=("GET", "/api/v1/staff/invoices", {"query": {"client_id": client_id, "limit": 10}}),
        ledger=("GET", _client_path(client_id, "/ledger"), {"query": {"limit": 10}}),
        documents=("GET", _client_path(client_id, "/billing-documents")),
        payments=("GET", "/api/v1/staff/payments", {"query": {"client_id": client_id, "limit": 10}}),
        cards=("GET", _client_path(client_id, "/payment-methods")),
    )
    client = core.must(answers["client"])
    parts = {name: body(a) for name, a in answers.items() if name != "client"}
    # A client created a moment ago may not be known to billing yet (it learns of clients from their event).
    down = {name: a.unavailable for name, a in answers.items()}
    return core.page("console/chart.html", client=client, down=down, **parts)


@bp.route("/clients/<client_id>/edit", methods=["GET", "POST"])
@core.signed_in("staff")
def clients_edit(client_id: str):
    client = core.must(core.api("GET", _client_path(client_id)))
    values = flat(client)
    if request.method == "GET":
        return core.page("console/client_form.html", client=client, values=values, sections=SECTIONS,
                         required=REQUIRED, errors={}, error=None)
    changes = changed_body(request.form, values)
    if not changes:
        core.flash("Nothing changed.", "info")
        return redirect(url_for("console.clients_chart", client_id=client_id))
    answer = core.api("PATCH", _client_path(client_id), json_body=changes)
    if answer.ok:
        core.flash("Saved.")
        return redirect(url_for("console.clients_chart", client_id=client_id))
    typed = {**values, **{name: request.form.get(name, "") for name in FIELDS if name in request.form}}
    errors = answer.field_errors
    return core.page("console/client_form.html", status_of(answer), client=client, values=typed, sections=SECTIONS,
                     required=REQUIRED, errors=errors, open_sections=_open_sections(errors),
                     error=refusal(answer, "Your changes were not saved."))


@bp.post("/clients/<client_id>/invitation")
@core.signed_in("staff")
def clients_invite(client_id: str):
    """Sends (or sends again: the earlier link stops working) the portal registration e-mail, and shows the link
    so it can also be given by hand."""
    client = core.must(core.api("GET", _client_path(client_id)))
    answer = core.api("POST", _client_path(client_id, "/invitation"))
    if answer.ok:
        return core.page("console/invitation.html", client=client, invitation=answer.json(), error=None)
    return core.page("console/invitation.html", status_of(answer), client=client, invitation=None,
                     error=refusal(answer, "The invitation was not sent."))


@bp.post("/clients/<client_id>/autopay")
@core.signed_in("staff")
def clients_autopay(client_id: str):
    enabled = request.form.get("enabled") == "true"
    answer = core.api("PUT", _client_path(client_id, "/autopay"), json_body={"enabled": enabled})
    if answer.ok:
        core.flash("AutoPay is on for this client: their default card is charged their balance overnight after a "
                   "new invoice." if enabled else "AutoPay is off for this client.")
    else:
        core.flash(refusal(answer, "AutoPay was not changed."), "error")
    return redirect(url_for("console.clients_chart", client_id=client_id) + "#balance")


# --- the ledger -------------------------------------------------------------------------------------------
KINDS = [("", "All entries"), ("charge", "Charges"), ("payment", "Payments"), ("refund", "Refunds"),
         ("adjustment", "Adjustments")]


@bp.get("/clients/<client_id>/ledger")
@core.signed_in("staff")
def clients_ledger(client_id: str):
    query = {name: request.args[name] for name in ("from", "to", "kind", "cursor") if request.args.get(name)}
    answers = core.gather(client=("GET", _client_path(client_id)),
                          ledger=("GET", _client_path(client_id, "/ledger"), {"query": {**query, "limit": PAGE}}),
                          account=("GET", _client_path(client_id, "/account")))
    client = core.must(answers["client"])
    ledger = answers["ledger"]
    errors = ledger.field_errors if ledger.status == 422 else {}
    return core.page("console/ledger.html", 422 if errors else 200, client=client, ledger=body(ledger),
                     down=ledger.unavailable, account=body(answers["account"]), query=query, kinds=KINDS,
                     errors=errors)
