"""The practice's settings as identity has them now, for the decisions a switch must stop at once.

Every service keeps a projection of practice.settings_changed, and it lags: by the relay's and the consumer's
delay, and for as long as the broker is down. A projection is good for showing things (is Pay Now offered?);
a decision that a switch turned off must stop (charge a card, save one, run AutoPay, hand out a billing
document) is taken on the owner's current answer (ARCHITECTURE: a synchronous call with a timeout): the rule
callers follow is in `confirm()`.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

import urllib3

log = logging.getLogger(__name__)


class SettingsUnavailable(Exception):
    """Identity did not say (no connection, a timeout, an error answer, an unreadable body): decide nothing."""


class SettingsSource(Protocol):
    def current(self) -> dict: ...


class PracticeSettings:
    """`GET <identity>/internal/v1/settings` with the internal key: the same object as GET /staff/settings.

    urllib3 directly (as shared.auth's JWKS fetch), not requests: this runs once per payment, and requests costs
    several times the CPU of the call itself. No proxy from the environment: the URL is the cluster's own."""

    def __init__(self, identity_url: str, api_key: str, *, timeout: float = 2.0, pool_maxsize: int = 10):
        self.url = identity_url.rstrip("/") + "/internal/v1/settings"
        self.headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        # No retries: the caller answers "try again" at once rather than hold a client's checkout.
        self.http = urllib3.PoolManager(num_pools=1, maxsize=pool_maxsize, retries=False,
                                        timeout=urllib3.Timeout(connect=min(1.0, timeout), read=timeout))

    def current(self) -> dict:
        try:
            response = self.http.request("GET", self.url, headers=self.headers)
        except urllib3.exceptions.HTTPError as exc:
            raise SettingsUnavailable(f"identity did not answer ({type(exc).__name__})") from exc
        if response.status != 200:
            raise SettingsUnavailable(f"identity answered {response.status}")
        try:
            body = json.loads(response.data)
        except ValueError as exc:
            raise SettingsUnavailable("identity answered an unreadable body") from exc
        if not isinstance(body, dict):
            raise SettingsUnavailable("identity answered an unreadable body")
        return body


def confirm(source: SettingsSource, switch: str) -> bool:
    """Whether `switch` is on at identity now. SettingsUnavailable when identity cannot say (a switch missing
    from its answer included): the caller then refuses (and says "try again"), never decides on a guess.

    The rule every caller follows: the local projection says off -> refuse without asking; it says on -> ask
    here before acting; off here, or no answer -> refuse."""
    try:
        value = source.current().get(switch)
    except SettingsUnavailable:
        log.warning("practice settings not confirmed", extra={"fields": {"switch": switch}})
        raise
    if not isinstance(value, bool):
        raise SettingsUnavailable(f"identity's settings have no {switch}")
    return value
