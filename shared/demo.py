"""`python -m shared.demo`: on a new development stack, a demo client with an unpaid invoice, a practice schedule
to book from (a site, a clinician, three appointment types, weekday hours, self-scheduling on) and a welcome message
from the practice, made through the public API like any outside client would, then the client's sign-in printed
beside the admin's.

`make run` starts it in the background; it waits for the gateway to be ready, does nothing when the demo client
exists already (a second `make run` changes nothing), and refuses to run with PORTAL_ENV=production. The demo
client's password is DEMO_CLIENT_PASSWORD of var/secrets.env (generated once, like the admin's).
"""

from __future__ import annotations

import argparse
import sys
import time
from urllib.parse import parse_qs, urlsplit

import requests

from shared.config import env, is_production

DEMO_EMAIL = "demo.client@example.com"
SERVICE_CODE = {"code": "90837", "description": "Psychotherapy, 60 minutes", "rate_cents": 15000}
DEMO_SITE = {"name": "Main office", "timezone": "America/New_York",
             "address": {"line1": "12 Harbor Street", "city": "Annapolis", "state": "MD", "postal_code": "21401"}}
DEMO_CLINICIAN = {"first_name": "Sam", "last_name": "Rivera", "credentials": "PhD"}
DEMO_TYPES = (
    {"name": "Individual therapy", "modality": "in_person", "duration_minutes": 50, "service_code": "90837"},
    {"name": "Video session", "modality": "video", "duration_minutes": 50, "service_code": "90837"},
    {"name": "Phone check-in", "modality": "phone", "duration_minutes": 25},
)


class DemoError(RuntimeError):
    pass


def _ok(response: requests.Response, what: str) -> dict:
    if response.status_code >= 400:
        raise DemoError(f"{what}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}


def wait_ready(base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise DemoError(f"the gateway at {base} was not ready within {timeout:.0f} s")


def create_demo(base: str, admin_email: str, admin_password: str, client_password: str) -> bool:
    """True when the demo client was made (or finished) now; False when it was whole already. Each step is skipped
    when done, so a run stopped halfway is finished by the next one."""
    api = f"{base}/api/v1"
    http = requests.Session()
    tokens = _ok(http.post(f"{api}/auth/login", json={"email": admin_email, "password": admin_password}, timeout=10),
                 "admin sign-in")
    if tokens.get("mfa_required"):
        raise DemoError("the admin has two-factor sign-in on; create the demo client by hand")
    http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    found = _ok(http.get(f"{api}/staff/clients", params={"q": DEMO_EMAIL}, timeout=10), "client search")
    client = next((c for c in found.get("items", []) if c.get("email") == DEMO_EMAIL), None)
    made = False
    if client is None:
        _ok(http.patch(f"{api}/staff/settings", json={"online_payments_enabled": True,
                                                      "billing_documents_enabled": True}, timeout=10),
            "practice settings")
        client = _ok(http.post(f"{api}/staff/clients", json={
            "first_name": "Dana", "last_name": "Demo", "date_of_birth": "1990-04-12", "email": DEMO_EMAIL,
            "phone": "+1 410 555 0100"}, timeout=10), "demo client")
        made = True
    if client.get("portal_status") != "registered":
        invitation = _ok(http.post(f"{api}/staff/clients/{client['id']}/invitation", timeout=10), "invitation")
        token = parse_qs(urlsplit(invitation["invitation_url"]).query)["token"][0]
        _ok(requests.post(f"{api}/auth/register", json={"token": token, "last_name": "Demo",
                                                        "date_of_birth": "1990-04-12", "password": client_password},
                          timeout=10), "registration")
        made = True
    codes = _ok(http.get(f"{api}/staff/service-codes", timeout=10), "service codes")
    if not any(c.get("code") == SERVICE_CODE["code"] for c in codes.get("items", [])):
        _ok(http.post(f"{api}/staff/service-codes", json=SERVICE_CODE, timeout=10), "service code")
    invoices = _ok(http.get(f"{api}/staff/invoices", params={"client_id": client["id"]}, timeout=10), "invoices")
    if not invoices.get("items"):
        _ok(http.post(f"{api}/staff/invoices", json={"client_id": client["id"], "lines": [
            {"service_code": SERVICE_CODE["code"], "units": 1}]}, timeout=10), "invoice")
        made = True
    made = create_schedule(http, api) or made
    return create_welcome(http, api, client["id"]) or made


WELCOME = {"subject": "Welcome to your client portal",
           "body": "Hello Dana,\n\nThis is where you can message us securely, see your appointments and pay your "
                   "invoices. Reply here any time.\n\nThe front desk"}


def create_welcome(http: requests.Session, api: str, client_id: str, wait: float = 30.0) -> bool:
    """A first thread from the practice (the Messages badge and the bell have something to show). Messaging learns
    of the client from client.created a moment after it is made: until then it answers 422 for the client_id."""
    found = _ok(http.get(f"{api}/staff/messages/threads", params={"client_id": client_id}, timeout=10), "threads")
    if found.get("items"):
        return False
    if not _ok(http.get(f"{api}/staff/settings", timeout=10), "practice settings").get("email"):
        _ok(http.patch(f"{api}/staff/settings", json={"email": "frontdesk@practice.local"}, timeout=10),
            "practice e-mail")
    deadline = time.monotonic() + wait
    while True:
        answer = http.post(f"{api}/staff/messages/threads", json={"client_id": client_id, **WELCOME}, timeout=10)
        if answer.status_code != 422 or time.monotonic() > deadline:
            _ok(answer, "welcome message")
            return True
        time.sleep(0.5)


def create_schedule(http: requests.Session, api: str) -> bool:
    """The demo practice's schedule (each piece found by its name, made when missing): the client then has times
    to book online. True when anything was made."""
    made = False

    def ensure(path: str, name_of, wanted: dict, what: str) -> dict:
        nonlocal made
        found = _ok(http.get(f"{api}/staff/{path}", timeout=10), what).get("items", [])
        existing = next((item for item in found if name_of(item) == name_of(wanted)), None)
        if existing is None:
            existing = _ok(http.post(f"{api}/staff/{path}", json=wanted, timeout=10), what)
            made = True
        return existing

    site = ensure("sites", lambda s: s["name"], DEMO_SITE, "site")
    clinician = ensure("clinicians", lambda c: (c["first_name"], c["last_name"]),
                       {**DEMO_CLINICIAN, "site_ids": [site["id"]]}, "clinician")
    for kind in DEMO_TYPES:
        ensure("appointment-types", lambda t: t["name"],
               {**kind, "bookable_online": True, "clinician_ids": [clinician["id"]]}, "appointment type")
    hours = _ok(http.get(f"{api}/staff/clinicians/{clinician['id']}/availability", timeout=10), "availability")
    if not hours.get("rules"):
        rules = [{"weekday": day, "start": "09:00", "end": "17:00", "site_id": site["id"]} for day in range(5)]
        _ok(http.put(f"{api}/staff/clinicians/{clinician['id']}/availability", json={"rules": rules}, timeout=10),
            "availability")
        _ok(http.patch(f"{api}/staff/settings", json={"self_scheduling_enabled": True}, timeout=10),
            "self-scheduling")
        made = True
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default=env("PORTAL_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--wait", type=float, default=120.0, help="seconds to wait for the gateway")
    args = parser.parse_args(argv)
    if is_production():
        print("shared.demo: refused with PORTAL_ENV=production (a demo client has no place there)", file=sys.stderr)
        return 2
    # identity.cli's default address for the first admin
    admin_email, admin_password = env("PORTAL_ADMIN_EMAIL", "admin@practice.local"), env("PORTAL_ADMIN_PASSWORD")
    client_password = env("DEMO_CLIENT_PASSWORD")
    if not admin_password or not client_password:
        print("shared.demo: PORTAL_ADMIN_PASSWORD and DEMO_CLIENT_PASSWORD are needed (var/secrets.env)",
              file=sys.stderr)
        return 2
    try:
        wait_ready(args.gateway.rstrip("/"), args.wait)
        made = create_demo(args.gateway.rstrip("/"), admin_email, admin_password, client_password)
    except (DemoError, requests.RequestException) as exc:
        print(f"shared.demo: no demo client: {exc}", file=sys.stderr)
        return 1
    base = args.gateway.rstrip("/")
    print("\n".join([
        "", "=" * 72,
        ("A demo client with an unpaid invoice, and a schedule to book from, is ready." if made
         else "The demo client is there already."),
        f"  Client portal  {base}/         {DEMO_EMAIL} / {client_password}",
        f"  Staff console  {base}/staff    {admin_email} / {admin_password}",
        "  Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined (any future date, any CVC).",
        "=" * 72, ""]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
