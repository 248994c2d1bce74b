"""The staff client list sends as many statements for a page of 50 as for a page of 5 (no query per client), and
the portal status it shows each client is the one their account and latest invitation give."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from tests.integration.conftest import STRONG_PASSWORD
from tests.support import random_refs

pytestmark = pytest.mark.integration
CLIENTS = "/api/v1/staff/clients"


@pytest.fixture
def page_of_clients(api, staff, new_client, identity_engine):
    """55 clients under one last name no other test uses, the first four (by first name) with each portal status:
    registered, invited twice (the latest link stands), invited with the latest link expired, never invited."""
    last_name = f"Counted{random_refs.suffix()}"
    made = [new_client(first_name=f"A{i:02d}", last_name=last_name) for i in range(55)]
    registered, invited, expired = made[0], made[1], made[2]

    token = staff.post(f"{CLIENTS}/{registered['id']}/invitation").get_json()["invitation_url"].split("token=")[1]
    done = api.post("/api/v1/auth/register", json={"token": token, "last_name": last_name,
                                                    "date_of_birth": registered["date_of_birth"],
                                                    "password": STRONG_PASSWORD})
    assert done.status_code == 201, done.get_json()
    for _ in range(2):
        assert staff.post(f"{CLIENTS}/{invited['id']}/invitation").status_code == 201
    assert staff.post(f"{CLIENTS}/{expired['id']}/invitation").status_code == 201
    with identity_engine.begin() as conn:
        conn.execute(text("UPDATE invitations SET expires_at = now() - interval '1 minute' WHERE client_id = :id"),
                     {"id": expired["id"]})
    return last_name


def statements_for(identity_app, staff, path: str) -> tuple[list[str], dict]:
    engine = identity_app.extensions["identity"].sessions.kw["bind"]
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = staff.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.get_json()
    return seen, response.get_json()


def test_a_page_of_fifty_clients_sends_as_many_statements_as_a_page_of_five(identity_app, staff, page_of_clients):
    statements_for(identity_app, staff, f"{CLIENTS}?q={page_of_clients}&limit=5")  # warm: caches, the token check
    five, small = statements_for(identity_app, staff, f"{CLIENTS}?q={page_of_clients}&limit=5")
    fifty, large = statements_for(identity_app, staff, f"{CLIENTS}?q={page_of_clients}&limit=50")
    assert len(small["items"]) == 5 and len(large["items"]) == 50 and large["next_cursor"]
    assert five, "the listener saw the page's statements"
    assert len(fifty) == len(five), (len(five), len(fifty), fifty)


def test_the_list_shows_each_clients_portal_status(identity_app, staff, page_of_clients):
    _, page = statements_for(identity_app, staff, f"{CLIENTS}?q={page_of_clients}&limit=5")
    assert [c["portal_status"] for c in page["items"]] == [
        "registered", "invited", "not_invited", "not_invited", "not_invited"]
    for item in page["items"][:3]:
        assert staff.get(f"{CLIENTS}/{item['id']}").get_json()["portal_status"] == item["portal_status"]
