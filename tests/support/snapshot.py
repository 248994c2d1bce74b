"""'Nothing written': row counts of a service's tables before and after a refused request."""

from __future__ import annotations

from sqlalchemy import func, select, text


class TableSnapshot:
    """Row counts of `tables`; for the tables in `contents`, a digest of every row too, so that a row changed in
    place (not only one inserted or deleted) shows."""

    def __init__(self, engine, tables: tuple[str, ...], *, contents: tuple[str, ...] = ()):
        self.engine = engine
        self.tables = tables
        self.contents = set(contents)
        self.before = self.counts()

    def counts(self) -> dict[str, int | tuple]:
        with self.engine.connect() as conn:
            return {t: self._digest(conn, t) if t in self.contents
                    else conn.execute(select(func.count()).select_from(text(t))).scalar_one() for t in self.tables}

    @staticmethod
    def _digest(conn, table: str) -> tuple:
        return tuple(conn.execute(text(
            f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "  # noqa: S608
            f'FROM "{table}" r')).one())

    def assert_unchanged(self) -> None:
        assert self.counts() == self.before


def outbox_payloads(engine, event_type: str, **match) -> list[dict]:
    """The payloads a service put in its outbox for `event_type`, filtered by payload fields."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT envelope FROM outbox WHERE event_type = :t ORDER BY seq"),
                            {"t": event_type}).scalars().all()
    return [r["payload"] for r in rows if all(r["payload"].get(k) == v for k, v in match.items())]
