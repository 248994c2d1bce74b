"""Identity's background processes: `relay` publishes its event outbox and hands its mail outbox to the mail
worker (a thread beside the event relay); identity consumes no events."""

import sys
import threading

from services.identity.config import IdentityConfig
from services.identity.events import SUBSCRIPTIONS
from services.identity.models import outbox, processed_events
from shared.worker import main


def start_mail_relay(config: IdentityConfig) -> threading.Event:
    from sqlalchemy import create_engine

    from services.identity.mail_outbox import MailRelay
    from services.identity.tasks import publish_mails

    stop = threading.Event()
    # Its own small engine, not the event relay's (shared.db caches one engine per URL, with the first caller's
    # pool settings).
    engine = create_engine(config.database_url, pool_size=1, max_overflow=1, pool_pre_ping=True, pool_recycle=1800)
    relay = MailRelay(engine=engine, publish_batch=publish_mails, requeue_after=config.mail_requeue_after)
    threading.Thread(target=relay.run_forever, args=(stop,), name="mail-relay", daemon=True).start()
    return stop


if __name__ == "__main__":
    identity_config = IdentityConfig()
    if sys.argv[1:2] == ["relay"]:
        # A daemon thread: it ends with the event relay; a batch cut short is handed over again (sent once).
        start_mail_relay(identity_config)
    sys.exit(main(sys.argv[1:], config=identity_config, outbox=outbox, processed=processed_events,
                  subscriptions=SUBSCRIPTIONS))
