"""The e-signature disclosure a client accepts before signing a form electronically (ESIGN Act, 15 U.S.C. 7001(c),
and UETA), kept by version.

A signature stores the version it was accepted with, and the certificate page prints that version's text, so a
text is never edited in place: a change is a new entry in DISCLOSURES and a new DISCLOSURE_VERSION, and the old
entry stays (the signatures given under it still point at it). tests/unit/test_documents_answers.py pins each
version's SHA-256 so an edit in place fails."""

from __future__ import annotations

DISCLOSURES: dict[str, str] = {
    "esign-1": """\
Consent to use electronic records and signatures

Before you sign a form in the client portal, please read this notice. It explains your rights and what you need \
to sign electronically.

1. What this consent covers
If you agree, the practice may give you forms, consents, authorizations and other documents in the client portal, \
and you may sign them electronically. An electronic signature (the full name you type, and a signature you draw \
if you choose to) has the same legal effect as a signature on paper. This consent covers the documents you sign in \
the portal until you withdraw it.

2. You may choose paper instead
You do not have to sign electronically. If you prefer, ask the practice for paper copies of any form and sign them \
by hand; your care does not depend on your choice.

3. Paper copies of what you sign
You may download any completed form as a PDF from My Documents at any time. You may also ask the practice for a \
paper copy of any document you signed electronically, free of charge, by sending a secure message or telling the \
front desk.

4. How to withdraw your consent
You may withdraw this consent at any time by sending a secure message in the portal, by writing to the practice, \
or by telling the front desk. Withdrawing takes effect once the practice has received it and does not undo forms \
you signed before; after that, the practice will give you forms on paper. There is no fee for withdrawing.

5. Keeping your contact details current
Tell the practice, or update My Information, if your e-mail address changes, so that notices about your documents \
reach you.

6. What you need
- a computer, tablet or phone with an internet connection;
- a current version of a common web browser (Chrome, Edge, Firefox or Safari) with cookies and JavaScript on;
- an e-mail address to receive notices from the portal;
- a program that opens PDF files (most browsers do), and a printer or storage if you want to keep copies.
If these requirements change in a way that could stop you reaching or keeping your documents, the practice will \
tell you and ask for your consent again.

By checking the box, you confirm that you can read this notice on your device, that you can open and save PDF \
files, and that you agree to use electronic records and signatures.
""",
}

DISCLOSURE_VERSION = "esign-1"  # the one a client accepts now
DISCLOSURE_TEXT = DISCLOSURES[DISCLOSURE_VERSION]
