"""Billing's use cases, one module per thing billing does; services/billing/service.py composes those the API calls.

Each opens a unit of work (an event handler's run inside the consumer's), locks the client's account before it
posts, applies the rules of services/billing/domain/ and writes through services/billing/ledger.py, the statements
every posting shares (entries, allocations, paid flags, the outbox), built once beside models.py.

    base.py           what every use case stands on: its connections and identity's settings (Context), the
                      practice's switches confirmed at the moment of a decision, the practice's calendar days
    practice.py       the practice's settings billing keeps and its billing profile (the provider on superbills)
    service_codes.py  the service codes invoice lines are priced from
    invoices.py       an invoice issued (from a completed session or free lines, credit applied), shown, listed
    accounts.py       a client's account and balance, its ledger page by page, the practice's adjustments
    autopay.py        AutoPay: a client's enrolment, and the nightly run (AutopayRunner: the beat, the cli, staff)
    documents.py      statements and superbills issued, a client's documents, each as a PDF (its data assembled)
    postings.py       payments and refunds posted from payments' events, in the consumer's transaction
    projections.py    billing's copies of other services' facts: clients, settings, default cards, sessions to bill
"""
