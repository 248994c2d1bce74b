"""Identity's mail templates render from the context the mail outbox keeps."""

from services.identity.mail import render


def test_the_notice_of_a_changed_sign_in_email_says_who_changed_it_and_nothing_of_the_new_address():
    context = {"practice_name": "Calm Waters", "first_name": "Jo", "changed_at": "May 01, 2026 10:00 UTC"}
    subject, body = render("email_changed", {**context, "by": "client"})
    assert "Calm Waters" in subject and "sign in with was changed" in subject
    assert "from your portal account" in body and "every earlier sign-in has ended" in body
    assert "by your practice" in render("email_changed", {**context, "by": "practice"})[1]
    assert "@" not in body
