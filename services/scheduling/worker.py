"""Scheduling's background processes: `relay` publishes its outbox, `consume` handles its events."""

import sys

from services.scheduling.config import SchedulingConfig
from services.scheduling.events import SUBSCRIPTIONS
from services.scheduling.models import outbox, processed_events
from shared.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], config=SchedulingConfig(), outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
