"""The client portal, at /: what a client of the practice does in the browser.

Each module holds one area's views (the seeds' sections): `auth` (Sign in, Register, Reset password, Logout),
`home` (the Dashboard), `information` (My Information), `account` (My Account: history, invoices, billing
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


# The Dashboard's tiles, in the seeds' order; Appointments, Messages and My Documents join when their services do.
TILES = [
    Tile("portal.my_information", "My Information", "Your contact details, address, emergency contact and "
         "insurance.", "person"),
    Tile("portal.my_account", "My Account", "Your balance, account history, invoices, payments and cards.",
         "wallet"),
]

from gateway.web.portal import account, auth, home, information, pay  # noqa: E402,F401  (views on bp)
