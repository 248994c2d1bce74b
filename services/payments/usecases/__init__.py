"""Payments' use cases, one module per thing payments does; services/payments/service.py composes them.

    base.py            what every use case stands on: its connections (Context) and its outbox (publish)
    paying.py          Pay Now and AutoPay's charges, exactly once (reserve, charge, settle; the statements it runs)
    idempotency.py     waiting for the answer under an Idempotency-Key another request holds
    online.py          whether the practice takes payments online, asked of identity at each decision
    cards.py           cards on file, a new card entered for a payment, legacy cards' conversion, expiry notices
    refunds.py         refunds, once per key, settled or reconciled
    reconciliation.py  payments and refunds whose outcome is unknown, asked of the processor; keys expired
    history.py         payments as the API shows them, a page of them, a receipt
"""
