"""HttpProcessor against the sandbox processor running under real gunicorn (one worker, threads).

The browser's part (tokenizing with CORS) is done with plain requests; everything else
goes through the adapter: token look-up, charges, the slow card that times out on our
side while the processor records the charge, a stopped processor, refunds. Needs no
database or broker: only processes and sockets of this machine.
"""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

import pytest
import requests

from services.payments.processor import (
    FAILURE_MESSAGES,
    CardTokenInvalid,
    HttpProcessor,
    ProcessorTimeout,
    ProcessorUnavailable,
    ReferenceConflict,
)
from tests.support import random_refs
from tests.support.processes import Process, eventually, free_port, gunicorn, python_module, wait_http

pytestmark = pytest.mark.integration

API_KEY = "sk_test_integration"
SLOW_SECONDS = 2
APP = "services.payments.sandbox.app:create_app()"
NEXT_YEAR = datetime.now(UTC).year + 1
ORIGIN = "http://127.0.0.1:8000"


def sandbox_env(tmp_path, name: str) -> dict[str, str]:
    return {"SANDBOX_API_KEY": API_KEY, "SANDBOX_SLOW_SECONDS": str(SLOW_SECONDS), "PORTAL_ENV": "development",
            "SANDBOX_DATABASE_PATH": str(tmp_path / f"{name}.sqlite3"), "WEB_CONCURRENCY": "1",
            "GUNICORN_THREADS": "8", "LOG_LEVEL": "INFO"}


def start_sandbox(tmp_path, name: str) -> tuple[Process, str]:
    port = free_port()
    process = Process(name, gunicorn(APP, port), sandbox_env(tmp_path, name), tmp_path).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", process)
    except Exception:
        process.stop()
        raise
    return process, url


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("sandbox")
    process, url = start_sandbox(tmp_path, "sandbox-processor")
    yield process, url
    process.stop()


@pytest.fixture(scope="module")
def sandbox_url(sandbox):
    return sandbox[1]


@pytest.fixture
def processor(sandbox_url):
    adapter = HttpProcessor(sandbox_url, API_KEY, timeout=(1.0, 10.0))
    yield adapter
    adapter.close()


def ref(prefix: str = "pay") -> str:
    return f"{prefix}_{random_refs.suffix()}"


def tokenize(base_url: str, number: str, **overrides) -> requests.Response:
    """What the browser does: the card goes to the processor, with our page's Origin; no API key."""
    body = {"card_number": number, "exp_month": 11, "exp_year": NEXT_YEAR, "cvc": "123",
            "cardholder_name": "Jordan Rivera", "postal_code": "94110", **overrides}
    return requests.post(f"{base_url}/v1/tokens", json=body, headers={"Origin": ORIGIN}, timeout=5)


def token_of(base_url: str, number: str = "4242 4242 4242 4242") -> str:
    response = tokenize(base_url, number)
    assert response.status_code == 201, response.text
    return response.json()["token"]


def test_the_browser_tokenizes_across_origins(sandbox_url):
    preflight = requests.options(f"{sandbox_url}/v1/tokens", timeout=5, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    made = tokenize(sandbox_url, "4242-4242-4242-4242")
    assert made.status_code == 201 and made.headers["Access-Control-Allow-Origin"] == "*"
    assert made.json()["brand"] == "visa" and made.json()["last4"] == "4242"
    refused = tokenize(sandbox_url, "4242 4242 4242 4241")
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "incorrect_number"
    assert refused.headers["Access-Control-Allow-Origin"] == "*"


def test_our_service_reads_the_card_behind_the_token(sandbox_url, processor):
    details = processor.retrieve_token(token_of(sandbox_url, "5555 5555 5555 4444"))
    assert (details.brand, details.last4, details.exp_month, details.exp_year) == ("mastercard", "4444", 11, NEXT_YEAR)
    assert details.cardholder_name == "Jordan Rivera" and details.fingerprint
    with pytest.raises(CardTokenInvalid):
        processor.retrieve_token("tok_not_there")


def test_a_charge_succeeds_once_per_reference(sandbox_url, processor):
    token, reference = token_of(sandbox_url), ref()
    result = processor.charge(token=token, amount_cents=12500, currency="USD", reference=reference,
                              description="Invoice INV-1001")
    assert result.succeeded and result.charge_id.startswith("ch_")
    assert processor.charge(token=token, amount_cents=12500, currency="USD", reference=reference,
                            description="Invoice INV-1001") == result
    with pytest.raises(ReferenceConflict):
        processor.charge(token=token, amount_cents=99, currency="USD", reference=reference, description="")
    assert processor.find_charge(reference) == result
    assert processor.find_charge(ref()) is None


@pytest.mark.parametrize(("number", "code"), [("4000 0000 0000 0002", "card_declined"),
                                              ("4000 0000 0000 9995", "insufficient_funds")])
def test_a_declined_charge_has_a_code_and_words_for_the_client(sandbox_url, processor, number, code):
    result = processor.charge(token=token_of(sandbox_url, number), amount_cents=5000, currency="USD",
                              reference=ref(), description="Invoice INV-1002")
    assert (result.status, result.failure_code) == ("failed", code)
    assert result.failure_message == FAILURE_MESSAGES[code]


def test_the_slow_card_times_out_here_but_the_charge_is_found_afterwards(sandbox_url):
    impatient = HttpProcessor(sandbox_url, API_KEY, timeout=(1.0, 0.5))
    token, reference = token_of(sandbox_url, "4000 0000 0000 3220"), ref()
    with pytest.raises(ProcessorTimeout) as gave_up:
        impatient.charge(token=token, amount_cents=7000, currency="USD", reference=reference,
                         description="Invoice INV-1003")
    # Given up at our read timeout, not after the sandbox's late answer (that would be a result), and not
    # retried blindly: a second POST under the reference would have found the charge and answered it.
    assert isinstance(gave_up.value.__cause__, requests.exceptions.ReadTimeout), repr(gave_up.value.__cause__)
    found = impatient.find_charge(reference)
    assert found is not None and found.succeeded and found.amount_cents == 7000
    # Repeating the charge under the same reference is safe: the first result, not a second charge.
    assert impatient.charge(token=token, amount_cents=7000, currency="USD", reference=reference,
                            description="Invoice INV-1003") == found
    impatient.close()


def test_refund_part_then_an_over_refund_is_refused(sandbox_url, processor):
    charged = processor.charge(token=token_of(sandbox_url), amount_cents=10000, currency="USD", reference=ref(),
                               description="Invoice INV-1004")
    reference = ref("rf")
    part = processor.refund(charge_id=charged.charge_id, amount_cents=4000, reference=reference)
    assert part.succeeded and part.refund_id.startswith("re_")
    assert processor.refund(charge_id=charged.charge_id, amount_cents=4000, reference=reference) == part
    over = processor.refund(charge_id=charged.charge_id, amount_cents=6001, reference=ref("rf"))
    assert (over.status, over.failure_code) == ("failed", "amount_too_large")
    rest = processor.refund(charge_id=charged.charge_id, amount_cents=6000, reference=ref("rf"))
    assert rest.succeeded
    assert processor.find_charge(charged.reference).amount_refunded_cents == 10000
    assert processor.find_refund(reference) == part


def test_a_stopped_sandbox_is_unavailable_not_unknown(tmp_path):
    process, url = start_sandbox(tmp_path, "stopped-sandbox")
    adapter = HttpProcessor(url, API_KEY, timeout=(0.5, 2.0), backoff=0.01)
    token = token_of(url)
    assert adapter.retrieve_token(token).last4 == "4242"  # a pooled connection is open now
    process.stop()
    with pytest.raises(ProcessorUnavailable):
        adapter.charge(token=token, amount_cents=100, currency="USD", reference=ref(), description="")
    with pytest.raises(ProcessorUnavailable):
        adapter.find_charge(ref())
    with pytest.raises(ProcessorUnavailable):
        adapter.retrieve_token(token)
    with pytest.raises(ProcessorUnavailable):
        adapter.refund(charge_id="ch_x", amount_cents=1, reference=ref("rf"))
    adapter.close()


class SilentServer:
    """Accepts connections, reads a request, and hangs up without answering; counts the requests. A request is
    counted before the hang-up, so a client whose call ended at the hang-up finds every request it sent counted
    (the tests give the client a read timeout far longer, as a guard only)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(65536)
                except OSError:
                    continue
                if data:
                    self.requests.append(data.split(b" ", 1)[0].decode())

    def close(self):
        self.sock.close()


def test_a_post_is_never_sent_twice_but_a_look_up_is_retried():
    server = SilentServer()
    try:
        adapter = HttpProcessor(server.url, API_KEY, timeout=(1.0, 30.0), retries=2, backoff=0.01)
        with pytest.raises(ProcessorTimeout):  # hung up on: the outcome is unknown
            adapter.charge(token="tok_x", amount_cents=100, currency="USD", reference=ref(), description="")
        assert server.requests == ["POST"]
        with pytest.raises(ProcessorUnavailable):
            adapter.find_charge(ref())
        assert server.requests == ["POST", "GET", "GET", "GET"]
        adapter.close()
    finally:
        server.close()


def test_the_environment_s_proxy_settings_are_honoured_as_they_were_at_start(monkeypatch):
    """Read once, when the adapter is made (not on every call): a proxy the deployment sets is used, NO_PROXY
    is respected, and a change afterwards takes a restart. A charge the proxy took and then lost is of unknown
    outcome (urllib3 calls it a ProxyError), not "never sent"; a proxy that cannot be reached is."""
    proxy = SilentServer()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        through_proxy = HttpProcessor("http://processor.example.test", API_KEY, timeout=(1.0, 30.0), retries=0)
        monkeypatch.setenv("NO_PROXY", "processor.example.test")
        direct = HttpProcessor("http://processor.example.test", API_KEY, timeout=(1.0, 0.5), retries=0)
        monkeypatch.delenv("HTTP_PROXY")
        with pytest.raises(ProcessorTimeout):  # the proxy read the request and hung up: the outcome is unknown
            through_proxy.charge(token="tok_x", amount_cents=100, currency="USD", reference=ref(), description="")
        assert proxy.requests == ["POST"]
        with pytest.raises(ProcessorUnavailable):  # straight to a host that does not exist: never sent
            direct.find_charge(ref())
        assert proxy.requests == ["POST"]
        assert through_proxy.session.trust_env is False and direct.session.trust_env is False
        through_proxy.close()
        direct.close()
    finally:
        proxy.close()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    unreachable = HttpProcessor("http://processor.example.test", API_KEY, timeout=(1.0, 1.0), retries=0)
    with pytest.raises(ProcessorUnavailable):
        unreachable.charge(token="tok_x", amount_cents=100, currency="USD", reference=ref(), description="")
    unreachable.close()


def test_no_card_number_or_cvc_reaches_the_sandbox_log(sandbox, processor):
    process, url = sandbox
    cards = ["4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995", "4000000000000069",
             "4000000000000127", "4000000000000119"]
    assert tokenize(url, "4242424242424241").status_code == 402
    for number in cards:
        token = token_of(url, " ".join(number[i:i + 4] for i in range(0, 16, 4)))
        last = ref()
        processor.charge(token=token, amount_cents=100, currency="USD", reference=last, description="")

    def log_with_the_last_charge() -> str | None:
        # Its line in the file means the lines of every request before it are there too (one worker, in order).
        text = process.log_path.read_text(errors="replace")
        return text if last in text else None

    log = eventually(log_with_the_last_charge, timeout=30, interval=0.05, message="the last charge's log line")
    assert "card tokenized" in log and "charge recorded" in log
    for number in [*cards, "4242424242424241"]:
        assert number not in log and " ".join(number[i:i + 4] for i in range(0, 16, 4)) not in log
    assert '"cvc"' not in log and '"123"' not in log


def test_the_dev_server_entry_point_runs_and_production_is_refused(tmp_path):
    port = free_port()
    dev = Process("sandbox-dev", python_module("services.payments.sandbox", "--port", str(port)),
                  sandbox_env(tmp_path, "dev"), tmp_path).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", dev)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["service"] == "sandbox-processor"
    finally:
        dev.stop()
    refused = Process("sandbox-prod", python_module("services.payments.sandbox", "--port", str(free_port())),
                      {**sandbox_env(tmp_path, "prod"), "PORTAL_ENV": "production"}, tmp_path).start()
    assert refused.popen.wait(timeout=30) != 0
    assert "PORTAL_ENV=production" in refused.tail()
