// Fakes for driving the adapter in node: a WebSocket connected to a
// scripted Janus + janus.plugin.sfu, and just enough RTCPeerConnection /
// MediaStream for the adapter's glue code (no media). Installed on
// globalThis by install().

let trackSeq = 0;
export class FakeTrack {
  constructor(kind) {
    this.kind = kind;
    this.id = `${kind}-${++trackSeq}`;
    this.enabled = true;
  }
}

export class FakeMediaStream {
  constructor(tracks = []) {
    this.tracks = [...tracks];
  }
  getTracks() {
    return [...this.tracks];
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(t) {
    if (!this.tracks.includes(t)) this.tracks.push(t);
  }
  removeTrack(t) {
    this.tracks = this.tracks.filter((x) => x !== t);
  }
}

class Emitter {
  constructor() {
    this.l = new Map();
  }
  addEventListener(type, fn, opts) {
    if (!this.l.has(type)) this.l.set(type, []);
    this.l.get(type).push({ fn, once: opts && opts.once });
  }
  removeEventListener(type, fn) {
    this.l.set(type, (this.l.get(type) || []).filter((x) => x.fn !== fn));
  }
  fire(type, ev = {}) {
    for (const x of [...(this.l.get(type) || [])]) {
      if (x.once) this.removeEventListener(type, x.fn);
      x.fn(ev);
    }
  }
}

export class FakePeerConnection extends Emitter {
  static all = [];
  constructor(config) {
    super();
    this.config = config;
    this.transceivers = []; // {mid, receiver: {track}}
    this.senders = [];
    this.localDescription = null;
    this.remoteDescription = null;
    this.closed = false;
    this.iceConnectionState = "new";
    FakePeerConnection.all.push(this);
  }
  createDataChannel(label) {
    const ch = new Emitter();
    ch.label = label;
    ch.readyState = "open";
    ch.sent = [];
    ch.send = (d) => ch.sent.push(d);
    this.negotiationNeeded();
    return ch;
  }
  negotiationNeeded() {
    if (this.nnPending) return;
    this.nnPending = true;
    setTimeout(() => {
      this.nnPending = false;
      this.fire("negotiationneeded");
    }, 0);
  }
  addTrack(track) {
    const s = { track, replaceTrack: async (t) => (s.track = t) };
    this.senders.push(s);
    this.negotiationNeeded();
    return s;
  }
  getSenders() {
    return [...this.senders];
  }
  getReceivers() {
    return this.transceivers.map((t) => t.receiver);
  }
  getTransceivers() {
    return [...this.transceivers];
  }
  async createOffer() {
    return { type: "offer", sdp: "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n" };
  }
  async createAnswer() {
    return { type: "answer", sdp: `v=0\r\n${(this.remoteDescription.sdp.match(/^m=.*$/gm) || []).join("\r\n")}\r\n` };
  }
  async setLocalDescription(d) {
    this.localDescription = { type: d.type, sdp: d.sdp };
  }
  // A remote offer creates one receiving transceiver per new mid (never
  // removed, as in Unified Plan).
  async setRemoteDescription(d) {
    if (this.closed) throw new Error("closed");
    this.remoteDescription = { type: d.type, sdp: d.sdp };
    if (d.type !== "offer") return;
    for (const sec of d.sdp.split(/\r\n(?=m=)/).slice(1)) {
      const kind = sec.match(/^m=(\w+)/)[1];
      const mid = (sec.match(/a=mid:(\S+)/) || [])[1];
      if (mid === undefined || kind === "application" || this.transceivers.some((t) => t.mid === mid)) continue;
      this.transceivers.push({ mid, receiver: { track: new FakeTrack(kind) } });
    }
  }
  close() {
    this.closed = true;
  }
}

// offerSdp builds a multistream offer with one m-line per listed stream.
export function offerSdp(streams) {
  return "v=0\r\n" + streams.map((s) => `m=${s.kind} 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:${s.mid}\r\na=${s.active === false ? "inactive" : "sendonly"}`).join("\r\n") + "\r\n";
}

// FakeJanus answers the Janus API the way Janus + janus.plugin.sfu do, with
// the plugin's replies scripted by the test: plugin(handle, body, jsep)
// returns {data, jsep} or undefined for the defaults below.
export class FakeJanus {
  // owner: a cluster host that does not serve the room: every join is
  // refused with wrong_host naming owner (docs/protocol.md section 12).
  constructor({ multistream = true, users = [], streams = [], owner = null } = {}) {
    this.multistream = multistream;
    this.owner = owner;
    this.users = users;
    this.streams = streams;
    this.sent = []; // every message the adapter sent
    this.handles = new Map(); // id -> {joined: body}
    this.nextId = 100;
    this.ws = null;
  }
  // push sends msg on ws (default: the newest connection) unless closed.
  push(msg, ws = this.ws) {
    setTimeout(() => ws.readyState === 1 && ws.fire("message", { data: JSON.stringify(msg) }), 0);
  }
  event(handleId, data, jsep) {
    this.push({ janus: "event", session_id: 1, sender: handleId, plugindata: { plugin: "janus.plugin.sfu", data }, ...(jsep ? { jsep } : {}) });
  }
  plugin(handle, body, jsep) {
    if (body.kind === "join" && this.owner) {
      return { data: { success: false, error: { msg: "Room is served by another host.", code: "wrong_host", owner: this.owner } } };
    }
    if (body.kind === "join") {
      handle.join = body;
      const response = { users: { [body.room_id]: this.users } };
      if (body.subscribe && body.subscribe.streams && this.multistream) {
        response.streams = this.streams;
        return { data: { success: true, response }, jsep: this.streams.length ? { type: "offer", sdp: offerSdp(this.streams) } : undefined };
      }
      if (body.subscribe && body.subscribe.media) return { data: { success: true, response }, jsep: { type: "offer", sdp: offerSdp([{ mid: "0", kind: "audio" }, { mid: "1", kind: "video" }]) } };
      return { data: { success: true, response } };
    }
    if (body.kind === "configure") {
      for (const c of body.streams) {
        const s = this.streams.find((x) => x.mid === c.mid);
        if (!s) return { data: { success: false, error: { msg: `Unknown mid ${c.mid}.` } } };
        s.paused = !c.send;
      }
      return { data: { success: true, response: { streams: this.streams } } };
    }
    if (jsep && jsep.type === "offer") {
      if (!handle.up) {
        handle.up = true;
        setTimeout(() => this.push({ janus: "webrtcup", session_id: 1, sender: handle.id }), 5);
      }
      return { data: { success: true }, jsep: { type: "answer", sdp: "v=0\r\n" } };
    }
    return { data: { success: true } };
  }
  receive(msg, ws = this.ws) {
    this.sent.push(msg);
    const reply = (m) => this.push({ transaction: msg.transaction, session_id: 1, ...m }, ws);
    switch (msg.janus) {
      case "create":
        return reply({ janus: "success", data: { id: 1 } });
      case "attach": {
        const id = this.nextId++;
        this.handles.set(id, { id, loop: msg.loop_index });
        return reply({ janus: "success", data: { id } });
      }
      case "message": {
        reply({ janus: "ack" });
        const r = this.plugin(this.handles.get(msg.handle_id), msg.body, msg.jsep);
        return reply({ janus: "event", sender: msg.handle_id, plugindata: { plugin: "janus.plugin.sfu", data: r.data }, ...(r.jsep ? { jsep: r.jsep } : {}) });
      }
      case "detach":
        this.handles.delete(msg.handle_id);
        return reply({ janus: "success" });
      default:
        return reply({ janus: "ack" });
    }
  }
  // messages the adapter sent to the plugin, as [handleId, body, jsep?]
  bodies() {
    return this.sent.filter((m) => m.janus === "message").map((m) => [m.handle_id, m.body, m.jsep]);
  }
}

// install makes WebSocket connect to janus, or to hosts(url) when given a
// function (a cluster: one FakeJanus per host).
export function install(hosts) {
  const pick = typeof hosts === "function" ? hosts : () => hosts;
  class FakeWebSocket extends Emitter {
    constructor(url, protocol) {
      super();
      this.url = url;
      this.protocol = protocol;
      this.readyState = 1;
      const janus = pick(url);
      if (!janus) throw new Error(`no fake host for ${url}`);
      this.janus = janus;
      janus.ws = this;
      janus.urls = [...(janus.urls || []), url];
      setTimeout(() => this.fire("open"), 0);
    }
    send(data) {
      if (this.readyState !== 1) throw new Error("send on a closed WebSocket");
      this.janus.receive(JSON.parse(data), this);
    }
    close(code) {
      this.readyState = 3;
      this.closeCode = code;
    }
  }
  FakePeerConnection.all = [];
  Object.assign(globalThis, { WebSocket: FakeWebSocket, RTCPeerConnection: FakePeerConnection, MediaStream: FakeMediaStream });
}

export const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

// until polls cond (the fakes run on timers; a loaded machine is slow).
export async function until(cond, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await tick(10);
}

// watchUnhandled collects the process's unhandled rejections until stop().
export function watchUnhandled() {
  const seen = [];
  const on = (e) => seen.push(e);
  process.on("unhandledRejection", on);
  return { seen, stop: () => process.off("unhandledRejection", on) };
}
