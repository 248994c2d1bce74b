"""The client portal, at /: what a client of the practice does in the browser.

Each module holds one area's views (the seeds' sections): `auth` (Sign in, Register, Reset password, Logout),
`home` (the Dashboard), `information` (My Information), `appointments` (Upcoming Appointments, Book an
Appointment, Appointment History, the calendar feed), `messages` (Messages: secure messages with the practice and
their attachments), `notifications` (the bell and the Notifications page), `account` (My Account: history,
invoices, billing documents, Payment History, Credit/Debit Cards on File) and `pay` (Pay Now, step by step). A new
service adds a module here and a tile in TILES.
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


# The Dashboard's tiles, in the seeds' order; My Documents joins when its service does.
TILES = [
    Tile("portal.my_information", "My Information", "Your contact details, address, emergency contact and "
         "insurance.", "person"),
    Tile("portal.appointments", "Appointments", "Book an Appointment, confirm or cancel your upcoming "
         "appointments, and your Appointment History.", "calendar"),
    Tile("portal.messages", "Messages", "Secure messages with your practice: read, reply and print them, and "
         "attach documents or images.", "mail"),
    Tile("portal.my_account", "My Account", "Your balance, account history, invoices, payments and cards.",
         "wallet"),
]

from gateway.web.portal import (  # noqa: E402,F401  (views on bp)
    account,
    appointments,
    auth,
    home,
    information,
    messages,
    notifications,
    pay,
)
