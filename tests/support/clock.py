"""A clock a test moves by hand, for code that compares time.monotonic() readings (an idle window, an age)."""

from __future__ import annotations

import time


class ManualClock:
    """Stands in for the `time` module inside one module under test (monkeypatch.setattr("pkg.mod.time", clock)):
    monotonic() moves only when the test calls advance(), so "used a moment ago" and "idle for a while" are what
    the test says, not what a busy machine happened to take. Everything else is the real `time` module's."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str):
        return getattr(time, name)
