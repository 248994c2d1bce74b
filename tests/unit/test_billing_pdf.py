"""Billing PDFs: invoices, statements and superbills render to real PDFs whose text says the right things.

The text is read back out of the bytes with pypdf (a dev dependency), else with poppler's pdftotext;
without either the tests that read text are skipped with a message saying what to install.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest

from services.billing import pdf as billing_pdf
from services.billing.pdf import format_money, pdf_text, render_invoice, render_statement, render_superbill

try:
    import pypdf
except ImportError:  # pragma: no cover - depends on the environment
    pypdf = None


def page_texts(document: bytes) -> list[str]:
    """The text of each page, whitespace collapsed to single spaces."""
    if pypdf is not None:
        pages = [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(document)).pages]
    elif shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=document,
                             capture_output=True, check=True).stdout.decode("utf-8")
        pages = out.split("\f")
        if pages and not pages[-1].strip():
            pages.pop()
    else:
        pytest.skip("reading PDF text needs pypdf (pip install pypdf) or poppler-utils (pdftotext)")
    return [" ".join(page.split()) for page in pages]


def text_of(document: bytes) -> str:
    return " ".join(page_texts(document))


# --------------------------------------------------------------------------- documents


def practice(**overrides) -> dict:
    return {"name": "Harbor Light Counseling",
            "address": {"line1": "1200 Market Street", "line2": "Suite 410", "city": "Springfield",
                        "state": "IL", "postal_code": "62701"},
            "phone": "(217) 555-0142", "email": "billing@harborlight.example", "currency": "USD"} | overrides


def client(**overrides) -> dict:
    return {"first_name": "Morgan", "last_name": "Reyes", "preferred_name": "Mo",
            "date_of_birth": date(1988, 4, 2), "email": "morgan.reyes@example.com",
            "address": {"line1": "77 Elm Road", "line2": None, "city": "Springfield", "state": "IL",
                        "postal_code": "62704"}} | overrides


def invoice(lines: int = 3, **overrides) -> dict:
    codes = ["90837", "90834", "90791", "90847", "H0031"]
    rows = [{"date_of_service": date(2025, 3, 3) + timedelta(days=i), "service_code": codes[i % len(codes)],
             "description": f"Psychotherapy session {i + 1:03d}", "units": 1, "rate_cents": 15_000,
             "amount_cents": 15_000} for i in range(lines)]
    total = 15_000 * lines
    return {"practice": practice(), "client": client(), "number": 1042,
            "issued_at": datetime(2025, 3, 20, 14, 5, tzinfo=UTC), "due_date": date(2025, 4, 19),
            "date_of_service": date(2025, 3, 17), "status": "partially_paid", "lines": rows,
            "total_cents": total, "paid_cents": 10_000, "adjusted_cents": -2_000,
            "balance_due_cents": total - 12_000, "currency": "USD",
            "payments": [{"date": date(2025, 3, 21), "description": "Visa ending 4242", "amount_cents": 10_000}],
            } | overrides


def statement(entries: int = 4, **overrides) -> dict:
    kinds = [("charge", 18_000), ("payment", -12_000), ("adjustment", -1_500), ("refund", 2_000)]
    rows, balance = [], 5_000
    for i in range(entries):
        kind, amount = kinds[i % 4]
        balance += amount
        rows.append({"date": date(2025, 1, 1) + timedelta(days=i * 365 // max(entries, 1)), "kind": kind,
                     "description": f"Ledger entry {i + 1:04d}", "amount_cents": amount,
                     "balance_after_cents": balance})
    return {"practice": practice(), "client": client(), "number": "STM-000012",
            "issued_at": datetime(2026, 1, 2, 9, 0, tzinfo=UTC), "period_from": date(2025, 1, 1),
            "period_to": date(2025, 12, 31), "opening_balance_cents": 5_000, "closing_balance_cents": balance,
            "currency": "USD", "entries": rows, "total_charges_cents": 18_000, "total_payments_cents": -12_000,
            "total_adjustments_cents": -1_500, "total_refunds_cents": 2_000} | overrides


def superbill(**overrides) -> dict:
    return {"practice": practice(), "client": client(), "number": "SB-000031",
            "issued_at": datetime(2025, 4, 1, 10, 0, tzinfo=UTC), "period_from": date(2025, 3, 1),
            "period_to": date(2025, 3, 31),
            "provider": {"name": "Dana Whitfield", "npi": "1234567893", "credentials": "PhD, LCPC",
                         "tax_id": "12-3456789", "license": "IL 180.012345"},
            "place_of_service": "11 - Office",
            "diagnosis_codes": [{"code": "F41.1", "description": "Generalized anxiety disorder"},
                                {"code": "F33.1", "description": "Major depressive disorder, recurrent"}],
            "services": [{"date_of_service": date(2025, 3, 3), "service_code": "90837",
                          "description": "Psychotherapy, 60 minutes", "units": 1, "diagnosis_pointers": "A",
                          "amount_cents": 18_000, "paid_cents": 18_000},
                         {"date_of_service": date(2025, 3, 10), "service_code": "90791",
                          "description": "Diagnostic evaluation", "units": 1, "diagnosis_pointers": "A,B",
                          "amount_cents": 22_000, "paid_cents": 5_000}],
            "total_charged_cents": 40_000, "total_paid_cents": 23_000, "currency": "USD"} | overrides


# --------------------------------------------------------------------------- money and text


@pytest.mark.parametrize(("cents", "currency", "expected"), [
    (123_450, "USD", "$1,234.50"),
    (-2_000, "USD", "-$20.00"),
    (0, "USD", "$0.00"),
    (5, "USD", "$0.05"),
    (-5, "USD", "-$0.05"),
    (123_456_789_01, "USD", "$123,456,789.01"),
    (99_999, "CAD", "CA$999.99"),
    (100, "EUR", "\u20ac1.00"),
    (-150, "GBP", "-\u00a31.50"),
    (250_000, "AUD", "A$2,500.00"),
    (1_000, "usd", "$10.00"),
    (1_000, "CHF", "CHF 10.00"),
])
def test_money_is_formatted_from_integer_cents(cents, currency, expected):
    assert format_money(cents, currency) == expected


@pytest.mark.parametrize("bad", [12.5, 10.0, "1000", None, True])
def test_money_refuses_anything_but_integer_cents(bad):
    with pytest.raises(TypeError):
        format_money(bad, "USD")


def test_text_is_mapped_to_what_the_core_font_can_draw():
    assert pdf_text("O\u2019Brien \u201cMo\u201d \u2013 done\u2026") == "O'Brien \"Mo\" - done..."
    assert pdf_text("Zo\u00eb \u0141ukasz") == "Zo\u00eb Lukasz"  # ë is in the font, Ł is not
    assert pdf_text("Nguy\u1ec5n \u0150z") == "Nguyen Oz"
    assert pdf_text("Sam \U0001f642") == "Sam ?"
    assert pdf_text("thumbs \U0001f44d\U0001f3fd") == "thumbs ?"  # the skin tone is no second "?"
    assert pdf_text("a\tb\nc\x00 d") == "a b c d"
    assert pdf_text(None) == ""
    assert pdf_text(42) == "42"
    for sample in ("\u6f22\u5b57 \u05e9\u05dc\u05d5\u05dd", "\u20ac5", "\ufb01ne \u00bd"):
        pdf_text(sample).encode("cp1252")  # never raises


# --------------------------------------------------------------------------- invoice


def test_invoice_says_who_what_and_how_much():
    doc = invoice(3)
    document = render_invoice(doc)
    assert document.startswith(b"%PDF-")
    text = text_of(document)
    assert "Harbor Light Counseling" in text
    assert "1200 Market Street" in text and "Springfield, IL 62701" in text
    assert "(217) 555-0142" in text and "billing@harborlight.example" in text
    assert "Morgan Reyes" in text
    assert "Invoice #1042" in text
    assert "Mar 20, 2025" in text and "Apr 19, 2025" in text  # issued, due
    for line in doc["lines"]:
        assert line["service_code"] in text
        assert line["description"] in text
    assert re.search(r"Total \$450\.00", text)
    assert re.search(r"Adjustments -\$20\.00", text)
    assert re.search(r"Amount paid \$100\.00", text)
    assert re.search(r"Balance due \$330\.00", text)
    assert "Visa ending 4242" in text  # the payments received
    assert "Partially paid" in text
    assert "Page 1 of 1" in text


def test_invoice_balance_due_is_the_documents_own_figure():
    text = text_of(render_invoice(invoice(2, balance_due_cents=0, paid_cents=28_000, status="paid")))
    assert re.search(r"Balance due \$0\.00", text)
    assert re.search(r"Amount paid \$280\.00", text)
    assert "Paid" in text and "Nothing is due" in text
    assert "Please pay" not in text


def test_invoice_in_euros_is_on_a4_and_shows_the_euro_sign():
    document = render_invoice(invoice(1, currency="EUR", practice=practice(currency="EUR")))
    assert re.search(r"Balance due \u20ac30\.00", text_of(document))
    if pypdf is not None:
        box = pypdf.PdfReader(io.BytesIO(document)).pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)


def test_invoice_in_dollars_is_on_letter_paper():
    if pypdf is None:
        pytest.skip("reading the page size needs pypdf")
    box = pypdf.PdfReader(io.BytesIO(render_invoice(invoice(1)))).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_long_invoice_repeats_the_table_header_and_numbers_its_pages():
    doc = invoice(60)
    pages = page_texts(render_invoice(doc))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Harbor Light Counseling" in page
        if "Psychotherapy session" in page:  # a page with lines on it (the totals may fill one alone)
            assert "Date Code Description Units Rate Amount" in page
    assert "Psychotherapy session" in pages[1]
    assert "Invoice #1042 - Morgan Reyes" in pages[1]  # the running header of later pages
    text = " ".join(pages)
    for line in doc["lines"]:  # no line lost or doubled at a page break
        assert text.count(line["description"]) == 1


def test_invoice_without_lines_says_so():
    text = text_of(render_invoice(invoice(0, total_cents=0, paid_cents=0, adjusted_cents=0, balance_due_cents=0,
                                          payments=[])))
    assert "No services on this invoice" in text
    assert "No services on this invoice" not in text_of(render_invoice(invoice(1)))


def test_long_descriptions_wrap_then_end_in_an_ellipsis():
    doc = invoice(1)
    words = [f"word{i:03d}" for i in range(120)]
    doc["lines"][0]["description"] = " ".join(words)
    doc["lines"].append(dict(doc["lines"][0], service_code="90834",
                             description="Unbroken" + "x" * 400 + "TAILMARK"))
    text = text_of(render_invoice(doc))
    assert "word000 word001" in text and "word010" in text  # the start, over more than one line
    assert "word119" not in text  # cut: at most three lines
    assert "..." in text
    assert "TAILMARK" not in text and "Unbroken" in text
    assert "90834" in text and "$150.00" in text  # the other columns of those rows are still there


def test_wrapping_keeps_to_the_column_and_breaks_between_words():
    page = billing_pdf._Page(reference="Invoice #1", practice=practice(), client_name="Morgan Reyes",
                             issued_at=datetime(2025, 1, 1, tzinfo=UTC), currency="USD")
    page.set_font("helvetica", "", 8.5)
    text = "Psychotherapy, 60 minutes with patient, individual session with a very long note attached"
    lines = page.wrap(text, 40, 10)
    assert len(lines) > 2 and " ".join(lines) == text  # nothing lost, broken at spaces
    assert all(page.measure(line) <= 40 for line in lines)
    cut = page.wrap(text, 40, 2)
    assert cut[0] == lines[0] and cut[1].endswith("...") and page.measure(cut[1]) <= 40
    word = page.wrap("x" * 200, 40, 3)
    assert len(word) == 3 and word[-1].endswith("...") and all(page.measure(line) <= 40 for line in word)
    assert page.wrap("short", 40, 3) == ["short"]
    assert page.fit(text, 40).endswith("...") and page.measure(page.fit(text, 40)) <= 40


# --------------------------------------------------------------------------- statement


def test_statement_lists_every_entry_between_the_balances():
    doc = statement(4)
    text = text_of(render_statement(doc))
    assert "Harbor Light Counseling" in text
    assert "Morgan Reyes" in text
    assert "STM-000012" in text
    assert "Jan 1, 2025 to Dec 31, 2025" in text
    for entry in doc["entries"]:
        assert entry["description"] in text
    assert "Charge" in text and "Payment" in text and "Adjustment" in text and "Refund" in text
    assert "-$120.00" in text  # a payment, signed
    assert re.search(r"Opening balance \$50\.00", text)
    assert re.search(r"Closing balance \$115\.00", text)  # 50 + 180 - 120 - 15 + 20
    assert re.search(r"Balance due \$115\.00", text)
    assert "No activity in this period" not in text


def test_statement_without_entries_says_no_activity():
    text = text_of(render_statement(statement(0)))
    assert "No activity in this period" in text
    assert re.search(r"Closing balance \$50\.00", text)


def test_statement_in_credit_says_so():
    text = text_of(render_statement(statement(0, closing_balance_cents=-2_000)))
    assert re.search(r"Credit on account \$20\.00", text)
    assert "Balance due" not in text


def test_long_statement_repeats_its_header_on_every_page():
    doc = statement(300)
    pages = page_texts(render_statement(doc))
    assert len(pages) >= 3
    assert "Page 2 of" in pages[1]
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Date Type Description Amount Balance" in page
        assert "Statement STM-000012" in page
    text = " ".join(pages)
    for entry in doc["entries"]:
        assert text.count(entry["description"]) == 1
    assert "Closing balance" in pages[-1]


# --------------------------------------------------------------------------- superbill


def test_superbill_has_what_an_insurer_needs():
    doc = superbill()
    document = render_superbill(doc)
    assert document.startswith(b"%PDF-")
    text = text_of(document)
    assert "SUPERBILL" in text and "Statement for insurance reimbursement" in text
    assert "Harbor Light Counseling" in text
    assert "Morgan Reyes" in text and "Date of birth: Apr 2, 1988" in text
    assert "SB-000031" in text
    assert re.search(r"NPI 1234567893", text)
    assert re.search(r"Tax ID \(EIN\) 12-3456789", text)
    assert "Dana Whitfield, PhD, LCPC" in text
    assert "11 - Office" in text
    assert re.search(r"A F41\.1 Generalized anxiety disorder", text)
    assert re.search(r"B F33\.1 Major depressive disorder", text)
    for service in doc["services"]:
        assert service["service_code"] in text
    assert re.search(r"90791 Diagnostic evaluation 1 A,B \$220\.00 \$50\.00", text)
    assert re.search(r"Total charged \$400\.00", text)
    assert re.search(r"Total paid \$230\.00", text)


def test_superbill_without_provider_ids_says_they_are_missing():
    doc = superbill(provider={"name": "Dana Whitfield", "npi": None, "credentials": None, "tax_id": None,
                              "license": None}, diagnosis_codes=[], services=[])
    text = text_of(render_superbill(doc))
    assert re.search(r"NPI Not provided", text)
    assert "No diagnosis recorded" in text
    assert "No services in this period" in text


def test_diagnosis_letters_go_past_z():
    assert [billing_pdf._pointer_letter(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]


# --------------------------------------------------------------------------- every document


UNUSUAL = {"first_name": "Zo\u00eb \u201cZo\u201d", "last_name": "\u0141ukasz-O\u2019Brien \U0001f642",
           "address": None, "email": None}


@pytest.mark.parametrize("render, doc", [
    (render_invoice, invoice(2)), (render_statement, statement(2)), (render_superbill, superbill()),
], ids=["invoice", "statement", "superbill"])
def test_unusual_characters_do_not_break_any_document(render, doc):
    doc = doc | {"client": client(**UNUSUAL),
                 "practice": practice(name="Caf\u00e9 \u2013 Th\u00e9rapie \U0001f33f (Sant\u00e9) \\ \u6f22")}
    text = text_of(render(doc))
    assert 'Zo\u00eb "Zo" Lukasz-O\'Brien ?' in text
    assert "Caf\u00e9 - Th\u00e9rapie ? (Sant\u00e9) \\ ?" in text


def test_unusual_characters_in_lines_and_entries():
    doc = invoice(1)
    doc["lines"][0]["description"] = "S\u00e9ance \u2014 \u00abparents\u00bb (en ligne) \u2615 \u00bd h"
    doc["lines"][0]["service_code"] = "(90837)"
    assert "S\u00e9ance - \u00abparents\u00bb (en ligne) ? \u00bd h" in text_of(render_invoice(doc))
    doc = statement(1)
    doc["entries"][0]["description"] = "Remboursement \u2192 carte \u2026 4242"
    assert "Remboursement ? carte ... 4242" in text_of(render_statement(doc))


def test_missing_optional_fields_render():
    doc = invoice(1, date_of_service=None, payments=[],
                  practice={"name": "Solo Practice", "address": None, "phone": None, "email": None,
                            "currency": "USD"},
                  client=client(address={"line1": None, "city": "Leeds"}, email=None, date_of_birth=None))
    doc["lines"][0]["date_of_service"] = None
    text = text_of(render_invoice(doc))
    assert "Solo Practice" in text and "Leeds" in text and "None" not in text


def test_the_same_document_renders_to_the_same_bytes():
    assert render_statement(statement(20)) == render_statement(statement(20))
    assert render_invoice(invoice(2)) != render_invoice(invoice(2, number=1043))


def test_float_money_in_a_document_is_refused():
    doc = invoice(1)
    doc["lines"][0]["amount_cents"] = 150.0
    with pytest.raises(TypeError):
        render_invoice(doc)
