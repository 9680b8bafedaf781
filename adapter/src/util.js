// Small pure helpers of the adapter.

// loopIndex picks a Janus event loop for a user (naf-janus-adapter:
// clientId % loops); ids that are not numbers are hashed (FNV-1a) so that
// every id gets a stable loop.
export function loopIndex(id, loops) {
  if (!loops || id === null || id === undefined) return undefined;
  const s = String(id);
  if (/^\d+$/.test(s)) return Number(BigInt(s) % BigInt(loops));
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % loops;
}

// Opus parameters the publisher asks for (as naf-janus-adapter): DTX, mono.
export const OPUS_PARAMETERS = { usedtx: "1", stereo: "0", "sprop-stereo": "0" };

// mungeOpusFmtp sets OPUS_PARAMETERS on every Opus fmtp line of an SDP.
export function mungeOpusFmtp(sdp) {
  const opusPts = new Set();
  for (const m of sdp.matchAll(/^a=rtpmap:(\d+) opus\/48000/gim)) opusPts.add(m[1]);
  return sdp.replace(/^a=fmtp:(\d+) ([^\r\n]*)/gm, (line, pt, params) => {
    if (!opusPts.has(pt)) return line;
    const kv = new Map();
    for (const p of params.split(";")) {
      const [k, ...v] = p.trim().split("=");
      if (k) kv.set(k, v.join("="));
    }
    for (const [k, v] of Object.entries(OPUS_PARAMETERS)) kv.set(k, v);
    return `a=fmtp:${pt} ` + [...kv].map(([k, v]) => `${k}=${v}`).join(";");
  });
}

// ClockSync averages server-minus-client clock offsets (from the Date
// header of HEAD requests), over the last `window` samples.
export class ClockSync {
  constructor(window = 10) {
    this.window = window;
    this.samples = [];
    this.count = 0;
    this.offset = 0;
  }

  // add records one round trip: client clock at send and receive, and the
  // server's Date header (second precision, so + 500 ms on average).
  add(clientSent, serverDateMs, clientReceived) {
    const serverTime = serverDateMs + 500 + (clientReceived - clientSent) / 2;
    this.samples[this.count % this.window] = serverTime - clientReceived;
    this.count++;
    this.offset = this.samples.reduce((a, b) => a + b, 0) / this.samples.length;
    return this.offset;
  }

  // settled: enough samples for a slow refresh.
  settled() {
    return this.count >= this.window;
  }
}
