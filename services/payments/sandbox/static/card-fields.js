// Hosted card fields of the sandbox processor (plain ES2017, no libraries). The message protocol is described in
// services/payments/sandbox/card_fields.py. The card number and the security code go only to this origin's
// /v1/tokens: they are never logged, stored, or posted to the portal, which gets the token and the last four digits.
(function () {
  "use strict";

  const root = document.documentElement;
  const portalOrigin = root.getAttribute("data-portal-origin") || "";
  const tokensUrl = root.getAttribute("data-tokens-url") || "/v1/tokens";
  const form = document.getElementById("card-fields");
  const general = document.getElementById("card-fields-error");
  if (!portalOrigin || !form || !general) return;

  const FIELDS = ["cardholder_name", "card_number", "exp", "cvc", "postal_code"];
  const LABELS = {
    cardholder_name: "Cardholder name", card_number: "Card number", exp: "Expiration date",
    cvc: "Security code", postal_code: "Billing postal code",
  };
  // The field a processor refusal is about, by its error code.
  const CODE_FIELDS = {
    incorrect_number: "card_number", invalid_number: "card_number", expired_card: "exp",
    invalid_expiry_month: "exp", invalid_expiry_year: "exp", incorrect_cvc: "cvc", invalid_cvc: "cvc",
  };
  // The field of a 422's `errors` key (the processor's request fields).
  const REQUEST_FIELDS = {
    cardholder_name: "cardholder_name", card_number: "card_number", exp_month: "exp", exp_year: "exp",
    cvc: "cvc", postal_code: "postal_code",
  };
  const UNREACHABLE = "The card could not be checked: the card processor did not answer. "
    + "Check your connection and try again.";
  const UNEXPECTED = "The card could not be checked. Try again in a moment.";
  const TIMEOUT_MS = 20000;

  let busy = false;
  let lastHeight = -1;

  function post(message) {
    window.parent.postMessage(message, portalOrigin);
  }

  function field(name) {
    return form.elements.namedItem(name);
  }

  function reportHeight() {
    const height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      post({ type: "card-fields:ready", height: height });
    }
  }

  function showFieldErrors(errors) {
    FIELDS.forEach(function (name) {
      const input = field(name);
      const message = errors[name] || "";
      document.getElementById(name + "-error").textContent = message;
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    });
  }

  function summary(errors) {
    const names = FIELDS.filter(function (name) { return errors[name]; });
    if (names.length === 1) return errors[names[0]];
    return "Check these card details: " + names.map(function (name) { return LABELS[name]; }).join(", ") + ".";
  }

  function fail(message, errors) {
    showFieldErrors(errors);
    general.textContent = message;
    reportHeight();
    const first = FIELDS.find(function (name) { return errors[name]; });
    // Move focus to the field only when it is already in this page (Enter pressed here): a press on the portal's
    // own button keeps its focus, and the portal announces the message as it likes.
    if (first && document.hasFocus()) field(first).focus();
    post({ type: "card-fields:error", message: message, fields: errors });
  }

  function clearErrors() {
    showFieldErrors({});
    general.textContent = "";
    reportHeight();
  }

  // The card as the processor takes it, or the message of each field at fault.
  function readCard() {
    const errors = {};
    const name = field("cardholder_name").value.trim();
    const number = field("card_number").value.replace(/[\s-]+/g, "");
    const exp = field("exp").value.trim();
    const cvc = field("cvc").value.trim();
    const postalCode = field("postal_code").value.trim();

    if (!name) errors.cardholder_name = "Enter the name on the card.";

    if (!number) errors.card_number = "Enter the card number.";
    else if (!/^[0-9]+$/.test(number)) errors.card_number = "The card number can have only digits and spaces.";

    let month = 0;
    let year = 0;
    const parts = /^([0-9]{1,2})\s*\/\s*([0-9]{2}|[0-9]{4})$/.exec(exp);
    if (!exp) errors.exp = "Enter the expiration date.";
    else if (!parts) errors.exp = "Enter the expiration date as MM/YY.";
    else {
      month = parseInt(parts[1], 10);
      year = parseInt(parts[2], 10);
      if (parts[2].length === 2) year += 2000;
      const now = new Date();
      const thisYear = now.getUTCFullYear();
      const thisMonth = now.getUTCMonth() + 1;
      if (month < 1 || month > 12) errors.exp = "Enter a month from 01 to 12.";
      else if (year > 2100) errors.exp = "Enter the expiration date as MM/YY.";
      else if (year < thisYear || (year === thisYear && month < thisMonth)) {
        errors.exp = "The expiration date is in the past.";
      }
    }

    if (!cvc) errors.cvc = "Enter the security code.";
    else if (!/^[0-9]{3,4}$/.test(cvc)) errors.cvc = "Enter the 3 or 4 digit security code.";

    if (!postalCode) errors.postal_code = "Enter the billing postal code.";

    if (Object.keys(errors).length) return { errors: errors };
    return {
      errors: null,
      request: {
        card_number: number, exp_month: month, exp_year: year, cvc: cvc, cardholder_name: name,
        postal_code: postalCode,
      },
    };
  }

  // A refusal of /v1/tokens: at the field it concerns when there is one, with the processor's words.
  function refused(status, body) {
    const error = body && typeof body === "object" ? body.error : null;
    if (error && error.message && CODE_FIELDS[error.code]) {
      const errors = {};
      errors[CODE_FIELDS[error.code]] = String(error.message);
      fail(String(error.message), errors);
      return;
    }
    if (status === 422 && body && body.errors && typeof body.errors === "object") {
      const errors = {};
      Object.keys(body.errors).forEach(function (key) {
        const name = REQUEST_FIELDS[key];
        if (name && !errors[name]) errors[name] = "Check the " + LABELS[name].toLowerCase() + ".";
      });
      if (Object.keys(errors).length) {
        fail(summary(errors), errors);
        return;
      }
    }
    fail(error && error.message ? String(error.message) : UNEXPECTED, {});
  }

  async function tokenize() {
    if (busy) return;
    const card = readCard();
    if (card.errors) {
      fail(summary(card.errors), card.errors);
      return;
    }
    busy = true;
    form.setAttribute("aria-busy", "true");
    clearErrors();
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    let status = 0;
    let body = null;
    try {
      const response = await fetch(tokensUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(card.request),
        credentials: "omit",
        cache: "no-store",
        signal: controller ? controller.signal : undefined,
      });
      status = response.status;
      try {
        body = await response.json();
      } catch (unreadable) {
        body = null;
      }
    } catch (unreachable) {
      status = 0;
    } finally {
      if (timer) clearTimeout(timer);
      busy = false;
      form.removeAttribute("aria-busy");
    }
    if (status === 0) {
      fail(UNREACHABLE, {});
      return;
    }
    if (status === 201 && body && typeof body.token === "string") {
      post({
        type: "card-fields:token", token: body.token, brand: body.brand, last4: body.last4,
        exp_month: body.exp_month, exp_year: body.exp_year, cardholder_name: card.request.cardholder_name,
        postal_code: card.request.postal_code,
      });
      return;
    }
    refused(status, body);
  }

  function reset() {
    form.reset();
    clearErrors();
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== portalOrigin || event.source !== window.parent) return;
    const data = event.data;
    if (!data || typeof data !== "object") return;
    if (data.type === "card-fields:tokenize") tokenize();
    else if (data.type === "card-fields:reset") reset();
  });

  // Enter in any field asks the portal to run its Continue (which sends card-fields:tokenize): keyboard-only use.
  form.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.isComposing || event.target.tagName !== "INPUT") return;
    event.preventDefault();
    post({ type: "card-fields:submit" });
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    post({ type: "card-fields:submit" });
  });

  // A field's error goes once the person changes that field.
  form.addEventListener("input", function (event) {
    const name = event.target.name;
    if (FIELDS.indexOf(name) === -1 || !field(name).hasAttribute("aria-invalid")) return;
    field(name).removeAttribute("aria-invalid");
    document.getElementById(name + "-error").textContent = "";
    reportHeight();
  });

  if (typeof ResizeObserver === "function") new ResizeObserver(reportHeight).observe(document.body);
  if (document.readyState === "complete") reportHeight();
  else window.addEventListener("load", reportHeight);
})();
