import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff } from "../src/backoff.js";

test("delays grow by step from the initial delay, capped, then give up", () => {
  const b = new Backoff({ initialDelay: 500, step: 1000, maxDelay: 2800, maxAttempts: 5 });
  const got = [];
  for (let d = b.next(); d !== null; d = b.next()) got.push(d);
  assert.deepEqual(got, [500, 1500, 2500, 2800, 2800]);
  assert.equal(b.attempts, 5);
  assert.equal(b.next(), null);
});

test("reset after a successful reconnect starts over", () => {
  const b = new Backoff({ initialDelay: 100, step: 50, maxAttempts: 3 });
  b.next();
  b.next();
  b.reset();
  assert.equal(b.attempts, 0);
  assert.equal(b.next(), 100);
});

test("the default initial delay is random below 1 s (spreads a server restart), 10 attempts", () => {
  const delays = new Set();
  for (let i = 0; i < 20; i++) {
    const b = new Backoff();
    assert.equal(b.maxAttempts, 10);
    const d = b.next();
    assert.ok(d >= 0 && d < 1000, `${d}`);
    delays.add(d);
  }
  assert.ok(delays.size > 1);
});
