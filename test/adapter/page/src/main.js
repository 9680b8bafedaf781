// Test page: one NAF client without A-Frame, using our adapter (registered
// as "janus-ms") or naf-janus-adapter ("janus"). Query parameters:
//   server=ws://198.18.0.1:PORT/  room=R  clientId=ID
//   adapter=janus-ms|janus  mode=auto|classic|multistream (janus-ms only)
//   tone=1: send a steady 440 Hz tone instead of Chromium's fake
//   microphone (a short beep twice a second, on average far quieter than
//   the plugin's talking threshold): a "speaking" page.
import "./naf-shim.js";
import "../../../../adapter/src/index.js";
import "naf-janus-adapter";

const q = new URLSearchParams(location.search);
const clientId = q.get("clientId");
const adapterName = q.get("adapter") || "janus-ms";
const ours = adapterName !== "janus";
const adapter = NAF.adapters.make(adapterName);

const T = {
  clientId,
  adapterName,
  state: "init",
  error: null,
  mode: null,
  connected: [],
  disconnected: [],
  received: [],
  talking: [],
  streamsChanges: 0,
  log: [],
};
window.sfuTest = T;
T.adapter = adapter;

function note(s) {
  T.log.push(`${new Date().toISOString()} ${s}`);
  console.log(`[test ${clientId}] ${s}`);
}

const statusEl = document.getElementById("status");
document.getElementById("me").textContent = `${clientId} (${adapterName}) in ${q.get("room")}`;
setInterval(() => {
  statusEl.textContent = `state ${T.state} mode ${T.mode} occupants ${T.occupants().join(",")} ${T.error || ""}`;
}, 1000);

adapter.setServerUrl(q.get("server"));
adapter.setRoom(q.get("room"));
adapter.setClientId(clientId);
adapter.setPeerConnectionConfig({ iceServers: [] });
if (ours) {
  adapter.setDebug(true);
  adapter.subscribeTimeoutMs = 60000; // a loaded CI machine can take that long for ICE + DTLS
  if (q.get("mode")) adapter.setSubscriptionMode(q.get("mode"));
  adapter.setTalkingListener((id, talking) => T.talking.push({ id, talking, t: Date.now() }));
  adapter.onStreamsChanged = () => T.streamsChanges++;
}
adapter.setServerConnectListeners(
  (id) => {
    note(`connectSuccess ${id}`);
    if (!ours) adapter.syncOccupants(adapter.availableOccupants); // naf-janus-adapter 4.x
  },
  (e) => note(`connectFailure ${e}`)
);
adapter.setRoomOccupantListener(() => {});
adapter.setDataChannelListeners(
  (id) => {
    T.connected.push(id);
    note(`occupant connected ${id}`);
    attach(id);
  },
  (id) => {
    T.disconnected.push(id);
    note(`occupant disconnected ${id}`);
    document.getElementById(`remote-${id}`)?.remove();
  },
  (_, dataType, data, source) => T.received.push({ dataType, data, source })
);

// As NAF's networked-audio-source / networked-video-source do.
async function attach(id) {
  const [audio, video] = await Promise.all([adapter.getMediaStream(id, "audio"), adapter.getMediaStream(id, "video")]);
  const v = document.createElement("video");
  v.id = `remote-${id}`;
  v.autoplay = v.muted = v.playsInline = true;
  v.srcObject = video;
  const a = document.createElement("audio");
  a.autoplay = true;
  a.srcObject = audio;
  v.dataset.audio = "1";
  document.getElementById("remotes").append(v, a);
  T.elements = T.elements || {};
  T.elements[id] = { v, a, audio, video };
}

T.occupants = () => Object.keys(adapter.occupants);

function receivers(id) {
  if (ours) return adapter.receiversFor(id);
  const sub = adapter.occupants[id];
  if (!sub) return null;
  const out = {};
  for (const r of sub.conn.getReceivers()) if (r.track) out[r.track.kind] = r;
  return out;
}

// stats(): per remote user, inbound audio bytes and video frames.
T.stats = async () => {
  const out = {};
  for (const id of T.occupants()) {
    const rs = receivers(id) || {};
    const row = { audio: null, video: null };
    for (const kind of ["audio", "video"]) {
      if (!rs[kind]) continue;
      const rep = await rs[kind].getStats();
      rep.forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === kind) {
          row[kind] = { bytesReceived: s.bytesReceived, packetsReceived: s.packetsReceived, framesDecoded: s.framesDecoded, mid: s.mid, frameWidth: s.frameWidth };
        }
      });
    }
    const el = T.elements && T.elements[id];
    row.streamTracks = el ? { audio: el.audio.getTracks().length, video: el.video.getTracks().length, videoWidth: el.v.videoWidth } : null;
    out[id] = row;
  }
  return out;
};

T.subscriberPeerConnections = () => (ours ? adapter.peerConnections().subscribers.length : Object.keys(adapter.occupants).length);
T.streams = () => (ours ? adapter.streams() : []);
// extmaps(): whether the publisher's offer carries the RFC 6464 audio-level
// extension and the plugin's answer kept it (talking events need both).
const AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
T.extmaps = () => {
  const conn = adapter.publisher && adapter.publisher.conn;
  const has = (d) => !!d && d.sdp.split(/\r\n(?=m=)/).some((m) => m.startsWith("m=audio") && m.includes(AUDIO_LEVEL));
  return conn ? { offer: has(conn.localDescription), answer: has(conn.remoteDescription) } : null;
};
// sentAudioLevel(): the level Chromium measures on what this page sends (0..1).
T.sentAudioLevel = async () => {
  const conn = adapter.publisher && adapter.publisher.conn;
  let level = null;
  if (conn) (await conn.getStats()).forEach((s) => s.type === "media-source" && s.kind === "audio" && (level = s.audioLevel));
  return level;
};
T.ids = () => ({
  session: adapter.session && adapter.session.id,
  publisher: adapter.publisher && adapter.publisher.handle.id,
  subscriber: ours && adapter.multistream ? adapter.multistream.handle.id : null,
});
T.pause = (id, kind, paused) => adapter.setStreamPaused(id, kind, paused).then((r) => ({ serverSide: r.serverSide }));
T.send = (to, seq) => {
  adapter.sendDataGuaranteed(to, "t", { from: clientId, channel: "reliable", seq });
  adapter.sendData(to, "t", { from: clientId, channel: "unreliable", seq });
};
T.leave = () => {
  adapter.disconnect();
  T.state = "left";
};

async function main() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 160, height: 120, frameRate: 10 } });
    if (q.get("tone") === "1") {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const dst = ctx.createMediaStreamDestination();
      osc.frequency.value = 440;
      gain.gain.value = 0.5; // about -9 dBov: talking at the default threshold (25)
      osc.connect(gain).connect(dst);
      osc.start();
      for (const t of stream.getAudioTracks()) (stream.removeTrack(t), t.stop());
      stream.addTrack(dst.stream.getAudioTracks()[0]);
      T.tone = true;
      // Silence and back: talking events are sent on changes only, so a
      // page that joined after we started needs one.
      T.speak = (on) => (gain.gain.value = on ? 0.5 : 0);
    }
    document.getElementById("local").srcObject = stream;
    await adapter.setLocalMediaStream(stream);
    T.state = "connecting";
    await adapter.connect();
    T.mode = ours ? adapter.mode : "naf-janus-adapter";
    T.modeReason = ours ? adapter.modeReason : null;
    T.state = "connected";
    note(`connected, mode ${T.mode}: ${T.modeReason}`);
  } catch (e) {
    T.state = "failed";
    T.error = String((e && e.stack) || JSON.stringify(e));
    note(`failed: ${T.error}`);
  }
}
main();
