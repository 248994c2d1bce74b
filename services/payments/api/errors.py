"""How payments's domain errors answer over HTTP: one table, read by create_app (shared.errors.install_error_handlers).

The domain raises its own exceptions, which know nothing of HTTP; each maps here to its status, slug and title."""

from __future__ import annotations

from shared.errors import Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {}
