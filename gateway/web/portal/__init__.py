"""The client portal, at /: what a client of the practice does in the browser.

Each module holds one area's views (the seeds' sections): `auth` (Sign in, Register, Reset password, Logout),
`home` (the Dashboard), `information` (My Information), `appointments` (Upcoming Appointments, Book an
Appointment, Appointment History, the calendar feed), `account` (My Account: history, invoices, billing
documents, Payment History, Credit/Debit Cards on File) and `pay` (Pay Now, step by step). A new service adds
a module here and a tile in TILES.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint

bp = Blueprint("portal", __name__)


@dataclass(frozen=True)
class Tile:
    endpoint: str
    label: str
    blurb: str
    icon: str


# The Dashboard's tiles, in the seeds' order; Messages and My Documents join when their services do.
TILES = [
    Tile("portal.my_information", "My Information", "Your contact details, address, emergency contact and "
         "insurance.", "person"),
    Tile("portal.appointments", "Appointments", "Book an Appointment, confirm or cancel your upcoming "
         "appointments, and your Appointment History.", "calendar"),
    Tile("portal.my_account", "My Account", "Your balance, account history, invoices, payments and cards.",
         "wallet"),
]

from gateway.web.portal import account, appointments, auth, home, information, pay  # noqa: E402,F401  (views on bp)
