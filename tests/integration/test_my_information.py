"""My Information: a client reads and edits only its own record; staff review the edits."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import text

from tests.integration.conftest import STRONG_PASSWORD, assert_problem, login, outbox_events

pytestmark = pytest.mark.integration
ME = "/api/v1/portal/me"
LOGIN = "/api/v1/auth/login"


def sid(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


def test_client_reads_and_edits_its_own_record(registered_client, staff, identity_engine):
    client, me, _ = registered_client()
    got = me.get(ME).get_json()
    assert got["first_name"] == client["first_name"] and got["email"] == client["email"]
    assert set(got) == {"first_name", "last_name", "preferred_name", "date_of_birth", "email", "phone", "address",
                        "emergency_contact", "insurance"}
    changed = me.patch(ME, json={"preferred_name": "Jo", "address": {"line1": "12 Elm St", "city": "Towson"},
                                 "insurance": {"carrier": "Aetna", "member_id": "W123"}})
    assert changed.status_code == 200
    body = changed.get_json()
    assert body["preferred_name"] == "Jo" and body["address"] == {"line1": "12 Elm St", "city": "Towson"}
    # a later partial address edit merges into what is there
    body = me.patch(ME, json={"address": {"postal_code": "21204"}}).get_json()
    assert body["address"] == {"line1": "12 Elm St", "city": "Towson", "postal_code": "21204"}
    events = outbox_events(identity_engine, "profile.updated", client_id=client["id"], by="client")
    assert [e["payload"]["changed_fields"] for e in events] == [["address", "insurance", "preferred_name"],
                                                                ["address"]]
    pending = staff.get("/api/v1/staff/profile-changes?status=pending&limit=200").get_json()["items"]
    mine = [c for c in pending if c["client_id"] == client["id"]]
    assert len(mine) == 2 and mine[0]["changes"]["preferred_name"] == {"old": None, "new": "Jo"}


def test_practice_owned_fields_and_bad_input_write_nothing(registered_client, snapshot):
    _, me, _ = registered_client()
    before = snapshot()
    assert_problem(me.patch(ME, json={"last_name": "Changed"}), 403)
    assert_problem(me.patch(ME, json={"date_of_birth": "1990-01-01"}), 403)
    assert_problem(me.patch(ME, json={"nickname": "x"}), 422, field="nickname")
    assert_problem(me.patch(ME, json={"phone": "x" * 40}), 422, field="phone")
    assert_problem(me.patch(ME, json={"emergency_contact": {"name": "A", "phone": 5}}), 422,
                   field="emergency_contact")
    assert_problem(me.patch(ME, data="nope", headers={"Content-Type": "application/json"}), 400)
    before.assert_unchanged()


def test_email_change_moves_the_sign_in_and_refuses_a_taken_address(api, registered_client, new_client, snapshot):
    client, me, _ = registered_client()
    other = new_client()
    before = snapshot()
    # the password comes first: a stolen token does not learn which addresses the practice's clients use
    assert_problem(me.patch(ME, json={"email": other["email"]}), 422, field="password")
    assert_problem(me.patch(ME, json={"email": other["email"], "password": STRONG_PASSWORD}), 409)
    before.assert_unchanged()
    new_email = "moved." + client["email"]
    assert me.patch(ME, json={"email": new_email, "password": STRONG_PASSWORD}).get_json()["email"] == new_email
    assert login(api, new_email, STRONG_PASSWORD)["user"]["client_id"] == client["id"]
    assert_problem(api.post(LOGIN, json={"email": client["email"], "password": STRONG_PASSWORD}), 401)


# --- a change of the sign-in e-mail asks for the password, like a change of two-factor ---------------------------
def test_an_email_change_without_the_right_password_changes_nothing_and_counts(api, registered_client, identity_app,
                                                                             snapshot):
    """A stolen access token alone must not move the account to the thief's address (then reset the password)."""
    client, me, _ = registered_client()
    moved = {"email": "thief." + client["email"]}
    before = snapshot()
    assert_problem(me.patch(ME, json=moved), 422, field="password")
    assert_problem(me.patch(ME, json={**moved, "password": ""}), 422, field="password")
    assert_problem(me.patch(ME, json={**moved, "password": 5}), 422, field="password")
    limit = identity_app.extensions["identity"].config.account_max_failures
    for _ in range(limit):
        assert_problem(me.patch(ME, json={**moved, "password": "not my password at all"}), 422, field="password")
    before.assert_unchanged()
    # counted with the sign-in failures of the account: now locked, even with the right password
    locked = assert_problem(me.patch(ME, json={**moved, "password": STRONG_PASSWORD}), 429)
    assert locked["retry_after"] > 0
    assert_problem(api.post(LOGIN, json={"email": client["email"], "password": STRONG_PASSWORD}), 429)
    assert me.get(ME).get_json()["email"] == client["email"]
    # edits that leave the sign-in e-mail as it is ask for no password, even while locked
    assert me.patch(ME, json={"email": client["email"].upper(), "phone": "555-3333"}).status_code == 200


def test_an_email_change_ends_every_session_answers_a_new_one_and_tells_the_old_address(
        api, registered_client, identity_app, identity_engine, mailbox):
    client, me, tokens = registered_client()
    elsewhere = login(api, client["email"], STRONG_PASSWORD)
    new_email = "new." + client["email"]
    changed = me.patch(ME, json={"email": new_email, "password": STRONG_PASSWORD})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["email"] == new_email and "password" not in body
    session = body["session"]
    assert session["access_token"] and session["refresh_token"] and session["user"]["client_id"] == client["id"]
    ended = identity_app.extensions["identity"].revoked_sessions()["sessions"]
    listed = {s["sid"] for s in ended}
    assert {sid(tokens["access_token"]), sid(elsewhere["access_token"])} <= listed
    assert sid(session["access_token"]) not in listed
    for old in (tokens, elsewhere):
        assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}), 401)
    assert api.as_(session["access_token"]).get(ME).get_json()["email"] == new_email
    # the old address hears of it (a thief's change is noticed by the owner), through the mail outbox
    notice = mailbox.last(client["email"], "email_changed")
    assert notice["by"] == "client" and new_email not in str(notice)
    with identity_engine.connect() as conn:
        rows = conn.execute(text("SELECT template, status FROM mail_outbox WHERE recipient = :r"),
                            {"r": client["email"]}).all()
    assert ("email_changed", "pending") in [tuple(r) for r in rows]
    # the password never lands in the record of the change
    pending = [c for c in identity_app.extensions["identity"].list_profile_changes("pending", 200, None)[0]
               if c["client_id"] == client["id"]]
    assert set(pending[-1]["changes"]) == {"email"} and STRONG_PASSWORD not in str(pending)


def test_staff_changing_a_clients_email_ends_the_clients_sessions_and_tells_the_old_address(
        api, staff, registered_client, identity_app, mailbox):
    client, _, tokens = registered_client()
    new_email = "staffmoved." + client["email"]
    changed = staff.patch(f"/api/v1/staff/clients/{client['id']}", json={"email": new_email})
    assert changed.status_code == 200, changed.get_json()
    listed = {s["sid"] for s in identity_app.extensions["identity"].revoked_sessions()["sessions"]}
    assert sid(tokens["access_token"]) in listed
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert mailbox.last(client["email"], "email_changed")["by"] == "practice"
    assert login(api, new_email, STRONG_PASSWORD)["user"]["client_id"] == client["id"]
    # a staff edit that leaves the e-mail as it is ends nothing
    again = login(api, new_email, STRONG_PASSWORD)
    assert staff.patch(f"/api/v1/staff/clients/{client['id']}", json={"phone": "555-4444"}).status_code == 200
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": again["refresh_token"]}).status_code == 200


def test_one_client_never_reaches_another(registered_client):
    a, a_api, _ = registered_client()
    b, b_api, _ = registered_client()
    a_api.patch(ME, json={"phone": "555-1111"})
    assert b_api.get(ME).get_json()["email"] == b["email"]
    assert b_api.get(ME).get_json()["phone"] != "555-1111"
    assert a_api.get(ME).get_json()["email"] == a["email"]
    # the client's role cannot reach staff views of other clients or their edits
    assert_problem(b_api.get(f"/api/v1/staff/clients/{a['id']}"), 403)
    assert_problem(b_api.get("/api/v1/staff/profile-changes"), 403)


def test_staff_review_accepts_or_reverts(registered_client, staff, identity_engine):
    client, me, _ = registered_client()
    me.patch(ME, json={"phone": "555-2222"})
    me.patch(ME, json={"preferred_name": "Jay"})
    changes = [c for c in staff.get("/api/v1/staff/profile-changes?status=pending&limit=200").get_json()["items"]
               if c["client_id"] == client["id"]]
    phone_change, name_change = changes
    accepted = staff.post(f"/api/v1/staff/profile-changes/{phone_change['id']}/review",
                          json={"decision": "accept"})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "accepted"
    reverted = staff.post(f"/api/v1/staff/profile-changes/{name_change['id']}/review",
                          json={"decision": "revert", "note": "Please ask us first"})
    assert reverted.get_json()["status"] == "reverted"
    assert me.get(ME).get_json()["preferred_name"] is None
    assert me.get(ME).get_json()["phone"] == "555-2222"
    assert_problem(staff.post(f"/api/v1/staff/profile-changes/{name_change['id']}/review",
                              json={"decision": "accept"}), 409)
    assert_problem(staff.post(f"/api/v1/staff/profile-changes/{name_change['id']}/review",
                              json={"decision": "maybe"}), 422, field="decision")
    assert_problem(staff.post("/api/v1/staff/profile-changes/nope/review", json={"decision": "accept"}), 404)
    by_staff = outbox_events(identity_engine, "profile.updated", client_id=client["id"], by="staff")
    assert by_staff[-1]["payload"]["changed_fields"] == ["preferred_name"]


def test_staff_reverting_an_email_change_moves_the_sign_in_back_and_ends_the_sessions(api, staff, registered_client,
                                                                                     identity_app, mailbox):
    client, me, _ = registered_client()
    new_email = "rev." + client["email"]
    session = me.patch(ME, json={"email": new_email, "password": STRONG_PASSWORD}).get_json()["session"]
    change = [c for c in staff.get("/api/v1/staff/profile-changes?status=pending&limit=200").get_json()["items"]
              if c["client_id"] == client["id"]][-1]
    reverted = staff.post(f"/api/v1/staff/profile-changes/{change['id']}/review", json={"decision": "revert"})
    assert reverted.status_code == 200, reverted.get_json()
    listed = {s["sid"] for s in identity_app.extensions["identity"].revoked_sessions()["sessions"]}
    assert sid(session["access_token"]) in listed
    assert mailbox.last(new_email, "email_changed")["by"] == "practice"
    assert login(api, client["email"], STRONG_PASSWORD)["user"]["client_id"] == client["id"]
    assert_problem(api.post(LOGIN, json={"email": new_email, "password": STRONG_PASSWORD}), 401)
