"""The takes player: a ``ui://`` MCP Apps resource (``mcp.server.apps``) that add_audio_to_video and get_generation
carry, so a host that negotiated Apps can show the takes side by side and let the user audition them.

Contract of the HTML (self-contained: no script, style or font from anywhere):

* It speaks the Apps bridge over ``postMessage`` (JSON-RPC 2.0): sends ``ui/initialize``, then the
  ``ui/notifications/initialized`` notification, and renders every ``ui/notifications/tool-result`` it receives
  (``params`` = the tool's ``CallToolResult``; it reads ``structuredContent``).
* One card per take (``structuredContent.takes``; a result without takes is one take), each labelled with its
  number, model, seed and cost, playing fal's result URL of that take (``url``) in a ``<video>`` or ``<audio>``.
* One play/pause button for the take being heard, and an A/B switch: switching keeps the playhead (the new take
  seeks to the old one's time) and keeps playing if it was playing. Only one take is audible at a time.
* Each card carries ``data-playable="1"`` once its media loaded (``loadeddata``), ``data-error`` if it failed.

Media come from fal's result URLs (``https://v3.fal.media/...``), declared in the resource's CSP
(``resourceDomains``): see README "Audition takes in the chat" for why not the host bridge.
"""

from __future__ import annotations

from mcp.server.apps import Apps, ResourceCsp

PLAYER_URI = "ui://alice-mcp/takes-player.html"
#: where fal serves generated media (foley reference §1.2: v3.fal.media, examples also v3b.fal.media)
FAL_MEDIA_DOMAINS = ["https://v3.fal.media", "https://v3b.fal.media", "https://fal.media"]

PLAYER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>alice-mcp takes</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
  body { margin: 0; padding: 12px; }
  #bar { display: flex; gap: 8px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
  #bar button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid #8884; cursor: pointer; }
  #ab button[aria-pressed="true"] { background: #2563eb; color: #fff; border-color: #2563eb; }
  #takes { display: flex; gap: 10px; flex-wrap: wrap; }
  .take { flex: 1 1 220px; max-width: 420px; margin: 0; padding: 8px; border: 2px solid #8883; border-radius: 8px; }
  .take.active { border-color: #2563eb; }
  .take video { width: 100%; max-height: 200px; border-radius: 4px; background: #000; }
  .take audio { width: 100%; }
  .take figcaption { margin-top: 6px; }
  .take .meta { opacity: .75; font-size: 12px; }
  #status { opacity: .7; font-size: 12px; }
</style></head>
<body>
<div id="bar">
  <button id="play" type="button" disabled>Play</button>
  <span id="ab" role="group" aria-label="A/B switch"></span>
  <span id="status">Waiting for the result…</span>
</div>
<div id="takes"></div>
<script>
"use strict";
const LETTERS = "ABCDEFGH";
const ui = { takes: [], active: 0, playing: false };
let nextId = 1;
function send(method, params, isRequest) {
  const msg = { jsonrpc: "2.0", method: method, params: params || {} };
  if (isRequest) msg.id = nextId++;
  window.parent.postMessage(msg, "*");
}
function takesOf(sc) {
  if (Array.isArray(sc.takes) && sc.takes.length) return sc.takes;
  if (!sc.output_path) return [];
  return [{ output_path: sc.output_path, seed: sc.seed, model: sc.model || sc.endpoint, cost_usd: sc.cost_usd,
            url: sc.video_url || sc.audio_url, kind: sc.audio_url && !sc.video_url ? "audio" : "video" }];
}
function money(v) { return typeof v === "number" ? "$" + v.toFixed(3) : "?"; }
function media(i) { return document.querySelector('.take[data-take="' + i + '"] .media'); }
function select(i) {
  const old = media(ui.active), now = media(i);
  if (!now) return;
  const t = old ? old.currentTime : 0;
  if (old && old !== now) { old.pause(); old.muted = true; }
  ui.active = i;
  now.muted = false;
  try { now.currentTime = t; } catch (e) { /* not seekable yet */ }
  if (ui.playing) now.play().catch(function () { ui.playing = false; paint(); });
  paint();
}
function paint() {
  document.querySelectorAll(".take").forEach(function (el) {
    el.classList.toggle("active", Number(el.dataset.take) === ui.active);
  });
  document.querySelectorAll("#ab button").forEach(function (b) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.take) === ui.active));
  });
  const play = document.getElementById("play");
  play.textContent = ui.playing ? "Pause" : "Play";
  play.disabled = ui.takes.length === 0;
}
function render(result) {
  const sc = (result && (result.structuredContent || result.structured_content)) || {};
  ui.takes = takesOf(sc);
  ui.active = 0; ui.playing = false;
  const box = document.getElementById("takes"), ab = document.getElementById("ab");
  box.textContent = ""; ab.textContent = "";
  ui.takes.forEach(function (take, i) {
    const fig = document.createElement("figure");
    fig.className = "take"; fig.dataset.take = String(i); fig.dataset.playable = "0";
    const kind = take.kind === "audio" ? "audio" : "video";
    const el = document.createElement(kind);
    el.className = "media"; el.preload = "auto"; el.controls = true; el.muted = i !== 0;
    el.setAttribute("playsinline", "");
    el.addEventListener("loadeddata", function () { fig.dataset.playable = "1"; });
    el.addEventListener("error", function () { fig.dataset.error = "could not load " + (take.url || "(no url)"); });
    el.addEventListener("play", function () { if (i !== ui.active) select(i); ui.playing = true; paint(); });
    el.addEventListener("pause", function () { if (i === ui.active) { ui.playing = false; paint(); } });
    if (take.url) el.src = take.url;
    const cap = document.createElement("figcaption");
    const title = document.createElement("strong");
    title.className = "label";
    title.textContent = "Take " + (i + 1) + " (" + LETTERS[i] + ")";
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = [take.model || "?", "seed " + (take.seed === null || take.seed === undefined ? "n/a" : take.seed),
                        money(take.cost_usd)].join(" · ");
    const path = document.createElement("div");
    path.className = "meta path"; path.textContent = take.output_path || "";
    cap.append(title, meta, path);
    fig.append(el, cap);
    box.append(fig);
    const b = document.createElement("button");
    b.type = "button"; b.textContent = LETTERS[i]; b.dataset.take = String(i);
    b.addEventListener("click", function () { select(i); });
    ab.append(b);
  });
  document.getElementById("status").textContent = ui.takes.length
    ? ui.takes.length + (ui.takes.length === 1 ? " take" : " takes") + ": A/B switches keep the playhead."
    : (sc.message || "No finished take yet.");
  paint();
  send("ui/notifications/size-changed", { width: document.body.scrollWidth, height: document.body.scrollHeight });
}
document.getElementById("play").addEventListener("click", function () {
  const m = media(ui.active);
  if (!m) return;
  if (ui.playing) { m.pause(); ui.playing = false; }
  else { ui.playing = true; m.play().catch(function () { ui.playing = false; paint(); }); }
  paint();
});
window.addEventListener("message", function (ev) {
  const msg = ev.data;
  if (!msg || msg.jsonrpc !== "2.0") return;
  if (msg.method === "ui/notifications/tool-result") render(msg.params);
  else if (msg.id !== undefined && msg.result !== undefined && msg.id === 1) send("ui/notifications/initialized");
});
send("ui/initialize", { appInfo: { name: "alice-mcp takes player", version: "1" }, appCapabilities: {},
                        protocolVersion: "2026-01-26" }, true);
</script>
</body></html>
"""


def player_extension() -> Apps:
    """The Apps extension carrying the takes player resource (tools bind to it through ``_meta.ui``)."""
    apps = Apps()
    apps.add_html_resource(
        PLAYER_URI,
        PLAYER_HTML,
        name="takes-player",
        title="Audition takes",
        description="Plays each take of add_audio_to_video side by side, with an A/B switch that keeps the playhead.",
        csp=ResourceCsp(resource_domains=FAL_MEDIA_DOMAINS, connect_domains=FAL_MEDIA_DOMAINS),
        prefers_border=True,
    )
    return apps


#: ``_meta`` that binds a tool to the player
PLAYER_TOOL_META = {"ui": {"resourceUri": PLAYER_URI}}
