"""Scheduling set-up in the console: the scheduling settings (notice, horizon, requests, cancellation window,
approval, reminders, fees), sites (add, retire), clinicians (add, edit, their sites), appointment types (add, edit,
who offers them) and a clinician's weekly hours with their exceptions (saved as one whole set, as the API takes it).

Self-scheduling itself is a practice switch of identity's, on the Settings page: this page only says whether it is on.
"""

from __future__ import annotations

import re

from flask import abort, redirect, request, url_for

from gateway.web import core, fields
from gateway.web.console import bp
from gateway.web.console.common import body, refusal, status_of
from gateway.web.console.scheduling import MODALITIES, items

SETUP_TABS = [("console.scheduling_setup", "Settings"), ("console.scheduling_setup_sites", "Sites"),
              ("console.scheduling_setup_clinicians", "Clinicians"),
              ("console.scheduling_setup_types", "Appointment types")]
WHOLE = re.compile(r"^[0-9]{1,6}$")


def whole(text: str):
    """A whole number typed as one; anything else is sent as typed, for the API to say what it wants."""
    return int(text) if WHOLE.match(text) else text


def _names(form_errors: dict[str, list[str]], renames: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, messages in form_errors.items():
        head = next((to for prefix, to in renames.items() if name == prefix or name.startswith(prefix + ".")), name)
        out.setdefault(head, []).extend(messages)
    return out


# --- the settings -----------------------------------------------------------------------------------------------
NUMBERS = [("minimum_notice_hours", "Minimum notice (hours)",
            "How long before its start a client may still request an appointment."),
           ("horizon_days", "How far ahead clients may book (days)", None),
           ("max_open_requests", "Open requests per client",
            "How many requests one client may have waiting for an answer at once.")]
WINDOWS = [("0", "None"), ("24", "24 hours"), ("48", "48 hours"), ("72", "72 hours")]
APPROVAL = [("staff", "Approved by staff"), ("automatic", "Booked at once")]
FEES = [("late_cancel_fee", "Charge late cancellations",
         "A late cancellation marked here sends the practice's fee to billing."),
        ("no_show_fee", "Charge no-shows", "A no-show marked here sends the practice's fee to billing.")]


def _policy_values(policy: dict) -> dict:
    values = {name: str(policy.get(name, "")) for name, *_ in NUMBERS}
    values.update(cancellation_window_hours=str(policy.get("cancellation_window_hours", "")),
                  approval=policy.get("approval", ""),
                  reminder_lead_hours=", ".join(str(h) for h in policy.get("reminder_lead_hours") or []),
                  **{name: bool(policy.get(name)) for name, *_ in FEES})
    return values


def _policy_changes(form, policy: dict) -> tuple[dict, dict, dict]:
    """(what was typed, the PATCH body of what differs, what is not a number)."""
    typed = {name: form.get(name, "").strip() for name in (*(n for n, *_ in NUMBERS), "cancellation_window_hours",
                                                          "approval", "reminder_lead_hours")}
    typed.update({name: form.get(name) == "on" for name, *_ in FEES})
    current = _policy_values(policy)
    changes, errors = {}, {}
    for name, *_ in NUMBERS:
        if not typed[name]:
            errors[name] = ["Enter a whole number."]
        elif typed[name] != current[name]:
            changes[name] = whole(typed[name])
    if typed["cancellation_window_hours"] != current["cancellation_window_hours"]:
        changes["cancellation_window_hours"] = whole(typed["cancellation_window_hours"])
    if typed["approval"] != current["approval"]:
        changes["approval"] = typed["approval"]
    hours = [part for part in re.split(r"[,\s]+", typed["reminder_lead_hours"]) if part]
    if any(not WHOLE.match(h) for h in hours):
        errors["reminder_lead_hours"] = ["Whole hours separated by commas, such as 48, 24."]
    elif [int(h) for h in hours] != list(policy.get("reminder_lead_hours") or []):
        changes["reminder_lead_hours"] = [int(h) for h in hours]
    for name, *_ in FEES:
        if typed[name] != current[name]:
            changes[name] = typed[name]
    return typed, changes, errors


def _settings_page(status: int = 200, **context):
    answers = core.gather(policy=("GET", "/api/v1/staff/scheduling-settings"),
                          practice=("GET", "/api/v1/staff/settings"))
    policy, practice = body(answers["policy"]), body(answers["practice"])
    # identity owns the switch; scheduling's copy of it may lag a moment behind
    switch = (practice or policy or {}).get("self_scheduling_enabled")
    context.setdefault("values", _policy_values(policy) if policy else {})
    context.setdefault("errors", {})
    return core.page("console/scheduling_setup.html", status if policy or status != 200 else 503, policy=policy,
                     self_scheduling=switch, numbers=NUMBERS, windows=WINDOWS, approval=APPROVAL, fees=FEES,
                     tabs=SETUP_TABS, **context)


@bp.route("/scheduling-setup", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup():
    if request.method == "GET":
        return _settings_page()
    policy = core.must(core.api("GET", "/api/v1/staff/scheduling-settings"))
    typed, changes, errors = _policy_changes(request.form, policy)
    if errors:
        return _settings_page(422, values=typed, errors=errors,
                              error="The settings were not saved. Check the fields marked below.")
    if not changes:
        core.flash("Nothing changed.", "info")
        return redirect(url_for("console.scheduling_setup"))
    answer = core.api("PATCH", "/api/v1/staff/scheduling-settings", json_body=changes)
    if answer.ok:
        core.flash("Scheduling settings saved.")
        return redirect(url_for("console.scheduling_setup"))
    return _settings_page(status_of(answer), values=typed,
                          errors=_names(answer.field_errors, {"reminder_lead_hours": "reminder_lead_hours"}),
                          error=refusal(answer, "The settings were not saved."))


# --- sites --------------------------------------------------------------------------------------------------------
SITE_FIELDS = [("name", "Name", True), ("timezone", "Time zone", True), ("address.line1", "Street address", False),
               ("address.line2", "Apartment, suite, etc.", False), ("address.city", "City", False),
               ("address.state", "State", False), ("address.postal_code", "ZIP / postal code", False)]


def _sites_page(status: int = 200, **context):
    answers = core.gather(sites=("GET", "/api/v1/staff/sites", {"query": {"include_inactive": "true"}}),
                          policy=("GET", "/api/v1/staff/scheduling-settings"))
    policy = body(answers["policy"]) or {}
    context.setdefault("values", {"timezone": policy.get("timezone", "")})
    context.setdefault("errors", {})
    return core.page("console/scheduling_sites.html", status, sites=items(answers["sites"]), site_fields=SITE_FIELDS,
                     tabs=SETUP_TABS, **context)


@bp.route("/scheduling-setup/sites", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_sites():
    if request.method == "GET":
        return _sites_page()
    names = [name for name, *_ in SITE_FIELDS]
    typed = {name: request.form.get(name, "") for name in names}
    missing = {name: ["Enter this."] for name, _, required in SITE_FIELDS if required and not typed[name].strip()}
    if missing:
        return _sites_page(422, values=typed, errors=missing, error="The site was not added. Check the fields "
                                                                     "marked below.")
    answer = core.api("POST", "/api/v1/staff/sites", json_body=fields.filled(request.form, names))
    if answer.ok:
        core.flash(f"Site {answer.json()['name']} added.")
        return redirect(url_for("console.scheduling_setup_sites"))
    errors = answer.field_errors
    return _sites_page(status_of(answer), values=typed, errors=errors,
                       error=refusal(answer, "The site was not added.") if not errors
                       else "The site was not added. Check the fields marked below.")


@bp.post("/scheduling-setup/sites/<site_id>/active")
@core.signed_in("staff")
def scheduling_setup_site_active(site_id: str):
    active = request.form.get("active") == "true"
    answer = core.api("PATCH", f"/api/v1/staff/sites/{core.quote_path(site_id)}", json_body={"active": active})
    if answer.ok:
        name = answer.json().get("name", "The site")
        core.flash(f"{name} is in use again." if active else
                   f"{name} is retired: no new appointments are offered or booked there.")
    elif answer.status == 404:
        core.must(answer)
    else:
        core.flash(refusal(answer, "The site was not changed."), "error")
    return redirect(url_for("console.scheduling_setup_sites"))


# --- clinicians -----------------------------------------------------------------------------------------------------
CLINICIAN_FIELDS = [("first_name", "First name", True), ("last_name", "Last name", True),
                    ("credentials", "Credentials", False)]


def _clinician_values(form) -> dict:
    values = {name: form.get(name, "").strip() for name, *_ in CLINICIAN_FIELDS}
    values["site_ids"] = [s for s in form.getlist("site_ids") if s]
    values["active"] = form.get("active") == "on"
    return values


def _clinician_missing(values: dict) -> dict:
    errors = {name: ["Enter this."] for name, _, required in CLINICIAN_FIELDS if required and not values[name]}
    if not values["site_ids"]:
        errors["site_ids"] = ["Choose at least one site."]
    return errors


def _clinicians_page(status: int = 200, **context):
    answers = core.gather(clinicians=("GET", "/api/v1/staff/clinicians", {"query": {"include_inactive": "true"}}),
                          sites=("GET", "/api/v1/staff/sites", {"query": {"include_inactive": "true"}}))
    sites = items(answers["sites"])
    context.setdefault("values", {"site_ids": [sites[0]["id"]] if sites and len(sites) == 1 else []})
    context.setdefault("errors", {})
    return core.page("console/scheduling_clinicians.html", status, clinicians=items(answers["clinicians"]),
                     sites=sites, site_names={s["id"]: s["name"] for s in sites or []},
                     clinician_fields=CLINICIAN_FIELDS, tabs=SETUP_TABS, **context)


@bp.route("/scheduling-setup/clinicians", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_clinicians():
    if request.method == "GET":
        return _clinicians_page()
    values = _clinician_values(request.form)
    errors = _clinician_missing(values)
    if errors:
        return _clinicians_page(422, values=values, errors=errors,
                                error="The clinician was not added. Check the fields marked below.")
    payload = {k: values[k] for k in ("first_name", "last_name", "site_ids")}
    if values["credentials"]:
        payload["credentials"] = values["credentials"]
    answer = core.api("POST", "/api/v1/staff/clinicians", json_body=payload)
    if answer.ok:
        added = answer.json()
        core.flash(f"{added['name']} added. Set their weekly hours next.")
        return redirect(url_for("console.scheduling_setup_availability", clinician_id=added["id"]))
    errors = _names(answer.field_errors, {"site_ids": "site_ids"})
    return _clinicians_page(status_of(answer), values=values, errors=errors,
                            error=refusal(answer, "The clinician was not added.") if not errors
                            else "The clinician was not added. Check the fields marked below.")


def _one(path: str, object_id: str) -> tuple[dict, list[dict]]:
    """One clinician or type from its list (the API lists them; there is no read of one)."""
    listed = items(core.api("GET", path, query={"include_inactive": "true"}))
    if listed is None:
        abort(503, description="Scheduling is unavailable right now. Try again in a few minutes.")
    found = next((x for x in listed if x["id"] == object_id), None)
    if found is None:
        abort(404)
    return found, listed


@bp.route("/scheduling-setup/clinicians/<clinician_id>", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_clinician(clinician_id: str):
    clinician, _ = _one("/api/v1/staff/clinicians", clinician_id)
    sites = items(core.api("GET", "/api/v1/staff/sites", query={"include_inactive": "true"}))
    context = {"clinician": clinician, "sites": sites, "clinician_fields": CLINICIAN_FIELDS, "tabs": SETUP_TABS}
    current = {**{name: clinician.get(name) or "" for name, *_ in CLINICIAN_FIELDS},
               "site_ids": clinician.get("site_ids", []), "active": clinician.get("active")}
    if request.method == "GET":
        return core.page("console/scheduling_clinician.html", values=current, errors={}, error=None, **context)
    values = _clinician_values(request.form)
    errors = _clinician_missing(values)
    if errors:
        return core.page("console/scheduling_clinician.html", 422, values=values, errors=errors,
                         error="Not saved. Check the fields marked below.", **context)
    changes = {name: values[name] or None for name, *_ in CLINICIAN_FIELDS if values[name] != current[name]}
    if sorted(values["site_ids"]) != sorted(current["site_ids"]):
        changes["site_ids"] = values["site_ids"]
    if values["active"] != current["active"]:
        changes["active"] = values["active"]
    if not changes:
        core.flash("Nothing changed.", "info")
        return redirect(url_for("console.scheduling_setup_clinicians"))
    answer = core.api("PATCH", f"/api/v1/staff/clinicians/{core.quote_path(clinician_id)}", json_body=changes)
    if answer.ok:
        core.flash(f"{answer.json()['name']} saved.")
        return redirect(url_for("console.scheduling_setup_clinicians"))
    errors = _names(answer.field_errors, {"site_ids": "site_ids"})
    return core.page("console/scheduling_clinician.html", status_of(answer), values=values, errors=errors,
                     error=refusal(answer, "Not saved."), **context)


# --- a clinician's hours ------------------------------------------------------------------------------------------
WEEKDAYS = [(str(n), name) for n, name in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                                     "Saturday", "Sunday"))]
EXCEPTION_KINDS = [("away", "Not available"), ("extra", "Extra hours")]
BLANK_ROWS, MAX_ROWS = 3, 100


def _rows_of(availability: dict) -> dict:
    """The form's values from the API's set: one row per weekly rule and per exception."""
    values: dict = {}
    for n, rule in enumerate(availability.get("rules") or []):
        values.update({f"rules.{n}.weekday": str(rule["weekday"]), f"rules.{n}.site_id": rule["site_id"],
                       f"rules.{n}.start": rule["start"], f"rules.{n}.end": rule["end"]})
    for n, exc in enumerate(availability.get("exceptions") or []):
        values.update({f"exceptions.{n}.date": exc["date"], f"exceptions.{n}.kind":
                       "extra" if exc["available"] else "away", f"exceptions.{n}.start": exc.get("start") or "",
                       f"exceptions.{n}.end": exc.get("end") or "", f"exceptions.{n}.site_id": exc.get("site_id") or "",
                       f"exceptions.{n}.reason": exc.get("reason") or ""})
    return values


def _count(values: dict, kind: str) -> int:
    return 1 + max((int(m[1]) for k in values if (m := re.match(kind + r"\.(\d+)\.", k))), default=-1)


def _set_of(form) -> tuple[dict, list[int], list[int]]:
    """The PUT body from the form's rows (a removed or empty row is left out), and for each rule and exception
    sent the row it came from (the API names its errors by what it was sent)."""
    rules, exceptions, rule_rows, exception_rows = [], [], [], []
    for n in range(min(MAX_ROWS, _count(form, "rules"))):
        row = {k: form.get(f"rules.{n}.{k}", "").strip() for k in ("weekday", "site_id", "start", "end")}
        if form.get(f"rules.{n}.remove") == "on" or not (row["start"] or row["end"]):
            continue
        rules.append({"weekday": whole(row["weekday"]), "site_id": row["site_id"], "start": row["start"],
                      "end": row["end"]})
        rule_rows.append(n)
    for n in range(min(MAX_ROWS, _count(form, "exceptions"))):
        row = {k: form.get(f"exceptions.{n}.{k}", "").strip() for k in ("date", "kind", "start", "end", "site_id",
                                                                         "reason")}
        if form.get(f"exceptions.{n}.remove") == "on" or not (row["date"] or row["start"] or row["end"]
                                                              or row["reason"]):
            continue
        exceptions.append({"date": row["date"], "available": row["kind"] == "extra", "start": row["start"] or None,
                           "end": row["end"] or None, "site_id": row["site_id"] or None,
                           "reason": row["reason"] or None})
        exception_rows.append(n)
    return {"rules": rules, "exceptions": exceptions}, rule_rows, exception_rows


def _row_errors(errors: dict[str, list[str]], rule_rows: list[int], exception_rows: list[int]) -> dict:
    """The API's rules.N / exceptions.N (the Nth sent) as the form's rows."""
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        match = re.fullmatch(r"(rules|exceptions)\.(\d+)\.(\w+)", name)
        rows = rule_rows if match and match[1] == "rules" else exception_rows
        if match and int(match[2]) < len(rows):
            name = f"{match[1]}.{rows[int(match[2])]}.{match[3]}"
        out.setdefault(name, []).extend(messages)
    return out


@bp.route("/scheduling-setup/clinicians/<clinician_id>/availability", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_availability(clinician_id: str):
    clinician, _ = _one("/api/v1/staff/clinicians", clinician_id)
    sites = items(core.api("GET", "/api/v1/staff/sites", query={"include_inactive": "true"})) or []
    own = [(s["id"], s["name"] + ("" if s["active"] else " (retired)")) for s in sites
           if s["id"] in clinician.get("site_ids", [])]
    context = {"clinician": clinician, "own_sites": own, "weekdays": WEEKDAYS, "kinds": EXCEPTION_KINDS,
               "tabs": SETUP_TABS}
    try:
        extra = max(BLANK_ROWS, min(20, int(request.args.get("rows", BLANK_ROWS))))
    except ValueError:
        extra = BLANK_ROWS
    if request.method == "GET":
        values = _rows_of(core.must(core.api(
            "GET", f"/api/v1/staff/clinicians/{core.quote_path(clinician_id)}/availability")))
        return core.page("console/scheduling_availability.html", values=values, errors={}, error=None,
                         rule_rows=_count(values, "rules") + extra, exception_rows=_count(values, "exceptions") + extra,
                         **context)
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    payload, rule_rows, exception_rows = _set_of(request.form)
    answer = core.api("PUT", f"/api/v1/staff/clinicians/{core.quote_path(clinician_id)}/availability",
                      json_body=payload)
    if answer.ok:
        saved = answer.json()
        core.flash(f"Hours of {clinician['name']} saved: {len(saved.get('rules', []))} weekly, "
                   f"{len(saved.get('exceptions', []))} exceptions.")
        return redirect(url_for("console.scheduling_setup_availability", clinician_id=clinician_id))
    errors = _row_errors(answer.field_errors, rule_rows, exception_rows)
    # a whole list refused (too many rows) has no row to be shown at
    whole_list = " ".join(m for name in ("rules", "exceptions") for m in errors.pop(name, []))
    return core.page("console/scheduling_availability.html", status_of(answer), values=values, errors=errors,
                     error=refusal(answer, "The hours were not saved.") if not errors and not whole_list
                     else f"The hours were not saved. {whole_list or 'Check the rows marked below.'}",
                     rule_rows=max(_count(values, "rules"), 1), exception_rows=max(_count(values, "exceptions"), 1),
                     **context)


# --- appointment types --------------------------------------------------------------------------------------------
TYPE_NUMBERS = [("duration_minutes", "Length (minutes)", True), ("buffer_before_minutes", "Buffer before (minutes)",
                                                                 False),
                ("buffer_after_minutes", "Buffer after (minutes)", False)]


def _type_values(form) -> dict:
    values = {name: form.get(name, "").strip() for name in ("name", "modality", "service_code",
                                                            *(n for n, *_ in TYPE_NUMBERS))}
    values["bookable_online"] = form.get("bookable_online") == "on"
    values["active"] = form.get("active") == "on"
    values["clinician_ids"] = [c for c in form.getlist("clinician_ids") if c]
    return values


def _type_current(kind: dict) -> dict:
    return {"name": kind["name"], "modality": kind["modality"], "service_code": kind.get("service_code") or "",
            **{name: str(kind.get(name, "")) for name, *_ in TYPE_NUMBERS},
            "bookable_online": kind["bookable_online"], "active": kind["active"],
            "clinician_ids": kind.get("clinician_ids", [])}


def _type_context(extra_code: str | None = None) -> dict:
    answers = core.gather(clinicians=("GET", "/api/v1/staff/clinicians"),
                          codes=("GET", "/api/v1/staff/service-codes"))
    codes = items(answers["codes"])
    code_options = None
    if codes is not None:  # billing's codes to choose from; a text field when billing does not answer
        code_options = [("", "None")] + [(c["code"], f"{c['code']} · {c['description']}") for c in codes]
        if extra_code and extra_code not in {c["code"] for c in codes}:
            code_options.append((extra_code, extra_code))
    return {"clinicians": items(answers["clinicians"]), "code_options": code_options,
            "modalities": list(MODALITIES.items()), "modality_names": MODALITIES,
            "type_numbers": TYPE_NUMBERS, "tabs": SETUP_TABS}


def _type_errors(answer) -> dict:
    return _names(answer.field_errors, {"clinician_ids": "clinician_ids"})


@bp.route("/scheduling-setup/types", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_types():
    listed = core.api("GET", "/api/v1/staff/appointment-types", query={"include_inactive": "true"})
    context = {"types": items(listed), **_type_context()}
    context["clinician_names"] = {c["id"]: c["name"] for c in context["clinicians"] or []}
    if request.method == "GET":
        return core.page("console/scheduling_types.html", values={"modality": "in_person", "duration_minutes": "50",
                                                                  "buffer_before_minutes": "0",
                                                                  "buffer_after_minutes": "0"},
                         errors={}, error=None, **context)
    values = _type_values(request.form)
    errors = {name: ["Enter this."] for name in ("name", "duration_minutes") if not values[name]}
    if errors:
        return core.page("console/scheduling_types.html", 422, values=values, errors=errors,
                         error="The appointment type was not added. Check the fields marked below.", **context)
    payload = {"name": values["name"], "modality": values["modality"],
               "duration_minutes": whole(values["duration_minutes"]), "bookable_online": values["bookable_online"],
               "clinician_ids": values["clinician_ids"]}
    for name in ("buffer_before_minutes", "buffer_after_minutes"):
        if values[name]:
            payload[name] = whole(values[name])
    if values["service_code"]:
        payload["service_code"] = values["service_code"]
    answer = core.api("POST", "/api/v1/staff/appointment-types", json_body=payload)
    if answer.ok:
        core.flash(f"Appointment type {answer.json()['name']} added.")
        return redirect(url_for("console.scheduling_setup_types"))
    errors = _type_errors(answer)
    return core.page("console/scheduling_types.html", status_of(answer), values=values, errors=errors,
                     error=refusal(answer, "The appointment type was not added.") if not errors
                     else "The appointment type was not added. Check the fields marked below.", **context)


@bp.route("/scheduling-setup/types/<type_id>", methods=["GET", "POST"])
@core.signed_in("staff")
def scheduling_setup_type(type_id: str):
    kind, _ = _one("/api/v1/staff/appointment-types", type_id)
    context = {"kind": kind, **_type_context(kind.get("service_code"))}
    current = _type_current(kind)
    if request.method == "GET":
        return core.page("console/scheduling_type.html", values=current, errors={}, error=None, **context)
    values = _type_values(request.form)
    errors = {name: ["Enter this."] for name in ("name", "duration_minutes") if not values[name]}
    if errors:
        return core.page("console/scheduling_type.html", 422, values=values, errors=errors,
                         error="Not saved. Check the fields marked below.", **context)
    changes: dict = {}
    for name in ("name", "modality"):
        if values[name] != current[name]:
            changes[name] = values[name]
    for name, *_ in TYPE_NUMBERS:
        if values[name] != current[name]:
            changes[name] = whole(values[name]) if values[name] else 0
    if values["service_code"] != current["service_code"]:
        changes["service_code"] = values["service_code"] or None
    for name in ("bookable_online", "active"):
        if values[name] != current[name]:
            changes[name] = values[name]
    if sorted(values["clinician_ids"]) != sorted(current["clinician_ids"]):
        changes["clinician_ids"] = values["clinician_ids"]
    if not changes:
        core.flash("Nothing changed.", "info")
        return redirect(url_for("console.scheduling_setup_types"))
    answer = core.api("PATCH", f"/api/v1/staff/appointment-types/{core.quote_path(type_id)}", json_body=changes)
    if answer.ok:
        core.flash(f"Appointment type {answer.json()['name']} saved.")
        return redirect(url_for("console.scheduling_setup_types"))
    return core.page("console/scheduling_type.html", status_of(answer), values=values, errors=_type_errors(answer),
                     error=refusal(answer, "Not saved."), **context)
