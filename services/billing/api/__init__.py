"""Billing's HTTP adapters: thin routes that parse, call one use case, and dump."""

from flask import Response, current_app

from services.billing.service import BillingService


def billing() -> BillingService:
    return current_app.extensions["billing"]


def pdf_response(name: str, data: bytes) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
