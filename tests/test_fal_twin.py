"""Self-tests of the fal twin: the REAL fal_client 1.0.3 (and raw httpx) drive it through its CONNECT proxy.

Every check here is a claim about how fal behaves that product tests lean on; see the docstrings in
``tests/fal_twin/*.py`` for the behaviour chosen where fal's is unverified.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fal_client
import httpx
import pytest
from fal_client.client import FalClientHTTPError, StorageSettings
from httpx_sse import aconnect_sse

from tests.fal_twin import FalTwin, Fault, make_clip, probe

KEY = "twin-key"
AUTH = {"Authorization": f"Key {KEY}"}
MM = "fal-ai/mmaudio-v2"
T2A = "fal-ai/mmaudio-v2/text-to-audio"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
QUEUE = "https://queue.fal.run"


@pytest.fixture(scope="module")
def ftwin():
    with FalTwin(queue_seconds=0.1, run_seconds=0.2) as twin:
        yield twin


@pytest.fixture
def tw(ftwin: FalTwin, monkeypatch: pytest.MonkeyPatch) -> FalTwin:
    """The module's twin, reset, with this process pointed at it (the sandbox sets SSL_CERT_FILE globally)."""
    ftwin.reset()
    for name in ("ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "SSL_CERT_DIR", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ftwin.env.items():
        monkeypatch.setenv(name, value)
    return ftwin


@pytest.fixture
def clip(tmp_path: Path):
    def _make(name: str = "clip.mp4", seconds: float = 3.0) -> Path:
        return Path(make_clip(str(tmp_path / name), seconds, 160, 120, 24))

    return _make


def client() -> fal_client.AsyncClient:
    return fal_client.AsyncClient(key=KEY)


async def fetch(url: str) -> bytes:
    async with httpx.AsyncClient() as hc:
        resp = await hc.get(url)
        resp.raise_for_status()
        return resp.content


async def wait_done(hc: httpx.AsyncClient, status_url: str) -> dict:
    for _ in range(200):
        body = (await hc.get(status_url, headers=AUTH)).json()
        if body["status"] == "COMPLETED":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("job never completed")


# --------------------------------------------------------------------------------------------- startup & proxy


def test_starts_fast_and_exports_env() -> None:
    t0 = time.monotonic()
    with FalTwin() as twin:
        assert time.monotonic() - t0 < 1.0
        env = twin.env
        assert env["HTTPS_PROXY"] == env["https_proxy"] == twin.proxy_url
        assert env["SSL_CERT_FILE"] == twin.ca_pem_path and Path(twin.ca_pem_path).is_file()
        assert env["FAL_KEY"] == "twin-key" and os.listdir(env["FAL_HOME_DIR"]) == []
        assert env["NO_PROXY"] == env["no_proxy"] == "127.0.0.1,localhost"


@pytest.mark.asyncio
async def test_proxy_tunnels_only_port_443(tw: FalTwin) -> None:
    async with httpx.AsyncClient() as hc:
        resp = await hc.get("https://example.com/nothing-here")  # any host:443 reaches the TLS server
        assert resp.status_code == 404
        with pytest.raises(httpx.ProxyError):
            await hc.get("https://example.com:8443/")


# --------------------------------------------------------------------------------------------- storage


@pytest.mark.asyncio
async def test_simple_upload_roundtrip_with_lifecycle(tw: FalTwin, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "sound check.mp4"
    path.write_bytes(data)
    url = await client().upload_file(path, lifecycle=StorageSettings(expires_in="1d"))
    assert url.startswith("https://v3.fal.media/files/")
    assert await fetch(url) == data
    async with httpx.AsyncClient() as hc:
        part = await hc.get(url, headers={"Range": "bytes=10-19"})
        assert (part.status_code, part.content, part.headers["content-type"]) == (206, data[10:20], "video/mp4")
    (up,) = tw.state.uploads
    assert (up.kind, up.file_name, up.content_type, up.size, up.url) == (
        "cdn",
        "sound check.mp4",
        "video/mp4",
        len(data),
        url,
    )
    assert up.lifecycle == {"expiration_duration_seconds": 86400}
    assert tw.state.uploaded_bytes() == len(data)


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.mark.asyncio
async def test_multipart_upload_over_100mib_in_a_separate_twin_process(tmp_path: Path, monkeypatch) -> None:
    """Also exercises ``python -m tests.fal_twin``; the twin process's peak RSS stays far below the file size."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: cheap to create, still 105 MiB on the wire
        f.truncate(105 * 1024 * 1024)
        for offset in (0, 10 * 1024 * 1024 - 7, 64 * 1024 * 1024, 105 * 1024 * 1024 - 4096):
            f.seek(offset)
            f.write(os.urandom(4096))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fal_twin"], cwd=Path(__file__).parent.parent, stdout=subprocess.PIPE, text=True
    )
    try:
        env = {}
        for line in proc.stdout:
            if line.startswith("#"):
                break
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value.strip("'")
        assert env.get("HTTPS_PROXY", "").startswith("http://127.0.0.1:"), env
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        before = _rss_kib(proc.pid, "VmRSS")
        url = await client().upload_file(big)
        digest = hashlib.sha256()
        async with httpx.AsyncClient() as hc:
            async with hc.stream("GET", url) as resp:
                assert resp.headers["content-length"] == str(big.stat().st_size)
                async for chunk in resp.aiter_bytes(1 << 20):
                    digest.update(chunk)
        with open(big, "rb") as f:
            assert digest.hexdigest() == hashlib.file_digest(f, "sha256").hexdigest()
        peak = _rss_kib(proc.pid, "VmHWM")
        grew = (peak - before) // 1024
        assert grew < 60, f"twin grew by {grew} MiB for a 105 MiB upload"
        print(f"twin process peak RSS grew by {grew} MiB (105 MiB multipart upload)")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        proc.stdout.close()


@pytest.mark.asyncio
async def test_fallback_storage_when_the_cdn_token_fails(tw: FalTwin, tmp_path: Path) -> None:
    tw.state.add_fault("token", 500)
    path = tmp_path / "clip.bin"
    path.write_bytes(b"fallback bytes" * 1000)
    url = await client().upload_file(path, lifecycle=StorageSettings(expires_in="1h"))
    assert await fetch(url) == path.read_bytes()
    (up,) = tw.state.uploads
    assert up.kind == "storage" and up.lifecycle == {"expiration_duration_seconds": 3600}
    hosts = [(r.host, r.status_code) for r in tw.state.requests]
    assert hosts[:3] == [("rest.fal.ai", 500), ("rest.fal.ai", 200), ("storage.googleapis.com", 200)]


@pytest.mark.asyncio
async def test_upload_429_is_retried_and_costs_uplink_twice(tw: FalTwin, tmp_path: Path) -> None:
    tw.state.add_fault("upload", 429)
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 50_000)
    await client().upload_file(path)
    assert [r.status_code for r in tw.state.requests if r.host == "v3.fal.media"] == [429, 200]
    assert tw.state.uploaded_bytes() == 100_000 and len(tw.state.uploads) == 1


@pytest.mark.asyncio
async def test_uplink_throttle_slows_uploads_but_not_other_requests(tw: FalTwin, tmp_path: Path) -> None:
    tw.state.uplink_bytes_per_second = 2_000_000
    path = tmp_path / "mb.bin"
    path.write_bytes(os.urandom(1_000_000))
    fc = client()
    t0 = time.monotonic()
    upload = asyncio.create_task(fc.upload_file(path))
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient() as hc:
        t1 = time.monotonic()
        assert (
            await hc.get("https://queue.fal.run/fal-ai/mmaudio-v2/requests/nope/status", headers=AUTH)
        ).status_code == 404
        assert time.monotonic() - t1 < 0.25  # the twin stays responsive while throttling
    await upload
    assert time.monotonic() - t0 >= 0.3


# --------------------------------------------------------------------------------------------- queue & outputs


@pytest.mark.asyncio
async def test_mmaudio_output_is_min_of_video_length_and_duration(tw: FalTwin, clip) -> None:
    fc = client()
    url = await fc.upload_file(clip(seconds=3.0))
    short, long_ = await asyncio.gather(
        fc.submit(MM, {"video_url": url, "prompt": "rain", "duration": 2, "seed": 1}),
        fc.submit(MM, {"video_url": url, "prompt": "rain", "duration": 10}),
    )
    assert short.status_url == f"{QUEUE}/{MM}/requests/{short.request_id}/status"
    assert isinstance(await short.status(), fal_client.Queued)
    for handle, seconds in ((short, 2.0), (long_, 3.0)):
        out = await handle.get()
        video = out["video"]
        assert (video["content_type"], video["file_name"]) == ("video/mp4", "mmaudio_output.mp4")
        data = await fetch(video["url"])
        assert video["file_size"] == len(data)
        path = Path(tw._dir) / f"check-{seconds}.mp4"
        path.write_bytes(data)
        info = probe(str(path))
        assert info["video"]["codec"] == "h264" and (info["video"]["width"], info["video"]["height"]) == (160, 120)
        assert abs(info["video"]["seconds"] - seconds) < 0.05
        assert abs(info["audio"]["seconds"] - seconds) < 0.1 and info["audio"]["rate"] == 44100
        assert info["audio"]["channels"] == 2 and info["audio"]["peak"] > 0.05
    completed = await short.status(with_logs=True)
    assert isinstance(completed, fal_client.Completed) and completed.error is None
    assert completed.logs and completed.logs[-1]["message"] == "Generating audio: step 25/25"
    assert "inference_time" in completed.metrics
    assert tw.state.submit_count(MM) == 2 and tw.state.billed_seconds() == 12


@pytest.mark.asyncio
async def test_copy_mode_and_public_url_input(tw: FalTwin, clip) -> None:
    tw.state.result_video = "copy"
    url = tw.public_url("street.mp4", clip("street.mp4", 2.0))
    out = await client().subscribe(MM, {"video_url": url, "prompt": "street", "duration": 8})
    path = Path(tw._dir) / "copy.mp4"
    path.write_bytes(await fetch(out["video"]["url"]))
    info = probe(str(path))
    assert abs(info["video"]["seconds"] - 2.0) < 0.05 and abs(info["audio"]["seconds"] - 2.0) < 0.1
    tw.reset()
    assert await fetch(url)  # public files survive reset()


@pytest.mark.asyncio
async def test_bad_inputs_complete_and_fail_on_result(tw: FalTwin) -> None:
    fc = client()
    junk = tw.public_url("junk.mp4", b"definitely not a video" * 100)
    for video_url, error_type in (
        ("https://elsewhere.example.org/a.mp4", "file_download_error"),
        ("data:video/mp4;base64,AAAA", "file_download_error"),
        (junk, "video_decode_error"),
    ):
        handle = await fc.submit(MM, {"video_url": video_url, "prompt": "x", "duration": 2})
        with pytest.raises(FalClientHTTPError) as err:
            await handle.get()
        assert err.value.status_code == 422
        (entry,) = err.value.message
        assert entry["type"] == error_type and entry["loc"] == ["body", "video_url"]
        status = await handle.status()
        assert isinstance(status, fal_client.Completed) and status.error is None  # only result() tells


@pytest.mark.asyncio
async def test_text_to_audio_uses_owner_alias_urls_and_makes_flac(tw: FalTwin) -> None:
    fc = client()
    handle = await fc.submit(T2A, {"prompt": "birds", "duration": 3})
    assert handle.response_url == f"{QUEUE}/{MM}/requests/{handle.request_id}"
    assert tw.state.requests[-1].path == f"/{T2A}"
    out = await fc.result(T2A, handle.request_id)  # rebuilt handle drops the path, like fal
    audio = out["audio"]
    assert (audio["content_type"], audio["file_name"]) == ("audio/flac", "mmaudio_output.flac")
    path = Path(tw._dir) / "t2a.flac"
    path.write_bytes(await fetch(audio["url"]))
    info = probe(str(path))
    assert info["video"] is None and info["audio"]["codec"] == "flac"
    assert info["audio"]["seconds"] == pytest.approx(3.0, abs=0.01) and info["audio"]["peak"] > 0.05
    assert isinstance(await fc.status(T2A, handle.request_id), fal_client.Completed)
    run_out = await fc.run(T2A, {"prompt": "sync", "duration": 1})  # fal.run, synchronous
    assert run_out["audio"]["file_name"] == "mmaudio_output.flac"


@pytest.mark.asyncio
async def test_kling_master_text_to_video_and_unknown_endpoint(tw: FalTwin) -> None:
    fc = client()
    out = await fc.subscribe(KLING, {"prompt": "a cat", "duration": "5", "aspect_ratio": "9:16"})
    path = Path(tw._dir) / "kling.mp4"
    path.write_bytes(await fetch(out["video"]["url"]))
    info = probe(str(path))
    assert (info["video"]["width"], info["video"]["height"], info["video"]["fps"]) == (360, 640, 24.0)
    assert info["video"]["seconds"] == pytest.approx(5.0) and info["audio"] is None
    with pytest.raises(FalClientHTTPError) as err:
        await fc.submit("fal-ai/kling-video/v2.1/pro/text-to-video", {"prompt": "a cat"})
    assert err.value.status_code == 404 and "not found" in err.value.message
    with pytest.raises(FalClientHTTPError) as err:  # duration must be the STRING "5"/"10"
        await fc.subscribe(KLING, {"prompt": "a cat", "duration": 5})
    assert err.value.status_code == 422 and err.value.message[0]["type"] == "literal_error"
    assert tw.state.submit_count(KLING) == 1 and tw.state.submit_count(KLING, include_rejected=True) == 2


@pytest.mark.asyncio
async def test_422_format_on_the_runner_and_at_submit(tw: FalTwin) -> None:
    fc = client()
    with pytest.raises(FalClientHTTPError) as err:
        await fc.subscribe(T2A, {"prompt": "x", "duration": 45})
    assert err.value.status_code == 422
    assert err.value.message == [
        {
            "type": "less_than_equal",
            "loc": ["body", "duration"],
            "msg": "Input should be less than or equal to 30",
            "input": 45,
            "ctx": {"le": 30.0},
        }
    ]
    assert tw.state.submit_count() == 0 and len(tw.state.rejected_submits) == 1 and tw.state.billed_seconds() == 0
    tw.state.validate_at = "submit"
    tw.state.schema_overrides = {"duration": {"le": 10}}
    with pytest.raises(FalClientHTTPError) as err:
        await fc.submit(MM, {"duration": 12, "seed": 70000, "num_steps": "7"})
    assert err.value.status_code == 422
    got = {(tuple(e["loc"]), e["type"]) for e in err.value.message}
    assert got == {
        (("body", "video_url"), "missing"),
        (("body", "prompt"), "missing"),
        (("body", "seed"), "less_than_equal"),
        (("body", "duration"), "less_than_equal"),
    }
    assert [e["msg"] for e in err.value.message if e["loc"][-1] == "duration"] == [
        "Input should be less than or equal to 10"
    ]
    assert len(tw.state.rejected_submits) == 1 and tw.state.submit_count() == 0


@pytest.mark.asyncio
async def test_auth_401_403(tw: FalTwin) -> None:
    tw.state.valid_keys = {"the-only-key"}
    with pytest.raises(FalClientHTTPError) as err:
        await client().submit(T2A, {"prompt": "x"})
    assert err.value.status_code == 401 and err.value.message == "No user found for Key ID and Secret"
    with pytest.raises(FalClientHTTPError) as err:
        await fal_client.AsyncClient(key="the-only-key").submit("fal-ai/nope-app", {"prompt": "x"})
    assert err.value.status_code == 404
    tw.state.valid_keys = None
    tw.state.forbidden_keys = {KEY}
    with pytest.raises(FalClientHTTPError) as err:
        await client().submit(T2A, {"prompt": "x"})
    assert err.value.status_code == 403
    async with httpx.AsyncClient() as hc:
        assert (await hc.post(f"{QUEUE}/{T2A}", json={"prompt": "x"})).status_code == 401
    assert tw.state.submit_count() == 0


@pytest.mark.asyncio
async def test_cancel(tw: FalTwin) -> None:
    tw.state.queue_seconds = 5
    fc = client()
    handle = await fc.submit(T2A, {"prompt": "x", "duration": 1})
    await handle.cancel()
    assert tw.state.cancels == [handle.request_id]
    status = await handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "client_cancelled"
    with pytest.raises(FalClientHTTPError) as err:
        await handle.get()
    assert err.value.status_code == 499
    async with httpx.AsyncClient() as hc:
        again = await hc.put(handle.cancel_url, headers=AUTH)
        assert (again.status_code, again.json()) == (400, {"status": "ALREADY_COMPLETED"})
        unknown = await hc.put(f"{QUEUE}/{MM}/requests/00000000-0000-0000-0000-000000000000/cancel", headers=AUTH)
        assert (unknown.status_code, unknown.json()) == (404, {"status": "NOT_FOUND"})
        tw.state.queue_seconds = 0.1
        early = await fc.submit(T2A, {"prompt": "x", "duration": 1})
        premature = await hc.get(early.response_url, headers=AUTH)
        assert premature.status_code == 400 and premature.json() == {"detail": "Request is still in progress"}


@pytest.mark.asyncio
@pytest.mark.parametrize("inprogress_cancel", ["honor", "ignore"])
async def test_cancel_of_a_running_job_honored_or_ignored(tw: FalTwin, inprogress_cancel: str) -> None:
    """fal only signals a running job's runner (reference §3.4/§3.5); a queued job is always removed."""
    tw.state.inprogress_cancel = inprogress_cancel
    tw.state.queue_seconds, tw.state.run_seconds = 0.0, 1.0
    fc = client()
    running = await fc.submit(T2A, {"prompt": "x", "duration": 1})
    while not isinstance(await running.status(), fal_client.InProgress):
        await asyncio.sleep(0.02)
    tw.state.queue_seconds = 30
    queued = await fc.submit(T2A, {"prompt": "y", "duration": 1})
    async with httpx.AsyncClient() as hc:
        for handle in (running, queued):
            answer = await hc.put(handle.cancel_url, headers=AUTH)
            assert (answer.status_code, answer.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert (await queued.status()).error_type == "client_cancelled"  # type: ignore[union-attr]
    if inprogress_cancel == "honor":
        assert (await running.status()).error_type == "client_cancelled"  # type: ignore[union-attr]
        assert tw.state.billed_outputs() == []
    else:
        output = await running.get()
        assert output["audio"]["url"] and tw.state.billed_outputs() == [running.request_id]
    assert tw.state.cancels == [running.request_id, queued.request_id]


@pytest.mark.asyncio
async def test_fail_next_jobs(tw: FalTwin) -> None:
    tw.state.fail_next_jobs(1, error="GPU ran out of memory", error_type="runner_server_error")
    fc = client()
    handle = await fc.submit(T2A, {"prompt": "x", "duration": 1})
    with pytest.raises(FalClientHTTPError) as err:
        await handle.get()
    assert (err.value.status_code, err.value.message, err.value.error_type) == (
        500,
        "GPU ran out of memory",
        "runner_server_error",
    )
    status = await handle.status()
    assert (status.error, status.error_type) == ("GPU ran out of memory", "runner_server_error")
    assert (await fc.subscribe(T2A, {"prompt": "x", "duration": 1}))["audio"]  # only the next n fail


@pytest.mark.asyncio
async def test_status_stream_sse(tw: FalTwin) -> None:
    handle = await client().submit(T2A, {"prompt": "x", "duration": 1})
    async with httpx.AsyncClient() as hc:
        async with aconnect_sse(hc, "GET", handle.status_url + "/stream", params={"logs": 1}, headers=AUTH) as sse:
            assert sse.response.headers["content-type"].startswith("text/event-stream")
            events = [event.json() async for event in sse.aiter_sse()]
    states = [e["status"] for e in events]
    assert states[0] in ("IN_QUEUE", "IN_PROGRESS") and states[-1] == "COMPLETED"
    assert "IN_PROGRESS" in states and events[-1]["logs"]


# --------------------------------------------------------------------------------------------- faults


@pytest.mark.asyncio
async def test_fault_shapes_seen_by_raw_httpx(tw: FalTwin) -> None:
    url = f"{QUEUE}/{MM}/requests/nope/status"
    async with httpx.AsyncClient() as hc:
        tw.state.add_fault("status", 429)
        r = await hc.get(url, headers=AUTH)
        assert (r.status_code, r.json()) == (429, {"detail": "Too many requests"})
        tw.state.add_fault("status", 502)
        r = await hc.get(url, headers=AUTH)
        assert r.status_code == 502 and "nginx" in r.text and "x-fal-request-id" not in r.headers
        tw.state.add_fault("status", 503, app=True)
        r = await hc.get(url, headers=AUTH)
        assert r.status_code == 503 and "x-fal-request-id" in r.headers and r.json()["error_type"]
        tw.state.add_fault(Fault("status", 500))
        r = await hc.get(url, headers=AUTH)
        assert (
            r.json() == {"detail": "Internal Server Error", "error_type": "internal_error"}
            and "x-fal-request-id" in r.headers
        )
        tw.state.add_fault("status", "reset")
        with pytest.raises(httpx.TransportError):
            await hc.get(url, headers=AUTH)
        tw.state.add_fault("status", "timeout", hang_seconds=1)
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await hc.get(url, headers=AUTH, timeout=0.3)
        tw.state.add_fault("status", "timeout", hang_seconds=0.3)
        with pytest.raises(httpx.RemoteProtocolError):  # then the twin closes without answering
            await hc.get(url, headers=AUTH, timeout=5)
        assert time.monotonic() - t0 >= 0.55
        assert (await hc.get(url, headers=AUTH)).status_code == 404  # faults are used up
    codes = [r.status_code for r in tw.state.requests]
    assert codes == [429, 502, 503, 500, "reset", "timeout", "timeout", 404]


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["token", "upload", "submit", "status", "result", "download", "cancel", "stream"])
async def test_every_fault_kind_hits_its_route(tw: FalTwin, kind: str) -> None:
    file_url = tw.public_url("f.bin", b"abc")
    base = f"{QUEUE}/{MM}/requests/some-id"
    requests = {
        "token": ("POST", "https://rest.fal.ai/storage/auth/token?storage_type=fal-cdn-v3", {}),
        "upload": ("POST", "https://v3.fal.media/files/upload", {}),
        "submit": ("POST", f"{QUEUE}/{T2A}", {"json": {"prompt": "x"}}),
        "status": ("GET", base + "/status", {}),
        "result": ("GET", base, {}),
        "download": ("GET", file_url, {}),
        "cancel": ("PUT", base + "/cancel", {}),
        "stream": ("GET", base + "/status/stream", {}),
    }
    method, url, extra = requests[kind]
    tw.state.add_fault(kind, 503)
    async with httpx.AsyncClient() as hc:
        first = await hc.request(method, url, headers=AUTH, **extra)
        second = await hc.request(method, url, headers=AUTH, **extra)
    assert first.status_code == 503 and "nginx" in first.text
    assert second.status_code != 503
    assert tw.state.submit_count() == (1 if kind == "submit" else 0)  # 5xx come BEFORE enqueueing


@pytest.mark.asyncio
async def test_status_429_is_retried_by_fal_client(tw: FalTwin) -> None:
    fc = client()
    handle = await fc.submit(T2A, {"prompt": "x", "duration": 1})
    tw.state.add_fault("status", 429, times=2)
    assert isinstance(await handle.status(), (fal_client.Queued, fal_client.InProgress, fal_client.Completed))
    codes = [r.status_code for r in tw.state.requests if r.path.endswith("/status")]
    assert codes[:2] == [429, 429] and codes[2] in (200, 202) and len(codes) == 3


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["reset", "timeout"])
async def test_submit_drop_happens_after_enqueueing(tw: FalTwin, mode: str) -> None:
    tw.state.add_fault("submit", mode, hang_seconds=0.5)
    async with httpx.AsyncClient() as hc:
        with pytest.raises(httpx.TransportError):
            await hc.post(f"{QUEUE}/{T2A}", json={"prompt": "x", "duration": 2}, headers=AUTH, timeout=0.2)
    assert tw.state.submit_count() == 1 and tw.state.billed_seconds() == 2


@pytest.mark.asyncio
async def test_fal_client_blindly_resubmits_after_a_reset(tw: FalTwin) -> None:
    """The double-billing hazard is real: fal_client retries a submit whose response was lost."""
    tw.state.add_fault("submit", "reset")
    await client().submit(T2A, {"prompt": "x", "duration": 2})
    assert tw.state.submit_count() == 2 and tw.state.billed_seconds() == 4


@pytest.mark.asyncio
async def test_latency_is_added_and_reset_restores_options(tw: FalTwin) -> None:
    tw.state.latency_seconds = 0.2
    tw.state.add_fault("status", 500, times=5)
    async with httpx.AsyncClient() as hc:
        t0 = time.monotonic()
        await hc.get("https://example.com/")
        assert time.monotonic() - t0 >= 0.2
    tw.reset()
    assert tw.state.latency_seconds == 0.0 and tw.state.faults == [] and tw.state.requests == []
