"""The review queue: clients' changes to My Information, each shown field by field (before and after), to accept
or to revert (putting the old values back; a field changed again since is left as it is, and said so)."""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web.console import bp
from gateway.web.console.clients import SECTIONS
from gateway.web.console.common import body, refusal, status_of

TABS = [("pending", "Waiting for review"), ("accepted", "Accepted"), ("reverted", "Reverted")]
LABELS = {name: label for _, _, fields in SECTIONS for name, label, *_ in fields}
HEADS = {"address": "Address", "emergency_contact": "Emergency contact", "insurance": "Insurance"}


def _text(value) -> str:
    return "—" if value in (None, "") else str(value)


def rows(changes: dict) -> list[tuple[str, str, str]]:
    """{field: {"old", "new"}} as (label, before, after) rows; a nested object's members one by one."""
    out = []
    for name, values in changes.items():
        old, new = values.get("old"), values.get("new")
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = old or {}, new or {}
            for member in sorted(set(old) | set(new)):
                if old.get(member) != new.get(member):
                    label = LABELS.get(f"{name}.{member}", member.replace("_", " ").capitalize())
                    out.append((f"{HEADS.get(name, name)}: {label}", _text(old.get(member)), _text(new.get(member))))
        else:
            out.append((LABELS.get(name, name.replace("_", " ").capitalize()), _text(old), _text(new)))
    return out


@bp.get("/review")
@core.signed_in("staff")
def review():
    status = request.args.get("status", "pending")
    if status not in dict(TABS):
        status = "pending"
    answer = core.api("GET", "/api/v1/staff/profile-changes",
                      query={"status": status, "limit": 50, "cursor": request.args.get("cursor")})
    listing = body(answer)
    items = [{**c, "rows": rows(c.get("changes") or {})} for c in listing["items"]] if listing else None
    return core.page("console/review.html", 200 if answer.ok else status_of(answer), tab=status, tabs=TABS,
                     items=items, next_cursor=listing.get("next_cursor") if listing else None, down=answer.unavailable)


@bp.post("/review/<change_id>")
@core.signed_in("staff")
def review_decide(change_id: str):
    decision = request.form.get("decision")
    if decision not in ("accept", "revert"):
        core.flash("Choose Accept or Revert.", "error")
        return redirect(url_for("console.review"))
    note = request.form.get("note", "").strip()[:1000] or None
    answer = core.api("POST", f"/api/v1/staff/profile-changes/{core.quote_path(change_id)}/review",
                      json_body={"decision": decision, "note": note})
    if answer.ok:
        done = answer.json()
        who = done.get("client_name") or "the client"
        if decision == "accept":
            core.flash(f"Accepted the change by {who}.")
        else:
            skipped = [LABELS.get(n, n.replace("_", " ")) for n in done.get("skipped_fields") or []]
            core.flash(f"Reverted the change by {who}: the old values are back."
                       + (f" Left as they are (changed again since): {', '.join(skipped)}." if skipped else ""))
    elif answer.status in (404, 409):
        core.flash(answer.detail or "This change was already reviewed.", "warn")
    else:
        core.flash(refusal(answer, "The change was not reviewed."), "error")
    return redirect(url_for("console.review"))
