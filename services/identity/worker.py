"""Identity's background processes: `relay` publishes its outbox (it consumes no events)."""

import sys

from services.identity.config import IdentityConfig
from services.identity.events import SUBSCRIPTIONS
from services.identity.models import outbox, processed_events
from shared.worker import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], config=IdentityConfig(), outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
