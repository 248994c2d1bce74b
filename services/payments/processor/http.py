"""The card processor over HTTP (the sandbox in development and tests, a real processor's API in production).

Retries are where they cannot charge twice:

- a connection that was never established (refused, DNS, connect timeout) is
  retried for every method: the request never left this process;
- GETs (token and charge look-ups) are also retried on read errors, 429/502/503/504;
- a POST that was sent is never retried here. If its answer is lost (read timeout,
  dropped connection, 500/502/504, an unreadable body) the outcome is unknown and
  `ProcessorTimeout` tells the caller to reconcile with `find_charge`/`find_refund`.

Only tokens, amounts and our references travel through here; card numbers never do. An id that goes
into a URL path (a token, a customer) is quoted as one segment, dots included: never a path of its own.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from services.payments.processor.base import (
    REFUND_FAILURE_MESSAGES,
    CardDetails,
    CardProcessor,
    CardTokenInvalid,
    ChargeResult,
    PaymentMethodNotOwned,
    ProcessorRejected,
    ProcessorTimeout,
    ProcessorUnavailable,
    ReferenceConflict,
    RefundResult,
    SavedCard,
    failure_message,
    normalize_failure_code,
)

log = logging.getLogger(__name__)

READ_ONLY = frozenset({"GET"})
# Answers that say "nothing was done, come back later", whatever the method.
NOTHING_DONE = frozenset({429, 503})


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the error happened before a byte of the request reached the processor."""
    # Not every ProxyError or SSLError: through a plain-HTTP proxy, urllib3 calls any failure a ProxyError, and
    # a TLS error while reading the answer is an SSLError too, both after the request went out. Only a
    # connection that never opened, or a certificate this side refused, is found below.
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError | ConnectTimeoutError | ssl.SSLCertVerificationError):
            return True
        # requests wraps urllib3's MaxRetryError, which keeps the last error in .reason; urllib3's ProxyError
        # keeps its own in .original_error
        reason = getattr(cause, "reason", None)
        if not isinstance(reason, BaseException):
            reason = getattr(cause, "original_error", None)
        if isinstance(reason, BaseException):
            cause = reason
            continue
        cause = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else cause.__cause__
    return False


def _segment(value: str) -> str:
    """One path segment: `/`, `?`, `#`, `%` and even `.` percent-encoded, so `..` or `../../v1/charges` names
    an (unknown) resource instead of walking to another endpoint (urllib3 resolves literal dot segments)."""
    return quote(value, safe="").replace(".", "%2E")


def _error(body: Any) -> dict:
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


class HttpProcessor(CardProcessor):
    def __init__(self, base_url: str, api_key: str, timeout: tuple[float, float] = (3.05, 20.0), *,
                 retries: int = 2, backoff: float = 0.2, pool_maxsize: int = 10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                                     "User-Agent": "client-portal-payments/1.0"})
        retry = Retry(
            total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
            # urllib3 retries connection errors for any method (nothing was sent) but read
            # errors and statuses only for these: POSTs are never repeated after sending.
            allowed_methods=READ_ONLY, status_forcelist=(429, 502, 503, 504), backoff_factor=backoff,
            raise_on_status=False,
            # A Retry-After of minutes would hold a client's checkout; back off briefly instead.
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=pool_maxsize)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # The environment's proxy (HTTPS_PROXY, NO_PROXY, ...) and CA bundle settings, read once here: with
        # trust_env, requests reads every environment variable again on each call (a third of a charge's CPU
        # on our side). A change to them takes a restart, like every other setting.
        self.session.trust_env = False
        self.session.proxies = requests.utils.get_environ_proxies(self.base_url)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.session.verify = bundle

    def close(self) -> None:
        self.session.close()

    # --- the contract ------------------------------------------------------------------------

    def retrieve_token(self, token: str) -> CardDetails:
        response, body = self._send("GET", f"/v1/tokens/{_segment(token)}")
        if response.status_code == 404:
            raise CardTokenInvalid("The card token is unknown to the processor.", status=404,
                                   code=_error(body).get("code"))
        self._raise_for_refusal(response, body)
        if isinstance(body, dict) and body.get("used"):
            raise CardTokenInvalid("The card token was used already.", status=400, code="token_already_used")
        return self._card_details(body)

    @staticmethod
    def _card_details(body: Any) -> CardDetails:
        try:
            return CardDetails(brand=body["brand"], last4=body["last4"], exp_month=int(body["exp_month"]),
                               exp_year=int(body["exp_year"]), cardholder_name=body.get("cardholder_name") or "",
                               fingerprint=body["fingerprint"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProcessorUnavailable("The processor answered an unreadable card.") from exc

    def create_customer(self, reference: str) -> str:
        # One customer per reference at the processor: a POST repeated after a lost answer finds the same one.
        response, body = self._send("POST", "/v1/customers", json={"reference": reference})
        self._raise_for_refusal(response, body)
        try:
            return str(body["id"])
        except (KeyError, TypeError) as exc:
            raise ProcessorTimeout("The processor answered an unreadable customer.") from exc

    def attach_card(self, *, customer_id: str, token: str) -> SavedCard:
        response, body = self._send("POST", f"/v1/customers/{_segment(customer_id)}/payment_methods",
                                    json={"token": token})
        self._raise_for_token(response, body)
        self._raise_for_refusal(response, body)
        try:
            method_id, owner = str(body["id"]), str(body["customer"])
        except (KeyError, TypeError) as exc:
            raise ProcessorTimeout("The processor answered an unreadable payment method.") from exc
        log.info("processor card attached", extra={"fields": {"payment_method": method_id, "customer": owner}})
        return SavedCard(payment_method_id=method_id, customer_id=owner, card=self._card_details(body))

    @staticmethod
    def _raise_for_token(response: requests.Response, body: Any) -> None:
        """A token the processor will not take (unknown, or spent): the client's to fix, nothing happened."""
        code = _error(body).get("code")
        if response.status_code == 404 or (response.status_code == 400 and code == "token_already_used"):
            raise CardTokenInvalid("The card token is unknown to the processor or was used already.",
                                   status=response.status_code, code=code)
        if response.status_code == 400 and code == "payment_method_customer_mismatch":
            raise PaymentMethodNotOwned("The payment method is not this customer's.", status=400, code=code)

    def charge(self, *, token: str | None = None, payment_method: str | None = None, customer: str | None = None,
               amount_cents: int, currency: str, reference: str, description: str) -> ChargeResult:
        started = time.perf_counter()
        card = {"token": token} if token is not None else {"payment_method": payment_method, "customer": customer}
        response, body = self._send("POST", "/v1/charges", json={
            **card, "amount_cents": amount_cents, "currency": currency, "reference": reference,
            "description": description})
        status = response.status_code
        if status == 402 and _error(body).get("code"):
            # A processor that answers declines as errors (Stripe does) rather than as failed charges.
            error = _error(body)
            code = normalize_failure_code(error["code"])
            result = ChargeResult(status="failed", charge_id=error.get("charge"), failure_code=code,
                                  failure_message=failure_message(code), amount_cents=amount_cents,
                                  currency=currency, reference=reference)
        else:
            self._raise_for_token(response, body)
            self._raise_for_refusal(response, body)
            result = self._charge_result(body, unreadable=ProcessorTimeout)
        log.info("processor charge", extra={"fields": {
            "reference": reference, "amount_cents": amount_cents, "currency": currency, "status": result.status,
            "failure_code": result.failure_code, "charge_id": result.charge_id,
            "elapsed_ms": round((time.perf_counter() - started) * 1000)}})
        return result

    def find_charge(self, reference: str) -> ChargeResult | None:
        response, body = self._send("GET", "/v1/charges", params={"reference": reference})
        if response.status_code == 404:
            return None
        self._raise_for_refusal(response, body)
        return self._charge_result(body, unreadable=ProcessorUnavailable)

    def refund(self, *, charge_id: str, amount_cents: int, reference: str) -> RefundResult:
        response, body = self._send("POST", "/v1/refunds", json={
            "charge_id": charge_id, "amount_cents": amount_cents, "reference": reference})
        code = _error(body).get("code")
        if response.status_code == 409 and code in REFUND_FAILURE_MESSAGES:
            result = RefundResult(status="failed", refund_id=None, failure_code=code,
                                  failure_message=REFUND_FAILURE_MESSAGES[code], amount_cents=amount_cents,
                                  charge_id=charge_id, reference=reference)
        else:
            self._raise_for_refusal(response, body)
            result = self._refund_result(body, unreadable=ProcessorTimeout)
        log.info("processor refund", extra={"fields": {
            "reference": reference, "charge_id": charge_id, "amount_cents": amount_cents, "status": result.status,
            "failure_code": result.failure_code, "refund_id": result.refund_id}})
        return result

    def find_refund(self, reference: str) -> RefundResult | None:
        response, body = self._send("GET", "/v1/refunds", params={"reference": reference})
        if response.status_code == 404:
            return None
        self._raise_for_refusal(response, body)
        return self._refund_result(body, unreadable=ProcessorUnavailable)

    # --- transport -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs) -> tuple[requests.Response, Any]:
        """One call; transport failures become ProcessorUnavailable or, once a POST is out, ProcessorTimeout."""
        read_only = method in READ_ONLY
        try:
            response = self.session.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            if _never_sent(exc):
                raise ProcessorUnavailable(f"Could not connect to the card processor ({type(exc).__name__}).") \
                    from exc
            if read_only:
                # A look-up changes nothing: whatever happened, asking again is safe.
                raise ProcessorUnavailable(f"The card processor did not answer a look-up ({type(exc).__name__}).") \
                    from exc
            raise ProcessorTimeout(f"The card processor did not answer {method} {path} in time "
                                   f"({type(exc).__name__}); the outcome is unknown.") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return response, body

    def _raise_for_refusal(self, response: requests.Response, body: Any) -> None:
        """Raise for anything but a 2xx answer. `response.request.method` tells whether the outcome is unknown."""
        status = response.status_code
        if 200 <= status < 300:
            return
        method = response.request.method if response.request is not None else "GET"
        error = _error(body)
        code, message = error.get("code"), error.get("message") or f"HTTP {status}"
        if status in NOTHING_DONE or (status >= 500 and method in READ_ONLY):
            raise ProcessorUnavailable(f"The card processor is unavailable (HTTP {status}).")
        if status >= 500:
            # 500/502/504 on a POST: the work may have been done before the error.
            raise ProcessorTimeout(f"The card processor failed with HTTP {status}; the outcome is unknown.")
        if status == 409 and code == "idempotency_conflict":
            raise ReferenceConflict(message, status=status, code=code)
        raise ProcessorRejected(f"The card processor refused the request (HTTP {status}, {code}): {message}",
                                status=status, code=code)

    @staticmethod
    def _charge_result(body: Any, *, unreadable: type[Exception]) -> ChargeResult:
        try:
            status = body["status"]
            if status not in ("succeeded", "failed"):
                raise ValueError(status)
            code = normalize_failure_code(body.get("failure_code")) if status == "failed" else None
            if status == "failed" and code is None:
                code = "card_declined"
            return ChargeResult(status=status, charge_id=body["id"], failure_code=code,
                                failure_message=failure_message(code), amount_cents=body.get("amount_cents"),
                                currency=body.get("currency"), reference=body.get("reference"),
                                amount_refunded_cents=int(body.get("amount_refunded_cents") or 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise unreadable("The card processor answered an unreadable charge.") from exc

    @staticmethod
    def _refund_result(body: Any, *, unreadable: type[Exception]) -> RefundResult:
        try:
            status = body["status"]
            if status not in ("succeeded", "failed"):
                raise ValueError(status)
            code = body.get("failure_code") if status == "failed" else None
            return RefundResult(status=status, refund_id=body["id"], failure_code=code,
                                failure_message=failure_message(code), amount_cents=body.get("amount_cents"),
                                charge_id=body.get("charge_id"), reference=body.get("reference"))
        except (KeyError, TypeError, ValueError) as exc:
            raise unreadable("The card processor answered an unreadable refund.") from exc
