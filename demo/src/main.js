/* global AFRAME, NAF */
// The demo room: networked-aframe + our adapter (adapter/) + janus.plugin.sfu.
//
// URL parameters:
//   room=NAME      room to join (default "demo")
//   name=NAME      display name (skips the join dialog together with autojoin=1)
//   autojoin=1     join without the dialog
//   server=URL     Janus WebSocket (default: ws(s)://<this host>/janus, which
//                  the demo server and nginx proxy to Janus)
//   media=generated  never ask for the camera/microphone
//   fps=N          render at most N frames a second (slow machines)
//   quality=low    no antialiasing and at most 10 frames a second (software WebGL)
//   adapter=naf    naf-janus-adapter (npm) instead of our adapter: the plugin
//                  is a drop-in for it. Default: ours ("janus-ms"), which
//                  uses one subscriber connection for everyone when the
//                  server has multistream subscriptions and falls back to
//                  one per user (classic) when it refuses them.
import "./adapter.js";
import { colorFor } from "./components.js";
import { localMedia } from "./media.js";

const params = new URLSearchParams(location.search);
const lowQuality = params.get("quality") === "low";

// ?quality=low: no multisampling (it multiplies the work of software
// WebGL). This runs before <a-scene> creates its WebGL context.
if (lowQuality) {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, attrs) {
    return getContext.call(this, type, /webgl/.test(type) ? { ...attrs, antialias: false } : attrs);
  };
}
const room = (params.get("room") || "demo").slice(0, 64);
const ADAPTERS = { naf: "janus", "naf-janus-adapter": "janus", janus: "janus", ours: "janus-ms", "janus-ms": "janus-ms", "janus-sfu": "janus-ms" };
const adapterName = ADAPTERS[params.get("adapter") || "ours"] || "janus-ms";
const ours = adapterName === "janus-ms";
const serverUrl = params.get("server") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/janus`;
const clientId = String(Math.floor(Math.random() * 2 ** 31));
const color = colorFor(clientId);
const ADJ = ["Amber", "Brave", "Calm", "Dapper", "Eager", "Fuzzy", "Gentle", "Happy", "Jolly", "Lucky", "Mellow", "Quick", "Sunny", "Witty"];
const ANIMAL = ["Otter", "Fox", "Panda", "Heron", "Koala", "Lynx", "Marten", "Newt", "Owl", "Puffin", "Quokka", "Seal", "Tapir", "Yak"];
const pick = (a) => a[Math.floor(Math.random() * a.length)];

// Everything a test (or a curious developer in the console) may read.
const demo = {
  room,
  clientId,
  color,
  serverUrl,
  adapterName, // "janus-ms" (ours) or "janus" (naf-janus-adapter)
  mode: null, // once connected: "multistream" | "classic" (ours), "naf-janus-adapter"
  modeReason: null,
  talking: {}, // clientId -> talking (our adapter: the server's talking events)
  name: "",
  state: "init", // init → media → connecting → connected | failed
  error: null,
  media: null, // {audio, video, notes}
  chat: [], // {from, text, color, self, system, t}
  log: [],
};
window.demo = demo;

function note(s) {
  demo.log.push(`${new Date().toISOString()} ${s}`);
  console.log(`[demo] ${s}`);
}

// ------------------------------------------------------------------ scenery

function addScenery() {
  const root = document.getElementById("scenery");
  const rand = mulberry(7);
  for (let i = 0; i < 28; i++) {
    const a = (i / 28) * Math.PI * 2 + rand() * 0.2;
    const r = 9 + rand() * 7;
    const x = Math.cos(a) * r;
    const z = Math.sin(a) * r;
    const h = 1.6 + rand() * 1.8;
    const tree = document.createElement("a-entity");
    tree.setAttribute("position", `${x.toFixed(2)} 0 ${z.toFixed(2)}`);
    tree.innerHTML =
      `<a-entity geometry="primitive: cylinder; radius: 0.12; height: ${(h * 0.4).toFixed(2)}" material="color: #7a5a3c; roughness: 1" position="0 ${(h * 0.2).toFixed(2)} 0"></a-entity>` +
      `<a-entity geometry="primitive: cone; radiusBottom: ${(0.6 + rand() * 0.4).toFixed(2)}; radiusTop: 0; height: ${h.toFixed(2)}; segmentsRadial: 7" ` +
      `material="color: hsl(${110 + Math.floor(rand() * 40)}, 38%, ${30 + Math.floor(rand() * 12)}%); roughness: 1; flatShading: true" position="0 ${(h * 0.4 + h / 2).toFixed(2)} 0"></a-entity>`;
    root.appendChild(tree);
  }
  for (let i = 0; i < 10; i++) {
    const a = rand() * Math.PI * 2;
    const r = 4 + rand() * 4;
    const s = document.createElement("a-entity");
    s.setAttribute("geometry", `primitive: dodecahedron; radius: ${(0.15 + rand() * 0.25).toFixed(2)}`);
    s.setAttribute("material", "color: #a9a9b3; roughness: 1; flatShading: true");
    s.setAttribute("position", `${(Math.cos(a) * r).toFixed(2)} 0.08 ${(Math.sin(a) * r).toFixed(2)}`);
    root.appendChild(s);
  }
}

function mulberry(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ------------------------------------------------------------------ overlay

const $ = (id) => document.getElementById(id);

function addChat(entry) {
  entry.t = Date.now();
  demo.chat.push(entry);
  const li = document.createElement("li");
  if (entry.system) {
    li.className = "system";
    li.textContent = entry.text;
  } else {
    const who = document.createElement("b");
    who.textContent = entry.from;
    who.style.color = entry.color;
    li.append(who, document.createTextNode(" " + entry.text));
  }
  const log = $("chat-log");
  log.append(li);
  while (log.children.length > 60) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}

function renderStatus() {
  const adapter = NAF.connection.adapter;
  const others = adapter && adapter.availableOccupants ? adapter.availableOccupants.length : 0;
  const n = demo.state === "connected" ? others + 1 : 1;
  $("people").textContent = n === 1 ? "Only you here, so far" : `${n} people here`;
  const states = {
    init: "starting…",
    media: "getting camera and microphone…",
    connecting: `connecting to ${serverUrl}…`,
    connected: `connected · ${modeLabel()}`,
    failed: `cannot connect: ${demo.error || "unknown error"}`,
  };
  $("conn").textContent = states[demo.state] || demo.state;
  $("conn-dot").className = "dot " + demo.state;
}

function modeLabel() {
  if (!ours) return "naf-janus-adapter";
  if (demo.mode === "multistream") return "one connection for everyone (multistream)";
  return `one connection per person (classic${demo.modeReason ? ": " + demo.modeReason : ""})`;
}

// Button icons as inline SVG: emoji need a colour-emoji font, which many
// Linux machines (and headless Chromium) lack.
const SVG = (body) => `<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`;
const SLASH = '<line x1="3" y1="3" x2="21" y2="21"/>';
const ICONS = {
  mic: (on) => SVG('<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>' + (on ? "" : SLASH)),
  cam: (on) => SVG('<rect x="3" y="7" width="13" height="10" rx="2"/><path d="M16 11l5-3v8l-5-3z"/>' + (on ? "" : SLASH)),
};

function setButton(btn, icon, text) {
  const label = document.createElement("span");
  label.textContent = text;
  btn.innerHTML = icon;
  btn.append(label);
}

function renderMediaButtons() {
  const m = demo.media;
  if (!m) return;
  const mic = $("mic-btn");
  const cam = $("cam-btn");
  const audioTrack = m.stream.getAudioTracks()[0];
  const videoTrack = m.stream.getVideoTracks()[0];
  setButton(mic, ICONS.mic(audioTrack.enabled), `${m.audio}${audioTrack.enabled ? "" : " (muted)"}`);
  setButton(cam, ICONS.cam(videoTrack.enabled), `${m.video}${videoTrack.enabled ? "" : " (off)"}`);
  mic.classList.toggle("off", !audioTrack.enabled);
  cam.classList.toggle("off", !videoTrack.enabled);
  mic.title = m.audio === "tone" ? "No microphone: others hear a generated chime" : "Mute or unmute your microphone";
  cam.title = m.video === "test pattern" ? "No camera: others see a generated test pattern" : "Turn your camera off or on";
}

function setupOverlay() {
  $("room-name").textContent = room;
  const share = new URL(location.href);
  for (const k of ["name", "autojoin", "media"]) share.searchParams.delete(k);
  share.searchParams.set("room", room);
  $("share-url").textContent = share.href;
  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(share.href);
      $("copy").textContent = "Copied";
    } catch (e) {
      getSelection().selectAllChildren($("share-url"));
      $("copy").textContent = "Select + copy";
    }
    setTimeout(() => ($("copy").textContent = "Copy"), 1500);
  });
  $("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("chat-input").value.trim();
    if (!text) return;
    $("chat-input").value = "";
    demo.sendChat(text);
    $("chat-input").blur(); // back to walking
  });
  $("mic-btn").addEventListener("click", () => {
    const t = demo.media.stream.getAudioTracks()[0];
    t.enabled = !t.enabled;
    NAF.connection.adapter && NAF.connection.adapter.enableMicrophone(t.enabled);
    renderMediaButtons();
  });
  $("cam-btn").addEventListener("click", () => {
    const t = demo.media.stream.getVideoTracks()[0];
    t.enabled = !t.enabled;
    renderMediaButtons();
  });
  $("ui").hidden = false;
  renderStatus();
  setInterval(renderStatus, 500);
}

const MAX_CHAT = 300;

demo.sendChat = (text) => {
  text = String(text).slice(0, MAX_CHAT);
  NAF.connection.broadcastDataGuaranteed("chat", { from: demo.name, color, text });
  addChat({ from: demo.name, color, text, self: true });
};

// ------------------------------------------------------------------ joining

async function join(name) {
  demo.name = name;
  const scene = document.querySelector("a-scene");
  const player = $("player");
  // A place on the circle around the meeting point, facing it.
  const angle = Math.random() * Math.PI * 2;
  player.setAttribute("position", `${(Math.sin(angle) * 1.6).toFixed(2)} 1.6 ${(Math.cos(angle) * 1.6).toFixed(2)}`);
  const look = player.components["look-controls"];
  if (look && look.yawObject) look.yawObject.rotation.y = angle;
  player.setAttribute("player-info", { name, color });

  demo.state = "media";
  renderStatus();
  demo.media = await localMedia({ name, color, generated: params.get("media") === "generated" });
  note(`media: audio ${demo.media.audio}, video ${demo.media.video}${demo.media.notes.length ? " (" + demo.media.notes.join("; ") + ")" : ""}`);
  $("self-view").srcObject = demo.media.stream;
  renderMediaButtons();

  // Positional audio plays through A-Frame's AudioContext; this click is the
  // user gesture that lets it start.
  scene.addEventListener("sound-source-set", () => {
    const ctx = scene.audioListener && scene.audioListener.context;
    if (ctx && ctx.state === "suspended") ctx.resume();
  });

  scene.addEventListener("adapter-ready", ({ detail: adapter }) => {
    demo.adapter = adapter;
    adapter.setClientId(clientId);
    // No STUN/TURN: Janus is reachable directly (see docs/deploy.md), and a
    // browser behind NAT is found through its own connectivity checks.
    adapter.setPeerConnectionConfig({ iceServers: [] });
    adapter.setLocalMediaStream(demo.media.stream);
    adapter.setReconnectionListeners(
      (ms) => note(`reconnecting in ${ms} ms`),
      () => note("reconnected"),
      (e) => note(`reconnection failed: ${e}`)
    );
  });
  document.body.addEventListener("connected", () => {
    // naf-janus-adapter >= 4: the app picks whom to subscribe to; the live
    // availableOccupants array means everyone, now and later.
    NAF.connection.adapter.syncOccupants(NAF.connection.adapter.availableOccupants);
  });
  NAF.connection.subscribeToDataChannel("chat", (senderId, dataType, data) => {
    if (!data || typeof data.text !== "string") return;
    addChat({
      from: String(data.from || "someone").slice(0, 24),
      color: /^(#[0-9a-f]{3,8}|hsl\([\d., %]+\))$/i.test(data.color) ? data.color : "#ccc",
      text: data.text.slice(0, MAX_CHAT),
      senderId,
    });
  });
  scene.addEventListener("avatar-joined", ({ detail }) => addChat({ system: true, text: `${detail.name} joined` }));
  scene.addEventListener("avatar-left", ({ detail }) => addChat({ system: true, text: `${detail.name} left` }));

  // The server's speaking indication (our adapter): highlight the name tag.
  document.body.addEventListener("talking", ({ detail }) => {
    demo.talking[detail.clientId] = detail.talking;
    const el = [...document.querySelectorAll(".avatar")].find((a) => a.components.networked && a.components.networked.data.owner === detail.clientId);
    const tag = el && el.querySelector("[name-tag]");
    if (tag) tag.setAttribute("name-tag", "talking", detail.talking);
  });

  scene.setAttribute("networked-scene", { room, serverURL: serverUrl, adapter: adapterName });
  demo.state = "connecting";
  renderStatus();
  document.body.addEventListener(
    "connected",
    () => {
      demo.state = "connected";
      demo.error = null;
      note(`connected as ${clientId} to room ${room} with ${adapterName}`);
      addChat({ system: true, text: `You joined ${room} as ${name}` });
      renderStatus();
    },
    { once: true }
  );
  scene.emit("connect");
  // Our adapter decides the subscription mode after the publisher joined
  // (NAF's "connected"); wait for it.
  const modeTimer = setInterval(() => {
    const a = NAF.connection.adapter;
    if (!ours) demo.mode = demo.state === "connected" ? "naf-janus-adapter" : null;
    else if (a && a.mode) {
      if (demo.mode !== a.mode) note(`subscriptions: ${a.mode} (${a.modeReason})`);
      demo.mode = a.mode;
      demo.modeReason = a.modeReason;
    }
    if (demo.mode) clearInterval(modeTimer);
  }, 250);
  // networked-scene does not report a failed connect(); say so when the
  // WebSocket is still not open after a while (the adapter keeps trying).
  setTimeout(() => {
    const ws = NAF.connection.adapter && NAF.connection.adapter.ws;
    if (demo.state === "connecting" && (!ws || ws.readyState !== WebSocket.OPEN)) {
      demo.state = "failed";
      demo.error = `no answer from ${serverUrl}`;
      note(`failed: ${demo.error}`);
      renderStatus();
    }
  }, 30000);
  renderStatus();
}

// ------------------------------------------------------------------ test hooks

// Ids of the remote participants whose avatar entity exists.
demo.avatars = () =>
  [...document.querySelectorAll(".avatar")]
    .map((el) => el.components.networked && el.components.networked.data.owner)
    .filter((o) => o && o !== clientId);

// What this page renders of a remote participant's avatar.
demo.avatarState = (owner) => {
  const el = [...document.querySelectorAll(".avatar")].find((a) => a.components.networked && a.components.networked.data.owner === owner);
  if (!el) return null;
  const audio = el.querySelector("[networked-audio-source]").components["networked-audio-source"];
  const video = el.querySelector("[networked-video-source]").components["networked-video-source"];
  return {
    name: el.getAttribute("player-info").name,
    position: el.object3D.position.toArray(),
    positionalAudio: !!(audio && audio.sound && audio.sound.panner),
    videoTexture: !!(video && video.videoTexture),
    videoSize: video && video.video ? [video.video.videoWidth, video.video.videoHeight] : null,
  };
};

async function pcStats(pc) {
  const out = { connectionState: pc.connectionState, inbound: {} };
  (await pc.getStats()).forEach((s) => {
    if (s.type === "inbound-rtp") {
      out.inbound[s.kind] = { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight };
    }
  });
  return out;
}

async function receiverStats(pc, receivers) {
  const out = { connectionState: pc.connectionState, inbound: {} };
  for (const kind of ["audio", "video"]) {
    if (!receivers[kind]) continue;
    (await receivers[kind].getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === kind) {
        out.inbound[kind] = { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, frameWidth: s.frameWidth, frameHeight: s.frameHeight };
      }
    });
  }
  return out;
}

// Inbound RTP per subscribed participant: our adapter says which receivers
// carry whom (one PeerConnection for everyone in multistream mode);
// naf-janus-adapter has a PeerConnection per participant.
demo.stats = async () => {
  const out = {};
  const adapter = NAF.connection.adapter;
  for (const [id, sub] of Object.entries((adapter && adapter.occupants) || {})) {
    if (ours) {
      const r = adapter.receiversFor(id);
      const pc = adapter.multistream ? adapter.multistream.conn : sub.conn;
      if (r && pc) out[id] = await receiverStats(pc, r);
    } else {
      out[id] = await pcStats(sub.conn);
    }
  }
  return out;
};

// The PeerConnections this page holds.
demo.peerConnections = () => {
  const adapter = NAF.connection.adapter;
  if (!adapter) return null;
  if (ours) {
    const pcs = adapter.peerConnections();
    return { publisher: pcs.publisher ? 1 : 0, subscribers: pcs.subscribers.length };
  }
  return { publisher: adapter.publisher ? 1 : 0, subscribers: Object.values(adapter.occupants || {}).filter((s) => s && s.conn).length };
};

// ------------------------------------------------------------------ start

// ?fps=N renders at most N frames a second (slow machines, software WebGL).
function capFrameRate(scene, fps) {
  if (!(fps > 0) || !scene.renderer) return;
  const render = scene.render;
  let last = 0;
  scene.renderer.setAnimationLoop((t, frame) => {
    if (t - last < 1000 / fps - 2) return;
    last = t;
    render(t, frame);
  });
}

function start() {
  // After <a-scene> exists: NAF looks the template up when it is added.
  NAF.schemas.add({
    template: "#avatar-template",
    components: ["position", "rotation", "player-info"],
  });
  addScenery();
  const scene = document.querySelector("a-scene");
  const go = (name) => {
    $("join").hidden = true;
    setupOverlay();
    join(name).catch((e) => {
      demo.state = "failed";
      demo.error = e.message;
      note(`failed: ${e.stack || e}`);
      renderStatus();
    });
  };
  const ready = () => {
    const given = (params.get("name") || "").trim().slice(0, 24);
    if (given && params.get("autojoin") === "1") return go(given);
    $("join-room").textContent = room;
    $("join-name").value = given || localStorage.getItem("demo-name") || `${pick(ADJ)} ${pick(ANIMAL)}`;
    $("join").hidden = false;
    $("join-name").select();
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = $("join-name").value.trim().slice(0, 24) || `${pick(ADJ)} ${pick(ANIMAL)}`;
      try {
        localStorage.setItem("demo-name", name);
      } catch (e) {}
      go(name);
    });
  };
  const loaded = () => {
    capFrameRate(scene, Number(params.get("fps")) || (lowQuality ? 10 : 0));
    ready();
  };
  if (scene.hasLoaded) loaded();
  else scene.addEventListener("loaded", loaded, { once: true });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
