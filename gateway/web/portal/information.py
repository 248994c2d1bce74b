"""My Information: contact, address, emergency contact and insurance, each an expandable section; the practice
reviews every change. Names and date of birth are the practice's to change, shown read-only."""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core, fields
from gateway.web.portal import bp

# The sections of the page and the fields of /portal/me each holds (dotted: a nested object's member).
SECTIONS = [
    ("contact", "Contact", [("preferred_name", "Preferred name", "text", "nickname"),
                            ("email", "E-mail", "email", "email"),
                            ("phone", "Phone", "tel", "tel")]),
    ("address", "Address", [("address.line1", "Street address", "text", "address-line1"),
                            ("address.line2", "Apartment, suite, etc.", "text", "address-line2"),
                            ("address.city", "City", "text", "address-level2"),
                            ("address.state", "State", "text", "address-level1"),
                            ("address.postal_code", "ZIP / postal code", "text", "postal-code")]),
    ("emergency", "Emergency contact", [("emergency_contact.name", "Emergency contact's name", "text", "off"),
                                        ("emergency_contact.phone", "Emergency contact's phone", "tel", "off"),
                                        ("emergency_contact.relationship", "Relationship to you", "text", "off")]),
    ("insurance", "Insurance", [("insurance.carrier", "Insurance carrier", "text", "off"),
                                ("insurance.member_id", "Member ID", "text", "off"),
                                ("insurance.group_number", "Group number", "text", "off")]),
]
FIELDS = [name for _, _, fields in SECTIONS for name, *_ in fields]


def flat(profile: dict) -> dict[str, str]:
    return fields.flat(profile, FIELDS)


def changes(form, current: dict[str, str]) -> dict:
    """The PATCH body: only what differs from the record (an emptied field is sent as null)."""
    return fields.changed(form, current, FIELDS)


@bp.route("/my-information", methods=["GET", "POST"])
@core.signed_in("client")
def my_information():
    answer = core.api("GET", "/api/v1/portal/me")
    if answer.unavailable:
        return core.page("portal/information.html", 503, profile=None, values={}, sections=SECTIONS, errors={})
    profile = core.must(answer)
    values = flat(profile)
    if request.method == "POST":
        body = changes(request.form, values)
        typed = {**values, **{k: request.form.get(k, "") for k in FIELDS if k in request.form}}
        if not body:
            core.flash("Nothing changed.", "info")
            return redirect(url_for("portal.my_information"))
        if "email" in body:  # a new sign-in e-mail needs the current password (identity checks it)
            body["password"] = request.form.get("password", "")
        saved = core.api("PATCH", "/api/v1/portal/me", json_body=body)
        if saved.ok:
            if saved.json().get("session"):  # the e-mail change ended every session and answered a new one
                core.web().store.replace_tokens(core.current_session(), saved.json()["session"])
            core.flash("Saved. Your practice reviews changes to your information.")
            return redirect(url_for("portal.my_information"))
        open_sections = {key for key, _, fields in SECTIONS for name, *_ in fields if name in saved.field_errors}
        return core.page("portal/information.html", 503 if saved.unavailable else 422, profile=profile,
                         values=typed, sections=SECTIONS, errors=saved.field_errors, open_sections=open_sections,
                         error=saved.detail or "Your changes were not saved.")
    return core.page("portal/information.html", profile=profile, values=values, sections=SECTIONS, errors={})
