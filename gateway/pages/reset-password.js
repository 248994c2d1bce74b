// Password-reset page: the token comes from the e-mail link.
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const form = document.getElementById("form");
  const message = document.getElementById("message");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const password = new FormData(form).get("password");
    fetch("/api/v1/auth/password-reset/confirm", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token, password }),
    }).then((r) => {
      return r.json().then((body) => {
        if (r.ok) {
          // The answer says that earlier sign-ins have ended, and whether two-factor sign-in stays on.
          form.hidden = true;
          message.textContent = body.detail || "Your password is changed. Sign in with the new password.";
          message.className = "ok";
          return;
        }
        const details = body.errors && body.errors.password ? " " + body.errors.password.join(" ") : "";
        message.textContent = (body.detail || "Something went wrong.") + details;
        message.className = "error";
      });
    });
  });
})();
