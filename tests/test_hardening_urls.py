"""Issue 12, finding 7 (and the URL half of 14): the URL policy resolves before it trusts.

Through the MCP wire: loopback written in any textual IPv4 form, CGNAT, names that resolve to this machine, and
malformed hosts are refused before anything is sent; a listener on loopback sees no connection; a probe that cannot
reach its host never tells the caller why in words that would map local ports.
"""

from __future__ import annotations

import socket
from typing import Iterator

import pytest
from mcp import Client

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that must never see a connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _saw_nothing(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


async def _add(factory, video: str):  # type: ignore[no-untyped-def]
    async with factory() as client:
        return await client.call_tool("add_audio_to_video", {"video": video, "prompt": "x", "duration": 1, "seed": 3})


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "127.0.1", "2130706433", "0177.0.0.1", "0x7f.1"])
async def test_loopback_in_every_ipv4_spelling_is_refused_and_never_contacted(legacy, twin, listener, host) -> None:
    port = listener.getsockname()[1]
    result = await _add(legacy, f"https://{host}:{port}/clip.mp4")
    assert result.is_error is True, result.structured_content
    assert "private network" in result.content[0].text
    assert twin.state.submit_count() == 0 and twin.state.uploads == []
    assert _saw_nothing(listener)


@pytest.mark.parametrize(
    "host", ["100.64.0.1", "100.127.255.254", "[fd12::1]", "[::ffff:127.0.0.1]", "[64:ff9b::a00:1]"]
)
async def test_cgnat_unique_local_and_embedded_private_addresses_are_refused(legacy, twin, host) -> None:
    result = await _add(legacy, f"https://{host}/clip.mp4")
    assert result.is_error is True and "private network" in result.content[0].text
    assert twin.state.submit_count() == 0


async def test_a_name_that_resolves_to_loopback_is_refused_and_never_contacted(
    legacy, twin, listener, monkeypatch
) -> None:
    port = listener.getsockname()[1]

    def fake_dns(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(host).rstrip(".") == "rebind.example.test":  # like localtest.me or 127.0.0.1.nip.io
            return REAL_GETADDRINFO("127.0.0.1", *args, **kwargs)
        return REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    for name in ("NO_PROXY", "no_proxy"):  # not through a proxy: this machine resolves the name
        monkeypatch.setenv(name, "127.0.0.1,localhost,rebind.example.test")
    result = await _add(legacy, f"https://rebind.example.test:{port}/clip.mp4")
    assert result.is_error is True, result.structured_content
    text = result.content[0].text
    assert "resolves to 127.0.0.1" in text and "private network" in text
    assert twin.state.submit_count() == 0 and _saw_nothing(listener)


async def test_an_unreachable_probe_gives_no_raw_connection_error(legacy, twin, clip, monkeypatch) -> None:
    url = twin.public_url("probe-me.mp4", clip().read_bytes())

    def no_dns(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(host) == "media.example.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    for name in ("NO_PROXY", "no_proxy"):  # this process probes directly; fal (the twin) still fetches it
        monkeypatch.setenv(name, "127.0.0.1,localhost,media.example.test")
    result = await _add(legacy, url)
    assert result.is_error is False, result.content[0].text
    notes = " ".join(result.structured_content["notes"])
    assert "could not be probed (it could not be reached)" in notes
    for leak in ("Errno", "Error", "Name or service", "refused", "gaierror"):
        assert leak not in notes


@pytest.mark.parametrize("url", ["https://0177.0.0.1/", "https://[::1%]/", "https://a..b/", "https://-x.example/"])
async def test_malformed_urls_get_a_plain_answer(legacy, twin, url) -> None:
    result = await _add(legacy, url)
    assert result.is_error is True
    text = result.content[0].text
    assert "this is a bug" not in text.lower() and "internal" not in text.lower()
    assert "malformed" in text or "private network" in text
    assert twin.state.submit_count() == 0
