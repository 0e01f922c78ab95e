"""The takes player (MCP Apps ``ui://`` resource) in a real browser: headless Chromium loads a minimal host page that
feeds the player a real add_audio_to_video result fetched over the MCP wire from a server running against the twin.
The player fetches each take from fal's result URL (through the twin's proxy, as it would from fal's CDN).

Asserted from the page's DOM: every take is labelled (number, model, seed, cost) and playable (its media loaded and
has a duration); the A/B switch keeps the playhead. The screenshot is written to docs/takes-player.png.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from mcp.client.extension import ClientExtension
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from alice_mcp.mcp.player import FAL_MEDIA_DOMAINS, PLAYER_URI

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DOCS = Path(__file__).resolve().parent.parent / "docs"
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian/Ubuntu: apt-get install -y chromium); the player's browser "
    "test needs a real browser",
)


class AppsHost(ClientExtension):
    """A client that negotiates MCP Apps, as an Apps-capable host does."""

    identifier = EXTENSION_ID

    def settings(self) -> dict:
        return {"mimeTypes": [APP_MIME_TYPE]}


HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>test host</title></head>
<body style="margin:0;background:#fff;font:13px sans-serif">
<iframe id="app" sandbox="allow-scripts allow-same-origin" style="width:1080px;height:400px;border:0"></iframe>
<pre id="report">pending</pre>
<script>
const RESULT = __RESULT__;
const frame = document.getElementById("app");
const report = document.getElementById("report");
window.addEventListener("message", function (ev) {
  const m = ev.data;
  if (!m || m.jsonrpc !== "2.0") return;
  if (m.method === "ui/initialize") {
    frame.contentWindow.postMessage({jsonrpc: "2.0", id: m.id, result: {protocolVersion: "2026-01-26",
      hostInfo: {name: "test-host", version: "1"}, hostCapabilities: {}, hostContext: {}}}, "*");
  } else if (m.method === "ui/notifications/initialized") {
    frame.contentWindow.postMessage({jsonrpc: "2.0", method: "ui/notifications/tool-result", params: RESULT}, "*");
  }
});
let tries = 0;
function check() {
  const doc = frame.contentDocument;
  const figs = doc ? Array.from(doc.querySelectorAll(".take")) : [];
  const settled = figs.length > 0 && figs.every(f => f.dataset.playable === "1" || f.dataset.error);
  if (!settled) {
    if (++tries < 600) { setTimeout(check, 50); return; }
    report.textContent = JSON.stringify({unsettled: figs.map(f => ({playable: f.dataset.playable,
      error: f.dataset.error || null, ready: f.querySelector(".media").readyState,
      network: f.querySelector(".media").networkState, src: f.querySelector(".media").currentSrc})),
      status: doc ? doc.getElementById("status").textContent : "no document"});
    return;
  }
  const a = figs[0].querySelector(".media"), last = figs[figs.length - 1];
  a.currentTime = 0.8;
  a.addEventListener("seeked", function () {
    const b = last.querySelector(".media");
    b.addEventListener("seeked", function () {
      report.textContent = JSON.stringify({
        takes: figs.map(f => ({label: f.querySelector(".label").textContent, meta: f.querySelector(".meta").textContent,
          playable: f.dataset.playable, error: f.dataset.error || null, tag: f.querySelector(".media").tagName,
          ready: f.querySelector(".media").readyState, duration: f.querySelector(".media").duration,
          src: f.querySelector(".media").currentSrc})),
        abButtons: Array.from(doc.querySelectorAll("#ab button")).map(x => x.textContent),
        active: doc.querySelector(".take.active").dataset.take,
        playheadAfterSwitch: b.currentTime,
        audibleTakes: figs.filter(f => !f.querySelector(".media").muted).length,
      });
    }, {once: true});
    doc.querySelector('#ab button[data-take="' + last.dataset.take + '"]').click();
  }, {once: true});
}
frame.srcdoc = __HTML__;
check();
</script></body></html>"""


class Browser:
    """Headless Chromium driven over the DevTools protocol (one page): load a URL, evaluate, screenshot."""

    def __init__(self, profile: Path, proxy: str) -> None:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--proxy-server={proxy}",  # fal's CDN hosts reach the twin, as the real ones would reach fal
            "--ignore-certificate-errors",  # the twin's throwaway CA is not in Chromium's store
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1100,400",
            "--remote-debugging-port=0",
            "about:blank",
        ]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "HOME": str(profile)})
        self.ws_url = ""
        for line in self.proc.stderr:  # type: ignore[union-attr]
            if "DevTools listening on " in line:
                self.ws_url = line.split("DevTools listening on ", 1)[1].strip()
                break
        assert self.ws_url, "Chromium did not start its DevTools endpoint"
        self._ids = 0

    async def __aenter__(self) -> Browser:
        import httpx
        import websockets

        port = self.ws_url.split(":")[2].split("/")[0]
        async with httpx.AsyncClient(trust_env=False) as hc:
            pages = (await hc.get(f"http://127.0.0.1:{port}/json/list")).json()
        page = next(p for p in pages if p["type"] == "page")
        self.ws = await websockets.connect(page["webSocketDebuggerUrl"], max_size=50_000_000)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=20)

    async def call(self, method: str, **params: object) -> dict:
        self._ids += 1
        await self.ws.send(json.dumps({"id": self._ids, "method": method, "params": params}))
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), 60))
            if msg.get("id") == self._ids:
                assert "error" not in msg, msg
                return msg["result"]

    async def evaluate(self, expression: str) -> object:
        out = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return out["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 60.0) -> object:
        """Poll ``expression`` until it is truthy (bounded: the media load over the proxy takes real time)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value or asyncio.get_running_loop().time() > deadline:
                return value
            await asyncio.sleep(0.1)


def _js(value: object) -> str:
    """``value`` as a JavaScript literal that is safe inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


async def fetch_result_and_player(connect, clip, arguments: dict) -> tuple[dict, str, dict]:
    async with connect(extensions=[AppsHost()]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("add_audio_to_video", {"video": str(clip("clip.mp4", 2.0)), **arguments})
        read = await client.read_resource(PLAYER_URI)
    assert not result.is_error, result.content
    content = read.contents[0]
    assert content.mime_type == APP_MIME_TYPE
    assert tools["add_audio_to_video"].meta["ui"]["resourceUri"] == PLAYER_URI
    assert tools["get_generation"].meta["ui"]["resourceUri"] == PLAYER_URI
    return result.model_dump(mode="json", by_alias=True, exclude_none=True), content.text, content.meta or {}


@needs_chromium
async def test_player_renders_takes_in_headless_chromium(connect, twin, clip, tmp_path) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough for the browser run")
    result, html, meta = await fetch_result_and_player(
        connect, clip, {"prompt": "rain on a tin roof", "seed": 5, "takes": 3}
    )
    assert meta["ui"]["csp"]["resourceDomains"] == FAL_MEDIA_DOMAINS
    page = tmp_path / "host.html"
    page.write_text(HOST_PAGE.replace("__RESULT__", _js(result)).replace("__HTML__", _js(html)))
    async with Browser(tmp_path / "profile", twin.proxy_url) as browser:
        await browser.call(
            "Emulation.setDeviceMetricsOverride", width=1100, height=420, deviceScaleFactor=1, mobile=False
        )
        await browser.call("Page.navigate", url=page.as_uri())
        raw = await browser.wait_for("(t => t !== 'pending' && t)(document.getElementById('report').textContent)")
        shot = base64.b64decode((await browser.call("Page.captureScreenshot", format="png"))["data"])
    assert raw, "the host page's script did not run"
    report = json.loads(raw)
    assert "unsettled" not in report, report
    takes = result["structuredContent"].get("takes") or [result["structuredContent"]]
    assert len(report["takes"]) == len(takes) >= 1
    for i, (shown, take) in enumerate(zip(report["takes"], takes, strict=True)):
        assert shown["error"] is None and shown["playable"] == "1" and shown["ready"] >= 2
        assert shown["duration"] == pytest.approx(2.0, abs=0.15)
        assert shown["label"] == f"Take {i + 1} ({'ABCD'[i]})"
        assert f"seed {take['seed']}" in shown["meta"] and f"${take['cost_usd']:.3f}" in shown["meta"]
        assert shown["src"].startswith("https://v3.fal.media/")
    assert report["abButtons"] == ["ABCD"[i] for i in range(len(takes))]
    assert report["active"] == str(len(takes) - 1) and report["audibleTakes"] == 1
    assert report["playheadAfterSwitch"] == pytest.approx(0.8, abs=0.05)  # the A/B switch keeps the playhead
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5000
    if len(takes) > 1:  # the README's picture shows several takes
        DOCS.mkdir(exist_ok=True)
        (DOCS / "takes-player.png").write_bytes(shot)
