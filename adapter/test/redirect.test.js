import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_REDIRECTS, Redirects, redirectUrl, wrongHostOwner } from "../src/redirect.js";

const OWNER = "wss://sfu.example.com/janus?host=janus2";

test("wrongHostOwner: the plugin's refusal, its error, an Error carrying it, the event; nothing else", () => {
  const refusal = { success: false, error: { msg: "Room is served by another host.", code: "wrong_host", owner: OWNER } };
  assert.equal(wrongHostOwner(refusal), OWNER);
  assert.equal(wrongHostOwner(refusal.error), OWNER);
  assert.equal(wrongHostOwner(Object.assign(new Error("join refused"), { code: "wrong_host", owner: OWNER })), OWNER);
  assert.equal(wrongHostOwner({ event: "wrong_host", room_id: "lobby", owner: OWNER }), OWNER);
  for (const x of [
    null,
    "wrong_host",
    { success: false, error: { msg: "Room is full." } },
    { success: false, error: { msg: "Room is served by another host.", owner: OWNER } }, // no code: do not guess from msg
    { success: false, error: { code: "wrong_host" } }, // no owner
    { success: false, error: { code: "wrong_host", owner: "" } },
    { success: false, error: { code: "wrong_host", owner: 7 } },
    { event: "talking", owner: OWNER },
  ]) {
    assert.equal(wrongHostOwner(x), null, JSON.stringify(x));
  }
});

test("redirectUrl: the owner's URL keeps the configured query (room=) without a stale host=", () => {
  assert.equal(redirectUrl("wss://sfu.example.com/janus?room=lobby", OWNER, "lobby"), "wss://sfu.example.com/janus?host=janus2&room=lobby");
  // A configured URL that already named a host: the owner's host= wins.
  assert.equal(redirectUrl("wss://sfu.example.com/janus?room=lobby&host=janus1&app=x", OWNER, "lobby"), "wss://sfu.example.com/janus?host=janus2&room=lobby&app=x");
  // room= is added when nobody set it (the load balancer hashes on it).
  assert.equal(redirectUrl("wss://sfu.example.com/janus", OWNER, "a b"), "wss://sfu.example.com/janus?host=janus2&room=a+b");
  // Path-style public_url, relative owner, http(s) owner.
  assert.equal(redirectUrl("wss://lb.example.com/janus?room=r", "wss://sfu.example.com/janus2", "r"), "wss://sfu.example.com/janus2?room=r");
  assert.equal(redirectUrl("wss://lb.example.com/janus?room=r", "/janus3", "r"), "wss://lb.example.com/janus3?room=r");
  assert.equal(redirectUrl("ws://lb/janus", "https://h2.example.com/janus", null), "wss://h2.example.com/janus");
  assert.equal(redirectUrl("not a url", "ws://198.18.0.1:8188/", "r"), "ws://198.18.0.1:8188/?room=r");
  assert.throws(() => redirectUrl("wss://lb/janus", "ftp://x/", "r"), /not a WebSocket URL/);
  assert.throws(() => redirectUrl("not a url", "/relative", "r"), /not a URL/);
});

test("Redirects: at most max in a row, a refusal naming the refusing host, reset after a join", () => {
  const r = new Redirects();
  assert.equal(r.max, MAX_REDIRECTS);
  const hosts = ["ws://h1/", "ws://h2/"];
  let current = "ws://lb/";
  for (let i = 0; i < MAX_REDIRECTS; i++) {
    const d = r.next({ configured: "ws://lb/", current, owner: hosts[i % 2], room: null });
    assert.equal(d.url, hosts[i % 2], `redirect ${i + 1}`);
    current = d.url;
  }
  const over = r.next({ configured: "ws://lb/", current, owner: hosts[MAX_REDIRECTS % 2], room: null });
  assert.equal(over.url, undefined);
  assert.match(over.error, /after 3 redirect/);
  r.reset();
  assert.ok(r.next({ configured: "ws://lb/", current, owner: "ws://h3/", room: null }).url);

  const self = new Redirects(3);
  assert.match(self.next({ configured: "ws://lb/", current: "ws://h1/?room=r", owner: "ws://h1/", room: "r" }).error, /is the host that refused/);
  assert.equal(self.count, 0, "a refused redirect is not counted");
  assert.match(new Redirects(0).next({ configured: "ws://lb/", current: "ws://lb/", owner: "ws://h1/", room: null }).error, /after 0 redirect/);
  assert.match(new Redirects().next({ configured: "ws://lb/", current: "ws://lb/", owner: "mailto:x", room: null }).error, /not a WebSocket URL/);
});
