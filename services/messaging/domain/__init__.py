"""Messaging's rules: pure Python, no Flask, no database session."""
