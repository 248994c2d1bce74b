"""`python -m shared.demo` (make run's demo client): never in production, and it says what it needs."""

from __future__ import annotations

import pytest

from shared import demo


def test_it_refuses_to_run_in_production(monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "x" * 20)
    monkeypatch.setenv("DEMO_CLIENT_PASSWORD", "y" * 20)
    monkeypatch.setattr(demo, "wait_ready", lambda *a, **k: pytest.fail("asked the gateway in production"))
    assert demo.main(["--gateway", "http://127.0.0.1:9"]) == 2
    assert "refused with PORTAL_ENV=production" in capsys.readouterr().err


def test_it_needs_both_passwords(monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_ENV", "development")
    monkeypatch.delenv("DEMO_CLIENT_PASSWORD", raising=False)
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "x" * 20)
    monkeypatch.setattr(demo, "wait_ready", lambda *a, **k: pytest.fail("asked the gateway without a password"))
    assert demo.main([]) == 2
    assert "DEMO_CLIENT_PASSWORD" in capsys.readouterr().err


def test_a_gateway_that_never_answers_is_a_plain_message(monkeypatch, capsys):
    monkeypatch.setenv("PORTAL_ENV", "development")
    monkeypatch.setenv("PORTAL_ADMIN_PASSWORD", "x" * 20)
    monkeypatch.setenv("DEMO_CLIENT_PASSWORD", "y" * 20)
    assert demo.main(["--gateway", "http://127.0.0.1:9", "--wait", "0"]) == 1
    err = capsys.readouterr().err
    assert "no demo client" in err and "x" * 20 not in err and "y" * 20 not in err
