"""What may be fetched: https:// only by default, http:// only when the operator allows it, every other scheme refused,
no credentials or private addresses, and signed URLs never logged in full at info level."""

from __future__ import annotations

import pytest

from alice_mcp.adapters.logs import RedactingFormatter
from alice_mcp.adapters.url_policy import redact_urls
from tests.conftest import files_in
from tests.test_stdout_purity import _messages, _run


async def _add(connect, video: str):  # type: ignore[no-untyped-def]
    async with connect() as client:
        return await client.call_tool("add_audio_to_video", {"video": video, "prompt": "x", "duration": 1})


def _refused(result, twin) -> str:  # type: ignore[no-untyped-def]
    assert result.is_error is True, result.structured_content
    assert twin.state.submit_count() == 0 and twin.state.rejected_submits == [] and twin.state.uploads == []
    return result.content[0].text


@pytest.mark.parametrize(
    "video, words",
    [
        ("file:///etc/passwd", "outside the folders"),
        ("data:video/mp4;base64,AAAA", "Unsupported URL scheme 'data'"),
        ("ftp://example.com/a.mp4", "Unsupported URL scheme 'ftp'"),
        ("javascript:alert(document.cookie)", "Unsupported URL scheme 'javascript'"),
        ("s3://bucket/a.mp4", "Unsupported URL scheme 's3'"),
        ("gopher://example.com/a.mp4", "Unsupported URL scheme 'gopher'"),
        ("http://media.example.test/a.mp4", "ALICE_ALLOW_HTTP"),
        ("https://", "has no host"),
        ("https://user:hunter2@media.example.test/a.mp4", "user name or password"),
        ("https://127.0.0.1/a.mp4", "private network"),
        ("https://localhost:8443/a.mp4", "private network"),
        ("https://169.254.169.254/latest/meta-data", "private network"),
        ("https://[::1]/a.mp4", "private network"),
        ("https://10.0.0.7/a.mp4", "private network"),
        ("https://nas.local/a.mp4", "private network"),
        ("https://media.example.test/a b.mp4", "spaces"),
    ],
)
async def test_unacceptable_urls_are_refused_before_anything_is_sent(connect, twin, video, words) -> None:
    text = _refused(await _add(connect, video), twin)
    assert words in text
    assert "hunter2" not in text


async def test_http_is_passed_on_only_when_the_operator_allows_it(connect, twin, clip, monkeypatch) -> None:
    url = twin.public_url("plain.mp4", clip().read_bytes()).replace("https://", "http://")
    assert "ALICE_ALLOW_HTTP" in _refused(await _add(connect, url), twin)
    monkeypatch.setenv("ALICE_ALLOW_HTTP", "true")
    await _add(connect, url)
    assert [s.payload["video_url"] for s in twin.state.submits + twin.state.rejected_submits] == [url]


async def test_https_url_with_a_signature_is_passed_to_fal_unchanged(connect, twin, clip, output_dir) -> None:
    url = twin.public_url("signed.mp4", clip().read_bytes()) + "?X-Amz-Signature=0ddba11&X-Amz-Expires=300"
    result = await _add(connect, url)
    assert result.is_error is False, result.content[0].text
    assert twin.state.submits[0].payload["video_url"] == url and twin.state.uploads == []
    assert len(files_in(output_dir)) == 1


def test_signed_urls_are_logged_as_their_host_only(alice_env, clip, twin) -> None:
    """A real server process at INFO: the signature in the input URL and fal's result URL paths stay out of stderr."""
    url = twin.public_url("signed.mp4", clip().read_bytes()) + "?X-Amz-Signature=0ddba11c0ffee"
    twin.state.add_fault("download", 500, times=1)  # the error message (and its log line) names fal's result URL
    env = {**alice_env, "ALICE_LOG_LEVEL": "INFO", "PATH": "/usr/bin:/bin"}
    stdout, stderr = _run(
        env,
        _messages(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "add_audio_to_video", "arguments": {"video": url, "prompt": "x", "duration": 1}},
            },
        ),
        {1, 2},
    )
    answer = next(line for line in stdout if '"id": 2' in line or '"id":2' in line)
    assert "v3.fal.media/files/" in answer or "fal.media/" in answer  # the user still gets the full result URL
    assert "0ddba11c0ffee" not in stderr and "/files/" not in stderr
    assert "media.example.test" in stderr or "fal" in stderr


def test_redaction_keeps_scheme_and_host_and_drops_credentials() -> None:
    text = "see https://u:p@v3.fal.media/files/abc/out.mp4?token=1 and https://fal.ai"
    assert redact_urls(text) == "see https://v3.fal.media/… and https://fal.ai"


def test_debug_lines_keep_urls_but_never_the_key() -> None:
    import logging

    formatter = RedactingFormatter("%(levelname)s %(message)s", ["key-id:key-secret-123"])
    debug = logging.LogRecord("x", logging.DEBUG, "", 0, "GET %s with key-secret-123", ("https://h/p?q=1",), None)
    info = logging.LogRecord("x", logging.INFO, "", 0, "GET %s", ("https://h/p?q=1",), None)
    assert formatter.format(debug) == "DEBUG GET https://h/p?q=1 with [FAL_KEY]"
    assert formatter.format(info) == "INFO GET https://h/…"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://127.0.0.1:8443/admin",
        "https://[::1]/x",
        "ftp://example.org/x",
    ],
)
def test_the_header_probe_never_follows_a_redirect_inward(target, monkeypatch) -> None:
    """A public link that redirects to this machine or a private network is refused, and the inner URL is never hit."""
    import socket

    import respx
    from httpx import Response

    from alice_mcp.data.errors import InputError
    from alice_mcp.media.remote_probe import probe_url

    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: public)  # cdn.example.org: a public address
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with respx.mock(assert_all_called=False) as router:
        router.get("https://93.184.216.34/clip.mp4").mock(return_value=Response(302, headers={"Location": target}))
        inner = router.route(host__regex=r"169\.254|127\.0\.0\.1|::1|example\.org$").mock(return_value=Response(206))
        with pytest.raises(InputError) as refused:
            probe_url("https://cdn.example.org/clip.mp4", max_seconds=2)
    assert "private network" in refused.value.message and not inner.called
