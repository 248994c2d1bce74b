"""Hosted card fields: the processor's own page that a portal embeds, so card data never crosses the portal's origin.

As with a real processor's hosted fields (PCI DSS SAQ A), the cardholder types the card
number and security code into this page, served by the processor's origin inside an
iframe of the portal; the page tokenizes the card with `POST /v1/tokens` (same origin)
and hands the portal only the token, the brand and the last four digits.

The page
--------
    GET /v1/card-fields?origin=<the portal's origin>        (no API key)

`origin` is the embedding page's origin, exactly as `window.location.origin` gives it:
`http(s)://host[:port]`, no path, query, fragment or user name (the scheme and host are
compared in lower case, a default port is dropped). It must be allowed by
SANDBOX_CORS_ORIGINS: any origin when the list holds "*", else one of the list. Anything
else is a 400 problem+json (`error.code` "invalid_origin", `errors.origin`).

The answer is an HTML page that only that origin may frame (`frame-ancestors <origin>`
in its Content-Security-Policy), running only /v1/card-fields.js and styled only by
/v1/card-fields.css (no inline script or style). Its fields, in this order, by `name`:
cardholder_name, card_number, exp (MM/YY or MM/YYYY), cvc, postal_code. The content is
366 px tall at any width from 320 px up, and up to about 630 px with every error shown
(measured in Chromium): size the iframe from the height the page reports.

Messages (window.postMessage, plain objects)
--------------------------------------------
The page posts only to `window.parent`, always with targetOrigin = the origin it was
asked for (never "*"), and ignores every message whose `event.origin` is not that origin
or whose `event.source` is not its parent. The portal should likewise check that
`event.origin` is the processor's origin (and `event.source` its iframe's contentWindow)
and post to the iframe with targetOrigin = the processor's origin.

From the page to the portal:
  {type: "card-fields:ready", height}      on load, and again whenever the page's height
                                           changes (errors shown or cleared): height in
                                           CSS pixels, for the iframe's height.
  {type: "card-fields:submit"}             Enter was pressed in a field: run your Continue
                                           (which sends card-fields:tokenize), so keyboard
                                           users never have to leave the fields.
  {type: "card-fields:token", token, brand, last4, exp_month, exp_year,
   cardholder_name, postal_code}           the card is tokenized (token "tok_...", brand
                                           "visa" | "mastercard" | "amex" | "discover" |
                                           "unknown", exp_year four digits): send the token
                                           to the portal's API, never the card.
  {type: "card-fields:error", message, fields}
                                           the card was not tokenized. `message` is one
                                           sentence for the person; `fields` maps field
                                           names (as above) to the message shown at that
                                           field, {} when no one field is at fault (the
                                           processor unreachable, an unexpected answer).
                                           The page has already shown the errors itself,
                                           at the fields and in its own live region.

From the portal to the page:
  {type: "card-fields:tokenize"}           check the fields and tokenize: answered by one
                                           card-fields:token or card-fields:error. A second
                                           tokenize while one is under way is ignored (its
                                           answer is the first one's).
  {type: "card-fields:reset"}              empty every field and clear the errors.

The checks made in the page before tokenizing: every field filled in; the card number
digits only once spaces and dashes are removed; the expiry MM/YY or MM/YYYY and not
before this month (UTC, as the processor counts); the security code 3 or 4 digits. The
processor then checks the number (brand length, Luhn), the expiry and the CVC for the
brand, and its refusal (402 incorrect_number, expired_card, incorrect_cvc) is shown at
the field it concerns with the processor's message.

The script never logs, stores or posts the card number or the security code.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from jinja2 import Environment

from services.payments.sandbox.errors import InvalidOrigin

STATIC = Path(__file__).parent / "static"

_ORIGIN = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?",
    re.IGNORECASE | re.ASCII)
_DEFAULT_PORTS = {"http": 80, "https": 443}

MISSING = "Name the portal's origin: ?origin=<scheme>://<host>[:<port>], as window.location.origin gives it."
MALFORMED = "The origin must be http(s)://host[:port], with no path, query, fragment or user name."
NOT_ALLOWED = "This origin may not embed the card fields: it is not in SANDBOX_CORS_ORIGINS."


def canonical_origin(raw: str) -> str | None:
    """The origin as browsers serialize it (lower case, no default port), or None when `raw` is not one."""
    match = _ORIGIN.fullmatch(raw or "")
    if match is None or len(match["host"]) > 253:
        return None
    scheme, host = match["scheme"].lower(), match["host"].lower()
    if host.startswith("["):
        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    port = int(match["port"]) if match["port"] is not None else _DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        return None
    return f"{scheme}://{host}" if port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}"


def embedding_origin(values: list[str], allowed: tuple[str, ...]) -> str:
    """The one origin (of the `origin` query parameter's values) that may frame the page; InvalidOrigin if none."""
    if len(values) != 1 or not values[0]:
        raise InvalidOrigin(MISSING if not any(values) else "Name one origin, once.")
    origin = canonical_origin(values[0])
    if origin is None:
        raise InvalidOrigin(MALFORMED)
    if "*" not in allowed and origin not in {canonical_origin(o) for o in allowed}:
        raise InvalidOrigin(NOT_ALLOWED)
    return origin


def content_security_policy(origin: str) -> str:
    """Only our own script, style and requests; no form posts anywhere; framed by the one portal origin."""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            f"form-action 'none'; base-uri 'none'; frame-ancestors {origin}")


def page_headers(origin: str) -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(origin), "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


# No inline script or style: the CSP would refuse them, and the tests check there are none.
PAGE = Environment(autoescape=True).from_string("""\
<!doctype html>
<html lang="en" data-portal-origin="{{ origin }}" data-tokens-url="{{ tokens_url }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Card details (sandbox card processor)</title>
<link rel="stylesheet" href="{{ css_url }}">
<script src="{{ js_url }}" defer></script>
</head>
<body>
<form id="card-fields" novalidate>
  <p id="card-fields-error" class="general-error" role="alert" aria-live="assertive" aria-atomic="true"></p>
  <div class="field">
    <label for="cardholder_name">Cardholder name</label>
    <input id="cardholder_name" name="cardholder_name" type="text" autocomplete="cc-name" maxlength="100"
           autocapitalize="words" spellcheck="false" required aria-describedby="cardholder_name-error">
    <p id="cardholder_name-error" class="field-error"></p>
  </div>
  <div class="field">
    <label for="card_number">Card number</label>
    <input id="card_number" name="card_number" type="text" inputmode="numeric" autocomplete="cc-number"
           maxlength="23" spellcheck="false" required aria-describedby="card_number-error">
    <p id="card_number-error" class="field-error"></p>
  </div>
  <div class="row">
    <div class="field">
      <label for="exp">Expiration date</label>
      <span id="exp-hint" class="hint">MM/YY</span>
      <input id="exp" name="exp" type="text" placeholder="MM/YY" autocomplete="cc-exp" maxlength="9"
             spellcheck="false" required aria-describedby="exp-hint exp-error">
      <p id="exp-error" class="field-error"></p>
    </div>
    <div class="field">
      <label for="cvc">Security code</label>
      <span id="cvc-hint" class="hint">3 or 4 digits</span>
      <input id="cvc" name="cvc" type="text" inputmode="numeric" autocomplete="cc-csc" maxlength="4"
             spellcheck="false" required aria-describedby="cvc-hint cvc-error">
      <p id="cvc-error" class="field-error"></p>
    </div>
  </div>
  <div class="field">
    <label for="postal_code">Billing postal code</label>
    <input id="postal_code" name="postal_code" type="text" autocomplete="postal-code" maxlength="16"
           spellcheck="false" required aria-describedby="postal_code-error">
    <p id="postal_code-error" class="field-error"></p>
  </div>
  <noscript><p class="general-error">These card fields need JavaScript.</p></noscript>
</form>
</body>
</html>
""")


def render_page(*, origin: str, tokens_url: str, js_url: str, css_url: str) -> str:
    return PAGE.render(origin=origin, tokens_url=tokens_url, js_url=js_url, css_url=css_url)
