// The networked-aframe adapter for janus.plugin.sfu (browser side: WebSocket,
// RTCPeerConnection, MediaStream). Same API as naf-janus-adapter; the pure
// logic it relies on lives in streams.js, queue.js, backoff.js, mode.js,
// janus.js and util.js.
//
// Per user: one publisher PeerConnection (audio + video up, "reliable" and
// "unreliable" data channels both ways, room notifications) and
//   - multistream mode (Janus 1.x with the extension): ONE subscriber
//     PeerConnection carrying every other publisher's audio and video,
//     renegotiated by the server as the room changes;
//   - classic mode (any other server): one subscriber PeerConnection per
//     other publisher, exactly like naf-janus-adapter.
import { Backoff } from "./backoff.js";
import { JanusSession, pluginData } from "./janus.js";
import { subscriptionMode } from "./mode.js";
import { SerialQueue } from "./queue.js";
import { CODE_WRONG_HOST, MAX_REDIRECTS, Redirects, wrongHostOwner } from "./redirect.js";
import { KINDS, StreamTable, configureBody, foldConfigure } from "./streams.js";
import { ClockSync, loopIndex, mungeOpusFmtp } from "./util.js";

const PLUGIN = "janus.plugin.sfu";
const WS_NORMAL_CLOSURE = 1000;
const SUBSCRIBE_TIMEOUT_MS = 15000; // classic: webrtcup wait per try (as naf-janus-adapter)
const SUBSCRIBE_RETRIES = 5;
const ICE_FAILURE_RECONNECT_MS = 10000;
// naf-janus-adapter sends keepalives every 30 s, and deployments set Janus's
// session_timeout to 38 s: a busy browser or server that is 8 s late loses
// the session. Every 15 s leaves room for one late keepalive.
const KEEPALIVE_MS = 15000;
// Classic mode, like naf-janus-adapter: in a room above this many users,
// spread the subscriptions over a random delay.
const SPREAD_THRESHOLD = 5;
const SPREAD_MAX_MS = 5000;
const DEFAULT_PEER_CONNECTION_CONFIG = {
  iceServers: [{ urls: "stun:stun1.l.google.com:19302" }, { urls: "stun:stun2.l.google.com:19302" }],
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function nafStatus(name) {
  const a = globalThis.NAF && globalThis.NAF.adapters;
  return (a && a[name]) || name;
}

function dispatch(name, detail) {
  if (typeof document !== "undefined" && document.body) document.body.dispatchEvent(new CustomEvent(name, { detail }));
}

function untilOpen(channel) {
  if (channel.readyState === "open") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (ok) => () => {
      channel.removeEventListener("open", onOpen);
      channel.removeEventListener("error", onError);
      ok ? resolve() : reject(new Error(`data channel ${channel.label} failed to open`));
    };
    const onOpen = done(true);
    const onError = done(false);
    channel.addEventListener("open", onOpen);
    channel.addEventListener("error", onError);
  });
}

// joinError turns a refused join's plugin data into an Error that keeps
// the server's msg and, for the cluster's wrong_host, code and owner.
function joinError(d, what) {
  const e = (d && d.error) || {};
  const err = new Error(`${what}: ${e.msg || "no reply"}`);
  err.msg = e.msg;
  if (e.code) err.code = e.code;
  if (e.owner) err.owner = e.owner;
  err.reply = d;
  return err;
}

function replyOrThrow(msg, what) {
  const d = pluginData(msg);
  if (!d || d.success !== true) {
    const err = new Error(`${what}: ${(d && d.error && d.error.msg) || "no reply"}`);
    err.reply = d;
    throw err;
  }
  return d;
}

export class JanusSfuAdapter {
  constructor() {
    this.room = null;
    this.clientId = null; // set by the app before connect(), as with naf-janus-adapter
    this.joinToken = null;
    this.serverUrl = null;
    this.webRtcOptions = {};
    this.peerConnectionConfig = null;
    this.loops = 0;
    // "datachannel" | "websocket" | function(clientId, dataType, data)
    this.reliableTransport = "datachannel";
    this.unreliableTransport = "datachannel";
    // "auto": multistream when the server supports it, else classic.
    this.subscriptionModePreference = "auto";
    this.mode = null; // "multistream" | "classic" once connected
    this.modeReason = null;
    this.debugEnabled = false;
    this.subscribeTimeoutMs = SUBSCRIBE_TIMEOUT_MS;
    this.keepaliveMs = KEEPALIVE_MS;
    // Cluster: wrong_host redirects followed in a row before giving up.
    this.maxRedirects = MAX_REDIRECTS;
    this.connectedUrl = null; // the URL of the current connection (the owner's after a redirect)
    this.movingTo = null; // a wrong_host event's owner while we reconnect there

    this.ws = null;
    this.session = null;
    this.publisher = null; // {handle, conn, reliableChannel, unreliableChannel, initialOccupants, queue}
    this.multistream = null; // {handle, conn, table, queue}

    this.occupantIds = [];
    this.occupants = {}; // clientId -> subscriber (classic) or {multistream: true}
    this.availableOccupants = [];
    // naf-janus-adapter 4.x subscribes only to requestedOccupants (set by
    // syncOccupants). Here it defaults to everyone available, which is
    // what a NAF scene without extra code expects.
    this.requestedOccupants = this.availableOccupants;
    this.pendingOccupants = new Set();
    this.leftUsers = new Set();
    this.mediaStreams = {}; // clientId -> {audio: MediaStream, video: MediaStream}
    this.pendingMediaRequests = new Map(); // clientId -> {audio, video: {promise, resolve, reject}}
    this.localMediaStream = null;
    this.blockedClients = new Map();
    this.talking = new Set();

    this.backoff = new Backoff();
    // Resubscribing after the multistream handle is ended: a few quick
    // attempts (random start, so a server-wide cause does not bring every
    // client back at once), then a full reconnect.
    this.resubscribeOptions = { initialDelay: 500 * Math.random(), step: 1000, maxDelay: 5000, maxAttempts: 5 };
    this.resubscribeTimer = null;
    this.resubscribed = 0;
    this.isReconnecting = false;
    this.reconnectionTimeout = null;
    this.delayedReconnectTimeout = null;
    this.clock = new ClockSync();
    this.clockTimer = null;

    this.connectSuccess = () => {};
    this.connectFailure = () => {};
    this.onOccupantsChanged = () => {};
    this.onOccupantConnected = () => {};
    this.onOccupantDisconnected = () => {};
    this.onOccupantMessage = () => {};
    this.onReconnecting = null;
    this.onReconnected = null;
    this.onReconnectionError = null;
    this.onTalking = null;
    this.onStreamsChanged = null;

    this.onWebsocketClose = this.onWebsocketClose.bind(this);
    this.onWebsocketMessage = this.onWebsocketMessage.bind(this);
  }

  // ------------------------------------------------------------ options (NAF + naf-janus-adapter)

  setServerUrl(url) {
    this.serverUrl = url;
  }
  setApp(_app) {}
  setRoom(room) {
    this.room = room;
  }
  setJoinToken(token) {
    this.joinToken = token;
  }
  setClientId(clientId) {
    this.clientId = clientId;
  }
  setWebRtcOptions(options) {
    this.webRtcOptions = options || {};
  }
  setPeerConnectionConfig(config) {
    this.peerConnectionConfig = config;
  }
  setEventLoops(loops) {
    this.loops = loops;
  }
  setServerConnectListeners(success, failure) {
    this.connectSuccess = success || (() => {});
    this.connectFailure = failure || (() => {});
  }
  setRoomOccupantListener(fn) {
    this.onOccupantsChanged = fn || (() => {});
  }
  setDataChannelListeners(open, closed, message) {
    this.onOccupantConnected = open || (() => {});
    this.onOccupantDisconnected = closed || (() => {});
    this.onOccupantMessage = message || (() => {});
  }
  // reconnecting(delayMs), reconnected(), reconnectionError(err)
  setReconnectionListeners(reconnecting, reconnected, reconnectionError) {
    this.onReconnecting = reconnecting;
    this.onReconnected = reconnected;
    this.onReconnectionError = reconnectionError;
  }
  // {initialDelay, step, maxDelay, maxAttempts} (ms, count); see backoff.js.
  setReconnectionOptions(options) {
    this.backoff = new Backoff({ ...this.backoffOptions(), ...options });
  }
  backoffOptions() {
    const b = this.backoff;
    return { initialDelay: b.initialDelay, step: b.step, maxDelay: b.maxDelay, maxAttempts: b.maxAttempts };
  }
  // naf-janus-adapter's property names.
  get initialReconnectionDelay() {
    return this.backoff.initialDelay;
  }
  set initialReconnectionDelay(ms) {
    this.backoff.initialDelay = ms;
  }
  get maxReconnectionAttempts() {
    return this.backoff.maxAttempts;
  }
  set maxReconnectionAttempts(n) {
    this.backoff.maxAttempts = n;
  }
  get reconnectionDelay() {
    return this.backoff.delay;
  }
  get reconnectionAttempts() {
    return this.backoff.attempts;
  }
  // "auto" (default), "multistream" (fail when unsupported) or "classic".
  setSubscriptionMode(mode) {
    if (!["auto", "multistream", "classic"].includes(mode)) throw new Error(`unknown subscription mode ${mode}`);
    this.subscriptionModePreference = mode;
  }
  // fn(clientId, talking): the server's speaking indication (multistream servers).
  setTalkingListener(fn) {
    this.onTalking = fn;
  }
  setDebug(on) {
    this.debugEnabled = !!on;
  }

  debug(...args) {
    if (this.debugEnabled) console.log(`[janus-sfu ${this.clientId}]`, ...args);
  }

  // ------------------------------------------------------------ connection

  resolveServerUrl() {
    let url = this.serverUrl;
    if (!url || url === "/") url = "/janus";
    if (url.startsWith("/") && typeof location !== "undefined") {
      url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + url;
    }
    return url;
  }

  // connect resolves once joined, following the cluster's wrong_host
  // refusals to the room's owner (at most maxRedirects in a row).
  connect() {
    const configured = this.resolveServerUrl();
    const redirects = new Redirects(this.maxRedirects);
    return Promise.all([this.connectFollowing(configured, configured, redirects), this.updateTimeOffset()]).catch((e) => {
      this.connectFailure(e);
      throw e;
    });
  }

  // connectFollowing connects to url; a join refused with wrong_host
  // closes this connection and connects to the owner (redirect.js).
  connectFollowing(url, configured, redirects) {
    return this.connectTo(url).catch((e) => {
      const owner = wrongHostOwner(e);
      if (!owner) throw e;
      const d = redirects.next({ configured, current: url, owner, room: this.room });
      if (d.error) {
        console.warn(`janus-sfu: room ${this.room}: ${e.message}; ${d.error}`);
        const err = new Error(`${e.message} (${d.error})`);
        Object.assign(err, { msg: e.msg, code: CODE_WRONG_HOST, owner, redirects: redirects.count });
        throw err;
      }
      console.warn(`janus-sfu: room ${this.room} is served by ${owner}; reconnecting to ${d.url} (redirect ${redirects.count} of at most ${redirects.max})`);
      this.disconnect();
      return this.connectFollowing(d.url, configured, redirects);
    });
  }

  connectTo(url) {
    this.debug(`connecting to ${url}`);
    this.connectedUrl = url;
    return new Promise((resolve, reject) => {
      this.connectPromise = { resolve, reject };
      const ws = new WebSocket(url, "janus-protocol");
      this.ws = ws;
      this.session = new JanusSession((msg) => ws.send(JSON.stringify(msg)), {
        keepaliveMs: this.keepaliveMs,
        onTimeout: () => {
          console.error("janus-sfu: Janus transaction timed out; reconnecting");
          this.reconnect();
        },
      });
      ws.addEventListener("close", this.onWebsocketClose);
      ws.addEventListener("message", this.onWebsocketMessage);
      ws.addEventListener("open", () => this.onWebsocketOpen().then(resolve, reject), { once: true });
    });
  }

  // moveTo follows a wrong_host event (the room moved to owner while we
  // were in it): a reconnect, to the owner.
  moveTo(owner) {
    if (this.movingTo || !this.ws) return;
    const configured = this.resolveServerUrl();
    const redirects = new Redirects(this.maxRedirects);
    const d = redirects.next({ configured, current: this.connectedUrl, owner, room: this.room });
    if (d.error) {
      console.warn(`janus-sfu: room ${this.room} moved to ${owner}, not following: ${d.error}`);
      return;
    }
    console.warn(`janus-sfu: room ${this.room} moved to ${owner}; reconnecting to ${d.url}`);
    this.movingTo = owner;
    this.isReconnecting = true;
    if (this.onReconnecting) this.onReconnecting(0);
    this.disconnect();
    this.connectFollowing(d.url, configured, redirects).then(
      () => {
        this.movingTo = null;
        this.backoff.reset();
        this.isReconnecting = false;
        if (this.onReconnected) this.onReconnected();
      },
      (e) => {
        this.movingTo = null;
        console.warn("janus-sfu: reconnecting to the room's owner failed", e);
        this.scheduleReconnect(e);
      }
    );
  }

  async onWebsocketOpen() {
    await this.session.create();
    this.publisher = await this.createPublisher();
    this.connectSuccess(this.clientId);
    for (const id of this.publisher.initialOccupants) {
      if (id !== this.clientId) this.addAvailableOccupant(id);
    }
    await this.startSubscriptions();
    this.syncOccupants();
  }

  onWebsocketMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    this.session && this.session.receive(msg);
  }

  onWebsocketClose(ev) {
    if (ev.code === WS_NORMAL_CLOSURE) return;
    if (this.connectPromise) this.connectPromise.reject(new Error(`WebSocket closed (${ev.code})`));
    if (this.isReconnecting) return;
    this.isReconnecting = true;
    console.warn("janus-sfu: WebSocket closed unexpectedly");
    this.scheduleReconnect(null);
  }

  // scheduleReconnect waits the next backoff delay and reconnects, or gives
  // up (onReconnectionError) after the configured attempts.
  scheduleReconnect(lastError) {
    const delay = this.backoff.next();
    if (delay === null) {
      this.isReconnecting = false;
      const err = new Error("Connection could not be reestablished, exceeded maximum number of reconnection attempts.");
      err.cause = lastError;
      if (this.onReconnectionError) this.onReconnectionError(err);
      else console.warn(err);
      return;
    }
    if (this.onReconnecting) this.onReconnecting(delay);
    clearTimeout(this.reconnectionTimeout);
    this.reconnectionTimeout = setTimeout(() => this.reconnect(), delay);
  }

  reconnect() {
    this.isReconnecting = true;
    this.disconnect();
    return this.connect().then(
      () => {
        this.backoff.reset();
        this.isReconnecting = false;
        if (this.onReconnected) this.onReconnected();
      },
      (e) => {
        console.warn("janus-sfu: reconnect failed", e);
        this.scheduleReconnect(e);
      }
    );
  }

  performDelayedReconnect() {
    clearTimeout(this.delayedReconnectTimeout);
    this.delayedReconnectTimeout = setTimeout(() => {
      this.delayedReconnectTimeout = null;
      this.reconnect();
    }, ICE_FAILURE_RECONNECT_MS);
  }

  disconnect() {
    this.debug("disconnecting");
    clearTimeout(this.reconnectionTimeout);
    clearTimeout(this.delayedReconnectTimeout);
    this.delayedReconnectTimeout = null;
    clearTimeout(this.clockTimer);
    clearTimeout(this.resubscribeTimer);
    this.resubscribeTimer = null;
    this.replacing = null;
    this.removeAllOccupants();
    if (this.multistream) {
      this.multistream.queue.close();
      this.multistream.conn.close();
      this.multistream = null;
    }
    if (this.publisher) {
      this.publisher.queue.close();
      this.publisher.conn.close();
      this.publisher = null;
    }
    this.mode = null;
    this.talking.clear();
    this.leftUsers.clear();
    if (this.session) {
      // Tell Janus the session is over (its handles go with it) rather
      // than leave it to the transport noticing the closed socket.
      if (this.ws && this.ws.readyState === 1) this.session.destroy().catch(() => {});
      this.session.dispose();
      this.session = null;
    }
    if (this.ws) {
      this.ws.removeEventListener("close", this.onWebsocketClose);
      this.ws.removeEventListener("message", this.onWebsocketMessage);
      this.ws.close(WS_NORMAL_CLOSURE);
      this.ws = null;
    }
    this.connectPromise = null;
  }

  isDisconnected() {
    return this.ws === null;
  }

  // ------------------------------------------------------------ peer connections

  newPeerConnection(handle) {
    const conn = new RTCPeerConnection(this.peerConnectionConfig || DEFAULT_PEER_CONNECTION_CONFIG);
    conn.addEventListener("icecandidate", (ev) => {
      handle.trickle(ev.candidate || null).catch((e) => this.debug("trickle failed", e));
    });
    conn.addEventListener("iceconnectionstatechange", () => {
      if (conn.iceConnectionState === "failed") {
        console.warn("janus-sfu: ICE failed; reconnecting in 10 s");
        this.performDelayedReconnect();
      }
    });
    return conn;
  }

  // answerOffer applies a server offer on a subscriber connection and sends
  // the answer on its handle (body {}, as the plugin expects).
  async answerOffer(conn, handle, jsep) {
    await conn.setRemoteDescription({ type: "offer", sdp: jsep.sdp });
    const answer = await conn.createAnswer();
    await conn.setLocalDescription(answer);
    this.debug(`handle ${handle.id}: answering an offer of ${(jsep.sdp.match(/^m=/gm) || []).length} m-lines`);
    const r = await handle.message({}, conn.localDescription);
    replyOrThrow(r, "answer refused");
  }

  sendJoin(handle, subscribe) {
    const body = { kind: "join", room_id: this.room, user_id: String(this.clientId), subscribe };
    if (this.joinToken) body.token = this.joinToken;
    return handle.message(body);
  }

  async createPublisher() {
    const handle = await this.session.attach(PLUGIN, loopIndex(this.clientId, this.loops));
    const conn = this.newPeerConnection(handle);
    const queue = new SerialQueue();
    // One offer at a time: Janus refuses a new SDP while it handles one.
    conn.addEventListener("negotiationneeded", () => {
      queue
        .push("offer", null, async () => {
          const offer = await conn.createOffer();
          offer.sdp = mungeOpusFmtp(offer.sdp);
          await conn.setLocalDescription(offer);
          const r = await handle.message({}, offer);
          replyOrThrow(r, "publisher offer refused");
          await conn.setRemoteDescription(r.jsep);
        })
        .catch((e) => console.error("janus-sfu: publisher negotiation failed", e));
    });
    const webrtcup = new Promise((resolve) => handle.on("webrtcup", resolve));
    const reliableChannel = conn.createDataChannel("reliable", { ordered: true });
    const unreliableChannel = conn.createDataChannel("unreliable", { ordered: false, maxRetransmits: 0 });
    reliableChannel.addEventListener("message", (e) => this.onDataChannelMessage(e, "janus-reliable"));
    unreliableChannel.addEventListener("message", (e) => this.onDataChannelMessage(e, "janus-unreliable"));

    await webrtcup;
    await untilOpen(reliableChannel);
    await untilOpen(unreliableChannel);
    // Tracks after webrtcup, as naf-janus-adapter: a second offer while
    // Janus still handles the first upsets some browsers.
    if (this.localMediaStream) {
      for (const t of this.localMediaStream.getTracks()) conn.addTrack(t, this.localMediaStream);
    }
    handle.on("event", (ev) => this.onPublisherEvent(pluginData(ev)));

    const r = await this.sendJoin(handle, { notifications: true, data: true });
    const d = pluginData(r);
    if (!d || !d.success) {
      conn.close();
      queue.close();
      throw joinError(d, "join refused");
    }
    const initialOccupants = ((d.response && d.response.users && d.response.users[this.room]) || []).map(String);
    if (initialOccupants.includes(String(this.clientId))) {
      console.warn("janus-sfu: Janus still has a previous session of this client; reconnecting in 10 s");
      this.performDelayedReconnect();
    }
    return { handle, conn, queue, reliableChannel, unreliableChannel, initialOccupants };
  }

  onPublisherEvent(data) {
    if (!data) return;
    switch (data.event) {
      case "join":
        if (data.room_id !== this.room || this.delayedReconnectTimeout) return;
        this.addAvailableOccupant(data.user_id);
        this.syncOccupants();
        break;
      case "leave":
        if (data.room_id !== this.room) return;
        this.leftUsers.add(data.user_id);
        this.removeAvailableOccupant(data.user_id);
        this.removeOccupant(data.user_id);
        if (this.multistream) this.multistream.table.forgetUser(data.user_id);
        this.setTalking(data.user_id, false);
        break;
      case "blocked":
        dispatch("blocked", { clientId: data.by });
        break;
      case "unblocked":
        dispatch("unblocked", { clientId: data.by });
        break;
      case "data":
        try {
          this.onData(JSON.parse(data.body), "janus-event");
        } catch (e) {
          this.debug("bad data event", e);
        }
        break;
      case CODE_WRONG_HOST:
        if ((data.room_id === undefined || data.room_id === this.room) && wrongHostOwner(data)) this.moveTo(data.owner);
        break;
      case "talking":
        if (data.room_id === undefined || data.room_id === this.room) this.setTalking(data.user_id, !!data.talking);
        break;
    }
  }

  setTalking(userId, talking) {
    if (talking === this.talking.has(userId)) return;
    if (talking) this.talking.add(userId);
    else this.talking.delete(userId);
    if (this.onTalking) this.onTalking(userId, talking);
    dispatch("talking", { clientId: userId, talking });
  }

  isTalking(clientId) {
    return this.talking.has(clientId);
  }

  // ------------------------------------------------------------ subscriptions: mode

  async startSubscriptions() {
    if (this.subscriptionModePreference === "classic") {
      this.mode = "classic";
      this.modeReason = "classic mode chosen by the app";
      return;
    }
    let decision;
    try {
      decision = await this.createMultistreamSubscriber();
    } catch (e) {
      decision = { mode: "classic", reason: `multistream join failed: ${e.message || e}` };
    }
    if (decision.mode === "error") throw Object.assign(new Error(decision.reason), { msg: decision.reason, code: decision.code, owner: decision.owner });
    if (decision.mode === "classic" && this.subscriptionModePreference === "multistream") {
      throw new Error(`multistream subscriptions unavailable: ${decision.reason}`);
    }
    this.mode = decision.mode;
    this.modeReason = decision.reason;
    this.debug(`subscription mode ${this.mode}: ${this.modeReason}`);
  }

  // createMultistreamSubscriber joins a handle with subscribe.streams and
  // returns subscriptionMode's decision; on "multistream" it has set up
  // this.multistream and queued the first offer.
  // wantPaused carries the app's pause wishes over from a previous
  // subscription (resubscribeMultistream).
  async createMultistreamSubscriber(wantPaused = null) {
    const handle = await this.session.attach(PLUGIN, loopIndex(this.clientId, this.loops));
    const r = await this.sendJoin(handle, { streams: true });
    const decision = subscriptionMode(pluginData(r));
    if (decision.mode !== "multistream") {
      // An older server made this handle a room member that receives
      // nothing; do not keep it.
      handle.detach().catch(() => {});
      return decision;
    }
    const conn = this.newPeerConnection(handle);
    const ms = { handle, conn, table: new StreamTable(), queue: new SerialQueue(), offers: 0 };
    if (wantPaused) ms.table.wantPaused = new Map(wantPaused);
    this.multistream = ms;
    handle.on("event", (ev) => {
      const data = pluginData(ev);
      if (data && data.event === "streams_timeout") return this.resubscribeMultistream(ms, `streams_timeout (${data.timeout_ms} ms)`, false);
      const list = data && data.event === "streams" ? data.streams : null;
      if (list || (ev.jsep && ev.jsep.type === "offer")) this.onStreams(ms, list, ev.jsep);
    });
    // The plugin ends a handle that left an offer unanswered
    // (streams_timeout, then Janus's detached); a hangup is the
    // PeerConnection lost. Either way: a new handle, same session.
    handle.on("detached", () => this.resubscribeMultistream(ms, "detached", false));
    handle.on("hangup", (msg) => {
      // Janus's session timeout reaches every handle as a hangup: that is
      // the whole connection's to handle, not ours.
      if (msg && msg.janus === "timeout") return;
      this.resubscribeMultistream(ms, `hangup${msg && msg.reason ? ` (${msg.reason})` : ""}`, true);
    });
    this.onStreams(ms, pluginData(r).response.streams, r.jsep);
    return decision;
  }

  // resubscribeMultistream replaces a multistream subscription whose
  // handle is gone or useless, on the same session: attach, join with
  // subscribe.streams and answer again, with a bounded backoff. Occupants
  // stay (data and presence are the publisher handle's); their
  // MediaStreams keep their identity and get the new connection's tracks.
  // If every attempt fails the whole connection is reestablished.
  resubscribeMultistream(ms, why, detach) {
    if (this.multistream !== ms || ms.ended) return;
    ms.ended = true;
    const session = this.session;
    console.warn(`janus-sfu: multistream subscriber handle ${ms.handle.id}: ${why}; subscribing again`);
    ms.queue.close();
    ms.conn.close();
    if (detach) ms.handle.detach().catch(() => {});
    else {
      // Janus ends (or has ended) it: forget it locally.
      ms.handle.detached = true;
      if (session) session.handles.delete(ms.handle.id);
    }
    this.multistream = null;
    this.replacing = ms; // pause wishes made meanwhile go to its table
    const backoff = new Backoff(this.resubscribeOptions);
    const attempt = async () => {
      if (this.session !== session || this.multistream) return;
      const delay = backoff.next();
      if (delay === null) {
        console.error(`janus-sfu: multistream resubscription failed ${backoff.attempts} times; reconnecting`);
        this.resubscribeTimer = null;
        this.replacing = null;
        this.reconnect();
        return;
      }
      this.resubscribeTimer = setTimeout(async () => {
        this.resubscribeTimer = null;
        if (this.session !== session || this.multistream) return;
        let decision;
        try {
          decision = await this.createMultistreamSubscriber(ms.table.wantPaused);
        } catch (e) {
          decision = { mode: "error", reason: e.message || String(e) };
        }
        if (this.session !== session) {
          // Disconnected meanwhile: disconnect() closed what it found.
          return;
        }
        if (decision.mode === "multistream") {
          this.replacing = null;
          this.resubscribed = (this.resubscribed || 0) + 1;
          console.warn(`janus-sfu: multistream subscriber handle ${this.multistream.handle.id} replaces ${ms.handle.id} (attempt ${backoff.attempts})`);
          return;
        }
        console.warn(`janus-sfu: multistream resubscription attempt ${backoff.attempts} failed: ${decision.reason}`);
        attempt();
      }, delay);
    };
    attempt();
  }

  // onStreams queues one renegotiation: offers that arrive while the client
  // answers an earlier one are folded (only the newest offer is answered;
  // the server sends one at a time, so this only happens if it does not).
  onStreams(ms, list, jsep) {
    const offer = jsep && jsep.type === "offer" ? jsep : null;
    ms.queue
      .push(
        "offer",
        { list, offer },
        async ({ list, offer }) => {
          if (this.multistream !== ms) return;
          if (offer) {
            await this.answerOffer(ms.conn, ms.handle, offer);
            ms.offers++;
          }
          if (list) {
            const diff = ms.table.apply(list);
            for (const a of ms.table.anomalies.splice(0)) console.warn(`janus-sfu: streams list: ${a}`);
            this.debug(`streams: +${diff.added.map((e) => `${e.mid}:${e.userId}/${e.kind}`)} -${diff.removed.map((e) => `${e.mid}:${e.userId}/${e.kind}`)}`);
            this.reconcileMultistreamMedia(ms);
            // Not awaited: a re-pause refused (or cut short by a
            // disconnect) is logged, not a failed renegotiation.
            if (diff.repause.length > 0)
              this.sendConfigure(ms, Object.fromEntries(diff.repause.map((c) => [c.mid, c.send]))).catch((e) =>
                console.warn("janus-sfu: re-pausing streams failed", e)
              );
            if (this.onStreamsChanged) this.onStreamsChanged(ms.table.entries(), diff);
          }
        },
        (a, b) => ({ list: b.list || a.list, offer: b.offer || a.offer })
      )
      .catch((e) => console.error("janus-sfu: multistream renegotiation failed", e));
  }

  // reconcileMultistreamMedia makes every user's MediaStreams hold exactly
  // the receiver tracks of the mids the table gives them. Idempotent; a
  // recycled mid's track moves from its old owner's stream to the new one.
  reconcileMultistreamMedia(ms) {
    const byMid = new Map();
    for (const t of ms.conn.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);
    const wanted = new Map(); // userId -> {audio: [track], video: [track]}
    for (const e of ms.table.entries()) {
      if (!e.active || this.leftUsers.has(e.userId) || e.userId === String(this.clientId)) continue;
      const t = byMid.get(e.mid);
      if (!t || !t.receiver.track) continue;
      if (!wanted.has(e.userId)) wanted.set(e.userId, { audio: [], video: [] });
      wanted.get(e.userId)[e.kind].push(t.receiver.track);
    }
    for (const [userId, streams] of Object.entries(this.mediaStreams)) {
      if (userId === String(this.clientId) || wanted.has(userId)) continue;
      for (const kind of KINDS) for (const tr of streams[kind].getTracks()) streams[kind].removeTrack(tr);
    }
    for (const [userId, tracks] of wanted) {
      const streams = this.mediaStreams[userId] || this.newMediaStreams(userId);
      for (const kind of KINDS) {
        const s = streams[kind];
        for (const tr of s.getTracks()) if (!tracks[kind].includes(tr)) s.removeTrack(tr);
        for (const tr of tracks[kind]) if (!s.getTracks().includes(tr)) s.addTrack(tr);
      }
    }
  }

  // newMediaStreams creates a user's audio and video MediaStreams (two, as
  // naf-janus-adapter, since Safari dislikes a mixed stream with one track
  // inactive) and resolves pending getMediaStream calls.
  newMediaStreams(userId, tracks = []) {
    const streams = { audio: new MediaStream(), video: new MediaStream() };
    for (const t of tracks) if (streams[t.kind]) streams[t.kind].addTrack(t);
    this.mediaStreams[userId] = streams;
    const pending = this.pendingMediaRequests.get(userId);
    if (pending) {
      pending.audio.resolve(streams.audio);
      pending.video.resolve(streams.video);
      this.pendingMediaRequests.delete(userId);
    }
    return streams;
  }

  sendConfigure(ms, map) {
    return ms.queue.push(
      "configure",
      map,
      async (m) => {
        const r = await ms.handle.message(configureBody(m));
        const d = replyOrThrow(r, "configure refused");
        if (d.response && d.response.streams) ms.table.applyPaused(d.response.streams);
        return d.response;
      },
      foldConfigure
    );
  }

  // setStreamPaused asks the server to stop (paused true) or resume one
  // user's audio or video on our subscription, without renegotiation; e.g.
  // the video of avatars out of view. The wish sticks to the user across
  // renegotiations. In classic mode the server cannot pause: the receiving
  // track is only disabled locally. Resolves with {serverSide, response}.
  async setStreamPaused(clientId, kind, paused) {
    if (!KINDS.includes(kind)) throw new Error(`kind must be audio or video, not ${kind}`);
    const ms = this.multistream;
    if (!ms && this.replacing) {
      this.replacing.table.setWanted(String(clientId), kind, paused);
      return { serverSide: true, response: null };
    }
    if (!ms) {
      const sub = this.occupants[clientId];
      if (sub && sub.conn) {
        for (const r of sub.conn.getReceivers()) if (r.track && r.track.kind === kind) r.track.enabled = !paused;
      }
      return { serverSide: false };
    }
    const item = ms.table.setWanted(String(clientId), kind, paused);
    if (!item) return { serverSide: true, response: null };
    return { serverSide: true, response: await this.sendConfigure(ms, { [item.mid]: item.send }) };
  }

  isStreamPaused(clientId, kind) {
    const ms = this.multistream || this.replacing;
    return ms ? ms.table.isWantedPaused(String(clientId), kind) : false;
  }

  // ------------------------------------------------------------ occupants

  addAvailableOccupant(id) {
    this.leftUsers.delete(id);
    if (!this.availableOccupants.includes(id)) this.availableOccupants.push(id);
  }

  removeAvailableOccupant(id) {
    const i = this.availableOccupants.indexOf(id);
    if (i !== -1) this.availableOccupants.splice(i, 1);
  }

  // syncOccupants (naf-janus-adapter 4.x): connect to the requested
  // occupants that are available, disconnect from the others.
  syncOccupants(requested) {
    if (requested) this.requestedOccupants = requested;
    if (!this.requestedOccupants || !this.mode) return;
    for (const id of this.requestedOccupants) {
      if (!this.occupants[id] && this.availableOccupants.includes(id) && !this.pendingOccupants.has(id))
        this.addOccupant(id).catch((e) => console.error(`janus-sfu: adding occupant ${id} failed`, e));
    }
    for (const id of this.availableOccupants) {
      if (this.occupants[id] && !this.requestedOccupants.includes(id)) this.removeOccupant(id);
    }
    this.onOccupantsChanged(this.occupants);
  }

  async addOccupant(id) {
    if (this.mode === "multistream") {
      // Media arrives on the one subscription; data on the publisher.
      this.occupantIds.push(id);
      this.occupants[id] = { multistream: true };
      if (this.multistream) this.reconcileMultistreamMedia(this.multistream);
      this.onOccupantConnected(id);
      this.onOccupantsChanged(this.occupants);
      return;
    }
    this.pendingOccupants.add(id);
    if (this.availableOccupants.length > SPREAD_THRESHOLD) await sleep(Math.random() * SPREAD_MAX_MS);
    const sub = await this.createClassicSubscriber(id).catch((e) => {
      console.warn(`janus-sfu: subscribing to ${id} failed`, e);
      return null;
    });
    if (!sub) {
      this.pendingOccupants.delete(id);
      return;
    }
    if (!this.pendingOccupants.has(id)) {
      this.closeClassicSubscriber(sub);
      return;
    }
    this.pendingOccupants.delete(id);
    this.occupantIds.push(id);
    this.occupants[id] = sub;
    const tracks = sub.conn.getReceivers().map((r) => r.track).filter(Boolean);
    this.setMediaTracks(id, tracks);
    this.onOccupantConnected(id);
    this.onOccupantsChanged(this.occupants);
  }

  setMediaTracks(id, tracks) {
    const streams = this.mediaStreams[id];
    if (!streams) return this.newMediaStreams(id, tracks);
    for (const t of tracks) if (streams[t.kind] && !streams[t.kind].getTracks().includes(t)) streams[t.kind].addTrack(t);
    return streams;
  }

  removeAllOccupants() {
    this.pendingOccupants.clear();
    for (const id of this.occupantIds.slice().reverse()) this.removeOccupant(id);
  }

  removeOccupant(id) {
    this.pendingOccupants.delete(id);
    const sub = this.occupants[id];
    if (sub) {
      if (!sub.multistream) this.closeClassicSubscriber(sub);
      delete this.occupants[id];
      this.occupantIds.splice(this.occupantIds.indexOf(id), 1);
    }
    const streams = this.mediaStreams[id];
    if (streams) {
      // A recycled m-line reuses its track: do not leave it in a stream the
      // app may still hold for the user who left.
      if (this.mode === "multistream") for (const kind of KINDS) for (const t of streams[kind].getTracks()) streams[kind].removeTrack(t);
      delete this.mediaStreams[id];
    }
    const pending = this.pendingMediaRequests.get(id);
    if (pending) {
      const msg = "The user disconnected before the media stream was resolved.";
      pending.audio.reject(msg);
      pending.video.reject(msg);
      this.pendingMediaRequests.delete(id);
    }
    if (sub) {
      this.onOccupantDisconnected(id);
      this.onOccupantsChanged(this.occupants);
    }
  }

  // ------------------------------------------------------------ classic subscriptions

  async createClassicSubscriber(id, retries = SUBSCRIBE_RETRIES) {
    const gone = () => !this.availableOccupants.includes(id) || !this.session;
    if (gone()) return null;
    const handle = await this.session.attach(PLUGIN, loopIndex(id, this.loops));
    this.debug(`${id}: classic subscriber handle ${handle.id}, ${retries} retries left`);
    const conn = this.newPeerConnection(handle);
    const queue = new SerialQueue();
    const sub = { handle, conn, queue };
    handle.on("event", (ev) => {
      if (ev.jsep && ev.jsep.type === "offer") {
        queue.push("offer", ev.jsep, (jsep) => this.answerOffer(conn, handle, jsep)).catch((e) => console.error(`janus-sfu: ${id}: renegotiation failed`, e));
      }
    });
    // The webrtcup wait starts once our answer is out, so that a slow
    // join (a busy server) does not eat the time ICE and DTLS need.
    let up = false;
    let timer = null;
    let armTimer = null;
    let webrtcupCleanup = null;
    const webrtcup = new Promise((resolve) => {
      armTimer = () => (timer = setTimeout(resolve, this.subscribeTimeoutMs));
      const poll = setInterval(() => gone() && resolve(), 1000);
      handle.on("webrtcup", () => {
        up = true;
        resolve();
      });
      webrtcupCleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
      };
    });
    try {
      const r = await this.sendJoin(handle, { media: id });
      replyOrThrow(r, `subscribing to ${id}`);
      if (r.jsep) await queue.push("offer", r.jsep, (jsep) => this.answerOffer(conn, handle, jsep));
      armTimer();
    } catch (e) {
      webrtcupCleanup && webrtcupCleanup();
      this.debug(`${id}: subscribing failed: ${e.message}`);
      this.closeClassicSubscriber(sub);
      if (gone() || retries <= 0) throw e;
      // "not negotiated media yet": the publisher is still setting up.
      await sleep(1000);
      return this.createClassicSubscriber(id, retries - 1);
    }
    await webrtcup;
    webrtcupCleanup && webrtcupCleanup();
    if (gone()) {
      this.closeClassicSubscriber(sub);
      return null;
    }
    if (!up) {
      this.debug(`${id}: no webrtcup on handle ${handle.id} after ${this.subscribeTimeoutMs} ms (ICE ${conn.iceConnectionState})`);
      this.closeClassicSubscriber(sub);
      if (retries > 0) return this.createClassicSubscriber(id, retries - 1);
      console.warn(`janus-sfu: ${id}: subscriber webrtcup timed out`);
      return null;
    }
    return sub;
  }

  closeClassicSubscriber(sub) {
    sub.queue.close();
    sub.conn.close();
    sub.handle.detach().catch(() => {});
  }

  // ------------------------------------------------------------ media

  // getMediaStream resolves with a user's "audio" or "video" MediaStream
  // (NAF's networked-audio-source / networked-video-source call it).
  getMediaStream(clientId, type = "audio") {
    const streams = this.mediaStreams[clientId];
    if (streams) return Promise.resolve(streams[type]);
    if (!this.pendingMediaRequests.has(clientId)) {
      const p = {};
      for (const kind of KINDS) {
        p[kind] = {};
        p[kind].promise = new Promise((resolve, reject) => Object.assign(p[kind], { resolve, reject }));
        p[kind].promise.catch((e) => console.warn(`${clientId} getMediaStream ${kind}:`, e));
      }
      this.pendingMediaRequests.set(clientId, p);
    }
    return this.pendingMediaRequests.get(clientId)[type].promise;
  }

  getLocalMediaStream() {
    return this.localMediaStream;
  }

  // setLocalMediaStream makes the publisher send this stream's tracks:
  // replace a track of the same kind, add the others, disable senders whose
  // kind the stream lacks (never remove one: that would be a new m-line).
  async setLocalMediaStream(stream) {
    if (this.publisher && this.publisher.conn) {
      const conn = this.publisher.conn;
      const senders = conn.getSenders();
      const used = [];
      for (const t of stream.getTracks()) {
        const s = senders.find((x) => x.track && x.track.kind === t.kind);
        if (s) {
          await s.replaceTrack(t);
          used.push(s);
        } else {
          used.push(conn.addTrack(t, stream));
        }
      }
      for (const s of senders) if (!used.includes(s) && s.track) s.track.enabled = false;
    }
    this.localMediaStream = stream;
    this.newMediaStreams(this.clientId, stream.getTracks());
  }

  enableMicrophone(enabled) {
    if (!this.publisher) return;
    for (const s of this.publisher.conn.getSenders()) if (s.track && s.track.kind === "audio") s.track.enabled = enabled;
  }

  // receiversFor returns {audio, video} RTCRtpReceivers of a user's media
  // (for stats), or null.
  receiversFor(clientId) {
    const out = { audio: null, video: null };
    if (this.multistream) {
      const mids = this.multistream.table.midsOf(String(clientId));
      for (const t of this.multistream.conn.getTransceivers()) {
        for (const kind of KINDS) if (mids[kind].includes(t.mid)) out[kind] = t.receiver;
      }
      return out;
    }
    const sub = this.occupants[clientId];
    if (!sub || !sub.conn) return null;
    for (const r of sub.conn.getReceivers()) if (r.track && !out[r.track.kind]) out[r.track.kind] = r;
    return out;
  }

  // peerConnections: {publisher, subscribers: [RTCPeerConnection]}.
  peerConnections() {
    const subscribers = this.multistream ? [this.multistream.conn] : Object.values(this.occupants).map((s) => s.conn).filter(Boolean);
    return { publisher: this.publisher ? this.publisher.conn : null, subscribers };
  }

  streams() {
    return this.multistream ? this.multistream.table.entries() : [];
  }

  // ------------------------------------------------------------ data

  onDataChannelMessage(e, source) {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    this.onData(msg, source);
  }

  onData(message, source) {
    if (!message || !message.dataType) return;
    this.onOccupantMessage(null, message.dataType, message.data, source);
  }

  send(transport, channelName, clientId, dataType, data) {
    if (!this.publisher) {
      console.warn(`janus-sfu: sending ${dataType} without a publisher`);
      return;
    }
    if (typeof transport === "function") return transport(clientId, dataType, data);
    if (transport === "websocket") {
      if (this.ws && this.ws.readyState === 1) {
        const body = { kind: "data", body: JSON.stringify({ dataType, data }) };
        if (clientId !== undefined) body.whom = clientId;
        this.publisher.handle.message(body).catch((e) => this.debug("data message failed", e));
      }
      return;
    }
    const channel = this.publisher[channelName];
    if (channel.readyState === "open") {
      channel.send(JSON.stringify(clientId !== undefined ? { clientId, dataType, data } : { dataType, data }));
    }
  }

  sendData(clientId, dataType, data) {
    this.send(this.unreliableTransport, "unreliableChannel", clientId, dataType, data);
  }
  sendDataGuaranteed(clientId, dataType, data) {
    this.send(this.reliableTransport, "reliableChannel", clientId, dataType, data);
  }
  broadcastData(dataType, data) {
    this.send(this.unreliableTransport, "unreliableChannel", undefined, dataType, data);
  }
  broadcastDataGuaranteed(dataType, data) {
    this.send(this.reliableTransport, "reliableChannel", undefined, dataType, data);
  }

  // ------------------------------------------------------------ moderation

  async kick(clientId, permsToken) {
    const r = await this.publisher.handle.message({ kind: "kick", room_id: this.room, user_id: clientId, token: permsToken });
    dispatch("kicked", { clientId });
    return r;
  }

  async block(clientId) {
    const r = await this.publisher.handle.message({ kind: "block", whom: clientId });
    this.blockedClients.set(clientId, true);
    dispatch("blocked", { clientId });
    return r;
  }

  async unblock(clientId) {
    const r = await this.publisher.handle.message({ kind: "unblock", whom: clientId });
    this.blockedClients.delete(clientId);
    dispatch("unblocked", { clientId });
    return r;
  }

  // ------------------------------------------------------------ NAF hooks

  shouldStartConnectionTo() {
    return true;
  }
  startStreamConnection() {}
  closeStreamConnection() {}

  getConnectStatus(clientId) {
    return this.occupants[clientId] ? nafStatus("IS_CONNECTED") : nafStatus("NOT_CONNECTED");
  }

  // updateTimeOffset estimates the server clock from the page's HTTP Date
  // header (as naf-janus-adapter): 10 quick samples, then one per 5 min.
  async updateTimeOffset() {
    if (this.isDisconnected() || typeof fetch === "undefined" || typeof document === "undefined") return;
    const sent = Date.now();
    let res;
    try {
      res = await fetch(document.location.href, { method: "HEAD", cache: "no-cache" });
    } catch (e) {
      return;
    }
    const date = new Date(res.headers.get("Date")).getTime();
    if (Number.isNaN(date)) return;
    this.clock.add(sent, date, Date.now());
    if (this.isDisconnected()) return;
    // The first sample is awaited by connect(); the next ones are not.
    const delay = this.clock.settled() ? 5 * 60 * 1000 : 0;
    this.clockTimer = setTimeout(() => this.updateTimeOffset(), delay);
  }

  getServerTime() {
    return Date.now() + this.clock.offset;
  }
}
