"""The client's notification bell and Notifications page (a payment, an invoice, an appointment): gateway/web/
notifications.py, on the portal's blueprint."""

from __future__ import annotations

from gateway.web import notifications
from gateway.web.portal import bp

notifications.install(bp, notifications.PORTAL)
