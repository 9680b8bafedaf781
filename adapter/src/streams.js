// The multistream subscription's m-line table: which mid carries whose audio
// or video. Pure (no DOM, no WebRTC) so that node's test runner covers it.
//
// The server sends the full list on every change (docs/protocol.md,
// "Multistream subscriptions"): m-lines are never removed or reordered; a
// gone stream stays with "active": false and user_id "", and an inactive
// m-line is later recycled (same mid, same kind) for someone else.

export const KINDS = ["audio", "video"];

// normalizeEntry turns one server entry into {mid, userId, kind, active,
// paused}, or null when it is not a media stream we can use.
export function normalizeEntry(e) {
  if (!e || typeof e !== "object") return null;
  const mid = typeof e.mid === "number" ? String(e.mid) : e.mid;
  if (typeof mid !== "string" || mid === "") return null;
  if (!KINDS.includes(e.kind)) return null;
  const userId = typeof e.user_id === "string" ? e.user_id : "";
  const active = e.active !== false && userId !== "";
  return { mid, userId: active ? userId : "", kind: e.kind, active, paused: e.paused === true };
}

export class StreamTable {
  constructor() {
    this.byMid = new Map(); // mid -> entry (see normalizeEntry)
    this.wantPaused = new Map(); // `${userId}\n${kind}` -> true (what the app asked)
    this.anomalies = []; // protocol rule breaks seen (mid changed kind, mid vanished)
  }

  // apply replaces the table with a full list from the server and returns
  // what changed for the DOM side:
  //   added:   entries whose mid now carries a (new) user's stream
  //   removed: former entries whose mid no longer carries that user's stream
  //   repause: [{mid, send:false}] to re-send for streams the app wants paused
  //            that the server does not report paused (new or recycled mids)
  apply(list) {
    const next = new Map();
    for (const raw of Array.isArray(list) ? list : []) {
      const e = normalizeEntry(raw);
      if (e) next.set(e.mid, e);
    }
    const added = [];
    const removed = [];
    for (const [mid, old] of this.byMid) {
      const e = next.get(mid);
      if (!e) this.anomalies.push(`mid ${mid} disappeared from the list`);
      else if (e.kind !== old.kind) this.anomalies.push(`mid ${mid} changed kind ${old.kind} -> ${e.kind}`);
      if (old.active && !(e && e.active && e.userId === old.userId && e.kind === old.kind)) removed.push(old);
    }
    for (const [mid, e] of next) {
      const old = this.byMid.get(mid);
      if (e.active && !(old && old.active && old.userId === e.userId && old.kind === e.kind)) added.push(e);
    }
    this.byMid = next;
    const repause = [];
    for (const e of next.values()) {
      if (e.active && !e.paused && this.wantPaused.has(key(e.userId, e.kind))) repause.push({ mid: e.mid, send: false });
    }
    return { added, removed, repause };
  }

  // applyPaused takes the list of a configure response: only the paused
  // flags are news there.
  applyPaused(list) {
    for (const raw of Array.isArray(list) ? list : []) {
      const e = normalizeEntry(raw);
      const cur = e && this.byMid.get(e.mid);
      if (cur) cur.paused = e.paused;
    }
  }

  // midFor returns the mid carrying userId's stream of that kind, or null.
  midFor(userId, kind) {
    for (const e of this.byMid.values()) if (e.active && e.userId === userId && e.kind === kind) return e.mid;
    return null;
  }

  // setWanted records the app's wish and returns the configure item to send
  // now ({mid, send}), or null when the user has no such stream yet (it is
  // sent by apply's repause when the stream appears).
  setWanted(userId, kind, paused) {
    if (paused) this.wantPaused.set(key(userId, kind), true);
    else this.wantPaused.delete(key(userId, kind));
    const mid = this.midFor(userId, kind);
    return mid === null ? null : { mid, send: !paused };
  }

  isWantedPaused(userId, kind) {
    return this.wantPaused.has(key(userId, kind));
  }

  // forgetUser drops the app's wishes for a user who left.
  forgetUser(userId) {
    for (const kind of KINDS) this.wantPaused.delete(key(userId, kind));
  }

  // users returns the user ids with at least one active stream.
  users() {
    const out = new Set();
    for (const e of this.byMid.values()) if (e.active) out.add(e.userId);
    return out;
  }

  // tracksOf returns {audio: [mid...], video: [mid...]} of a user's active streams.
  midsOf(userId) {
    const out = { audio: [], video: [] };
    for (const e of this.byMid.values()) if (e.active && e.userId === userId) out[e.kind].push(e.mid);
    return out;
  }

  size() {
    return this.byMid.size;
  }

  entries() {
    return [...this.byMid.values()].map((e) => ({ ...e }));
  }
}

function key(userId, kind) {
  return `${userId}\n${kind}`;
}

// foldConfigure merges two pending configure requests ({mid: send}); the
// later wish for a mid wins.
export function foldConfigure(a, b) {
  return { ...a, ...b };
}

// configureBody builds the configure message of a {mid: send} map.
export function configureBody(map) {
  return { kind: "configure", streams: Object.entries(map).map(([mid, send]) => ({ mid, send })) };
}
