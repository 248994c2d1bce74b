"""Messaging's use cases: one module each (threads, notifications, mails, projections, practice)."""
