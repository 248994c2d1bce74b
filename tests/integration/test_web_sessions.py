"""The web's browser sessions in a real Redis: encrypted at rest, ended by idling, refreshed once however many
requests of one browser ask at the same moment (identity treats a second use of a refresh token as theft)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis

from gateway.web.session import SessionStore

pytestmark = pytest.mark.integration


@pytest.fixture
def store():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not answering on 127.0.0.1:6379 (make test starts it: scripts/ensure-infra.sh)",
                    pytrace=False)
    prefix = f"portal:test:sessions:{uuid.uuid4().hex[:8]}:"
    yield SessionStore(client, prefix=prefix, idle_seconds=900)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def tokens(n: int = 1, expires_in: int = 900) -> dict:
    return {"access_token": f"access-{n}-secret", "refresh_token": f"refresh-{n}-secret", "expires_in": expires_in,
            "user": {"id": "u1", "role": "client", "client_id": "c1"}}


def test_a_session_round_trips_and_redis_holds_no_token_in_the_clear(store):
    session = store.create(tokens())
    loaded, idle = store.load(session.key)
    assert not idle and loaded.access_token == "access-1-secret" and loaded.client_id == "c1"
    dump = b"".join(v for key in store.redis.scan_iter(f"{store.prefix}*") for v in store.redis.hvals(key))
    assert b"secret" not in dump and session.key.encode() not in dump
    assert not any(session.key in key.decode() for key in store.redis.scan_iter(f"{store.prefix}*"))


def test_an_unknown_or_tampered_cookie_is_no_session(store):
    session = store.create(tokens())
    assert store.load(session.key[:-2] + "xx") == (None, False)
    assert store.load("") == (None, False)
    assert store.load("x" * 500) == (None, False)


def test_idle_longer_than_the_limit_says_so_and_activity_resets_it(store):
    session = store.create(tokens())
    name = next(store.redis.scan_iter(f"{store.prefix}session:*"))
    store.redis.hset(name, "seen", repr(time.time() - 901))
    idle, is_idle = store.load(session.key)
    assert is_idle is True
    store.touch(idle)
    assert store.load(session.key)[1] is False
    assert 900 < store.redis.ttl(name) <= 900 + 300  # kept a little longer, so a late request can still revoke


def test_pages_data_and_tokens_are_written_apart(store):
    session = store.create(tokens())
    stale = store.load(session.key)[0]
    session.data["pay"] = {"attempt": "a1"}
    store.save_data(session)
    store.replace_tokens(stale, tokens(2))  # another request's token update does not undo the page's data
    loaded = store.load(session.key)[0]
    assert loaded.data == {"pay": {"attempt": "a1"}} and loaded.refresh_token == "refresh-2-secret"


def test_concurrent_requests_refresh_once_and_all_go_on_with_the_new_pair(store):
    session = store.create(tokens(1, expires_in=30))  # inside the refresh-ahead window
    calls = []
    gate = threading.Event()

    def exchange(refresh_token):
        calls.append(refresh_token)
        gate.wait(5)  # hold the lock while the others arrive
        return tokens(2)

    results = {}
    loaded = threading.Barrier(6)  # all six read the old pair before any refresh (a busy machine starts them late)

    def request(i):
        mine = store.load(session.key)[0]
        assert store.needs_refresh(mine)
        loaded.wait(10)
        results[i] = (store.refresh(mine, exchange), mine.access_token)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    while not calls:  # the first request is exchanging; release it once the others queue behind the lock
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join(10)
    assert calls == ["refresh-1-secret"]
    assert results == {i: (True, "access-2-secret") for i in range(6)}


def test_a_refused_refresh_ends_the_session(store):
    session = store.create(tokens(1, expires_in=10))
    assert store.refresh(session, lambda token: None) is False


def test_a_busy_browser_writes_its_activity_at_most_every_few_seconds(store):
    session = store.create(tokens())
    name = next(store.redis.scan_iter(f"{store.prefix}session:*"))
    written = store.redis.hget(name, "seen")
    store.touch(store.load(session.key)[0])  # a page a moment after sign-in: nothing to write
    assert store.redis.hget(name, "seen") == written
    store.redis.hset(name, "seen", repr(time.time() - 20))
    store.touch(store.load(session.key)[0])
    assert float(store.redis.hget(name, "seen")) > time.time() - 5
