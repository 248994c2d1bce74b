"""Outgoing e-mail over SMTP (a local sink in development writes each mail to var/mail/)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid


def build_message(*, sender: str, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="portal.local")
    # 8bit, not quoted-printable: links stay whole on one line for people and for tools.
    message.set_content(text, cte="8bit")
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send(message: EmailMessage, *, host: str, port: int, timeout: float = 10.0) -> None:
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        smtp.send_message(message)
