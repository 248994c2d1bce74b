"""Messaging's background processes: `relay` publishes its outbox, `consume` handles its events."""

import sys

from services.messaging.config import MessagingConfig
from services.messaging.events import SUBSCRIPTIONS
from services.messaging.models import outbox, processed_events
from shared.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], config=MessagingConfig(), outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
