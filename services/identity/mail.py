"""The e-mails identity sends itself: the registration link, the password-reset link and the notice of a changed
sign-in e-mail (rendered by the mail worker from the mail outbox's row, services/identity/mail_outbox.py)."""

from __future__ import annotations

TEMPLATES = {
    "invitation": (
        "{practice_name}: your client portal invitation",
        "Hello {first_name},\n\n"
        "{practice_name} invites you to its secure client portal, where you can see your appointments,\n"
        "message the practice, complete forms and pay invoices.\n\n"
        "Register here:\n{invitation_url}\n\n"
        "You will be asked to confirm your last name and date of birth, then to choose a password.\n"
        "The link works once and expires on {expires_at}.\n\n"
        "If you did not expect this e-mail, you can ignore it.\n",
    ),
    "password_reset": (
        "{practice_name}: reset your portal password",
        "Someone asked to reset the password of your {practice_name} portal account.\n\n"
        "Choose a new password here (the link works once, for {minutes} minutes):\n{reset_url}\n\n"
        "{mfa_note}"
        "If it was not you, ignore this e-mail: your password stays as it is.\n",
    ),
    "email_changed": (
        "{practice_name}: the e-mail you sign in with was changed",
        "Hello {first_name},\n\n"
        "The e-mail address you sign in to the {practice_name} portal with was changed {who} on {changed_at}.\n"
        "This address no longer signs in, and every earlier sign-in has ended.\n\n"
        "If you did not ask for this, contact {practice_name} at once: someone else may know your password.\n",
    ),
}

# A change of the sign-in e-mail is told to the old address (the owner's, even when a thief made the change).
CHANGED_BY = {"client": "from your portal account", "practice": "by your practice"}

# A reset by e-mail changes the password only: two-factor stays as it was (an e-mail account alone must never be
# enough to take a portal account whose owner turned two-factor on).
MFA_STAYS_ON = ("Two-factor sign-in stays on: after choosing the new password you will still enter the code from\n"
                "your authenticator app. If you no longer have the app, ask your practice's administrator.\n\n")


def render(template: str, context: dict) -> tuple[str, str]:
    subject, body = TEMPLATES[template]
    if template == "password_reset":
        context = {**context, "mfa_note": MFA_STAYS_ON if context.get("mfa_enabled") else ""}
    elif template == "email_changed":
        context = {**context, "who": CHANGED_BY[context["by"]]}
    return subject.format(**context), body.format(**context)
