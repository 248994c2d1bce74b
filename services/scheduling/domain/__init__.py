"""Scheduling's rules: availability expansion, booking rules, statuses (pure Python)."""
