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
      if (r.status === 204) {
        form.hidden = true;
        message.textContent = "Your password is changed. Sign in with it now.";
        message.className = "ok";
        return;
      }
      return r.json().then((body) => {
        const details = body.errors && body.errors.password ? " " + body.errors.password.join(" ") : "";
        message.textContent = (body.detail || "Something went wrong.") + details;
        message.className = "error";
      });
    });
  });
})();
