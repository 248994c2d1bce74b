"""Jinja filters: money from integer cents, dates and times as a person reads them."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import Flask

SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "EUR": "€", "GBP": "£"}


def money(cents, currency: str | None = "USD") -> str:
    if cents is None:
        return "—"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = SYMBOLS.get((currency or "USD").upper())
    text = f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


_AMOUNT = re.compile(r"^([0-9]*)(?:\.([0-9]{0,2}))?$", re.ASCII)


def cents_from_text(text: str | None) -> int | None:
    """Dollars and cents as a person types them ("25", "25.5", "$1,234.56") as exact cents; None if it is not one.
    ASCII digits only (str.isdigit() takes "²", which int() refuses)."""
    cleaned = (text or "").strip().replace("$", "").replace(",", "")
    match = _AMOUNT.match(cleaned)
    if not cleaned or not match or cleaned == ".":
        return None
    whole, part = match.group(1) or "0", (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(part)


def dollars(cents) -> str:
    """Cents as the plain number an amount field holds (12.50)."""
    if cents in (None, ""):
        return ""
    whole, part = divmod(int(cents), 100)
    return f"{whole}.{part:02d}"


def _parse(value):
    if isinstance(value, (date, datetime)):
        return value
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def day(value) -> str:
    parsed = _parse(value)
    if parsed is None:
        return "—"
    return f"{parsed:%b} {parsed.day}, {parsed.year}"


def moment(value) -> str:
    parsed = _parse(value)
    if parsed is None:
        return "—"
    if not isinstance(parsed, datetime):
        return day(parsed)
    hour = parsed.hour % 12 or 12
    zone = " UTC" if parsed.utcoffset() is not None and not parsed.utcoffset() else ""
    return f"{parsed:%b} {parsed.day}, {parsed.year}, {hour}:{parsed:%M} {'AM' if parsed.hour < 12 else 'PM'}{zone}"


def iso_day(value) -> str:
    parsed = _parse(value)
    return parsed.date().isoformat() if isinstance(parsed, datetime) else (parsed.isoformat() if parsed else "")


def humanize(value: str | None) -> str:
    return (value or "").replace("_", " ").capitalize()


def invoice_no(number) -> str:
    """As billing writes it on the ledger and the PDF: #000042."""
    try:
        return f"{int(number):06d}"
    except (TypeError, ValueError):
        return str(number or "")


def dict_without(values: dict, *names: str) -> dict:
    return {k: v for k, v in values.items() if k not in names}


def register(app: Flask) -> None:
    app.jinja_env.filters.update(money=money, dollars=dollars, day=day, moment=moment, iso_day=iso_day,
                                 humanize=humanize, dict_without=dict_without,
                                 invoice_no=invoice_no)
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
