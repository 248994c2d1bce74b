// The portal's and the console's one script: small progressive enhancements. Every page works without it,
// except entering a new card (the processor's hosted fields need scripts on both sides).
(function () {
  "use strict";

  // --- idle sign-out: a warning a minute before, then Sign in (the server ends the session on its own too) ---
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  if (idle > 0) {
    var dialog = document.getElementById("idle-warning");
    var warnTimer, endTimer, leaving = false;
    var arm = function () {
      clearTimeout(warnTimer); clearTimeout(endTimer);
      warnTimer = setTimeout(function () { if (dialog && dialog.showModal && !dialog.open) dialog.showModal(); },
        Math.max(0, idle - 60) * 1000);
      endTimer = setTimeout(function () {
        leaving = true;  // the bell's refresh must not race this navigation
        var target = body.getAttribute("data-signin") || "/signin";
        var here = location.pathname + location.search;
        location.assign(target + (target.indexOf("?") < 0 ? "?" : "&") + "next=" + encodeURIComponent(here));
      }, idle * 1000);
    };
    arm();
    if (dialog) {
      var stay = dialog.querySelector("form");
      stay.addEventListener("submit", function (event) {
        event.preventDefault();
        var signIn = function () { location.assign(body.getAttribute("data-signin") || "/signin"); };
        fetch(stay.action, { method: "POST", body: new FormData(stay), credentials: "same-origin", redirect: "manual",
                             headers: { "X-Portal-Keepalive": "1" } })
          .then(function (r) { if (r.status === 204) { dialog.close(); arm(); } else { signIn(); } }, signIn);
      });
    }
    // A request the page makes by itself (the bell's refresh, X-Portal-Background) is not activity: the server
    // does not count it either, so it must not put off the warning.
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (leaving) event.preventDefault();
    });
    document.addEventListener("htmx:afterRequest", function (event) {
      var config = event.detail && event.detail.requestConfig;
      if (config && config.headers && config.headers["X-Portal-Background"] === "1") return;
      arm();
    });
  }

  // --- print buttons ---
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // --- one submit per form that pays ---
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.hasAttribute("data-cancel")) return;
      var button = form.querySelector("button[type=submit]:not([data-cancel])");
      setTimeout(function () { if (button) { button.disabled = true; button.textContent = "Submitting…"; } }, 0);
    });
  });

  // --- Pay Now, step 1: Check All, and the Custom Amount checked as it is typed ---
  var amountForm = document.querySelector("form[data-pay-amount]");
  if (amountForm) {
    var pick = function (mode) { var radio = document.getElementById("mode-" + mode); if (radio) radio.checked = true; };
    var all = amountForm.querySelector("[data-check-all]");
    var boxes = amountForm.querySelectorAll("input[name=invoice_ids]");
    if (all) {
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
        pick("invoices");
      });
    }
    boxes.forEach(function (box) { box.addEventListener("change", function () { pick("invoices"); }); });
    var amount = document.getElementById("f-amount");
    if (amount) {
      var error = document.getElementById("f-amount-error");
      var max = parseInt(amount.getAttribute("data-max-cents"), 10);
      var check = function () {
        var text = amount.value.replace(/[$,\s]/g, "");
        var message = "";
        if (text !== "") {
          if (!/^\d*(\.\d{0,2})?$/.test(text) || text === ".") message = "Enter an amount in dollars and cents, such as 25.00.";
          else if (Math.round(parseFloat(text) * 100) > max) message = "The amount cannot be more than your balance of " + amount.getAttribute("data-max-text") + ".";
          else if (Math.round(parseFloat(text) * 100) <= 0) message = "Enter an amount greater than zero.";
        }
        error.textContent = message;
        if (message) amount.setAttribute("aria-invalid", "true"); else amount.removeAttribute("aria-invalid");
        return message;
      };
      amount.addEventListener("input", function () { pick("custom"); check(); });
      amountForm.addEventListener("submit", function (event) {
        if (event.submitter && event.submitter.hasAttribute("data-cancel")) return;
        var custom = document.getElementById("mode-custom");
        if (custom && custom.checked && check()) { event.preventDefault(); amount.focus(); }
      });
    }
  }

  // --- a new card: the processor's hosted fields in a frame; only their token comes back ---
  document.querySelectorAll("form[data-tokenize-form]").forEach(function (form) {
    var holder = form.querySelector("[data-card-frame]");
    if (!holder) return;
    var frame = holder.querySelector("iframe");
    var origin = holder.getAttribute("data-processor-origin");
    var errorBox = holder.querySelector("[data-card-error]");
    var when = form.getAttribute("data-tokenize-when");
    var set = function (name, value) { form.querySelector("input[name=" + name + "]").value = value == null ? "" : String(value); };
    var waiting = false;

    var newChosen = function () {
      if (!when) return true;
      var checked = form.querySelector("input[name=method]:checked");
      return checked && checked.value === when;
    };
    var panel = form.querySelector("[data-shown-when]");
    var sync = function () { if (panel) panel.hidden = !newChosen(); };
    form.querySelectorAll("input[name=method]").forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();

    window.addEventListener("message", function (event) {
      if (event.origin !== origin || event.source !== frame.contentWindow) return;
      var data = event.data || {};
      if (data.type === "card-fields:ready" && data.height) {
        frame.style.height = Math.min(900, Math.max(200, data.height)) + "px";
      } else if (data.type === "card-fields:token" && waiting) {
        waiting = false;
        set("processor_token", data.token); set("card_brand", data.brand); set("card_last4", data.last4);
        set("card_exp_month", data.exp_month); set("card_exp_year", data.exp_year);
        errorBox.textContent = "";
        form.submit();
      } else if (data.type === "card-fields:error") {
        waiting = false;  // the processor's page shows and announces its own errors, next to its fields
        errorBox.textContent = "";
      } else if (data.type === "card-fields:submit") {
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
    });
    var silence;
    form.addEventListener("submit", function (event) {
      if (event.submitter && event.submitter.hasAttribute("data-cancel")) return;  // Cancel needs no card
      if (!newChosen() || form.querySelector("input[name=processor_token]").value) return;
      event.preventDefault();
      waiting = true;
      errorBox.textContent = "";
      frame.contentWindow.postMessage({ type: "card-fields:tokenize" }, origin);
      clearTimeout(silence);
      silence = setTimeout(function () {  // the processor's page never answered: say so rather than hang
        if (!waiting) return;
        waiting = false;
        errorBox.textContent = "The card processor is not answering. Try again in a minute, or use a saved card.";
      }, 20000);
    });
  });
})();
