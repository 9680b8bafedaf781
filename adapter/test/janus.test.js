import assert from "node:assert/strict";
import { test } from "node:test";
import { JanusSession, pluginData } from "../src/janus.js";

function fakeJanus() {
  const sent = [];
  const s = new JanusSession((m) => sent.push(m), { timeoutMs: 200, keepaliveMs: 0 });
  return { s, sent, last: () => sent.at(-1) };
}

test("create, attach, message: replies matched by transaction; plugin messages wait for the event", async () => {
  const { s, last } = fakeJanus();
  const c = s.create();
  s.receive({ janus: "success", transaction: last().transaction, data: { id: 7 } });
  await c;
  assert.equal(s.id, 7);
  const a = s.attach("janus.plugin.sfu", 2);
  assert.deepEqual({ ...last(), transaction: undefined }, { janus: "attach", plugin: "janus.plugin.sfu", loop_index: 2, session_id: 7, transaction: undefined });
  s.receive({ janus: "success", transaction: last().transaction, data: { id: 9 } });
  const h = await a;
  let done = false;
  const m = h.message({ kind: "join" }).then((r) => ((done = true), r));
  const txn = last().transaction;
  assert.equal(last().handle_id, 9);
  s.receive({ janus: "ack", transaction: txn });
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(done, false, "an ack does not finish a plugin message");
  s.receive({ janus: "event", transaction: txn, sender: 9, plugindata: { data: { success: true } }, jsep: { type: "offer", sdp: "x" } });
  const r = await m;
  assert.deepEqual(pluginData(r), { success: true });
  assert.equal(r.jsep.type, "offer");
  s.dispose();
});

test("events without a transaction go to the handle's listeners", async () => {
  const { s, last } = fakeJanus();
  s.id = 1;
  const a = s.attach("p");
  s.receive({ janus: "success", transaction: last().transaction, data: { id: 5 } });
  const h = await a;
  const got = [];
  h.on("event", (m) => got.push(pluginData(m).event));
  h.on("webrtcup", () => got.push("up"));
  s.receive({ janus: "event", sender: 5, plugindata: { data: { event: "join" } } });
  s.receive({ janus: "webrtcup", sender: 5 });
  s.receive({ janus: "event", sender: 6, plugindata: { data: { event: "other handle" } } });
  assert.deepEqual(got, ["join", "up"]);
  s.dispose();
});

test("errors reject; timeouts reject and call onTimeout; dispose rejects pending", async () => {
  const sent = [];
  let timedOut = 0;
  const s = new JanusSession((m) => sent.push(m), { timeoutMs: 20, keepaliveMs: 0, onTimeout: () => timedOut++ });
  const e = s.request({ janus: "attach" });
  s.receive({ janus: "error", transaction: sent[0].transaction, error: { code: 460, reason: "No such session" } });
  await assert.rejects(e, /460/);
  await assert.rejects(s.request({ janus: "keepalive" }), /timed out/);
  assert.equal(timedOut, 1);
  const p = s.request({ janus: "keepalive" });
  s.dispose();
  await assert.rejects(p, /disposed/);
});
