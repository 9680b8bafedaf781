// Test page: naf-janus-adapter without A-Frame. Query parameters:
//   server=ws://198.18.0.1:PORT/  room=ROOM  clientId=ID  [debug=0]
import "./naf-shim.js";
import JanusAdapter from "naf-janus-adapter";

const params = new URLSearchParams(location.search);
const serverUrl = params.get("server");
const room = params.get("room") || "browser-test";
const clientId = params.get("clientId") || "client-" + Math.floor(Math.random() * 1e9);

const statusEl = document.getElementById("status");
document.getElementById("me").textContent = `${clientId} in room ${room} via ${serverUrl}`;

// Everything the test harness reads lives here.
const T = {
  clientId,
  room,
  state: "init", // init → media → connecting → connected | failed
  error: null,
  connectedEvents: [], // onOccupantConnected ids
  disconnectedEvents: [],
  occupantsChangedCount: 0,
  received: { reliable: [], unreliable: [], event: [], other: [] },
  signalling: [], // every Janus JSON frame, in and out: {dir, t, msg}
  subscriberOffers: {}, // occupantId → {original, munged}
  log: [],
};
window.sfuTest = T;

function note(s) {
  T.log.push(`${new Date().toISOString()} ${s}`);
  console.log(`[sfuTest ${clientId}] ${s}`);
  render();
}

function render() {
  statusEl.textContent =
    `state: ${T.state}${T.error ? " error: " + T.error : ""}\n` +
    `occupants: ${T.occupants().join(", ")}\n` +
    `available: ${T.available().join(", ")}\n` +
    `received reliable: ${T.received.reliable.length} unreliable: ${T.received.unreliable.length}`;
}

// Record Janus signalling (the adapter's WebSocket is created inside connect()).
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (ev) => {
      try {
        T.signalling.push({ dir: "in", t: Date.now(), msg: JSON.parse(ev.data) });
      } catch (e) {
        T.signalling.push({ dir: "in", t: Date.now(), raw: String(ev.data) });
      }
    });
  }
  send(data) {
    try {
      const msg = JSON.parse(data);
      if (msg.janus !== "keepalive") T.signalling.push({ dir: "out", t: Date.now(), msg });
    } catch (e) {
      T.signalling.push({ dir: "out", t: Date.now(), raw: String(data) });
    }
    return super.send(data);
  }
};

const adapter = new JanusAdapter();
T.adapter = adapter;
T.occupants = () => Object.keys(adapter.occupants);
T.available = () => adapter.availableOccupants.slice();

// Keep the server's subscriber offer before the adapter munges it.
const origConfigureSubscriberSdp = adapter.configureSubscriberSdp.bind(adapter);
adapter.configureSubscriberSdp = (jsep) => {
  const original = jsep.sdp;
  const out = origConfigureSubscriberSdp(jsep);
  const key = `offer${Object.keys(T.subscriberOffers).length}`;
  T.subscriberOffers[key] = { original, munged: out.sdp };
  return out;
};

adapter.setServerUrl(serverUrl);
adapter.setRoom(room);
adapter.setClientId(clientId);
// No STUN: there is no Internet here, and both ends are on 198.18.0.1.
adapter.setPeerConnectionConfig({ iceServers: [] });
adapter.setServerConnectListeners(
  (id) => {
    note(`connectSuccess ${id}`);
    // naf-janus-adapter >= 4: the app chooses whom to subscribe to. Passing
    // the live availableOccupants array subscribes to everyone, now and later.
    adapter.syncOccupants(adapter.availableOccupants);
  },
  (err) => {
    T.state = "failed";
    T.error = String(err);
    note(`connectFailure ${err}`);
  }
);
adapter.setRoomOccupantListener((occupants) => {
  T.occupantsChangedCount++;
  render();
});
adapter.setDataChannelListeners(
  (id) => {
    T.connectedEvents.push(id);
    note(`occupant connected ${id}`);
    attachRemote(id);
  },
  (id) => {
    T.disconnectedEvents.push(id);
    note(`occupant disconnected ${id}`);
    const el = document.getElementById("remote-" + id);
    if (el) el.remove();
  },
  (_unused, dataType, data, source) => {
    const channel =
      source === "janus-reliable" ? "reliable" : source === "janus-unreliable" ? "unreliable" : source === "janus-event" ? "event" : "other";
    T.received[channel].push({ t: Date.now(), dataType, data, source });
    note(`data on ${channel}: ${dataType} ${JSON.stringify(data)}`);
  }
);
adapter.setReconnectionListeners(
  (delay) => note(`reconnecting in ${delay} ms`),
  () => note("reconnected"),
  (err) => note(`reconnection error ${err}`)
);

async function attachRemote(id) {
  const [audio, video] = await Promise.all([adapter.getMediaStream(id, "audio"), adapter.getMediaStream(id, "video")]);
  const wrap = document.createElement("div");
  wrap.id = "remote-" + id;
  wrap.append(`remote ${id}:`);
  const v = document.createElement("video");
  v.autoplay = true;
  v.muted = true;
  v.playsInline = true;
  v.srcObject = video;
  const a = document.createElement("audio");
  a.autoplay = true;
  a.srcObject = audio;
  wrap.append(v, a);
  document.getElementById("remotes").append(wrap);
  v.play().catch((e) => note(`video play: ${e}`));
  a.play().catch((e) => note(`audio play: ${e}`));
}

function pick(s, keys) {
  const o = {};
  for (const k of keys) if (s[k] !== undefined) o[k] = s[k];
  return o;
}

async function pcStats(pc) {
  const report = await pc.getStats();
  const out = {
    iceConnectionState: pc.iceConnectionState,
    connectionState: pc.connectionState,
    signalingState: pc.signalingState,
    inbound: {},
    outbound: {},
    codecs: {},
    candidatePair: null,
  };
  report.forEach((s) => {
    if (s.type === "inbound-rtp") {
      out.inbound[s.kind] = pick(s, [
        "ssrc", "bytesReceived", "packetsReceived", "packetsLost", "framesDecoded", "framesReceived",
        "frameWidth", "frameHeight", "keyFramesDecoded", "totalSamplesReceived", "decoderImplementation", "codecId",
      ]);
    } else if (s.type === "outbound-rtp") {
      out.outbound[s.kind] = pick(s, [
        "ssrc", "bytesSent", "packetsSent", "framesEncoded", "framesSent", "encoderImplementation", "codecId",
        "qualityLimitationReason", "pliCount", "firCount", "nackCount",
      ]);
    } else if (s.type === "codec") {
      out.codecs[s.id] = pick(s, ["mimeType", "payloadType", "sdpFmtpLine"]);
    } else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") {
      out.candidatePair = pick(s, ["state", "bytesSent", "bytesReceived"]);
    }
  });
  for (const dir of ["inbound", "outbound"]) {
    for (const kind of Object.keys(out[dir])) {
      const c = out.codecs[out[dir][kind].codecId];
      if (c) out[dir][kind].codec = c.mimeType + (c.sdpFmtpLine ? " " + c.sdpFmtpLine : "");
    }
  }
  delete out.codecs;
  return out;
}

// Stats of the subscriber peer connections (one per occupant) and of our
// publisher peer connection.
T.stats = async () => {
  const subscribers = {};
  for (const [id, sub] of Object.entries(adapter.occupants)) {
    subscribers[id] = await pcStats(sub.conn);
  }
  const publisher = adapter.publisher ? await pcStats(adapter.publisher.conn) : null;
  return { subscribers, publisher };
};

T.sdp = () => {
  const d = (x) => (x ? { type: x.type, sdp: x.sdp } : null);
  const subs = {};
  for (const [id, sub] of Object.entries(adapter.occupants)) {
    subs[id] = { local: d(sub.conn.localDescription), remote: d(sub.conn.remoteDescription) };
  }
  const pub = adapter.publisher
    ? { local: d(adapter.publisher.conn.localDescription), remote: d(adapter.publisher.conn.remoteDescription) }
    : null;
  return { publisher: pub, subscribers: subs, subscriberOffers: T.subscriberOffers };
};

T.channelStates = () =>
  adapter.publisher
    ? {
        reliable: adapter.publisher.reliableChannel.readyState,
        unreliable: adapter.publisher.unreliableChannel.readyState,
      }
    : null;

// Send one message on each data channel to occupant `to`.
T.send = (to, text, seq = 0) => {
  adapter.sendDataGuaranteed(to, "sfutest", { channel: "reliable", from: clientId, to, text, seq });
  adapter.sendData(to, "sfutest", { channel: "unreliable", from: clientId, to, text, seq });
};

async function main() {
  try {
    T.state = "media";
    render();
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    document.getElementById("local").srcObject = stream;
    T.localTracks = stream.getTracks().map((t) => `${t.kind}:${t.label}`);
    T.startMedia = async () => {
      await adapter.setLocalMediaStream(stream);
      T.mediaStarted = true;
      note("setLocalMediaStream done");
    };
    if (params.get("media") !== "late") {
      // Before connect(), like NAF with audio:true: the adapter adds the
      // tracks to the publisher after webrtcup, once the data channels are
      // open and it has joined (a renegotiation).
      await T.startMedia();
    } // else the harness calls sfuTest.startMedia() later (a renegotiation
    // after other clients have already subscribed to us).
    T.state = "connecting";
    render();
    await adapter.connect();
    T.state = "connected";
    note("connected");
  } catch (e) {
    T.state = "failed";
    T.error = e && e.stack ? e.stack : JSON.stringify(e);
    note(`failed: ${T.error}`);
  }
}

setInterval(render, 1000);
main();
