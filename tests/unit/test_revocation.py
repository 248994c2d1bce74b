"""shared.revocation: the list of ended sessions every token check consults; identity's route as a fake.

No sleeps: the clock is a fake, and refreshes are called directly (background=False) except in the one test
of the polling thread, which waits on fetches it can observe."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from werkzeug.serving import make_server

from shared.errors import ServiceUnavailable, Unauthorized
from shared.revocation import ENDED, IdentityRevocations, RevocationList, RevocationsUnavailable, revocation_list


class Clock:
    def __init__(self):
        self.now = 5_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIdentity:
    """identity's /internal/v1/revoked-sessions as a callable: counts fetches, can fail or answer "unchanged"."""

    def __init__(self, *sids: str):
        self.sids = list(sids)
        self.calls = 0
        self.fail: Exception | None = None
        self.unchanged = False
        self.answer: object = None

    def revoke(self, sid: str) -> None:
        self.sids.append(sid)

    def __call__(self):
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if self.answer is not None:
            return self.answer
        if self.unchanged:
            return None
        return {"sessions": [{"sid": s, "revoked_at": 1.0} for s in self.sids], "window_seconds": 960}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity("ended-1")


@pytest.fixture
def revocations(identity, clock) -> RevocationList:
    return RevocationList(identity, service="test", refresh_every=2, max_stale=60, background=False, clock=clock)


def test_a_listed_session_is_refused_and_others_pass(revocations):
    assert revocations.refresh() is True
    revocations.check("live-1")
    with pytest.raises(Unauthorized) as refused:
        revocations.check("ended-1")
    assert refused.value.detail == ENDED == "This session has ended; sign in again."
    assert refused.value.headers["WWW-Authenticate"] == "Bearer"


def test_a_revocation_holds_from_the_next_refresh(revocations, identity):
    revocations.refresh()
    revocations.check("s-2")
    identity.revoke("s-2")
    revocations.check("s-2")  # not fetched yet
    revocations.refresh()
    with pytest.raises(Unauthorized):
        revocations.check("s-2")


def test_a_session_that_leaves_the_list_passes_again(revocations, identity):
    """Identity keeps a session listed for as long as its tokens can be unexpired; the list in memory follows
    identity's, it does not grow for ever."""
    revocations.refresh()
    identity.sids = []
    revocations.refresh()
    revocations.check("ended-1")


def test_the_first_check_fetches_when_nothing_was_fetched_yet(revocations, identity):
    with pytest.raises(Unauthorized):
        revocations.check("ended-1")
    revocations.check("other")
    assert identity.calls == 1  # once; then memory


def test_before_a_first_list_an_unreachable_identity_is_503_and_tried_once_a_second(revocations, identity, clock):
    """The token may be good (a 401 would sign the user out), and no request may pass unchecked: 503."""
    identity.fail = ConnectionRefusedError("identity is down")
    for _ in range(5):
        with pytest.raises(ServiceUnavailable) as raised:
            revocations.check("any")
        assert raised.value.headers["Retry-After"]
        clock.advance(0.1)
    assert identity.calls == 1  # not one 1 s fetch per request queued on the lock
    clock.advance(1)
    identity.fail = None
    revocations.check("any")
    assert identity.calls == 2


def test_readiness_is_the_first_fetch(revocations, identity):
    identity.fail = ConnectionRefusedError("down")
    with pytest.raises(ServiceUnavailable):
        revocations.ensure_loaded()
    identity.fail = None
    revocations.first_retry_after = 0
    revocations.ensure_loaded()
    revocations.ensure_loaded()
    assert identity.calls == 2


def test_a_failed_refresh_keeps_the_last_list_until_max_stale_then_503(revocations, identity, clock):
    revocations.refresh()
    identity.fail = TimeoutError("identity is slow")
    clock.advance(59)
    assert revocations.refresh() is False
    with pytest.raises(Unauthorized):
        revocations.check("ended-1")  # the last list still holds
    revocations.check("live")
    clock.advance(1.5)  # 60.5 s since the last list was fetched
    with pytest.raises(ServiceUnavailable):
        revocations.check("live")
    identity.fail = None
    assert revocations.refresh() is True
    revocations.check("live")


def test_the_age_counts_from_the_start_of_the_last_good_fetch(identity, clock):
    """An answer reflects identity at some moment after the request left: the start is the safe side."""
    def slow():
        clock.advance(0.8)
        return identity()

    revocations = RevocationList(slow, refresh_every=2, max_stale=60, background=False, clock=clock)
    revocations.refresh()
    assert revocations.age == pytest.approx(0.8)


def test_unchanged_keeps_the_list_and_renews_its_age(revocations, identity, clock):
    revocations.refresh()
    identity.unchanged = True
    clock.advance(50)
    revocations.refresh()
    clock.advance(50)
    with pytest.raises(Unauthorized):
        revocations.check("ended-1")  # the same list, 50 s old, not 100


@pytest.mark.parametrize("answer", [{}, {"sessions": "ended-1"}, {"sessions": [{"id": "x"}]},
                                    {"sessions": [{"sid": ""}]}, {"sessions": [None]}, ["ended-1"]])
def test_a_malformed_answer_is_a_failed_fetch_that_keeps_the_last_list(revocations, identity, answer):
    revocations.refresh()
    identity.answer = answer
    assert revocations.refresh() is False
    with pytest.raises(Unauthorized):
        revocations.check("ended-1")


def test_failures_are_logged_every_30_s_not_every_refresh(revocations, identity, clock, caplog):
    revocations.refresh()
    identity.fail = ConnectionRefusedError("down")
    with caplog.at_level("WARNING", logger="shared.revocation"):
        for _ in range(20):  # 40 s of 2 s refreshes
            clock.advance(2)
            revocations.refresh()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert warnings[0].fields["list_age_seconds"] == 2


def test_the_age_is_a_metric(revocations, identity, clock):
    from prometheus_client import REGISTRY

    revocations.refresh()
    identity.fail = ConnectionRefusedError("down")
    clock.advance(7)
    revocations.refresh()
    assert REGISTRY.get_sample_value("revocation_list_age_seconds", {"service": "test"}) == 7
    assert REGISTRY.get_sample_value("revocation_list_fetch_failures_total", {"service": "test"}) >= 1


def test_the_polling_thread_starts_on_first_use_and_refreshes(identity):
    """Started by the first check (in a gunicorn worker: after the fork), it fetches every refresh_every s."""
    fetched = threading.Semaphore(0)

    def fetch():
        fetched.release()
        return identity()

    revocations = RevocationList(fetch, refresh_every=0.01, max_stale=60)
    try:
        assert not revocations._started
        with pytest.raises(Unauthorized):
            revocations.check("ended-1")
        for _ in range(3):  # three more fetches, by the thread, with no request at all
            assert fetched.acquire(timeout=5)
        identity.revoke("later")
        deadline = time.monotonic() + 5
        while True:
            try:
                revocations.check("later")
            except Unauthorized:
                break
            assert time.monotonic() < deadline, "the thread never fetched the new list"
            fetched.acquire(timeout=1)
    finally:
        revocations.stop()


def test_after_fork_the_thread_is_started_again(identity):
    """gunicorn forks its workers: the master's threads and lock states do not come along."""
    revocations = RevocationList(identity, refresh_every=60, max_stale=60)
    try:
        revocations.check("live")
        assert revocations._started
        revocations._lock.acquire()  # as if a fetch were under way in the parent at fork time
        revocations._reset_after_fork()  # what os.register_at_fork runs in the child
        assert not revocations._started and revocations.refresh() is True
    finally:
        revocations.stop()


# --- identity's route over HTTP ----------------------------------------------------------------------

class RevokedSessionsServer:
    """A stand-in for identity's internal route: checks the key, answers an ETag, 304 on a match."""

    def __init__(self):
        self.document = {"sessions": [{"sid": "s-1", "revoked_at": 1.0}], "window_seconds": 960}
        self.etag = True
        self.status = 200
        self.seen: list[dict] = []

    def __call__(self, environ, start_response):
        self.seen.append({"auth": environ.get("HTTP_AUTHORIZATION"), "inm": environ.get("HTTP_IF_NONE_MATCH"),
                          "path": environ["PATH_INFO"]})
        if environ.get("HTTP_AUTHORIZATION") != "Bearer k-1":
            start_response("401 Unauthorized", [("Content-Type", "application/problem+json")])
            return [b"{}"]
        if self.status != 200:
            start_response(f"{self.status} Oops", [("Content-Type", "application/problem+json")])
            return [b"{}"]
        body = json.dumps(self.document).encode()
        tag = f'"{hash(body)}"'
        if self.etag and environ.get("HTTP_IF_NONE_MATCH") == tag:
            start_response("304 Not Modified", [("ETag", tag)])
            return [b""]
        headers = [("Content-Type", "application/json")] + ([("ETag", tag)] if self.etag else [])
        start_response("200 OK", headers)
        return [body]


@pytest.fixture
def route():
    app = RevokedSessionsServer()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}/internal/v1/revoked-sessions"
    server.shutdown()


def test_the_route_is_called_with_the_internal_key_and_if_none_match(route):
    app, url = route
    fetch = IdentityRevocations(url, "k-1")
    assert fetch()["sessions"][0]["sid"] == "s-1"
    assert fetch() is None  # 304: nothing to parse
    assert app.seen[0]["auth"] == "Bearer k-1" and app.seen[0]["inm"] is None
    assert app.seen[1]["inm"] and app.seen[0]["path"] == "/internal/v1/revoked-sessions"
    app.document["sessions"].append({"sid": "s-2", "revoked_at": 2.0})
    assert [s["sid"] for s in fetch()["sessions"]] == ["s-1", "s-2"]


def test_without_an_etag_the_same_body_is_not_parsed_again(route):
    app, url = route
    app.etag = False
    fetch = IdentityRevocations(url, "k-1")
    assert fetch() is not None
    assert fetch() is None
    assert all(s["inm"] is None for s in app.seen)


@pytest.mark.parametrize("key,status", [("wrong-key", 200), ("k-1", 503)])
def test_a_refused_or_failed_fetch_raises(route, key, status):
    app, url = route
    app.status = status
    with pytest.raises(RevocationsUnavailable, match=str(401 if key == "wrong-key" else status)):
        IdentityRevocations(url, key)()


def test_a_fetch_has_a_timeout():
    """An identity that accepts the connection and never answers costs one read timeout, the one given (urllib3
    names what was left of it for the read), on one connection (no retry): not a hung thread."""
    import socket

    from urllib3.exceptions import ReadTimeoutError

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        fetch = IdentityRevocations(f"http://127.0.0.1:{listener.getsockname()[1]}/x", "k-1", timeout=0.2)
        raised: list[BaseException] = []

        def call():
            try:
                fetch()
            except BaseException as exc:  # noqa: BLE001 (handed to the test's thread)
                raised.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(30)  # only a guard: a fetch without a timeout fails the test here instead of hanging it
        assert not caller.is_alive(), "the fetch is still waiting for identity's answer"
        assert len(raised) == 1 and isinstance(raised[0], ReadTimeoutError), raised
        # the total given, less what connecting took: the read waited on the fetch's own timeout
        read_timeout = float(re.search(r"read timeout=([0-9.]+)\)", str(raised[0])).group(1))
        assert 0 < read_timeout <= 0.2
        listener.setblocking(False)
        listener.accept()[0].close()  # the fetch's connection
        with pytest.raises(BlockingIOError):  # and no other: a retry would have queued a second one
            listener.accept()


def test_the_factory_reads_the_environment(monkeypatch):
    class Config:
        service = "billing"
        internal_api_key = "k-9"

    monkeypatch.setenv("IDENTITY_URL", "http://identity.test:8001")
    monkeypatch.setenv("REVOCATION_MAX_STALE_SECONDS", "5")
    made = revocation_list(Config(), background=False)
    assert made.max_stale == 5 and made.refresh_every == 2 and made.service == "billing"
    assert made._fetch.url == "http://identity.test:8001/internal/v1/revoked-sessions"
    assert made._fetch._headers["Authorization"] == "Bearer k-9"
