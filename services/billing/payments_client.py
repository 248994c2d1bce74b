"""Billing's client of the payments service: the one synchronous call it makes (AutoPay charges)."""

from __future__ import annotations

import requests


class PaymentsUnavailable(Exception):
    """No answer from payments: the run records it and tries again with the same key next time."""


class PaymentsClient:
    def __init__(self, base_url: str, api_key: str, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.http = requests.Session()

    def autopay_charge(self, *, client_id: str, amount_cents: int, currency: str, idempotency_key: str) -> dict:
        """Charges the client's default card; answers {id, status, failure_code?, failure_message?}.
        The same key returns the first answer and never charges twice (payments keeps the key)."""
        try:
            response = self.http.post(
                f"{self.base_url}/internal/v1/autopay-charges", timeout=(2, self.timeout),
                headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": idempotency_key},
                json={"client_id": client_id, "amount_cents": amount_cents, "currency": currency})
        except requests.RequestException as exc:
            raise PaymentsUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 409:
            # 409: the first request with this key is still running (or the key met another body): the
            # outcome is unknown, so the night is not failed; the next run asks again with the same key.
            raise PaymentsUnavailable(f"payments answered {response.status_code}")
        body = response.json() if response.content else {}
        if response.status_code >= 400:
            # e.g. no default card: the charge could not be made — a failed night for the client
            return {"id": None, "status": "failed", "failure_code": body.get("failure_code") or body.get("type", ""),
                    "failure_message": body.get("detail")}
        return body
