"""'Nothing written': row counts of a service's tables before and after a refused request."""

from __future__ import annotations

from sqlalchemy import func, select, text


class TableSnapshot:
    def __init__(self, engine, tables: tuple[str, ...]):
        self.engine = engine
        self.tables = tables
        self.before = self.counts()

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {t: conn.execute(select(func.count()).select_from(text(t))).scalar_one() for t in self.tables}

    def assert_unchanged(self) -> None:
        assert self.counts() == self.before


def outbox_payloads(engine, event_type: str, **match) -> list[dict]:
    """The payloads a service put in its outbox for `event_type`, filtered by payload fields."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT envelope FROM outbox WHERE event_type = :t ORDER BY seq"),
                            {"t": event_type}).scalars().all()
    return [r["payload"] for r in rows if all(r["payload"].get(k) == v for k, v in match.items())]
