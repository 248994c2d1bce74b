"""The practice's notification bell and Notifications page (a client registered, a payment, a request), one for all
staff: gateway/web/notifications.py, on the console's blueprint."""

from __future__ import annotations

from gateway.web import notifications
from gateway.web.console import bp

notifications.install(bp, notifications.CONSOLE)
