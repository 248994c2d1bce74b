"""Billing's background processes: `relay` publishes its outbox, `consume` handles its events."""

import sys

from services.billing.config import BillingConfig
from services.billing.events import SUBSCRIPTIONS
from services.billing.models import outbox, processed_events
from shared.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], config=BillingConfig(), outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
