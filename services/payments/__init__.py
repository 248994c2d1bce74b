"""Payments: saved payment methods (processor tokens only), payment attempts, charges, refunds, receipts."""
