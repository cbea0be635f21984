"""DNS rebinding: only known Host names are answered, and Origin must be this server."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from tests.helpers.serve import make_client, next_json, png_bytes  # noqa: E402
from viewgen.server.hosts import HostPolicy, host_name  # noqa: E402


@pytest.mark.parametrize("netloc, name", [
    ("Example.org:8000", "example.org"), ("[::1]:80", "::1"), ("127.0.0.1", "127.0.0.1"), ("::1", "::1"),
])
def test_host_name(netloc, name):
    assert host_name(netloc) == name


def test_policy_allows_loopback_and_the_listening_address_only():
    policy = HostPolicy(["192.168.1.20"])
    for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "192.168.1.20:8000", "LOCALHOST"):
        assert policy.host_allowed(host), host
    for host in ("evil.example:8000", "192.168.1.21:8000", "", None, "127.0.0.1.evil.example"):
        assert not policy.host_allowed(host), host
    anywhere = HostPolicy(["0.0.0.0", "studio.lan"])
    assert anywhere.host_allowed("10.0.0.7:8000") and anywhere.host_allowed("studio.lan:8000")
    assert not anywhere.host_allowed("evil.example:8000")


def test_policy_origin_must_be_this_server():
    policy = HostPolicy()
    assert policy.origin_allowed(None, "127.0.0.1:8000")  # not a browser page
    assert policy.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not policy.origin_allowed("http://localhost:9999", "127.0.0.1:8000")
    assert not policy.origin_allowed("null", "127.0.0.1:8000")
    # Rebinding: the attacker's name is both Host and Origin; equal, but not a known name.
    assert not policy.origin_allowed("http://evil.example:8000", "evil.example:8000")


def test_a_rebound_domain_is_refused_even_when_origin_matches_host(factory):
    rebound = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
    with make_client(factory, allowed_hosts=()) as client:
        response = client.get("/api/status", headers={"Host": "evil.example:8000"})
        assert response.status_code == 403
        assert "--allow-host evil.example" in response.json()["detail"]
        assert client.get("/", headers=rebound).status_code == 403
        assert client.get("/api/status", headers={"Host": "localhost:8000"}).status_code == 200

        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws", headers=rebound):
                pass
        assert refused.value.code == 1008

    with make_client(factory) as client, client.websocket_connect("/ws") as ws:  # testserver allowed
        session = next_json(ws, "hello")["session"]
        response = client.post(f"/api/sessions/{session}/upload", content=png_bytes(),
                               headers={"Host": "evil.example", "Origin": "http://evil.example"})
        assert response.status_code == 403
