"""Where app.py finds AutopayRunner until its import names services.billing.usecases.autopay (then this goes)."""

from services.billing.usecases.autopay import AutopayRunner

__all__ = ["AutopayRunner"]
