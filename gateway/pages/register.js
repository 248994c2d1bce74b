// Registration page: the token comes from the e-mail link; the card of the practice's API does the rest.
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const form = document.getElementById("form");
  const message = document.getElementById("message");
  const say = (text, ok) => { message.textContent = text; message.className = ok ? "ok" : "error"; };

  fetch("/api/v1/auth/registration/" + encodeURIComponent(token))
    .then((r) => r.json().then((body) => ({ status: r.status, body })))
    .then(({ status, body }) => {
      if (body.practice_name) document.getElementById("practice").textContent = body.practice_name;
      if (status === 200 && body.valid) { form.hidden = false; return; }
      say(body.detail || "This link can no longer be used. Ask your practice for a new one.", false);
    })
    .catch(() => say("The portal is not reachable right now. Try again in a minute.", false));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    data.token = token;
    fetch("/api/v1/auth/register", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
    })
      .then((r) => r.json().then((body) => ({ status: r.status, body })))
      .then(({ status, body }) => {
        if (status === 201) {
          form.hidden = true;
          say("You are registered. Sign in with " + body.email + " and your new password.", true);
          return;
        }
        const details = body.errors && body.errors.password ? " " + body.errors.password.join(" ") : "";
        say((body.detail || "Something went wrong.") + details, false);
        if (status === 410 || status === 404) form.hidden = true;
      });
  });
})();
