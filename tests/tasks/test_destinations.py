"""Webhook destinations: public addresses only unless allowlisted, checked for every
resolved address at submit time and again on the worker, sent to the checked address.

This module's app has no allowlist (the other task tests allow loopback for their
receivers). "No traffic" is asserted on a real loopback listener that never accepts:
a connection would sit completed in its backlog, so an unreadable listener proves
none was made; other addresses cannot be listened on, so connection attempts are
recorded at ``socket.create_connection`` (what the sender uses).
"""

from __future__ import annotations

import ipaddress
import select
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import Webhook, dead_letters, submit_batch, submit_webhook
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.destinations import (
    DestinationPolicy,
    DestinationRefusedError,
    refusal,
)
from redis_agent_core.tasks.webhooks import post

from .conftest import SECRET, Hook
from .conftest import dead_letter_for as _dead

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
def task_app(task_config: RedisAgentConfig) -> Celery:
    return create_app(task_config, webhook_secret=SECRET, webhook_allow=())


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback TCP listener that never accepts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def _untouched(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    return not readable


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records TCP connection attempts made through socket.create_connection."""
    calls: list[Any] = []
    real = socket.create_connection

    def record(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        calls.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", record)
    return calls


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Names ending in .test resolve to scripted answers (one list per lookup, the last
    repeats); every other name goes to the real resolver."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if isinstance(host, str) and host.endswith(".test"):
            script = answers[host]
            ips = script.pop(0) if len(script) > 1 else script[0]
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, int(port or 0)),
                )
                for ip in ips
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


FORBIDDEN = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "::1": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "169.254.169.254": "link-local",
    "fe80::1": "link-local",
    "fec0::1": "site-local",  # deprecated, outside Python's is_private
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "100.64.0.1": "not globally routable",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "::7f00:1": "loopback",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
}


@pytest.mark.parametrize(("ip", "reason"), FORBIDDEN.items(), ids=list(FORBIDDEN))
def test_each_forbidden_class_is_named(ip: str, reason: str) -> None:
    assert (refusal(ipaddress.ip_address(ip)) or "").startswith(reason)


@pytest.mark.parametrize("ip", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(ip: str) -> None:
    assert refusal(ipaddress.ip_address(ip)) is None


LITERAL_URLS = [
    "http://{ip}/hook",
    "https://{ip}:8443/hook",
]


@pytest.mark.parametrize("ip", list(FORBIDDEN), ids=list(FORBIDDEN))
def test_submit_refuses_every_forbidden_literal_and_sends_nothing(
    task_app: Celery, task_config: RedisAgentConfig, connects: list[Any], ip: str
) -> None:
    host = f"[{ip}]" if ":" in ip else ip
    before = len(dead_letters(config=task_config))
    for url in LITERAL_URLS:
        with pytest.raises(DestinationRefusedError, match=FORBIDDEN[ip]):
            submit_webhook(url.format(ip=host), {"n": 1}, app=task_app)
    assert connects == []
    assert len(dead_letters(config=task_config)) == before  # nothing queued or written


@pytest.mark.parametrize(
    "form",
    [
        "127.0.0.1",
        "localhost",
        "2130706433",
        "0x7f.0.0.1",
        "127.1",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
    ],
)
def test_every_spelling_of_loopback_is_refused_on_the_worker_with_no_traffic(
    task_app: Celery, task_config: RedisAgentConfig, listener: socket.socket, form: str
) -> None:
    """A hand-made message (no submit-time check) reaches the worker, which refuses it:
    the listener the URL points at never sees a connection."""
    port = listener.getsockname()[1]
    key = uuid.uuid4().hex
    hook = Webhook(f"http://{form}:{port}/hook", max_attempts=3, backoff=0.01).to_dict()
    task_app.tasks["rap.deliver_webhook"].apply_async(args=[hook, {"n": 1}, key, None])
    dead = _dead(task_config, key)
    assert "webhook destination refused" in dead["error"] and dead["attempts"] == 1
    assert _untouched(listener)


def test_a_job_webhook_to_cloud_metadata_is_refused_before_the_job_exists(
    task_app: Celery, task_config: RedisAgentConfig, connects: list[Any]
) -> None:
    with pytest.raises(DestinationRefusedError, match="link-local"):
        submit_batch(
            ["x"], model="echo", webhook="http://169.254.169.254/latest/meta-data/",
            job_id="metadata-hook", app=task_app,
        )  # fmt: skip
    assert not task_config.get_client().exists(task_config.keys.job("metadata-hook"))
    assert connects == []


def test_a_name_with_any_forbidden_address_is_refused(
    task_app: Celery, fake_dns: dict[str, list[list[str]]], connects: list[Any]
) -> None:
    fake_dns["mixed.test"] = [["93.184.216.34", "10.0.0.7"]]
    with pytest.raises(DestinationRefusedError, match=r"mixed.test resolves to 10.0.0.7: private"):
        submit_webhook("http://mixed.test/hook", {}, app=task_app)
    assert connects == []


def test_the_worker_checks_again_at_send_time(
    task_app: Celery,
    task_config: RedisAgentConfig,
    fake_dns: dict[str, list[list[str]]],
    connects: list[Any],
) -> None:
    """Public when submitted, private when the worker sends (DNS rebinding): refused."""
    fake_dns["rebind.test"] = [["93.184.216.34"], ["10.0.0.7"]]
    key = submit_webhook("http://rebind.test/hook", {"n": 1}, app=task_app)
    dead = _dead(task_config, key)
    assert "rebind.test resolves to 10.0.0.7: private" in dead["error"]
    assert connects == []


def test_the_post_goes_to_the_checked_address_with_the_name_as_host(
    fake_dns: dict[str, list[list[str]]], hook: Hook, task_config: RedisAgentConfig
) -> None:
    """One lookup per send: a second answer (here a forbidden one) is never used, and
    the request carries the name in Host."""
    port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
    fake_dns["pinned.test"] = [["127.0.0.1"], ["10.0.0.7"]]
    app = create_app(task_config, webhook_secret=SECRET, webhook_allow="127.0.0.1/32")
    outcome = post(app, f"http://pinned.test:{port}/hook", b"{}", {"X-T": "1"}, 5.0)
    assert outcome.ok
    (req,) = hook.wait(1)
    assert req["headers"]["Host"] == f"pinned.test:{port}"
    assert fake_dns["pinned.test"] == [["10.0.0.7"]]  # looked up once: the 2nd answer unused


def test_the_allowlist_takes_cidrs_ips_and_host_names(
    fake_dns: dict[str, list[list[str]]], hook: Hook, task_config: RedisAgentConfig
) -> None:
    port = int(hook.url.rsplit(":", 1)[1].split("/")[0])
    fake_dns["hooks.test"] = [["127.0.0.1"]]
    by_name = create_app(task_config, webhook_secret=SECRET, webhook_allow="hooks.test")
    assert post(by_name, f"http://hooks.test:{port}/a", b"{}", {}, 5.0).ok
    with pytest.raises(DestinationRefusedError):  # the name, not its address, is allowed
        post(by_name, f"http://127.0.0.1:{port}/a", b"{}", {}, 5.0)
    by_net = create_app(task_config, webhook_secret=SECRET, webhook_allow=["127.0.0.0/8"])
    assert post(by_net, f"http://127.0.0.1:{port}/b", b"{}", {}, 5.0).ok
    with pytest.raises(DestinationRefusedError, match="link-local"):
        post(by_net, "http://169.254.169.254/c", b"{}", {}, 5.0)
    assert [r["path"] for r in hook.wait(2)] == ["/a", "/b"]


def test_allowing_an_ipv4_network_covers_its_mapped_ipv6_form() -> None:
    policy = DestinationPolicy.parse("127.0.0.0/8")
    assert policy.check("http://[::ffff:127.0.0.1]:9/x").addresses == ("::ffff:7f00:1",)
    with pytest.raises(DestinationRefusedError):
        policy.check("http://[::1]:9/x")


def test_the_allowlist_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, task_config: RedisAgentConfig
) -> None:
    monkeypatch.setenv("REDIS_AGENT_WEBHOOK_ALLOW", "10.0.0.0/8, hooks.internal")
    app = create_app(task_config, webhook_secret=SECRET)
    assert app.webhook_policy.check("http://10.2.3.4/x").addresses == ("10.2.3.4",)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "http://x", "fe80::zz"])
def test_bad_allowlist_entries_are_config_errors(entry: str) -> None:
    with pytest.raises(ConfigError, match="allowlist"):
        DestinationPolicy.parse(entry)


def test_an_unresolvable_name_passes_submit_and_is_retried_then_dead_lettered(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    hook = Webhook("http://no-such-host.invalid/x", max_attempts=2, backoff=0.01)
    key = submit_webhook(hook, {}, app=task_app)
    dead = _dead(task_config, key)
    assert dead["attempts"] == 2 and "cannot resolve" in dead["error"]


@pytest.fixture
def tls_receiver(tmp_path: Any) -> Iterator[tuple[int, str, list[str]]]:
    """An HTTPS receiver on loopback with a self-signed certificate for tls.test;
    yields (port, CA file, server names seen through SNI)."""
    import http.server
    import shutil
    import ssl
    import subprocess
    import threading

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=tls.test",
         "-addext", "subjectAltName=DNS:tls.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], str(cert), names
    server.shutdown()
    server.server_close()


def test_https_to_a_pinned_address_checks_the_certificate_against_the_name(
    fake_dns: dict[str, list[list[str]]], tls_receiver: tuple[int, str, list[str]]
) -> None:
    import ssl

    from redis_agent_core.tasks.destinations import send

    port, ca, names = tls_receiver
    fake_dns["tls.test"] = [["127.0.0.1"]]
    fake_dns["other.test"] = [["127.0.0.1"]]
    policy = DestinationPolicy.parse("127.0.0.1")
    trust = ssl.create_default_context(cafile=ca)
    good = policy.check(f"https://tls.test:{port}/hook")
    assert send(good, b"{}", {}, 5.0, ssl_context=trust)[0] == 204
    assert names == ["tls.test"]  # SNI carries the name, the socket went to the address
    wrong = policy.check(f"https://other.test:{port}/hook")  # same address, other name
    with pytest.raises(ssl.SSLCertVerificationError):
        send(wrong, b"{}", {}, 5.0, ssl_context=trust)


@pytest.mark.parametrize(
    "url",
    ["ftp://hook:s3cret@x/h", "http://hook:s3cret@x:99999/h", "http://hook:s3cret@:80/h"],
)
def test_a_refused_webhook_url_does_not_show_its_password(url: str) -> None:
    # review25: the userinfo check (attack25) refused the URL because its password would
    # be kept, but a URL refused by an earlier check (scheme, port) echoed it whole in
    # the error, which lands in logs and the service's 400 answers
    with pytest.raises(ConfigError) as refused:
        Webhook(url)
    assert "s3cret" not in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        DestinationPolicy().check(url, resolve=False)
    assert "s3cret" not in str(refused.value)


def test_a_message_queued_with_a_password_in_its_url_is_dead_lettered_without_it(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # queued before the userinfo check (or forged): dead-lettered at once, as an
    # undeliverable message, and the dead letter kept the password in its url field
    from redis_agent_core.tasks.queue import send_task

    key = f"pw-{uuid.uuid4().hex}"
    spec = {"url": "http://hook:s3cret@127.0.0.1:9/h"}
    send_task(task_app, "rap.deliver_webhook", [spec, {}, key, None])
    dead = _dead(task_config, key)
    assert "user name or password" in dead["error"]
    assert dead["url"] == "http://hook:***@127.0.0.1:9/h"
    assert "s3cret" not in repr(dead)


# left26: a password holding an unescaped '/', '#', '?' (or '@' before one of them) ends
# the authority early for urlsplit, which read a piece of it as the port (its ValueError
# said "...as 's3'"), the host or the path; shown_url's pattern stopped at the delimiter
# and showed the whole password. Pieces: "s3" and "cret".
SPLIT_PASSWORDS = [
    "http://hook:s3/cret@127.0.0.1:9/h",
    "http://hook:s3#cret@127.0.0.1:9/h",
    "http://hook:s3?cret@127.0.0.1:9/h",
    "http://:s3/cret@127.0.0.1:9/h",
    "http://hook:s3@cret/x@127.0.0.1:9/h",
    "http://hook:s3@cret?x@127.0.0.1:9/h",
    "http://hook:s3@cret#x@127.0.0.1:9/h",
    "ftp://hook:s3/cret@127.0.0.1:9/h",
]


def _shows_a_piece(text: str) -> bool:
    return "s3" in text or "cret" in text


@pytest.mark.parametrize("url", SPLIT_PASSWORDS)
def test_no_piece_of_a_password_with_a_delimiter_is_shown(url: str) -> None:
    for refuse in (Webhook, lambda u: DestinationPolicy().check(u, resolve=False)):
        with pytest.raises(ConfigError, match="user name or password") as refused:
            refuse(url)
        assert not _shows_a_piece(str(refused.value)), refused.value
        assert "127.0.0.1:9/h" in str(refused.value)  # where it points is still named


@pytest.mark.parametrize("url", SPLIT_PASSWORDS[:5])
def test_a_queued_url_with_a_split_password_is_dead_lettered_without_any_piece(
    task_app: Celery, task_config: RedisAgentConfig, url: str
) -> None:
    from redis_agent_core.tasks.queue import send_task

    key = f"pw-{uuid.uuid4().hex}"
    send_task(task_app, "rap.deliver_webhook", [{"url": url}, {}, key, None])
    dead = _dead(task_config, key)
    assert "user name or password" in dead["error"]
    assert dead["url"].endswith(":***@127.0.0.1:9/h")
    assert not _shows_a_piece(repr(dead)), dead
