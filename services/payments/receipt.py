"""The payment receipt a client prints or saves after paying (PDF)."""

from __future__ import annotations

from fpdf import FPDF

from services.payments.domain.rules import money

_SYMBOLS = {"USD": "$", "CAD": "CA$", "EUR": "EUR ", "GBP": "GBP ", "AUD": "A$"}


def _text(value) -> str:
    text = "" if value is None else str(value)
    text = text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                                         "\u2013": "-", "\u2014": "-"}))
    return text.encode("latin-1", "replace").decode("latin-1")


def _money(cents: int, currency: str) -> str:
    return _SYMBOLS.get(currency, currency + " ") + money(cents)  # receipts show paid amounts: never negative


def render_receipt(practice, account, payment: dict) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 9, _text(practice.practice_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    address = practice.address or {}
    for line in (address.get("line1"), address.get("line2"),
                 " ".join(x for x in (address.get("city"), address.get("state"), address.get("postal_code")) if x),
                 practice.phone):
        if line:
            pdf.cell(0, 5, _text(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "Payment receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    name = " ".join(x for x in (getattr(account, "first_name", None), getattr(account, "last_name", None)) if x)
    paid_at = payment.get("settled_at") or payment.get("created_at")
    rows = [
        ("Receipt number", payment["id"][:8].upper()),
        ("Paid by", name or "Client"),
        ("Date", paid_at.strftime("%B %d, %Y %H:%M UTC") if paid_at else ""),
        ("Card", f"{(payment['method'].get('brand') or 'card').title()} ending {payment['method'].get('last4') or ''}"),
        ("Invoices", ", ".join(f"#{n:06d}" for n in payment.get("invoice_numbers") or []) or "Account balance"),
        ("Note", payment.get("note") or ""),
    ]
    for label, value in rows:
        if value:
            pdf.set_font("Helvetica", "B", 11)
            pdf.cell(45, 7, label)
            pdf.set_font("Helvetica", "", 11)
            pdf.cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(45, 9, "Amount paid")
    pdf.cell(0, 9, _money(payment["amount_cents"], payment["currency"]), new_x="LMARGIN", new_y="NEXT")
    if payment.get("refunded_cents"):
        pdf.set_font("Helvetica", "", 11)
        pdf.cell(45, 7, "Refunded")
        pdf.cell(0, 7, _money(payment["refunded_cents"], payment["currency"]), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "I", 9)
    pdf.multi_cell(0, 5, "Thank you. This receipt confirms a card payment to the practice above. "
                         "Keep it for your records.")
    return bytes(pdf.output())
