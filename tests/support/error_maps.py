"""What every service's error-map test checks the same way: its table maps exactly the domain errors its domain
raises, each to the answer the test pins, and no domain error knows an HTTP answer of its own."""

from __future__ import annotations

import inspect
from types import ModuleType

from shared.errors import Mapped, ProblemError


def raised_errors(errors: ModuleType, base: type, *, bases: frozenset[str] = frozenset()) -> dict[str, type]:
    """The domain errors a service raises: the subclasses of `base` in its errors module, but for `bases` (classes
    only subclassed, never raised)."""
    return {name: cls for name, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, base) and cls is not base and name not in bases}


def check_error_map(errors: ModuleType, base: type, error_map: dict[type[Exception], Mapped],
                    answers: dict[str, tuple[int, str, str]], *, bases: frozenset[str] = frozenset()) -> None:
    raised = raised_errors(errors, base, bases=bases)
    assert set(raised) == set(answers), "a domain error without a pinned answer, or a pinned one gone"
    assert {name: (m.status, m.slug, m.title) for name, cls in raised.items() for m in [error_map[cls]]} == answers
    assert set(error_map) == set(raised.values()), "the table maps something that is not this service's error"
    for cls in raised.values():
        assert not issubclass(cls, ProblemError), cls
        assert not hasattr(cls, "status") and not hasattr(cls, "slug"), cls


def raising(make):
    """A view that raises what `make` makes."""
    def view():
        raise make()
    return view
