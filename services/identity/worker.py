"""Identity's background process: `events` (or `relay`) publishes its event outbox and hands its mail outbox to
the mail worker (a thread beside the event relay); identity consumes no events."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable

from services.identity.config import IdentityConfig
from services.identity.events import SUBSCRIPTIONS
from services.identity.models import outbox, processed_events
from shared.worker import main

log = logging.getLogger(__name__)


class MailRelayThread:
    """The mail relay in a thread of the relay process, stopped with it: `stop` tells it and waits for it (it
    finishes the batch it is handing over; the relay notices within its poll interval)."""

    def __init__(self, relay, *, join_timeout: float):
        self.stop_event = threading.Event()
        self.join_timeout = join_timeout
        # A daemon all the same: should it not stop in time, the process still exits (a batch cut short is
        # handed over again, and the worker sends each mail once).
        self.thread = threading.Thread(target=relay.run_forever, args=(self.stop_event,), name="mail-relay",
                                       daemon=True)

    def start(self) -> MailRelayThread:
        self.thread.start()
        return self

    def stop(self) -> bool:
        """Answers whether the thread ended within the join timeout."""
        self.stop_event.set()
        self.thread.join(self.join_timeout)
        if self.thread.is_alive():
            log.warning("the mail relay did not stop in time; its batch will be handed over again",
                        extra={"fields": {"waited_seconds": self.join_timeout}})
            return False
        log.info("mail relay stopped")
        return True


def start_mail_relay(config: IdentityConfig,
                     publish_batch: Callable[[list[str]], None] | None = None) -> MailRelayThread:
    from sqlalchemy import create_engine

    from services.identity.mail_outbox import MailRelay

    if publish_batch is None:
        from services.identity.tasks import publish_mails as publish_batch
    # Its own small engine, not the event relay's (shared.db caches one engine per URL, with the first caller's
    # pool settings).
    engine = create_engine(config.database_url, pool_size=1, max_overflow=1, pool_pre_ping=True, pool_recycle=1800)
    relay = MailRelay(engine=engine, publish_batch=publish_batch, requeue_after=config.mail_requeue_after)
    # Waited for a poll interval and a publish's worth: the relay looks at the stop between two of them.
    return MailRelayThread(relay, join_timeout=relay.poll_interval + 10).start()


def run(argv: list[str], config: IdentityConfig, publish_batch: Callable[[list[str]], None] | None = None) -> int:
    """`events` or `relay`: the event relay runs until SIGTERM or SIGINT; then the mail thread is stopped and
    waited for."""
    return main(argv, config=config, outbox=outbox, processed=processed_events, subscriptions=SUBSCRIPTIONS,
                beside=lambda: start_mail_relay(config, publish_batch).stop)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], IdentityConfig()))
