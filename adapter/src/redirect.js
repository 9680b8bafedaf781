// Following a cluster's wrong_host refusal (docs/protocol.md section 12):
// a join that reaches a host not serving its room is refused with the
// owner's URL; the client connects there and joins again. Pure.
export const CODE_WRONG_HOST = "wrong_host";
// Redirects in a row (without a join in between) before the refusal is
// surfaced: two hosts that disagree about the owner must not make the
// client bounce forever.
export const MAX_REDIRECTS = 3;

// wrongHostOwner returns the owner URL of a wrong_host refusal ({success:
// false, error: {code, owner}}), of its error object or an Error carrying
// code and owner, or of the wrong_host event ({event, owner}); else null.
export function wrongHostOwner(x) {
  if (!x || typeof x !== "object") return null;
  const e = x.error && typeof x.error === "object" ? x.error : x;
  if (e.code !== CODE_WRONG_HOST && x.event !== CODE_WRONG_HOST) return null;
  return typeof e.owner === "string" && e.owner !== "" ? e.owner : null;
}

// redirectUrl is the URL to connect to after a refusal naming owner: the
// owner's URL (resolved against the configured one when relative; http(s)
// becomes ws(s)) with the configured URL's query parameters that the owner
// URL does not set (the load balancer's room=, the app's own), and room=
// added when neither has it. The configured URL, not the previous
// redirect's: a stale host= must not follow us. Throws on an owner that is
// not a WebSocket URL.
export function redirectUrl(configured, owner, room) {
  let base = null;
  try {
    base = new URL(configured);
  } catch (e) {
    base = null;
  }
  let u;
  try {
    u = base ? new URL(owner, base) : new URL(owner);
  } catch (e) {
    throw new Error(`wrong_host: the owner "${owner}" is not a URL`);
  }
  if (u.protocol === "http:") u.protocol = "ws:";
  else if (u.protocol === "https:") u.protocol = "wss:";
  if (u.protocol !== "ws:" && u.protocol !== "wss:") throw new Error(`wrong_host: the owner "${owner}" is not a WebSocket URL`);
  if (base) {
    for (const [k, v] of base.searchParams) if (!u.searchParams.has(k)) u.searchParams.append(k, v);
  }
  if (room !== null && room !== undefined && room !== "" && !u.searchParams.has("room")) u.searchParams.set("room", String(room));
  return u.toString();
}

// Redirects counts the redirects of one connection attempt.
export class Redirects {
  constructor(max = MAX_REDIRECTS) {
    this.max = max;
    this.count = 0;
  }

  // next decides on a refusal naming owner while connected to current:
  // {url} to follow (and counts it), or {error} to surface: the bound is
  // reached, the owner is where we already are, or it is not a URL.
  next({ configured, current, owner, room }) {
    if (this.count >= this.max) return { error: `still refused after ${this.count} redirect(s) (the last owner: ${owner})` };
    let url;
    try {
      url = redirectUrl(configured, owner, room);
    } catch (e) {
      return { error: e.message };
    }
    if (url === current) return { error: `the owner ${owner} is the host that refused the join` };
    this.count++;
    return { url };
  }

  reset() {
    this.count = 0;
  }
}
