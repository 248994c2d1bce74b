"""My Information: a client reads and edits only its own record; staff review the edits."""

from __future__ import annotations

import pytest

from tests.integration.conftest import assert_problem, outbox_events

pytestmark = pytest.mark.integration
ME = "/api/v1/portal/me"


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
    assert_problem(me.patch(ME, json={"email": other["email"]}), 409)
    before.assert_unchanged()
    new_email = "moved." + client["email"]
    assert me.patch(ME, json={"email": new_email}).get_json()["email"] == new_email
    from tests.integration.conftest import STRONG_PASSWORD, login

    assert login(api, new_email, STRONG_PASSWORD)["user"]["client_id"] == client["id"]


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
