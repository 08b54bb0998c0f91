"""Outbound calls (labeling/outbound.py) and sealed credentials (labeling/secretbox.py)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labeling import outbound, secretbox
from labeling.errors import Conflict, Invalid
from labeling.settings import get_settings


@pytest.fixture
def settings_env(monkeypatch):
    def setenv(**values):
        for key, value in values.items():
            monkeypatch.setenv(f"LABELFAB_{key.upper()}", value)
        get_settings.cache_clear()

    yield setenv
    monkeypatch.undo()
    get_settings.cache_clear()


class Handler(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.seen.append((self.path, self.headers.get("Host"), self.headers.get("X-Sig"), body))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path == "/slow":  # a receiver that takes its time to answer
            time.sleep(3)
        answer = b"x" * 5000 if self.path == "/big" else b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Handler.seen = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("url, why", [
    ("ftp://example.com/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/", "private"),
    ("http://[::1]:8080/", "loopback"),
    ("http://localhost:9/", "refused"),
    ("http://0.0.0.0/", "refused"),
    ("http://example.com:99999/", "port"),
])
def test_urls_to_the_servers_own_network_are_refused(settings_env, url, why):
    settings_env(outbound_allow="")
    with pytest.raises(Invalid, match=why):
        outbound.check_url(url)


def test_an_allowed_address_or_network_may_be_called(settings_env):
    settings_env(outbound_allow="127.0.0.1")
    assert outbound.check_url("http://127.0.0.1:8080/hook?x=1").path == "/hook?x=1"
    settings_env(outbound_allow="10.0.0.0/8, models.internal")
    assert outbound.check_url("http://10.1.2.3/").address == "10.1.2.3"
    with pytest.raises(Invalid):
        outbound.check_url("http://127.0.0.1:8080/")


def test_a_call_reaches_the_checked_address_with_its_headers(receiver):
    reply = outbound.request("POST", receiver + "/hook?a=1", body=b'{"x": 1}', headers={"X-Sig": "abc"})
    assert reply.status == 200 and reply.json() == {"ok": True}
    path, host, sig, body = Handler.seen[-1]
    assert (path, sig, body) == ("/hook?a=1", "abc", b'{"x": 1}')
    assert host == receiver.removeprefix("http://")


def test_a_redirect_is_not_followed(receiver):
    reply = outbound.request("POST", receiver + "/redirect", body=b"{}")
    assert reply.status == 302
    assert len(Handler.seen) == 1


def test_an_answer_past_the_size_bound_is_an_error(receiver, settings_env):
    settings_env(outbound_max_response_kb="4")
    with pytest.raises(outbound.OutboundError, match="more than 4 KiB"):
        outbound.request("POST", receiver + "/big", body=b"{}")


def test_a_receiver_slower_than_the_timeout_is_an_error_within_the_bound(receiver, settings_env):
    settings_env(outbound_timeout="0.5")
    started = time.monotonic()
    with pytest.raises(outbound.OutboundError, match="Timeout"):
        outbound.request("POST", receiver + "/slow", body=b"{}")
    assert time.monotonic() - started < 2.5  # the receiver would have taken 3 s
    assert outbound.request("POST", receiver + "/fast", body=b"{}").status == 200


def test_an_unreachable_receiver_is_an_outbound_error():
    with pytest.raises(outbound.OutboundError):
        outbound.request("POST", "http://127.0.0.1:9/", body=b"{}", timeout=2)


def test_sealed_credentials_open_only_with_the_same_secret(settings_env):
    settings_env(secret_key="one secret")
    token = secretbox.seal("AKIA-secret")
    assert "AKIA" not in token
    assert secretbox.unseal(token) == "AKIA-secret"
    settings_env(secret_key="another secret")
    with pytest.raises(Conflict, match="enter them again"):
        secretbox.unseal(token)
