"""Staff: client records, search, settings, staff users; bad input answers problem+json and writes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import assert_problem, login, outbox_events
from tests.support import random_refs

pytestmark = pytest.mark.integration
CLIENTS = "/api/v1/staff/clients"


def test_staff_creates_client_and_client_created_is_in_the_outbox(staff, identity_engine):
    email = random_refs.email()
    response = staff.post(CLIENTS, json={"first_name": "Ana", "last_name": "Lopez", "date_of_birth": "1975-06-30",
                                         "email": email.upper(), "phone": "+1 (555) 010-0199"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == email and body["portal_status"] == "not_invited"
    events = outbox_events(identity_engine, "client.created", client_id=body["id"])
    assert len(events) == 1
    assert events[0]["payload"] == {"client_id": body["id"], "first_name": "Ana", "last_name": "Lopez",
                                    "preferred_name": None, "email": email, "date_of_birth": "1975-06-30"}
    assert events[0]["producer"] == "identity" and events[0]["version"] == 1


GOOD = {"first_name": "Ana", "last_name": "Lopez", "date_of_birth": "1975-06-30", "phone": "555-0100"}


@pytest.mark.parametrize("body, field", [
    ({k: v for k, v in GOOD.items() if k != "first_name"}, "first_name"),
    ({**GOOD, "first_name": 42}, "first_name"),
    ({**GOOD, "first_name": ""}, "first_name"),
    ({**GOOD, "last_name": "x" * 101}, "last_name"),
    ({**GOOD, "date_of_birth": "1975-13-40"}, "date_of_birth"),
    ({**GOOD, "date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({**GOOD, "email": "not-an-email"}, "email"),
    ({**GOOD, "phone": "call me maybe"}, "phone"),
    ({**GOOD, "favourite_colour": "teal"}, "favourite_colour"),
    ({**GOOD, "address": {"line1": "1 Main St", "planet": "Mars"}}, "address"),
])
def test_bad_client_fields_answer_422_and_write_nothing(staff, snapshot, body, field):
    before = snapshot()
    assert_problem(staff.post(CLIENTS, json=body), 422, field=field)
    before.assert_unchanged()


def test_malformed_json_and_wrong_content_type(staff, snapshot):
    before = snapshot()
    assert_problem(staff.post(CLIENTS, data="{not json", headers={"Content-Type": "application/json"}), 400)
    assert_problem(staff.post(CLIENTS, data="[1, 2]", headers={"Content-Type": "application/json"}), 400)
    assert_problem(staff.post(CLIENTS, data="first_name=Ana", headers={"Content-Type": "text/plain"}), 415)
    before.assert_unchanged()


def test_email_already_taken_is_409_and_writes_nothing(staff, new_client, snapshot):
    taken = new_client()["email"]
    before = snapshot()
    assert_problem(staff.post(CLIENTS, json={**GOOD, "email": taken}), 409)
    assert_problem(staff.post(CLIENTS, json={**GOOD, "email": "admin@itest.example"}), 409)
    before.assert_unchanged()


def test_an_email_taken_by_a_request_sent_at_the_same_time_is_409_not_500(staff, identity_engine):
    """Both requests pass the look-up before either commits; the loser's INSERT meets the unique index (the probe
    saw 8 concurrent creates answer 201 and seven 500s). Here the winner is a transaction the test holds open."""
    import threading
    import uuid

    from sqlalchemy import text

    from tests.support.locks import wait_for_lock_waiters

    email = random_refs.email("race")
    answers = []
    with identity_engine.connect() as winner:
        winner.execute(text("INSERT INTO clients (id, first_name, last_name, date_of_birth, email, address, "
                            "emergency_contact, insurance) VALUES (:id, 'Win', 'Ner', '1980-01-01', :email, "
                            "'{}', '{}', '{}')"), {"id": str(uuid.uuid4()), "email": email})
        loser = threading.Thread(target=lambda: answers.append(staff.post(CLIENTS, json={**GOOD, "email": email})))
        loser.start()
        wait_for_lock_waiters(identity_engine, what="the second create")
        winner.commit()
    loser.join(10)
    body = assert_problem(answers[0], 409)
    assert body["errors"] == {"email": ["Already in use."]} and email not in answers[0].get_data(as_text=True)


def test_search_finds_by_name_email_and_pages_with_a_cursor(staff, new_client):
    tag = random_refs.suffix()
    made = [new_client(last_name=f"Zed{tag}", first_name=f"N{i}") for i in range(5)]
    first = staff.get(f"{CLIENTS}?q=zed{tag}&limit=2").get_json()
    assert [c["first_name"] for c in first["items"]] == ["N0", "N1"]
    second = staff.get(f"{CLIENTS}?q=zed{tag}&limit=2&cursor={first['next_cursor']}").get_json()
    third = staff.get(f"{CLIENTS}?q=zed{tag}&limit=2&cursor={second['next_cursor']}").get_json()
    assert [c["first_name"] for c in second["items"] + third["items"]] == ["N2", "N3", "N4"]
    assert third["next_cursor"] is None
    by_email = staff.get(f"{CLIENTS}?q={made[3]['email']}").get_json()["items"]
    assert [c["id"] for c in by_email] == [made[3]["id"]]
    assert_problem(staff.get(f"{CLIENTS}?limit=0"), 422, field="limit")
    assert_problem(staff.get(f"{CLIENTS}?cursor=garbage"), 422, field="cursor")
    assert_problem(staff.get(f"{CLIENTS}?sort=name"), 422, field="sort")


def test_get_and_patch_client(staff, new_client, identity_engine):
    client = new_client()
    assert staff.get(f"{CLIENTS}/{client['id']}").get_json()["email"] == client["email"]
    assert_problem(staff.get(f"{CLIENTS}/no-such-client"), 404)
    patched = staff.patch(f"{CLIENTS}/{client['id']}", json={"last_name": "Rivera-Smith"})
    assert patched.status_code == 200 and patched.get_json()["last_name"] == "Rivera-Smith"
    events = outbox_events(identity_engine, "profile.updated", client_id=client["id"])
    assert events[-1]["payload"]["changed_fields"] == ["last_name"] and events[-1]["payload"]["by"] == "staff"


def test_auth_is_required_and_role_checked(api, registered_client, identity_app):
    assert_problem(api.get(CLIENTS), 401)
    _, client_api, _ = registered_client()
    assert_problem(client_api.get(CLIENTS), 403)
    signer = identity_app.extensions["identity"].signer
    expired = signer.access_token(user_id="u", role="admin", client_id=None, ttl=-60)
    assert_problem(api.as_(expired).get(CLIENTS), 401)
    good = signer.access_token(user_id="u", role="admin", client_id=None, ttl=60)
    head, payload, sig = good.split(".")
    tampered = f"{head}.{payload[:-2]}AA.{sig}"
    assert_problem(api.as_(tampered).get(CLIENTS), 401)
    assert_problem(api.as_("not-a-jwt").get(CLIENTS), 401)
    mfa_only = signer.mfa_token(user_id="u", role="admin", ttl=60)
    assert_problem(api.as_(mfa_only).get(CLIENTS), 401)


def test_settings_read_change_and_event(staff, identity_engine, snapshot):
    current = staff.get("/api/v1/staff/settings").get_json()
    assert set(current) >= {"practice_name", "self_scheduling_enabled", "online_payments_enabled",
                             "billing_documents_enabled", "autopay_enabled"}
    changed = staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": True,
                                                          "practice_name": "Harbor Counseling"})
    assert changed.status_code == 200
    assert changed.get_json()["online_payments_enabled"] is True
    last = outbox_events(identity_engine, "practice.settings_changed")[-1]["payload"]
    assert last["settings"]["practice_name"] == "Harbor Counseling"
    before = snapshot()
    assert_problem(staff.patch("/api/v1/staff/settings", json={"autopay_enabled": "yes"}), 422,
                   field="autopay_enabled")
    assert_problem(staff.patch("/api/v1/staff/settings", json={"timezone": "Mars/Olympus"}), 422, field="timezone")
    before.assert_unchanged()
    assert staff.get("/api/v1/staff/settings").get_json()["practice_name"] == "Harbor Counseling"


def test_only_admins_create_staff_users(api, staff, snapshot):
    email = random_refs.email("therapist")
    body = {"email": email, "password": "Counsellor passphrase 77!", "first_name": "Sam", "last_name": "Lee",
            "role": "staff"}
    created = staff.post("/api/v1/staff/users", json=body)
    assert created.status_code == 201 and created.get_json()["role"] == "staff"
    member = api.as_(login(api, email, body["password"])["access_token"])
    before = snapshot()
    assert_problem(member.post("/api/v1/staff/users", json={**body, "email": random_refs.email()}), 403)
    assert_problem(staff.post("/api/v1/staff/users", json=body), 409)
    assert_problem(staff.post("/api/v1/staff/users", json={**body, "email": random_refs.email(),
                                                           "password": "password1"}), 422, field="password")
    assert_problem(staff.post("/api/v1/staff/users", json={**body, "email": random_refs.email(),
                                                           "role": "client"}), 422, field="role")
    before.assert_unchanged()
    assert member.get("/api/v1/staff/clients").status_code == 200
