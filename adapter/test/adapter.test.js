// The adapter's glue driven in node against a scripted Janus (fakes.js):
// mode decision, the multistream subscription's answer and MediaStreams,
// recycling, pause, classic fallback.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { FakeJanus, FakePeerConnection, install, offerSdp, tick, until, watchUnhandled } from "./fakes.js";
import { JanusSfuAdapter } from "../src/adapter.js";

const s = (mid, user_id, kind, active = true) => ({ mid, user_id, kind, active });


async function connected(janus, setup = () => {}) {
  install(janus);
  const a = new JanusSfuAdapter();
  a.setServerUrl("ws://fake/");
  a.setRoom("r");
  a.setClientId("me");
  const events = { connected: [], disconnected: [] };
  a.setDataChannelListeners((id) => events.connected.push(id), (id) => events.disconnected.push(id), () => {});
  setup(a);
  await a.connect();
  await tick();
  return { a, events };
}

test("multistream: one subscriber handle, answered offer, a MediaStream per user from the mids", async () => {
  const janus = new FakeJanus({ users: ["alice", "bob"], streams: [s("0", "alice", "audio"), s("1", "alice", "video"), s("2", "bob", "audio")] });
  const { a, events } = await connected(janus);
  assert.equal(a.mode, "multistream");
  const joins = janus.bodies().filter(([, b]) => b.kind === "join");
  assert.deepEqual(joins.map(([, b]) => b.subscribe), [{ notifications: true, data: true }, { streams: true }]);
  const sub = joins[1][0];
  await until(() => a.mediaStreams.alice && a.mediaStreams.alice.video.getTracks().length === 1);
  assert.ok(janus.bodies().some(([h, b, j]) => h === sub && Object.keys(b).length === 0 && j && j.type === "answer"), "answer sent on the subscriber handle");
  assert.equal(a.peerConnections().subscribers.length, 1);
  assert.deepEqual(events.connected.sort(), ["alice", "bob"]);
  const pc = a.multistream.conn;
  const track = (mid) => pc.getTransceivers().find((t) => t.mid === mid).receiver.track;
  const alice = { audio: await a.getMediaStream("alice", "audio"), video: await a.getMediaStream("alice", "video") };
  assert.deepEqual(alice.audio.getTracks(), [track("0")]);
  assert.deepEqual(alice.video.getTracks(), [track("1")]);
  assert.deepEqual((await a.getMediaStream("bob", "video")).getTracks(), []);
  a.disconnect();
});

test("multistream: a leaver's m-lines go inactive and are recycled for a newcomer; its old stream keeps nothing", async () => {
  const janus = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio"), s("1", "alice", "video")] });
  const { a } = await connected(janus);
  const sub = a.multistream.handle.id;
  const oldVideo = await a.getMediaStream("alice", "video");
  const t1 = oldVideo.getTracks()[0];
  janus.event(a.publisher.handle.id, { event: "leave", user_id: "alice", room_id: "r" });
  janus.streams = [s("0", "", "audio", false), s("1", "", "video", false)];
  janus.event(sub, { event: "streams", streams: janus.streams }, { type: "offer", sdp: offerSdp(janus.streams) });
  await until(() => a.multistream.table.midFor("alice", "video") === null);
  assert.deepEqual(oldVideo.getTracks(), []);
  janus.event(a.publisher.handle.id, { event: "join", user_id: "carol", room_id: "r" });
  janus.streams = [s("0", "carol", "audio"), s("1", "carol", "video")];
  janus.event(sub, { event: "streams", streams: janus.streams }, { type: "offer", sdp: offerSdp(janus.streams) });
  await until(() => a.mediaStreams.carol && a.mediaStreams.carol.video.getTracks().length === 1);
  await until(() => janus.bodies().filter(([h, b, j]) => h === sub && j && j.type === "answer").length === 3);
  const carol = await a.getMediaStream("carol", "video");
  assert.deepEqual(carol.getTracks(), [t1], "mid 1's receiver track moved to carol");
  assert.deepEqual(oldVideo.getTracks(), []);
  assert.equal(a.multistream.conn.getTransceivers().length, 2, "no new m-line");
  const answers = janus.bodies().filter(([h, b, j]) => h === sub && j && j.type === "answer");
  assert.equal(answers.length, 3);
  a.disconnect();
});

test("multistream: setStreamPaused sends configure for the user's mid and re-sends it when the mid changes", async () => {
  const janus = new FakeJanus({ users: ["bob"], streams: [s("0", "bob", "audio"), s("1", "bob", "video")] });
  const { a } = await connected(janus);
  const r = await a.setStreamPaused("bob", "video", true);
  assert.equal(r.serverSide, true);
  const configures = () => janus.bodies().filter(([, b]) => b.kind === "configure").map(([, b]) => b.streams);
  assert.deepEqual(configures(), [[{ mid: "1", send: false }]]);
  assert.equal(a.isStreamPaused("bob", "video"), true);
  // Bob republishes on new m-lines: the wish follows.
  janus.streams = [s("0", "", "audio", false), s("1", "", "video", false), s("2", "bob", "audio"), s("3", "bob", "video")];
  janus.event(a.multistream.handle.id, { event: "streams", streams: janus.streams }, { type: "offer", sdp: offerSdp(janus.streams) });
  await until(() => configures().length >= 2);
  assert.deepEqual(configures().at(-1), [{ mid: "3", send: false }]);
  await a.setStreamPaused("bob", "video", false);
  assert.deepEqual(configures().at(-1), [{ mid: "3", send: true }]);
  await assert.rejects(a.setStreamPaused("bob", "screen", true), /audio or video/);
  a.disconnect();
});

test("talking events reach the listener and isTalking", async () => {
  const janus = new FakeJanus({ users: ["bob"], streams: [] });
  const seen = [];
  const { a } = await connected(janus, (a) => a.setTalkingListener((id, t) => seen.push([id, t])));
  janus.event(a.publisher.handle.id, { event: "talking", user_id: "bob", room_id: "r", talking: true });
  await until(() => a.isTalking("bob"));
  assert.equal(a.isTalking("bob"), true);
  janus.event(a.publisher.handle.id, { event: "talking", user_id: "bob", room_id: "r", talking: false });
  await until(() => !a.isTalking("bob"));
  assert.deepEqual(seen, [["bob", true], ["bob", false]]);
  a.disconnect();
});

test("a server that ignores subscribe.streams: the handle is detached and classic subscriptions follow", async () => {
  const janus = new FakeJanus({ multistream: false, users: ["alice"] });
  const { a, events } = await connected(janus);
  assert.equal(a.mode, "classic");
  assert.match(a.modeReason, /ignored/);
  const streamsJoin = janus.bodies().find(([, b]) => b.kind === "join" && b.subscribe.streams);
  assert.ok(janus.sent.some((m) => m.janus === "detach" && m.handle_id === streamsJoin[0]), "streams handle detached");
  await until(() => janus.bodies().some(([h, b, j]) => j && j.type === "answer" && janus.handles.get(h)?.join?.subscribe?.media === "alice"));
  assert.ok(janus.bodies().some(([, b]) => b.kind === "join" && b.subscribe.media === "alice"), "classic subscription to alice");
  // The classic subscriber's webrtcup comes from Janus; fake it.
  const subId = janus.bodies().find(([, b]) => b.kind === "join" && b.subscribe.media === "alice")[0];
  janus.push({ janus: "webrtcup", session_id: 1, sender: subId });
  await until(() => events.connected.length > 0);
  assert.deepEqual(events.connected, ["alice"]);
  assert.equal(a.peerConnections().subscribers.length, 1);
  assert.equal((await a.getMediaStream("alice", "video")).getTracks().length, 1);
  a.disconnect();
});

test("Janus 0.x's refusal falls back to classic; a token refusal fails the connection", async () => {
  const janus = new FakeJanus({ users: [] });
  const orig = janus.plugin.bind(janus);
  janus.plugin = (h, body, jsep) =>
    body.subscribe && body.subscribe.streams ? { data: { success: false, error: { msg: "Multistream subscriptions need Janus 1.x." } } } : orig(h, body, jsep);
  const { a } = await connected(janus);
  assert.equal(a.mode, "classic");
  a.disconnect();

  const j2 = new FakeJanus({ users: [] });
  const orig2 = j2.plugin.bind(j2);
  j2.plugin = (h, body, jsep) => (body.subscribe && body.subscribe.streams ? { data: { success: false, error: { msg: "Rejecting join with invalid token!" } } } : orig2(h, body, jsep));
  install(j2);
  const b = new JanusSfuAdapter();
  b.setRoom("r");
  b.setClientId("me");
  b.setServerUrl("ws://fake/");
  await assert.rejects(b.connect(), /Rejecting join/);
  b.disconnect();
});

test("setSubscriptionMode('classic') never asks for streams; loops pick loop_index", async () => {
  const janus = new FakeJanus({ users: [] });
  const { a } = await connected(janus, (a) => {
    a.setSubscriptionMode("classic");
    a.setEventLoops(4);
    a.setClientId("6");
  });
  assert.equal(a.mode, "classic");
  assert.ok(!janus.bodies().some(([, b]) => b.subscribe && b.subscribe.streams));
  assert.deepEqual([...janus.handles.values()].map((h) => h.loop), [2]);
  assert.equal(FakePeerConnection.all.length, 1);
  a.disconnect();
});

test("an unexpected WebSocket close reconnects after the backoff delay; giving up reports an error", async () => {
  const janus = new FakeJanus({ users: [], streams: [] });
  const seen = [];
  const { a } = await connected(janus, (a) => {
    a.setReconnectionOptions({ initialDelay: 10, step: 5, maxAttempts: 2 });
    a.setReconnectionListeners((d) => seen.push(["reconnecting", d]), () => seen.push(["reconnected"]), (e) => seen.push(["error", e.message]));
  });
  janus.ws.fire("close", { code: 1006 });
  await until(() => seen.length >= 2);
  assert.deepEqual(seen, [["reconnecting", 10], ["reconnected"]]);
  assert.equal(janus.sent.filter((m) => m.janus === "create").length, 2);
  assert.equal(a.mode, "multistream");
  assert.equal(a.reconnectionAttempts, 0, "reset after success");
  // A server that stays down: every attempt's socket closes at once.
  seen.length = 0;
  janus.receive = () => {};
  const ws = globalThis.WebSocket;
  globalThis.WebSocket = class extends ws {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => this.fire("close", { code: 1006 }));
    }
  };
  janus.ws.fire("close", { code: 1006 });
  await until(() => seen.length >= 3);
  assert.deepEqual(seen.map((x) => x[0]), ["reconnecting", "reconnecting", "error"]);
  assert.deepEqual(seen.slice(0, 2).map((x) => x[1]), [10, 15]);
  a.disconnect();
});

// A cluster of fake hosts by URL host name; the load balancer's URL
// reaches "lb".
function cluster(hosts) {
  install((url) => hosts[new URL(url).host]);
}

function clusterAdapter(setup = () => {}) {
  const a = new JanusSfuAdapter();
  a.setServerUrl("ws://lb/janus?room=r&app=x");
  a.setRoom("r");
  a.setClientId("me");
  const events = { success: [], failure: [], connected: [], disconnected: [], log: [] };
  a.setServerConnectListeners((id) => events.success.push(id), (e) => events.failure.push(e));
  a.setDataChannelListeners((id) => events.connected.push(id), (id) => events.disconnected.push(id), () => {});
  setup(a, events);
  return { a, events };
}

test("wrong_host: the adapter closes that session, connects to the owner with the room query and joins there", async () => {
  const lb = new FakeJanus({ owner: "ws://h2/janus?host=h2" });
  const h2 = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio"), s("1", "alice", "video")] });
  cluster({ lb, h2 });
  const { a, events } = clusterAdapter();
  await a.connect();
  await until(() => a.mediaStreams.alice && a.mediaStreams.alice.video.getTracks().length === 1);
  assert.equal(a.connectedUrl, "ws://h2/janus?host=h2&room=r&app=x");
  assert.deepEqual(lb.urls, ["ws://lb/janus?room=r&app=x"]);
  assert.deepEqual(h2.urls, ["ws://h2/janus?host=h2&room=r&app=x"]);
  // The refused host: one publisher join, then its session destroyed and
  // the socket closed normally; no subscriber handle was opened there.
  assert.deepEqual(lb.bodies().filter(([, b]) => b.kind === "join").map(([, b]) => b.subscribe), [{ notifications: true, data: true }]);
  assert.ok(lb.sent.some((m) => m.janus === "destroy"), "session destroyed on the refusing host");
  assert.equal(lb.ws.readyState, 3);
  assert.equal(lb.ws.closeCode, 1000);
  // At the owner: joined as usual, and NAF saw one connection only.
  assert.equal(a.mode, "multistream");
  assert.deepEqual(h2.bodies().filter(([, b]) => b.kind === "join").map(([, b]) => [b.room_id, b.subscribe]), [["r", { notifications: true, data: true }], ["r", { streams: true }]]);
  assert.deepEqual(events.success, ["me"]);
  assert.deepEqual(events.failure, []);
  assert.deepEqual(events.connected, ["alice"]);
  assert.deepEqual(events.disconnected, []);
  a.disconnect();
});

test("wrong_host: hosts that keep redirecting are followed 3 times, then the refusal is surfaced", async () => {
  const h1 = new FakeJanus({ owner: "ws://h2/janus" });
  const h2 = new FakeJanus({ owner: "ws://h1/janus" });
  const lb = new FakeJanus({ owner: "ws://h1/janus" });
  cluster({ lb, h1, h2 });
  const { a, events } = clusterAdapter();
  const err = await a.connect().then(
    () => null,
    (e) => e
  );
  assert.ok(err, "connect rejected");
  assert.equal(err.code, "wrong_host");
  assert.equal(err.owner, "ws://h2/janus");
  assert.match(err.message, /Room is served by another host.*after 3 redirect/);
  assert.equal(events.failure.length, 1);
  assert.deepEqual(events.success, []);
  const urls = [...lb.urls, ...h1.urls, ...h2.urls];
  assert.equal(urls.length, 4, `the load balancer + 3 redirects: ${urls}`);
  assert.equal(h1.urls.length, 2);
  for (const h of [lb, h1, h2]) assert.ok(h.sent.some((m) => m.janus === "destroy"), "every refused session destroyed");
  a.disconnect();
});

test("wrong_host event (the room moved while we were in it): a reconnect to the owner", async () => {
  const lb = new FakeJanus({ users: ["alice"], streams: [] });
  const h2 = new FakeJanus({ users: ["alice"], streams: [] });
  cluster({ lb, h2 });
  const { a, events } = clusterAdapter((a, events) =>
    a.setReconnectionListeners((d) => events.log.push(["reconnecting", d]), () => events.log.push(["reconnected"]), (e) => events.log.push(["error", e.message]))
  );
  await a.connect();
  await until(() => events.connected.length === 1);
  lb.event(a.publisher.handle.id, { event: "wrong_host", room_id: "other", owner: "ws://h2/janus" });
  await tick(50);
  assert.equal(a.connectedUrl, "ws://lb/janus?room=r&app=x", "another room's event is ignored");
  lb.event(a.publisher.handle.id, { event: "wrong_host", room_id: "r", owner: "ws://h2/janus" });
  await until(() => events.log.length >= 2);
  assert.deepEqual(events.log, [["reconnecting", 0], ["reconnected"]]);
  assert.equal(a.connectedUrl, "ws://h2/janus?room=r&app=x");
  assert.ok(lb.sent.some((m) => m.janus === "destroy"));
  // A reconnect: alice goes and comes back, once.
  await until(() => events.connected.length === 2);
  assert.deepEqual(events.disconnected, ["alice"]);
  assert.deepEqual(events.connected, ["alice", "alice"]);
  assert.equal(a.mode, "multistream");
  a.disconnect();
});

test("an occupant callback that throws is logged, not an unhandled rejection", async () => {
  const error = mock.method(console, "error", () => {});
  const unhandled = watchUnhandled();
  let a;
  try {
    const janus = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio")] });
    ({ a } = await connected(janus, (a) =>
      a.setDataChannelListeners(() => {
        throw new Error("app bug");
      }, () => {}, () => {})
    ));
    await until(() => error.mock.calls.some((c) => /adding occupant alice failed/.test(c.arguments[0])));
    await tick(20);
    assert.ok(error.mock.calls.some((c) => /adding occupant alice failed/.test(c.arguments[0])), "logged");
    assert.deepEqual(unhandled.seen, []);
  } finally {
    if (a) a.disconnect();
    unhandled.stop();
    error.mock.restore();
  }
});
