"""Payments' background processes: `relay` publishes its outbox, `consume` handles its events."""

import sys

from services.payments.config import PaymentsConfig
from services.payments.events import SUBSCRIPTIONS
from services.payments.models import outbox, processed_events
from shared.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], config=PaymentsConfig(), outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
