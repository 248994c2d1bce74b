"""Scheduling's use cases, one module each (service.py names them)."""
