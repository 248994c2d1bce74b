"""shared.worker.run_loops: a service's events process runs its relay and its consumer side by side, stops both
on SIGTERM, and exits non-zero (for its supervisor to restart it whole) when one loop ends by itself."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from shared.worker import run_loops


class Loop:
    def __init__(self, *, on_start=None, ends_by_itself: bool = False):
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.on_start = on_start
        self.ends_by_itself = ends_by_itself
        self.signals_installed = None

    def run_forever(self, *, install_signals: bool = True) -> None:
        self.signals_installed = install_signals
        self.started.set()
        if self.on_start:
            self.on_start()
        if not self.ends_by_itself:
            self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_sigterm_stops_every_loop_and_exits_zero():
    other = Loop()

    def terminate_once_both_run():
        other.started.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)

    first = Loop(on_start=terminate_once_both_run)
    assert run_loops([first, other]) == 0
    assert first.stopped.is_set() and other.stopped.is_set()
    assert first.signals_installed is False and other.signals_installed is False  # the process's, not theirs


def test_a_loop_that_ends_by_itself_stops_the_others_and_exits_non_zero():
    survivor = Loop()
    crashed = Loop(on_start=lambda: survivor.started.wait(5), ends_by_itself=True)
    assert run_loops([survivor, crashed]) == 1
    assert survivor.stopped.is_set()


def test_the_loops_get_one_stop_budget_between_them(monkeypatch):
    """Two loops that never stop: the process still exits within one budget, not one per loop."""
    import shared.worker

    monkeypatch.setattr(shared.worker, "STOP_WITHIN_SECONDS", 0.2)
    waits = []
    real_join = threading.Thread.join

    def join(self, timeout=None):
        waits.append(timeout)
        return real_join(self, timeout)

    monkeypatch.setattr(threading.Thread, "join", join)

    class Stuck(Loop):
        def stop(self):  # never lets run_forever return
            pass

    stuck = [Stuck(), Stuck()]
    crashed = Loop(on_start=lambda: all(s.started.wait(5) for s in stuck), ends_by_itself=True)
    assert run_loops([*stuck, crashed]) == 1
    assert sum(w for w in waits if w is not None) <= 0.2 + 1e-6
    for s in stuck:
        s.stopped.set()  # let the test's threads end
