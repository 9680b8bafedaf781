// A minimal Janus API client (sessions, plugin handles, transactions,
// keepalives) over any message transport. Pure: it is given a send(object)
// function and fed received objects, so node's test runner can drive it.

let nextTxn = 0;
function txnId() {
  nextTxn = (nextTxn + 1) % Number.MAX_SAFE_INTEGER;
  return `${Date.now().toString(36)}-${nextTxn}`;
}

export class JanusError extends Error {
  constructor(msg, reply) {
    super(msg);
    this.reply = reply;
  }
}

export class JanusSession {
  // send: called with each outgoing message object.
  // timeoutMs: how long a transaction may wait (naf-janus-adapter: 40 s).
  // keepaliveMs: keepalive period (Janus's session_timeout is usually 60 s).
  // onTimeout(err): a transaction timed out (the adapter reconnects).
  constructor(send, { timeoutMs = 40000, keepaliveMs = 30000, onTimeout = null } = {}) {
    this.sendRaw = send;
    this.timeoutMs = timeoutMs;
    this.keepaliveMs = keepaliveMs;
    this.onTimeout = onTimeout;
    this.id = null;
    this.txns = new Map(); // transaction -> {resolve, reject, timer, waitEvent}
    this.handles = new Map(); // handle id -> JanusHandle
    this.keepaliveTimer = null;
    this.disposed = false;
  }

  // request sends msg with a new transaction. It resolves on "success" (or
  // "ack" when waitEvent is false) and, for plugin messages (waitEvent
  // true), on the "event" that carries the same transaction.
  request(msg, { waitEvent = false } = {}) {
    if (this.disposed) return Promise.reject(new JanusError("session disposed"));
    const transaction = txnId();
    const full = { ...msg, transaction };
    if (this.id !== null && full.session_id === undefined && msg.janus !== "create") full.session_id = this.id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.txns.delete(transaction);
        const err = new JanusError(`Janus ${msg.janus} transaction timed out after ${this.timeoutMs} ms`);
        reject(err);
        if (this.onTimeout) this.onTimeout(err);
      }, this.timeoutMs);
      this.txns.set(transaction, { resolve, reject, timer, waitEvent });
      try {
        this.sendRaw(full);
      } catch (e) {
        clearTimeout(timer);
        this.txns.delete(transaction);
        reject(e);
      }
      this.armKeepalive();
    });
  }

  receive(msg) {
    if (!msg || typeof msg !== "object") return;
    const t = msg.transaction !== undefined && this.txns.get(msg.transaction);
    if (t) {
      if (msg.janus === "ack" && t.waitEvent) return; // the event follows
      clearTimeout(t.timer);
      this.txns.delete(msg.transaction);
      if (msg.janus === "error") t.reject(new JanusError(`Janus error ${msg.error?.code}: ${msg.error?.reason}`, msg));
      else t.resolve(msg);
      return;
    }
    // Not a reply: an event for one handle (or a session timeout).
    if (msg.janus === "timeout") {
      for (const h of this.handles.values()) h.emit("hangup", msg);
      return;
    }
    const h = msg.sender !== undefined && this.handles.get(msg.sender);
    if (h) h.emit(msg.janus, msg);
  }

  async create() {
    const r = await this.request({ janus: "create" });
    this.id = r.data.id;
    this.armKeepalive();
    return this;
  }

  async attach(plugin, loopIndex) {
    const msg = { janus: "attach", plugin };
    if (loopIndex !== undefined) msg.loop_index = loopIndex;
    const r = await this.request(msg);
    const h = new JanusHandle(this, r.data.id);
    this.handles.set(h.id, h);
    return h;
  }

  // Keepalives are due keepaliveMs after the last message we sent.
  armKeepalive() {
    if (this.disposed || this.id === null || !this.keepaliveMs) return;
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => {
      this.request({ janus: "keepalive" }).catch(() => {});
    }, this.keepaliveMs);
  }

  async destroy() {
    if (this.id === null || this.disposed) return;
    try {
      await this.request({ janus: "destroy" });
    } finally {
      this.dispose();
    }
  }

  // dispose drops every pending transaction (rejected) and timer.
  dispose() {
    this.disposed = true;
    clearTimeout(this.keepaliveTimer);
    for (const t of this.txns.values()) {
      clearTimeout(t.timer);
      t.reject(new JanusError("session disposed"));
    }
    this.txns.clear();
    this.handles.clear();
  }
}

export class JanusHandle {
  constructor(session, id) {
    this.session = session;
    this.id = id;
    this.listeners = new Map(); // janus message type -> [fn]
    this.detached = false;
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }

  off(type, fn) {
    const l = this.listeners.get(type);
    if (l) this.listeners.set(type, l.filter((f) => f !== fn));
  }

  emit(type, msg) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(msg);
      } catch (e) {
        console.error(`janus handle ${this.id}: ${type} listener failed`, e);
      }
    }
  }

  // message sends a plugin request and resolves with Janus's event reply
  // ({plugindata: {data}, jsep?}).
  message(body, jsep) {
    const msg = { janus: "message", handle_id: this.id, body };
    if (jsep) msg.jsep = { type: jsep.type, sdp: jsep.sdp };
    return this.session.request(msg, { waitEvent: true });
  }

  trickle(candidate) {
    const msg = { janus: "trickle", handle_id: this.id, candidate: candidate || { completed: true } };
    return this.session.request(msg);
  }

  async detach() {
    if (this.detached) return;
    this.detached = true;
    this.session.handles.delete(this.id);
    if (this.session.disposed) return;
    await this.session.request({ janus: "detach", handle_id: this.id });
  }
}

// pluginData returns a plugin reply's data ({success, response|error}).
export function pluginData(msg) {
  return (msg && msg.plugindata && msg.plugindata.data) || null;
}
