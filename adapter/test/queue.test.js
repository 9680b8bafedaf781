import assert from "node:assert/strict";
import { test } from "node:test";
import { SerialQueue } from "../src/queue.js";

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

test("one task at a time, in order", async () => {
  const q = new SerialQueue();
  const log = [];
  let running = 0;
  const task = (name) => async () => {
    running++;
    assert.equal(running, 1, "two tasks ran at once");
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, 5));
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const results = await Promise.all([q.push(null, null, task("a")), q.push(null, null, task("b")), q.push(null, null, task("c"))]);
  assert.deepEqual(results, ["a", "b", "c"]);
  assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
});

test("offers that arrive while one is answered fold into one: only the newest is answered", async () => {
  const q = new SerialQueue();
  const gate = deferred();
  const answered = [];
  const answer = async (offer) => {
    answered.push(offer);
    if (offer === 1) await gate.promise;
    return `answer to ${offer}`;
  };
  const p1 = q.push("offer", 1, answer);
  await null; // offer 1 is now in flight
  const p2 = q.push("offer", 2, answer);
  const p3 = q.push("offer", 3, answer);
  const p4 = q.push("offer", 4, answer);
  assert.equal(p2, p3, "folded pushes share one promise");
  gate.resolve();
  assert.equal(await p1, "answer to 1");
  assert.equal(await p4, "answer to 4");
  assert.equal(await p2, "answer to 4");
  assert.deepEqual(answered, [1, 4]);
});

test("fold merges the waiting task's argument", async () => {
  const q = new SerialQueue();
  const gate = deferred();
  const sent = [];
  const send = async (m) => {
    sent.push(m);
    if (sent.length === 1) await gate.promise;
  };
  const merge = (a, b) => ({ ...a, ...b });
  q.push("configure", { 1: false }, send, merge);
  await null;
  q.push("configure", { 3: false }, send, merge);
  const last = q.push("configure", { 3: true, 5: false }, send, merge);
  gate.resolve();
  await last;
  assert.deepEqual(sent, [{ 1: false }, { 3: true, 5: false }]);
});

test("different keys do not fold; a failing task does not stop the queue", async () => {
  const q = new SerialQueue();
  const order = [];
  const a = q.push("offer", "o1", async () => {
    order.push("o1");
    throw new Error("boom");
  });
  const b = q.push("configure", "c1", async () => order.push("c1"));
  const c = q.push("offer", "o2", async () => order.push("o2"));
  await assert.rejects(a, /boom/);
  await b;
  await c;
  assert.deepEqual(order, ["o1", "c1", "o2"]);
  await q.idle();
});

test("close rejects what waits and refuses new tasks", async () => {
  const q = new SerialQueue();
  const gate = deferred();
  const first = q.push(null, null, () => gate.promise);
  const second = q.push(null, null, async () => "never");
  q.close();
  await assert.rejects(second, /closed/);
  await assert.rejects(q.push(null, null, async () => 1), /closed/);
  gate.resolve("done");
  assert.equal(await first, "done");
});
