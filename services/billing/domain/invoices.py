"""What makes an invoice: the session it bills, its lines priced from the service codes, its total and due date.

Pure functions over plain values: the use case (service.py create_invoice) loads the codes and the session and
writes what these answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.billing.domain.errors import AlreadyInvoiced, NotACompletedSession, UnknownServiceCodes


@dataclass(frozen=True)
class Rate:
    """A service code as an invoice line reads it."""

    code: str
    description: str
    rate_cents: int
    active: bool


@dataclass(frozen=True)
class Line:
    """An invoice line, priced: position from 1, amount = rate x units."""

    position: int
    service_code: str
    description: str
    units: int
    rate_cents: int
    amount_cents: int
    date_of_service: date | None


def code_of(line: dict) -> str:
    """The service code a requested line names, as codes are kept (upper case)."""
    return line["service_code"].upper()


def check_session(client_id: str, session_client_id: str | None, session_invoice_id: str | None) -> None:
    """An invoice for a session bills a completed session of this client (None: billing has no such session),
    and only once."""
    if session_client_id is None or session_client_id != client_id:
        raise NotACompletedSession("No completed session with this id for this client.",
                                   errors={"appointment_id": ["Not a completed session of this client."]})
    if session_invoice_id:
        raise AlreadyInvoiced("This session already has an invoice.")


def check_lines(lines: list[dict], rates: dict[str, Rate]) -> None:
    """Every line names a service code that exists and is active; the refusal names each line that does not
    (by its index in the request)."""
    errors = {}
    for index, line in enumerate(lines):
        rate = rates.get(code_of(line))
        if rate is None or not rate.active:
            errors[str(index)] = {"service_code": [f"Unknown service code {line['service_code']}."]}
    if errors:
        raise UnknownServiceCodes("Some lines name unknown service codes.", errors={"lines": errors})


def priced_lines(lines: list[dict], rates: dict[str, Rate], date_of_service: date | None) -> list[Line]:
    """The requested lines (checked by check_lines) at their codes' rates: a line without a description has its
    code's, without a date of service the invoice's."""
    priced = []
    for position, line in enumerate(lines, start=1):
        rate = rates[code_of(line)]
        priced.append(Line(position=position, service_code=rate.code,
                           description=line.get("description") or rate.description, units=line["units"],
                           rate_cents=rate.rate_cents, amount_cents=rate.rate_cents * line["units"],
                           date_of_service=line.get("date_of_service") or date_of_service))
    return priced


def invoice_total(lines: list[Line]) -> int:
    return sum(line.amount_cents for line in lines)


def due_date(issued_on: date, due_days: int, requested: date | None = None) -> date:
    """The due date asked for, else `due_days` after the practice's calendar day of issue."""
    return requested or issued_on + timedelta(days=due_days)
