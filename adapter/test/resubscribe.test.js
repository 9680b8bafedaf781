// The multistream subscriber handle ended by the server (streams_timeout,
// detached) or hung up: the adapter subscribes again on the same session,
// without occupant churn, and gives up into a full reconnect.
import assert from "node:assert/strict";
import { test, mock } from "node:test";
import { FakeJanus, install, offerSdp, tick, until, watchUnhandled } from "./fakes.js";
import { JanusSfuAdapter } from "../src/adapter.js";

const s = (mid, user_id, kind, active = true) => ({ mid, user_id, kind, active });


async function connected(janus) {
  install(janus);
  const a = new JanusSfuAdapter();
  a.setServerUrl("ws://fake/");
  a.setRoom("r");
  a.setClientId("me");
  a.resubscribeOptions = { initialDelay: 0, step: 10, maxDelay: 20, maxAttempts: 3 };
  const events = { connected: [], disconnected: [] };
  a.setDataChannelListeners((id) => events.connected.push(id), (id) => events.disconnected.push(id), () => {});
  await a.connect();
  await tick();
  return { a, events };
}

const streamJoins = (janus) => janus.bodies().filter(([, b]) => b.kind === "join" && b.subscribe && b.subscribe.streams);

for (const [name, end] of [
  ["streams_timeout then detached", (janus, h) => {
    janus.event(h, { event: "streams_timeout", timeout_ms: 20000 });
    janus.push({ janus: "detached", session_id: 1, sender: h });
  }],
  ["detached alone", (janus, h) => janus.push({ janus: "detached", session_id: 1, sender: h })],
  ["hangup", (janus, h) => janus.push({ janus: "hangup", session_id: 1, sender: h, reason: "DTLS alert" })],
]) {
  test(`multistream handle ended (${name}): a new handle subscribes again, occupants stay, streams keep their identity`, async () => {
    const warn = mock.method(console, "warn", () => {});
    try {
      const janus = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio"), s("1", "alice", "video")] });
      const { a, events } = await connected(janus);
      const old = a.multistream;
      const video = await a.getMediaStream("alice", "video");
      await until(() => video.getTracks().length === 1);
      const oldTrack = video.getTracks()[0];
      await a.setStreamPaused("alice", "audio", true);
      // A new handle's lines start unpaused (the fake keeps one list).
      for (const x of janus.streams) delete x.paused;
      end(janus, old.handle.id);
      await until(() => a.multistream && a.multistream !== old && video.getTracks().length === 1 && video.getTracks()[0] !== oldTrack);
      assert.ok(a.multistream && a.multistream !== old, "a new subscription");
      assert.equal(streamJoins(janus).length, 2);
      const sub = a.multistream.handle.id;
      assert.notEqual(sub, old.handle.id);
      assert.ok(old.conn.closed, "the old PeerConnection is closed");
      await until(() => janus.bodies().some(([h, , j]) => h === sub && j && j.type === "answer"));
      assert.ok(janus.bodies().some(([h, , j]) => h === sub && j && j.type === "answer"), "the new offer is answered");
      // The pause wish survives: the new subscription pauses alice's audio.
      await until(() => janus.bodies().some(([h, b]) => h === sub && b.kind === "configure"));
      assert.deepEqual(janus.bodies().find(([h, b]) => h === sub && b.kind === "configure")[1].streams, [{ mid: "0", send: false }]);
      assert.deepEqual(events.disconnected, [], "no occupant churn");
      assert.deepEqual(events.connected, ["alice"]);
      assert.equal(await a.getMediaStream("alice", "video"), video, "same MediaStream object");
      assert.equal(a.resubscribed, 1);
      const detaches = janus.sent.filter((m) => m.janus === "detach" && m.handle_id === old.handle.id).length;
      assert.equal(detaches, name === "hangup" ? 1 : 0, "detach only a handle Janus has not ended");
      assert.ok(warn.mock.calls.some((c) => /subscribing again/.test(c.arguments[0])), "logged");
      a.disconnect();
    } finally {
      warn.mock.restore();
    }
  });
}

test("a re-pause the server refuses after a resubscription is logged, not an unhandled rejection", async () => {
  const warn = mock.method(console, "warn", () => {});
  const unhandled = watchUnhandled();
  let a;
  try {
    const janus = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio"), s("1", "alice", "video")] });
    ({ a } = await connected(janus));
    const old = a.multistream;
    await a.setStreamPaused("alice", "audio", true);
    for (const x of janus.streams) delete x.paused;
    // From now on the server refuses configure.
    const plugin = janus.plugin.bind(janus);
    janus.plugin = (h, body, jsep) => (body.kind === "configure" ? { data: { success: false, error: { msg: "no" } } } : plugin(h, body, jsep));
    janus.push({ janus: "detached", session_id: 1, sender: old.handle.id });
    await until(() => warn.mock.calls.some((c) => /re-pausing streams failed/.test(c.arguments[0])));
    await tick(50);
    assert.ok(warn.mock.calls.some((c) => /re-pausing streams failed/.test(c.arguments[0])), "logged");
    assert.deepEqual(unhandled.seen, []);
    assert.ok(a.multistream && a.multistream !== old, "the subscription stands");
  } finally {
    if (a) a.disconnect();
    unhandled.stop();
    warn.mock.restore();
  }
});

test("a session timeout's hangup does not resubscribe; failing resubscriptions end in a full reconnect", async () => {
  const warn = mock.method(console, "warn", () => {});
  const error = mock.method(console, "error", () => {});
  try {
    const janus = new FakeJanus({ users: ["alice"], streams: [s("0", "alice", "audio")] });
    const { a } = await connected(janus);
    const old = a.multistream;
    janus.push({ janus: "timeout", session_id: 1 });
    await tick(100);
    assert.equal(a.multistream, old, "the connection's business, not the subscription's");
    // From now on the server refuses multistream joins.
    const plugin = janus.plugin.bind(janus);
    janus.plugin = (h, body, jsep) =>
      body.kind === "join" && body.subscribe && body.subscribe.streams ? { data: { success: false, error: { msg: "busy" } } } : plugin(h, body, jsep);
    janus.push({ janus: "detached", session_id: 1, sender: old.handle.id });
    await until(() => janus.sent.filter((m) => m.janus === "create").length === 2 && streamJoins(janus).length === 5);
    assert.equal(streamJoins(janus).length, 1 + 3 + 1, "3 attempts, then the reconnect's own try");
    assert.ok(error.mock.calls.some((c) => /failed 3 times; reconnecting/.test(c.arguments[0])));
    a.disconnect();
  } finally {
    warn.mock.restore();
    error.mock.restore();
  }
});
